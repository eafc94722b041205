//! The wasm build's memory allocator: power-of-two size classes with a free
//! list each, cut from pages the module grows. It replaces Rust's default
//! (dlmalloc, ~7 KB of the module) with ~1 KB; the store allocates small
//! ids, rows of bookkeeping and one future per operation, the same sizes
//! over and over, which free lists serve in O(1).
//!
//! A block keeps its class for good (nothing is split or merged), so under
//! a steady workload memory reaches a plateau: each class holds at most the
//! most blocks it ever had live at once. Blocks of class `c` are aligned to
//! `min(c, 4096)`, so any block of a class satisfies any alignment a request
//! of that class may ask for. Generic over where pages come from, so the
//! native tests run it over an arena.

use core::ptr;

/// The bytes of one wasm page.
pub const PAGE: usize = 64 * 1024;
const MIN_BLOCK: usize = 16;
/// Classes 16 B, 32 B, … 2 GiB.
const CLASSES: usize = 28;
const MAX_ALIGN: usize = 4096;

/// Where new pages come from: `grow(n)` adds `n` pages and returns the
/// address of the first, or `None` when memory cannot grow.
pub trait Pages {
    fn grow(&mut self, pages: usize) -> Option<usize>;
}

pub struct Heap<P> {
    /// Head of each class's free list (0: empty); a free block's first word links to the next.
    free: [usize; CLASSES],
    /// The unused range `[top, end)` of the last pages grown.
    top: usize,
    end: usize,
    pages: P,
}

/// The class index and block size of a request, or `None` if no class fits.
fn class_of(size: usize, align: usize) -> Option<(usize, usize)> {
    if align > MAX_ALIGN {
        return None;
    }
    let need = size.max(align).max(MIN_BLOCK).checked_next_power_of_two()?;
    let class = (need.trailing_zeros() - MIN_BLOCK.trailing_zeros()) as usize;
    (class < CLASSES).then_some((class, need))
}

impl<P: Pages> Heap<P> {
    pub const fn new(pages: P) -> Self {
        Heap { free: [0; CLASSES], top: 0, end: 0, pages }
    }

    /// A block of at least `size` bytes aligned to `align`; null when
    /// memory is exhausted (the caller reports it).
    ///
    /// # Safety
    /// The pages handed out by `P` must be valid, writable and unused.
    pub unsafe fn alloc(&mut self, size: usize, align: usize) -> *mut u8 {
        let Some((class, bytes)) = class_of(size, align) else { return ptr::null_mut() };
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a free block's first word holds the next free block (or 0).
            self.free[class] = unsafe { (head as *const usize).read() };
            return head as *mut u8;
        }
        self.cut(bytes).map_or(ptr::null_mut(), |p| p as *mut u8)
    }

    /// A new block of `bytes` from the top, growing memory when needed.
    fn cut(&mut self, bytes: usize) -> Option<usize> {
        let align = bytes.min(MAX_ALIGN);
        let start = self.top.checked_add(align - 1)? & !(align - 1);
        let fits = |end: usize| self.top != 0 && start.checked_add(bytes).is_some_and(|e| e <= end);
        if fits(self.end) {
            self.top = start + bytes;
            return Some(start);
        }
        // Enough pages for the block even if they do not follow ours (someone
        // else may have grown memory in between); page starts are aligned.
        let pages = bytes.div_ceil(PAGE);
        let base = self.pages.grow(pages)?;
        let end = base + pages * PAGE;
        let start = if base == self.end && fits(end) { start } else { base };
        self.top = start + bytes;
        self.end = end;
        Some(start)
    }

    /// Returns a block to its class's free list.
    ///
    /// # Safety
    /// `p` came from `alloc`/`realloc` of this heap with the same `size`/`align`.
    pub unsafe fn dealloc(&mut self, p: *mut u8, size: usize, align: usize) {
        if let Some((class, _)) = class_of(size, align) {
            // SAFETY: the block is ours and at least 16 bytes (one word fits).
            unsafe { (p as *mut usize).write(self.free[class]) };
            self.free[class] = p as usize;
        }
    }

    /// Grows or shrinks a block: the same block while the class is the same
    /// (a doubling Vec moves once per class), else a copy into a new one.
    ///
    /// # Safety
    /// As `dealloc` for `p`, `size`, `align`.
    pub unsafe fn realloc(&mut self, p: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 {
        let (old, new) = (class_of(size, align), class_of(new_size, align));
        if new.is_some() && old.map(|c| c.0) == new.map(|c| c.0) {
            return p;
        }
        // SAFETY: forwarded from the caller's guarantees.
        unsafe {
            let q = self.alloc(new_size, align);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, size.min(new_size));
                self.dealloc(p, size, align);
            }
            q
        }
    }
}

/// The module's global allocator: one heap over wasm memory. Single-threaded
/// wasm only (a threaded build would need a lock).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod wasm {
    use super::{Heap, Pages, PAGE};
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct WasmPages;

    impl Pages for WasmPages {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            let old = core::arch::wasm32::memory_grow(0, pages);
            (old != usize::MAX).then(|| old * PAGE)
        }
    }

    struct Global(UnsafeCell<Heap<WasmPages>>);

    // SAFETY: no threads in this build; the allocator never reenters itself.
    unsafe impl Sync for Global {}

    unsafe impl GlobalAlloc for Global {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { (*self.0.get()).alloc(layout.size(), layout.align()) }
        }
        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            unsafe { (*self.0.get()).dealloc(p, layout.size(), layout.align()) }
        }
        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            unsafe { (*self.0.get()).realloc(p, layout.size(), layout.align(), new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Global = Global(UnsafeCell::new(Heap::new(WasmPages)));
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// Pages from a fixed arena; `limit` pages at most.
    struct Arena {
        base: usize,
        used: usize,
        limit: usize,
    }

    impl Pages for Arena {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            if self.used + pages > self.limit {
                return None;
            }
            let at = self.base + self.used * PAGE;
            self.used += pages;
            Some(at)
        }
    }

    fn heap(limit: usize) -> Heap<Arena> {
        // Leaked on purpose: page-aligned memory the heap may write for the test's life.
        let layout = std::alloc::Layout::from_size_align(limit * PAGE, PAGE).unwrap();
        let base = unsafe { std::alloc::alloc_zeroed(layout) } as usize;
        assert_ne!(base, 0);
        Heap::new(Arena { base, used: 0, limit })
    }

    #[test]
    fn a_freed_block_is_reused_by_the_next_request_of_its_class() {
        let mut h = heap(4);
        unsafe {
            let a = h.alloc(20, 8);
            h.dealloc(a, 20, 8);
            assert_eq!(h.alloc(32, 4), a, "20 and 32 bytes share the 32-byte class");
            assert_ne!(h.alloc(20, 8), a, "a live block is never handed out twice");
        }
    }

    #[test]
    fn every_block_is_aligned_as_asked_and_live_blocks_never_overlap() {
        let mut h = heap(512);
        let mut live: Vec<(usize, usize, usize, u8)> = Vec::new();
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let r = next();
            if live.len() > 50 && r % 2 == 0 {
                let (p, size, align, fill) = live.swap_remove((r as usize / 2) % live.len());
                let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
                assert!(bytes.iter().all(|&b| b == fill), "a block's contents survive other blocks' traffic");
                unsafe { h.dealloc(p as *mut u8, size, align) };
                continue;
            }
            let size = 1 + (r as usize >> 8) % if r % 17 == 0 { 70_000 } else { 300 };
            let align = 1 << ((r >> 40) % 13); // 1 … 4096
            let p = unsafe { h.alloc(size, align) } as usize;
            assert_ne!(p, 0, "round {round}: the arena is large enough");
            assert_eq!(p % align, 0, "aligned to {align}");
            for &(q, qs, _, _) in &live {
                assert!(p + size <= q || q + qs <= p, "overlap of live blocks");
            }
            let fill = round as u8;
            unsafe { ptr::write_bytes(p as *mut u8, fill, size) };
            live.push((p, size, align, fill));
        }
    }

    #[test]
    fn a_steady_workload_stops_growing_memory() {
        let mut h = heap(16);
        let cycle = |h: &mut Heap<Arena>| unsafe {
            let blocks: Vec<_> = (1..200).map(|i| (h.alloc(i * 7, 8), i * 7)).collect();
            for (p, size) in blocks {
                h.dealloc(p, size, 8);
            }
        };
        cycle(&mut h);
        let used = h.pages.used;
        for _ in 0..1000 {
            cycle(&mut h);
        }
        assert_eq!(h.pages.used, used);
    }

    #[test]
    fn realloc_keeps_the_block_within_its_class_and_the_contents_across_classes() {
        let mut h = heap(8);
        unsafe {
            let p = h.alloc(40, 1);
            ptr::copy_nonoverlapping(b"0123456789".as_ptr(), p, 10);
            assert_eq!(h.realloc(p, 40, 1, 64), p, "40 → 64 bytes stays in the 64-byte class");
            let q = h.realloc(p, 64, 1, 1000);
            assert_ne!(q, p);
            assert_eq!(std::slice::from_raw_parts(q, 10), b"0123456789");
            assert_eq!(h.alloc(50, 1), p, "the old block went back to its free list");
        }
    }

    #[test]
    fn exhausted_memory_and_impossible_requests_return_null_instead_of_panicking() {
        let mut h = heap(2);
        unsafe {
            assert!(h.alloc(3 * PAGE, 8).is_null(), "more than the arena holds");
            assert!(h.alloc(8, 8192).is_null(), "alignment above 4096");
            assert!(h.alloc(usize::MAX / 2, 8).is_null(), "no class that large");
            assert!(!h.alloc(100, 8).is_null(), "still usable afterwards");
        }
    }
}
