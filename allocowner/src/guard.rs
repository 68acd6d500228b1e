//! The re-entrancy guard, page_owner's `in_page_owner` bit: a per-thread
//! state, `const`-initialised with no destructor, so it can be read at any
//! moment of a thread's life, including while its thread-locals are being
//! destroyed.

use core::cell::Cell;

/// The thread is in the program's own code.
pub(crate) const OUTSIDE: u8 = 0;
/// The thread is inside allocowner code that may allocate (snapshot,
/// report, stack capture): its allocations are recorded against
/// [`crate::StackHandle::DUMMY`].
pub(crate) const INSIDE: u8 = 1;
/// The thread holds one of allocowner's internal locks: an allocation now
/// (from a signal handler) must not touch the tracker at all.
pub(crate) const LOCKED: u8 = 2;

thread_local! {
    static STATE: Cell<u8> = const { Cell::new(OUTSIDE) };
}

/// The calling thread's guard state. A thread whose TLS cannot be reached
/// counts as [`LOCKED`]: the allocation passes through untracked.
#[inline]
pub(crate) fn state() -> u8 {
    STATE.try_with(Cell::get).unwrap_or(LOCKED)
}

/// Sets the calling thread's guard state (the tracked paths, which read
/// the state once and put it back themselves).
#[inline]
pub(crate) fn set(to: u8) {
    let _ = STATE.try_with(|s| s.set(to));
}

/// Sets the guard to `to` (if that is deeper than now) until dropped.
pub(crate) struct Guard {
    prev: u8,
}

impl Guard {
    #[inline]
    pub(crate) fn enter(to: u8) -> Guard {
        let prev = state();
        if to > prev {
            let _ = STATE.try_with(|s| s.set(to));
        }
        Guard { prev }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let prev = self.prev;
        let _ = STATE.try_with(|s| s.set(prev));
    }
}

/// Runs `f` with allocowner's own allocations marked as such: everything
/// `f` allocates is recorded against [`crate::StackHandle::DUMMY`].
pub(crate) fn inside<R>(f: impl FnOnce() -> R) -> R {
    let _g = Guard::enter(INSIDE);
    f()
}
