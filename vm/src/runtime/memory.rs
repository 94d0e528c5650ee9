//! Linear memories: a zeroed heap allocation that moves when it grows.
//! Every access by compiled code is bounds-checked explicitly against
//! [`VMMemory::length`], so no guard pages or signal handlers are needed.

use std::alloc::{Layout, alloc_zeroed};

use super::module::{MAX_PAGES, memory_max};
use super::store::{Store, StoreObjects};
use super::{AccessError, Error, MemoryType, ResourceError};
use crate::vmctx::VMMemory;

/// Bytes in a WebAssembly page.
pub(crate) const PAGE_SIZE: u64 = 1 << 16;

/// A memory's storage. `vm` comes first so that the `*mut VMMemory`
/// compiled code and builtins hold is also a pointer to the whole object.
#[repr(C)]
pub(crate) struct MemoryData {
    pub vm: VMMemory,
    storage: Vec<u8>,
    max_pages: u64,
    declared_max: Option<u64>,
}

impl MemoryData {
    /// A zeroed memory of `pages`, growable to `max_pages`.
    pub fn new(pages: u64, declared_max: Option<u64>, max_pages: u64) -> Result<Box<Self>, Error> {
        if pages > max_pages {
            return Err(ResourceError::MemoryOverMaximum { pages, max_pages }.into());
        }
        let storage = pages
            .checked_mul(PAGE_SIZE)
            .and_then(zeroed_vec)
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
        self.vm.base = self.storage.as_mut_ptr();
        self.vm.length = self.storage.len() as u64;
    }

    pub fn pages(&self) -> u64 {
        self.storage.len() as u64 / PAGE_SIZE
    }

    /// `memory.grow`: the old size in pages, or `None` if the new size is
    /// above the maximum or cannot be allocated (memory unchanged).
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        let new_len = usize::try_from(new * PAGE_SIZE).ok()?;
        let additional = new_len - self.storage.len();
        self.storage.try_reserve_exact(additional).ok()?;
        self.storage.resize(new_len, 0);
        self.sync();
        Some(old)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage
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

/// A zeroed byte vector, allocated with `calloc`-like zeroing (fast for
/// fresh pages) and without aborting on allocation failure (`None`).
fn zeroed_vec(len: u64) -> Option<Vec<u8>> {
    let len = usize::try_from(len).ok()?;
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of
    // `[u8; len]`, which is what `Vec<u8>` with capacity `len` uses, and all
    // `len` bytes are initialised (zero).
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
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
