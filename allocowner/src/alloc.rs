//! `OwnerAlloc`: the `#[global_allocator]` wrapper. Off, each call is one
//! relaxed atomic load and a branch in front of the inner allocator (the
//! kernel's static key). On, each allocation gets an owner stack and a
//! record in the side table, and each free removes its record.

use core::alloc::{GlobalAlloc, Layout};
use std::alloc::System;

use crate::guard;
use crate::guard::GuardState::{self, Inside, Locked, Outside};
use crate::snapshot::StackHandle;
use crate::table::filter;
use crate::table::{EPOCH_NS, Record, Resized, TABLE};
use crate::tracker::{self, ON, PAUSED, SAMPLED, UNINIT, sampling};
use crate::{capture, sys};

/// Reallocations of blocks up to this size (before and after) run under
/// the lock of their record's shard (see `Table::resize`): at most a copy
/// of 64 KiB there, and far below glibc's 128 KiB threshold for `mremap`.
const RESIZE_UNDER_LOCK: usize = 64 << 10;

/// A global allocator that forwards to `A` and, when tracking is on, knows
/// which call stack owns every live allocation.
///
/// ```no_run
/// #[global_allocator]
/// static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();
/// ```
///
/// Tracking state is process-wide: install one `OwnerAlloc` per process.
pub struct OwnerAlloc<A: GlobalAlloc = System> {
    inner: A,
    live_bytes: Option<fn() -> u64>,
}

impl<A: GlobalAlloc> core::fmt::Debug for OwnerAlloc<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnerAlloc")
            .field("inner", &core::any::type_name::<A>())
            .finish_non_exhaustive()
    }
}

impl OwnerAlloc<System> {
    /// Wraps [`System`]; the "early" owner is estimated from glibc's
    /// `mallinfo2` at enable time.
    pub const fn system() -> Self {
        OwnerAlloc {
            inner: System,
            live_bytes: Some(sys::system_live_bytes),
        }
    }
}

impl<A: GlobalAlloc> OwnerAlloc<A> {
    /// Wraps `inner`. If `inner` is [`System`], the early owner is
    /// estimated from `mallinfo2`; for another allocator give its live-byte
    /// figure with [`OwnerAlloc::with_live_bytes`], or it is estimated as 0.
    pub const fn new(inner: A) -> Self {
        OwnerAlloc {
            inner,
            live_bytes: None,
        }
    }

    /// Uses `live_bytes` (bytes the inner allocator has live) to estimate
    /// what was allocated before tracking was enabled.
    #[must_use]
    pub const fn with_live_bytes(mut self, live_bytes: fn() -> u64) -> Self {
        self.live_bytes = Some(live_bytes);
        self
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A: GlobalAlloc + 'static> OwnerAlloc<A> {
    #[cold]
    #[inline(never)]
    fn start(&self) {
        let live = self.live_bytes.or_else(|| {
            (core::any::TypeId::of::<A>() == core::any::TypeId::of::<System>())
                .then_some(sys::system_live_bytes as fn() -> u64)
        });
        tracker::start_from_env(live);
    }

    /// Records a new allocation. The thread's guard is `Locked`.
    #[inline(always)]
    fn record(p: *mut u8, layout: Layout, handle: StackHandle) {
        let (tid, ts) = if TABLE.has_thread() {
            // Relaxed: fixed at setup.
            let epoch = EPOCH_NS.load(core::sync::atomic::Ordering::Relaxed);
            (capture::tid(), sys::now_ns().saturating_sub(epoch))
        } else {
            (0, 0)
        };
        let r = Record {
            addr: p as usize,
            size: layout.size(),
            align: layout.align(),
            handle,
            tid,
            ts,
        };
        Self::insert(&r);
    }

    // The tracked paths take the allocator last: their other arguments
    // then arrive in the registers the `GlobalAlloc` method got them in,
    // so the shim in front of them moves no register on its way through
    // (three instructions a free, two an allocation, off and sampled).
    //
    // The tracked paths read the thread's re-entrancy guard once. From the
    // program (Outside) they set it to Locked for the capture and the side
    // table (nothing there allocates; a signal handler that allocates
    // meanwhile passes through) and put it back after.

    /// `SAMPLED`: sampled mode, after the thread's byte count crossed zero
    /// ([`sampling::take`]): the allocation is recorded if
    /// [`sampling::crossed`] says so, against its stack's sampled twin.
    #[inline(never)]
    unsafe fn alloc_tracked<const SAMPLED_: bool>(
        layout: Layout,
        zeroed: bool,
        state: u8,
        this: &Self,
    ) -> *mut u8 {
        // The first allocation (`state`, as `alloc` read it, is UNINIT):
        // read `ALLOCOWNER`, maybe turn tracking on.
        let passes = if SAMPLED_ {
            !sampling::crossed(layout.size())
        } else {
            state == UNINIT && {
                this.start();
                tracker::state() != ON
            }
        };
        if passes {
            // SAFETY: forwarded with the caller's layout (GlobalAlloc contract).
            return unsafe {
                if zeroed {
                    this.inner.alloc_zeroed(layout)
                } else {
                    this.inner.alloc(layout)
                }
            };
        }
        // SAFETY: forwarded with the caller's layout (GlobalAlloc contract).
        let p = unsafe {
            if zeroed {
                this.inner.alloc_zeroed(layout)
            } else {
                this.inner.alloc(layout)
            }
        };
        if p.is_null() {
            return p;
        }
        let g = guard::state();
        if g != Outside {
            Self::record_nested(p, layout, g);
            return p;
        }
        guard::set(Locked);
        let mut handle = capture::owner(Self::alloc_tracked::<SAMPLED_> as *const () as usize);
        if SAMPLED_ {
            handle = capture::sampled_twin(handle);
        }
        Self::record(p, layout, handle);
        guard::set(Outside);
        p
    }

    /// An allocation made by allocowner's own code (Inside) is owned by
    /// DUMMY; one made while it holds a lock (Locked) is not recorded.
    #[cold]
    #[inline(never)]
    fn record_nested(p: *mut u8, layout: Layout, g: GuardState) {
        if g == Inside {
            guard::set(Locked);
            Self::record(p, layout, StackHandle::DUMMY);
            guard::set(Inside);
        }
    }

    #[inline(never)]
    unsafe fn dealloc_tracked(ptr: *mut u8, layout: Layout, this: &Self) {
        // The record goes first: once the inner allocator has the block
        // back, another thread may get the same address and record it.
        let g = guard::state();
        if g != Locked {
            guard::set(Locked);
            if !TABLE.discard_fast_path(ptr as usize, layout.size()) {
                Self::discard(ptr as usize, layout.size());
            }
            guard::set(g);
        }
        // SAFETY: forwarded unchanged (GlobalAlloc contract).
        unsafe { this.inner.dealloc(ptr, layout) }
    }

    /// A free past [`crate::table::Table::discard_fast_path`]'s common
    /// case. The thread's guard is `Locked`.
    #[inline(never)]
    fn discard(addr: usize, size: usize) {
        // With the sampled mode's filter, a pointer without a record may
        // be an unsampled one as well as an early one: not counted.
        if !TABLE.discard(addr, size) && !filter::ready() {
            tracker::early_freed(size);
        }
    }

    #[inline(never)]
    unsafe fn realloc_tracked(
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        this: &Self,
    ) -> *mut u8 {
        let g = guard::state();
        if g == Locked {
            // SAFETY: forwarded unchanged (GlobalAlloc contract).
            return unsafe { this.inner.realloc(ptr, layout, new_size) };
        }
        guard::set(Locked);
        // SAFETY: forwarded unchanged (GlobalAlloc contract).
        let realloc = || unsafe { this.inner.realloc(ptr, layout, new_size) };
        let (p, resized) = if layout.size().max(new_size) <= RESIZE_UNDER_LOCK {
            TABLE.resize(ptr as usize, layout.size(), new_size, realloc)
        } else {
            // A big block may be copied or remapped: not under a shard
            // lock. Its record goes first, as in `dealloc`.
            let old = TABLE.remove(ptr as usize, layout.size());
            guard::set(g);
            let p = realloc();
            guard::set(Locked);
            match old {
                None => (p, Resized::Untracked),
                Some(old) if p.is_null() => {
                    // The old block is still ours: its record goes back.
                    Self::insert(&old);
                    (p, Resized::Kept)
                }
                Some(old) => (p, Resized::Moved(old)),
            }
        };
        match resized {
            Resized::Kept => {}
            // The record moves, keeping the original allocation's stack
            // (like page_owner's __copy_page_owner on migration), with the
            // new address and size.
            Resized::Moved(old) => Self::insert(&Record {
                addr: p as usize,
                size: new_size,
                ..old
            }),
            Resized::Untracked if p.is_null() => {}
            Resized::Untracked => {
                // Allocated while off: from now on it is a new allocation.
                // (With the sampled mode's filter on, it may also be an
                // unsampled block: not counted as early then. In sampled
                // mode it is not recorded: it was not sampled.)
                if !filter::ready() {
                    tracker::early_freed(layout.size());
                }
                if tracker::state() == ON {
                    // SAFETY: the GlobalAlloc contract makes `new_size` valid
                    // with the old alignment.
                    let new_layout =
                        unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                    if g == Inside {
                        Self::record(p, new_layout, StackHandle::DUMMY);
                    } else {
                        let handle = capture::owner(Self::realloc_tracked as *const () as usize);
                        Self::record(p, new_layout, handle);
                    }
                }
            }
        }
        guard::set(g);
        p
    }

    /// In sampled mode, the realloc of a block the filter says has no
    /// record (an unsampled block, or one allocated while off) whose
    /// growth crossed the thread's byte count: if [`sampling::crossed`]
    /// says so, the new block is recorded as a sampled allocation.
    #[inline(never)]
    unsafe fn realloc_unrecorded(
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        this: &Self,
    ) -> *mut u8 {
        let g = guard::state();
        if g == Locked || !sampling::crossed(new_size - layout.size()) {
            // SAFETY: forwarded unchanged (GlobalAlloc contract).
            return unsafe { this.inner.realloc(ptr, layout, new_size) };
        }
        // SAFETY: forwarded unchanged (GlobalAlloc contract).
        let p = unsafe { this.inner.realloc(ptr, layout, new_size) };
        if p.is_null() {
            return p;
        }
        // SAFETY: the GlobalAlloc contract makes `new_size` valid with the
        // old alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        guard::set(Locked);
        if g == Inside {
            Self::record(p, new_layout, StackHandle::DUMMY);
        } else {
            let handle = capture::owner(Self::realloc_unrecorded as *const () as usize);
            Self::record(p, new_layout, capture::sampled_twin(handle));
        }
        guard::set(g);
        p
    }

    /// Puts a record in the side table. The thread's guard is `Locked`.
    #[inline]
    fn insert(r: &Record) {
        if !TABLE.insert(r) {
            tracker::count_unrecorded();
        }
    }
}

/// Keeps the call before it from becoming a tail call, so the allocator
/// shim always has its own frame and the capture's fixed skip is right.
#[inline(always)]
fn no_tail<T>(v: T) -> T {
    // SAFETY: an empty asm statement: no instructions, no memory, no stack.
    unsafe { core::arch::asm!("", options(nomem, nostack, preserves_flags)) };
    v
}

// SAFETY: every method forwards to `inner` with the caller's arguments
// unchanged and returns its result unchanged; the tracker only reads the
// pointer values and never touches the memory they point to.
unsafe impl<A: GlobalAlloc + 'static> GlobalAlloc for OwnerAlloc<A> {
    // Off (and paused), `alloc` is a load, a compare and a jump to the
    // inner allocator: everything that calls anything else is in the
    // tracked path, so the shim saves no register on the way (the first
    // allocation's start-up, which reads `ALLOCOWNER`, is there too).

    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = tracker::state();
        // UNINIT, ON, SAMPLED: one compare on the way through.
        if s >= UNINIT {
            if s != SAMPLED {
                // SAFETY: the caller's contract, forwarded.
                return no_tail(unsafe { Self::alloc_tracked::<false>(layout, false, s, self) });
            }
            if sampling::take(layout.size()) {
                // SAFETY: the caller's contract, forwarded.
                return no_tail(unsafe { Self::alloc_tracked::<true>(layout, false, s, self) });
            }
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.inner.alloc(layout) }
    }

    #[inline(always)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let s = tracker::state();
        // UNINIT, ON, SAMPLED: one compare on the way through.
        if s >= UNINIT {
            if s != SAMPLED {
                // SAFETY: the caller's contract, forwarded.
                return no_tail(unsafe { Self::alloc_tracked::<false>(layout, true, s, self) });
            }
            if sampling::take(layout.size()) {
                // SAFETY: the caller's contract, forwarded.
                return no_tail(unsafe { Self::alloc_tracked::<true>(layout, true, s, self) });
            }
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let s = tracker::state();
        // PAUSED, UNINIT, ON, SAMPLED: one compare on the way through. In
        // sampled mode, a block the filter says has no record (unsampled)
        // goes straight back.
        if s >= PAUSED && !(s == SAMPLED && filter::surely_unrecorded(ptr as usize)) {
            // SAFETY: the caller's contract, forwarded.
            unsafe { Self::dealloc_tracked(ptr, layout, self) }
        } else {
            // SAFETY: the caller's contract, forwarded.
            unsafe { self.inner.dealloc(ptr, layout) }
        }
    }

    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let s = tracker::state();
        if s >= PAUSED {
            if s == SAMPLED && filter::surely_unrecorded(ptr as usize) {
                // An unsampled block: its growth counts towards the next
                // sample, and the new block is recorded if it is one.
                if new_size > layout.size() && sampling::take(new_size - layout.size()) {
                    // SAFETY: the caller's contract, forwarded.
                    return no_tail(unsafe {
                        Self::realloc_unrecorded(ptr, layout, new_size, self)
                    });
                }
                // SAFETY: the caller's contract, forwarded.
                return unsafe { self.inner.realloc(ptr, layout, new_size) };
            }
            // SAFETY: the caller's contract, forwarded.
            no_tail(unsafe { Self::realloc_tracked(ptr, layout, new_size, self) })
        } else {
            // SAFETY: the caller's contract, forwarded.
            unsafe { self.inner.realloc(ptr, layout, new_size) }
        }
    }
}
