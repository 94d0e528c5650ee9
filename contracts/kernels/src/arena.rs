//! The global allocator: a bump arena over linear memory, emptied at the
//! start of every export.
//!
//! The kernels are pure functions with no host behind them, so a general
//! allocator would buy nothing: every export calls [`reset`] first, which
//! drops everything the previous call allocated, so repeated calls on one
//! instance reuse the same memory instead of growing it. `dealloc` does
//! nothing, and `realloc` grows the most recent block in place, so a `Vec`
//! being filled does not leave copies of itself behind.
//!
//! The arena starts at the end of the initial memory (below it lie the
//! shadow stack and the static data) and grows memory with `memory.grow`,
//! a few pages at a time, as allocations need it. [`keep`] raises the
//! floor [`reset`] returns to, so a block survives later calls (the JSON
//! document of `json_prepare`); [`release`] lowers it again. When
//! `memory.grow` is refused the allocation returns null, which Rust turns
//! into a panic, and the panic handler into a trap.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr::{self, null_mut};

use crate::Single;

const PAGE: usize = 65_536;

/// The arena's addresses; all 0 until the first use.
struct Arena {
    /// Where the arena starts: the end of the initial memory.
    base: Single<usize>,
    /// Where [`reset`] moves `next` back to.
    floor: Single<usize>,
    /// The first free byte.
    next: Single<usize>,
    /// The end of linear memory.
    end: Single<usize>,
}

#[global_allocator]
static ARENA: Arena = Arena {
    base: Single::new(0),
    floor: Single::new(0),
    next: Single::new(0),
    end: Single::new(0),
};

impl Arena {
    /// Places the arena at the end of memory, at the first use.
    fn init(&self) {
        if self.end.get() == 0 {
            let end = wasm32::memory_size(0) * PAGE;
            self.base.set(end);
            self.floor.set(end);
            self.next.set(end);
            self.end.set(end);
        }
    }

    /// Makes `[start, start + size)` the most recent block, growing memory
    /// if needed. False if memory cannot grow that far.
    fn claim(&self, start: usize, size: usize) -> bool {
        let Some(end) = start.checked_add(size) else {
            return false;
        };
        if end > self.end.get() {
            let pages = (end - self.end.get()).div_ceil(PAGE);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return false;
            }
            // Memory ends at 4 GiB at most, which a wasm32 `usize` cannot
            // hold: refuse the last page rather than wrap.
            match self.end.get().checked_add(pages * PAGE) {
                Some(new_end) => self.end.set(new_end),
                None => return false,
            }
        }
        self.next.set(end);
        true
    }

    /// A new block for `layout`, or null.
    fn bump(&self, layout: Layout) -> *mut u8 {
        self.init();
        match self.next.get().checked_next_multiple_of(layout.align()) {
            Some(start) if self.claim(start, layout.size()) => start as *mut u8,
            _ => null_mut(),
        }
    }
}

// SAFETY: `bump` returns blocks that are aligned, lie inside linear memory
// and never overlap a live block: `next` only moves back at `reset` and
// `release`, which the exports call before anything is allocated.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.bump(layout)
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == self.next.get() {
            return if self.claim(start, new_size) {
                ptr
            } else {
                null_mut()
            };
        }
        // SAFETY: the caller guarantees that `layout.align()` is a power of
        // two and that `new_size`, rounded up to it, does not overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = self.bump(new_layout);
        if !new.is_null() {
            // SAFETY: `ptr` is valid for `layout.size()` bytes, `new` for
            // `new_size`, and the new block lies past the old one.
            unsafe { ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// Frees everything allocated since the last [`keep`]. Every export calls
/// this first.
pub fn reset() {
    ARENA.init();
    ARENA.next.set(ARENA.floor.get());
}

/// Keeps everything allocated so far across later calls.
pub fn keep() {
    ARENA.floor.set(ARENA.next.get());
}

/// Frees everything, kept blocks included.
pub fn release() {
    ARENA.init();
    ARENA.floor.set(ARENA.base.get());
    ARENA.next.set(ARENA.base.get());
}
