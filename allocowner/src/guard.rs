//! The re-entrancy guard, page_owner's `in_page_owner` bit: a per-thread
//! state, `const`-initialised with no destructor, so it can be read at any
//! moment of a thread's life, including while its thread-locals are being
//! destroyed.

use core::cell::Cell;

/// Where the calling thread is, as far as allocowner is concerned. The
/// states are ordered by depth: a [`Guard`] only ever goes deeper.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GuardState {
    /// The thread is in the program's own code.
    Outside = 0,
    /// The thread is inside allocowner code that may allocate (snapshot,
    /// report, stack capture): its allocations are recorded against
    /// [`crate::StackHandle::DUMMY`].
    Inside = 1,
    /// The thread holds one of allocowner's internal locks: an allocation
    /// now (from a signal handler) must not touch the tracker at all.
    Locked = 2,
}

impl GuardState {
    /// The state stored as `v` by `as u8` (the fork handlers keep one in
    /// an atomic); anything else counts as [`GuardState::Locked`].
    pub(crate) fn from_u8(v: u8) -> GuardState {
        match v {
            0 => GuardState::Outside,
            1 => GuardState::Inside,
            _ => GuardState::Locked,
        }
    }
}

thread_local! {
    // `GuardState` is `Copy`: the cell has no destructor to register.
    static STATE: Cell<GuardState> = const { Cell::new(GuardState::Outside) };
}

/// The calling thread's guard state. A thread whose TLS cannot be reached
/// counts as [`GuardState::Locked`]: the allocation passes through
/// untracked.
#[inline]
pub(crate) fn state() -> GuardState {
    STATE.try_with(Cell::get).unwrap_or(GuardState::Locked)
}

/// Sets the calling thread's guard state (the tracked paths, which read
/// the state once and put it back themselves).
#[inline]
pub(crate) fn set(to: GuardState) {
    let _ = STATE.try_with(|s| s.set(to));
}

/// Sets the guard to `to` (if that is deeper than now) until dropped.
pub(crate) struct Guard {
    prev: GuardState,
}

impl Guard {
    #[inline]
    pub(crate) fn enter(to: GuardState) -> Guard {
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
    let _g = Guard::enter(GuardState::Inside);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_order_by_depth_and_round_trip_through_u8() {
        assert!(GuardState::Outside < GuardState::Inside);
        assert!(GuardState::Inside < GuardState::Locked);
        for s in [GuardState::Outside, GuardState::Inside, GuardState::Locked] {
            assert_eq!(GuardState::from_u8(s as u8), s);
        }
        assert_eq!(GuardState::from_u8(7), GuardState::Locked);
        assert!(!core::mem::needs_drop::<Cell<GuardState>>());
    }

    #[test]
    fn a_guard_only_goes_deeper_and_puts_the_state_back() {
        assert_eq!(state(), GuardState::Outside);
        {
            let _locked = Guard::enter(GuardState::Locked);
            {
                let _inside = Guard::enter(GuardState::Inside);
                assert_eq!(state(), GuardState::Locked, "never shallower");
            }
            assert_eq!(state(), GuardState::Locked);
        }
        assert_eq!(state(), GuardState::Outside);
        inside(|| assert_eq!(state(), GuardState::Inside));
        assert_eq!(state(), GuardState::Outside);
    }
}
