//! Linear memories: a reservation of address space whose base never moves;
//! growing makes more of it accessible in place. Where compiled code uses
//! faulting accesses (`docs/vm.md`, "Faulting loads") the reservation also
//! covers every address an access can reach, and everything past the
//! memory's length faults; the accesses that do not fault are checked
//! explicitly against [`VMMemory::length`].

use std::ptr::NonNull;
use std::sync::Mutex;

use super::module::{MAX_PAGES, memory_max};
use super::store::{Store, StoreObjects};
use super::{AccessError, Error, MemoryType, ResourceError};
use crate::vmctx::{FAULTING_LOADS, GUARD_BYTES, VMMemory};

/// Bytes in a WebAssembly page.
pub(crate) const PAGE_SIZE: u64 = 1 << 16;

/// Address space reserved per memory where loads fault: every byte a
/// 32-bit address plus a guarded offset can reach.
const FAULTING_RESERVATION: u64 = (1 << 32) + GUARD_BYTES;

/// A memory's storage. `vm` comes first so that the `*mut VMMemory`
/// compiled code and builtins hold is also a pointer to the whole object.
#[repr(C)]
pub(crate) struct MemoryData {
    pub vm: VMMemory,
    storage: Reservation,
    max_pages: u64,
    declared_max: Option<u64>,
}

impl MemoryData {
    /// A zeroed memory of `pages`, growable to `max_pages`.
    pub fn new(pages: u64, declared_max: Option<u64>, max_pages: u64) -> Result<Box<Self>, Error> {
        if pages > max_pages {
            return Err(ResourceError::MemoryOverMaximum { pages, max_pages }.into());
        }
        let reserve = if FAULTING_LOADS {
            FAULTING_RESERVATION
        } else {
            max_pages * PAGE_SIZE
        };
        let storage = Reservation::new(reserve, pages * PAGE_SIZE)
            .ok_or(ResourceError::MemoryAllocation { pages })?;
        let mut memory = Box::new(Self {
            vm: VMMemory {
                base: core::ptr::null_mut(),
                length: 0,
            },
            storage,
            max_pages,
            declared_max,
        });
        memory.sync();
        Ok(memory)
    }

    /// Keeps the view compiled code reads in step with the storage.
    fn sync(&mut self) {
        self.vm.base = self.storage.base.as_ptr();
        self.vm.length = self.storage.accessible as u64;
    }

    pub fn pages(&self) -> u64 {
        self.storage.accessible as u64 / PAGE_SIZE
    }

    /// `memory.grow`: the old size in pages, or `None` if the new size is
    /// above the maximum or cannot be allocated (memory unchanged).
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        if !self.storage.make_accessible(new * PAGE_SIZE) {
            return None;
        }
        self.sync();
        Some(old)
    }

    pub fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.storage.bytes_mut()
    }

    /// The memory's type as seen by imports: current size and declared
    /// maximum.
    pub fn ty(&self) -> MemoryType {
        MemoryType {
            minimum: self.pages(),
            maximum: self.declared_max,
        }
    }
}

/// A private anonymous mapping whose first `accessible` bytes are readable
/// and writable and the rest inaccessible. Fresh pages read as zero, and
/// memory never shrinks, so nothing is ever zeroed by hand.
struct Reservation {
    base: NonNull<u8>,
    reserved: usize,
    accessible: usize,
}

// SAFETY: the mapping is owned by this value alone and is plain memory; the
// store that owns a memory decides which thread uses it.
unsafe impl Send for Reservation {}
// SAFETY: shared access only reads through `bytes`.
unsafe impl Sync for Reservation {}

/// Reservations of dropped memories, inaccessible and zeroed again, kept
/// for the next memory of the same size: instantiation then costs one
/// `mprotect` instead of a mapping of 6 GiB, and a process maps the same
/// regions again instead of new ones (emulators such as qemu-user keep
/// their own tables for every region a process ever maps).
static POOL: Mutex<Vec<Reservation>> = Mutex::new(Vec::new());

/// The most reservations [`POOL`] keeps.
const POOL_CAPACITY: usize = 32;

fn pool() -> std::sync::MutexGuard<'static, Vec<Reservation>> {
    // The pool holds plain values; a panic elsewhere leaves it usable.
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Reservation {
    /// Reserves `reserve` bytes (at least one page) and makes the first
    /// `accessible` of them usable; `None` if the system refuses either.
    fn new(reserve: u64, accessible: u64) -> Option<Self> {
        let reserved = usize::try_from(reserve.max(PAGE_SIZE)).ok()?;
        let pooled = {
            let mut pool = pool();
            let found = pool.iter().rposition(|r| r.reserved == reserved);
            found.map(|i| pool.swap_remove(i))
        };
        if let Some(mut reservation) = pooled {
            return reservation
                .make_accessible(accessible)
                .then_some(reservation);
        }
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // overlaps nothing this process uses. MAP_NORESERVE: inaccessible
        // pages are address space, not memory, and must not count against
        // the system's commit limit.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let mut reservation = Self {
            base: NonNull::new(base.cast())?,
            reserved,
            accessible: 0,
        };
        reservation
            .make_accessible(accessible)
            .then_some(reservation)
    }

    /// Makes the first `len` bytes accessible (never fewer than now);
    /// false, with nothing changed, if `len` is beyond the reservation or
    /// the system refuses.
    fn make_accessible(&mut self, len: u64) -> bool {
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        if len > self.reserved {
            return false;
        }
        if len <= self.accessible {
            return true;
        }
        // SAFETY: `accessible..len` lies inside the mapping; both ends are
        // multiples of the Wasm page size, and so of the system's page.
        let status = unsafe {
            libc::mprotect(
                self.base.as_ptr().add(self.accessible).cast(),
                len - self.accessible,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if status != 0 {
            return false;
        }
        self.accessible = len;
        true
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the first `accessible` bytes are mapped readable and
        // writable for as long as `self` lives, and only `self` hands out
        // references to them.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.accessible) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.accessible) }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.reset() {
            let mut pool = pool();
            if pool.len() < POOL_CAPACITY {
                pool.push(Reservation {
                    base: self.base,
                    reserved: self.reserved,
                    accessible: 0,
                });
                return;
            }
        }
        // SAFETY: the mapping was created in `new` with this length and is
        // unmapped once (a pooled copy takes it over instead); no
        // reference into it outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.reserved);
        }
    }
}

impl Reservation {
    /// Makes the accessible part inaccessible and zero again, as fresh:
    /// a new anonymous mapping in its place replaces its pages (unlike
    /// `madvise`, which an emulator may ignore). False if that failed;
    /// the reservation is then not reused.
    fn reset(&mut self) -> bool {
        if self.accessible == 0 {
            return true;
        }
        // SAFETY: MAP_FIXED over the first `accessible` bytes of our own
        // mapping replaces only pages this reservation owns; no reference
        // into them outlives the memory being dropped.
        let replaced = unsafe {
            libc::mmap(
                self.base.as_ptr().cast(),
                self.accessible,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if replaced != self.base.as_ptr().cast() {
            return false;
        }
        self.accessible = 0;
        true
    }
}

/// A linear memory in a [`Store`]: an instance's export, or created by the
/// host with [`Memory::new`] to be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Memory {
    /// Creates a zeroed memory of `ty.minimum` pages that can grow to
    /// `ty.maximum`, capped by the engine's `memory_pages` limit.
    pub fn new<T>(store: &mut Store<T>, ty: MemoryType) -> Result<Memory, Error> {
        let objects = store.objects_mut();
        let limit = objects.engine.config().limits.memory_pages;
        if ty
            .maximum
            .is_some_and(|max| max < ty.minimum || max > MAX_PAGES)
        {
            return Err(ResourceError::InvalidMemoryLimits {
                minimum: ty.minimum,
                maximum: ty.maximum,
            }
            .into());
        }
        let data = MemoryData::new(ty.minimum, ty.maximum, memory_max(ty.maximum, limit))?;
        Ok(objects.push_memory(data))
    }

    fn data_of<'s>(&self, objects: &'s StoreObjects) -> Result<&'s MemoryData, Error> {
        objects.memory(*self)
    }

    /// The current type: current size in pages and the declared maximum.
    pub fn ty<T>(&self, store: &Store<T>) -> Result<MemoryType, Error> {
        Ok(self.data_of(store.objects())?.ty())
    }

    /// Current size in pages.
    pub fn size<T>(&self, store: &Store<T>) -> Result<u64, Error> {
        Ok(self.data_of(store.objects())?.pages())
    }

    /// The whole memory.
    pub fn data<'s, T>(&self, store: &'s Store<T>) -> Result<&'s [u8], Error> {
        Ok(self.data_of(store.objects())?.bytes())
    }

    /// The whole memory, writable.
    pub fn data_mut<'s, T>(&self, store: &'s mut Store<T>) -> Result<&'s mut [u8], Error> {
        Ok(store.objects_mut().memory_mut(*self)?.bytes_mut())
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read<T>(&self, store: &Store<T>, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let bytes = self.data(store)?;
        let range = checked_range(offset, buf.len() as u64, bytes.len()).ok_or(
            AccessError::MemoryReadOutOfBounds {
                offset,
                len: buf.len() as u64,
                size: bytes.len() as u64,
            },
        )?;
        buf.copy_from_slice(&bytes[range]);
        Ok(())
    }

    /// Copies `bytes` to `offset`.
    pub fn write<T>(&self, store: &mut Store<T>, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        let memory = self.data_mut(store)?;
        let range = checked_range(offset, bytes.len() as u64, memory.len()).ok_or(
            AccessError::MemoryWriteOutOfBounds {
                offset,
                len: bytes.len() as u64,
                size: memory.len() as u64,
            },
        )?;
        memory[range].copy_from_slice(bytes);
        Ok(())
    }

    /// Grows by `delta` pages, returning the old size, or `None` (memory
    /// unchanged) beyond the maximum, as `memory.grow` would.
    pub fn grow<T>(&self, store: &mut Store<T>, delta: u64) -> Result<Option<u64>, Error> {
        Ok(store.objects_mut().memory_mut(*self)?.grow(delta))
    }
}

/// `offset..offset + len` if it lies within `0..size`.
pub(crate) fn checked_range(offset: u64, len: u64, size: usize) -> Option<core::ops::Range<usize>> {
    let end = offset.checked_add(len)?;
    if end > size as u64 {
        return None;
    }
    Some(offset as usize..end as usize)
}
