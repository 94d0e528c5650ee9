//! The global allocator: a bump allocator that can take back, or grow in
//! place, the most recent allocation.
//!
//! A call runs in a fresh instance whose memory is dropped when the call
//! ends, so freeing matters little; code size and gas matter more. Bumping
//! is a handful of instructions, and the common patterns (a growing `Vec`,
//! a temporary buffer freed right away) reuse memory because they touch the
//! most recent allocation. The heap starts at `__heap_base` (after the
//! shadow stack and static data) and grows the memory a page at a time as
//! needed; when the memory cannot grow, allocation fails and the call ends
//! through the panic handler.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 65_536;

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

/// The heap is `[start, end)`, `next` the first free byte; `0` means not yet
/// initialised. wasm32 contracts are single-threaded, so the atomics are
/// plain loads and stores.
struct Bump {
    next: AtomicUsize,
    end: AtomicUsize,
}

unsafe extern "C" {
    /// Defined by the linker: the first byte after static data and stack.
    static __heap_base: u8;
}

impl Bump {
    /// The first free byte, initialising the heap on first use.
    fn next(&self) -> usize {
        let next = self.next.load(Ordering::Relaxed);
        if next != 0 {
            return next;
        }
        let base = &raw const __heap_base as usize;
        self.end.store(
            wasm32::memory_size(0).saturating_mul(PAGE),
            Ordering::Relaxed,
        );
        base
    }

    /// Makes `[.., new_next)` usable, growing the memory if needed; then
    /// `new_next` is the first free byte. Returns false (and changes nothing)
    /// if the memory cannot grow that far.
    fn bump_to(&self, new_next: usize) -> bool {
        let end = self.end.load(Ordering::Relaxed);
        if new_next > end {
            let pages = (new_next - end).div_ceil(PAGE);
            let previous = wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return false;
            }
            // The memory may have been grown by other code: the new end is
            // what memory.grow reports, not `end` plus `pages`.
            let Some(new_end) = previous
                .checked_add(pages)
                .and_then(|p| p.checked_mul(PAGE))
            else {
                return false;
            };
            self.end.store(new_end, Ordering::Relaxed);
            if new_next > new_end {
                return false;
            }
        }
        self.next.store(new_next, Ordering::Relaxed);
        true
    }
}

// SAFETY: every block handed out is `[start, start + size)` with `start`
// aligned as asked, inside memory that exists (grown before use), and below
// `next`, so no later allocation overlaps it until it is freed or resized.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let next = self.next();
        // `align` is a power of two (a `Layout` invariant).
        let mask = layout.align() - 1;
        let Some(start) = next.checked_add(mask).map(|n| n & !mask) else {
            return ptr::null_mut();
        };
        match start.checked_add(layout.size()) {
            Some(new_next) if self.bump_to(new_next) => start as *mut u8,
            _ => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // Only the most recent block can be taken back.
        if block as usize + layout.size() == self.next.load(Ordering::Relaxed) {
            self.next.store(block as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = block as usize;
        // The most recent block grows or shrinks in place.
        if start + layout.size() == self.next.load(Ordering::Relaxed) {
            return match start.checked_add(new_size) {
                Some(new_next) if self.bump_to(new_next) => block,
                _ => ptr::null_mut(),
            };
        }
        // SAFETY: the caller guarantees `new_size` with this alignment is a
        // valid layout (the `realloc` contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the `realloc` contract).
        let new_block = unsafe { self.alloc(new_layout) };
        if !new_block.is_null() {
            // SAFETY: both blocks are live, distinct (the old one is below
            // `next`, the new one at or above it) and at least this long.
            unsafe { ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size)) };
        }
        new_block
    }
}
