//! The plugin's memory allocator: small blocks by size class, large ones from the system's.
//!
//! A field mapper allocates a handful of small strings per row (a trimmed value, a lower-cased
//! email) and the component glue a few lists per call, all freed when the call returns. The
//! system allocator (wasi-libc's dlmalloc) spends most of a small allocation on bookkeeping
//! that a plugin never needs: splitting and coalescing free chunks. Here a small allocation is
//! a pop from a free list of its size class (powers of two from 16 bytes to 8 KiB), and freeing
//! it a push; fresh blocks are cut from 64 KiB chunks taken from the system allocator. Larger
//! allocations, and those aligned to more than 16 bytes, go to the system allocator as before.
//!
//! The first chunk is part of the allocator itself, so in the module's zeroed static memory: a
//! fresh instance's first small allocations (its `begin`, its first rows) then grow no memory.
//! Growing memory costs the host two `mprotect` calls per instance (one to open the new pages, one
//! to close them again when the instance's slot is recycled), the second with a TLB shoot-down
//! on every core the process runs on.
//!
//! Freed small blocks are kept for their class and never returned: a WebAssembly memory never
//! shrinks anyway, and the host's memory cap bounds the whole instance as before. A plugin that
//! wants its own allocator turns the SDK's default `allocator` feature off.
//!
//! Only for single-threaded WebAssembly: the free lists have no locks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest block: 16 bytes (`1 << MIN_SHIFT`), enough for any alignment served here.
const MIN_SHIFT: u32 = 4;
/// Size classes: 16, 32, ... 8 KiB.
const CLASSES: usize = 10;
/// The largest block served by size class.
const MAX_SMALL: usize = 1 << (MIN_SHIFT as usize + CLASSES - 1);
/// The alignment of every small block.
const ALIGN: usize = 1 << MIN_SHIFT;
/// What the allocator takes from the system allocator at a time for new small blocks.
const CHUNK: usize = 64 << 10;

struct State {
    /// The first free block of each class; each free block holds the next one's address.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk.
    next: *mut u8,
    end: *mut u8,
    /// Whether the allocator's own first chunk has been cut into yet.
    first_used: bool,
}

/// The allocator. See the module's documentation.
#[repr(C, align(16))]
pub struct SizeClasses {
    /// The first chunk: zeroed static memory when the allocator is a `static`, which is what a
    /// `#[global_allocator]` is.
    first: UnsafeCell<[u8; CHUNK]>,
    state: UnsafeCell<State>,
}

// SAFETY: plugins run on single-threaded WebAssembly (no `atomics` target feature), where no
// two threads can reach the state.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    /// An allocator with no memory yet.
    pub const fn new() -> SizeClasses {
        SizeClasses {
            first: UnsafeCell::new([0; CHUNK]),
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
                first_used: false,
            }),
        }
    }
}

impl Default for SizeClasses {
    fn default() -> SizeClasses {
        SizeClasses::new()
    }
}

/// The size class of a layout, or `None` for the system allocator.
#[inline]
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if size > MAX_SMALL || layout.align() > ALIGN {
        return None;
    }
    let size = size.max(ALIGN);
    Some(((usize::BITS - (size - 1).leading_zeros()) - MIN_SHIFT) as usize)
}

unsafe impl GlobalAlloc for SizeClasses {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: the caller's layout, passed on.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded (see `Sync` above), and no reference to the state outlives
        // this call.
        let state = unsafe { &mut *self.state.get() };
        let block = state.free[class];
        if !block.is_null() {
            // SAFETY: a free block of this class holds the address of the next one.
            state.free[class] = unsafe { block.cast::<*mut u8>().read() };
            return block;
        }
        let size = ALIGN << class;
        if (state.end as usize) - (state.next as usize) < size {
            // The rest of the chunk is too small: give it to the smaller classes' free lists
            // rather than lose it, then take a new chunk.
            let mut rest = state.next;
            while (state.end as usize) - (rest as usize) >= ALIGN {
                let left = (state.end as usize) - (rest as usize);
                let fit = (usize::BITS - 1 - left.leading_zeros() - MIN_SHIFT) as usize;
                let fit = fit.min(CLASSES - 1);
                // SAFETY: `rest` lies in the chunk with at least `ALIGN << fit` bytes left.
                unsafe {
                    rest.cast::<*mut u8>().write(state.free[fit]);
                    state.free[fit] = rest;
                    rest = rest.add(ALIGN << fit);
                }
            }
            let chunk = if state.first_used {
                // SAFETY: a valid, non-zero layout.
                unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN)) }
            } else {
                // The allocator's own chunk: `CHUNK` bytes, aligned to `ALIGN` (the struct's
                // alignment, and `first` is its first field), handed out once.
                state.first_used = true;
                self.first.get().cast::<u8>()
            };
            if chunk.is_null() {
                state.next = ptr::null_mut();
                state.end = ptr::null_mut();
                return ptr::null_mut();
            }
            state.next = chunk;
            // SAFETY: the chunk is `CHUNK` bytes long.
            state.end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.next;
        // SAFETY: at least `size` bytes are left in the chunk (checked above).
        state.next = unsafe { block.add(size) };
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class(layout) else {
            // SAFETY: allocated by the system allocator with this layout (see `alloc`).
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: single-threaded; the block is ours, of this class, and at least 16 bytes.
        unsafe {
            let state = &mut *self.state.get();
            block.cast::<*mut u8>().write(state.free[class]);
            state.free[class] = block;
        }
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with this alignment makes a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            // Still fits its block.
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: both from the system allocator, with these layouts.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: `alloc` and `dealloc` with valid layouts; the copy is within both.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_in_the_smallest_class_that_holds_them() {
        let class_of = |size| class(Layout::from_size_align(size, 1).unwrap());
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(16), Some(0));
        assert_eq!(class_of(17), Some(1));
        assert_eq!(class_of(MAX_SMALL), Some(CLASSES - 1));
        assert_eq!(class_of(MAX_SMALL + 1), None);
        assert_eq!(class(Layout::from_size_align(8, 32).unwrap()), None);
    }

    #[test]
    fn the_first_small_blocks_come_from_the_allocator_itself() {
        let heap = Box::new(SizeClasses::new());
        let first = heap.first.get() as usize;
        let block = unsafe { heap.alloc(Layout::from_size_align(100, 8).unwrap()) } as usize;
        assert!((first..first + CHUNK).contains(&block));
        assert_eq!(block % ALIGN, 0);
    }

    #[test]
    fn freed_blocks_are_reused_and_blocks_do_not_overlap() {
        let heap = SizeClasses::new();
        let layout = Layout::from_size_align(24, 8).unwrap();
        unsafe {
            let blocks: Vec<*mut u8> = (0..5000).map(|_| heap.alloc(layout)).collect();
            for (i, &block) in blocks.iter().enumerate() {
                assert_eq!(block as usize % ALIGN, 0);
                block.write_bytes(i as u8, 24);
            }
            for (i, &block) in blocks.iter().enumerate() {
                assert!(
                    std::slice::from_raw_parts(block, 24)
                        .iter()
                        .all(|&b| b == i as u8)
                );
            }
            heap.dealloc(blocks[7], layout);
            assert_eq!(heap.alloc(layout), blocks[7]);
            let grown = heap.realloc(blocks[8], layout, 20_000);
            assert!(
                std::slice::from_raw_parts(grown, 24)
                    .iter()
                    .all(|&b| b == 8)
            );
            heap.dealloc(grown, Layout::from_size_align(20_000, 8).unwrap());
        }
    }
}
