//! A test-and-test-and-set spin lock that never allocates, for the side
//! table's shards and the depot's insert path. Holding it sets the
//! re-entrancy guard to `LOCKED`, so a signal handler that allocates on the
//! same thread passes through instead of deadlocking.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::guard::{Guard, LOCKED};

#[derive(Debug)]
pub(crate) struct SpinLock {
    locked: AtomicBool,
}

pub(crate) struct SpinGuard<'a> {
    lock: &'a SpinLock,
    _guard: Guard,
}

impl SpinLock {
    pub(crate) const fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_> {
        let g = Guard::enter(LOCKED);
        self.raw_lock();
        SpinGuard {
            lock: self,
            _guard: g,
        }
    }

    /// Takes the lock for a caller that has already set the re-entrancy
    /// guard to `LOCKED` (the tracked allocation paths).
    #[inline]
    pub(crate) fn lock_guarded(&self) -> RawGuard<'_> {
        self.raw_lock();
        RawGuard { lock: self }
    }

    /// Takes the lock if it is free, for a caller that has already set the
    /// re-entrancy guard to `LOCKED`; never waits.
    #[inline]
    pub(crate) fn try_lock_guarded(&self) -> Option<RawGuard<'_>> {
        // `then`, not `then_some`: a guard made and dropped on failure
        // would unlock the holder's lock.
        self.try_raw_lock().then(|| RawGuard { lock: self })
    }

    /// One attempt to take the lock: whether it was free (and is now ours).
    #[inline(always)]
    fn try_raw_lock(&self) -> bool {
        // Acquire: pairs with the Release in `raw_unlock`, so the previous
        // holder's writes are visible.
        !self.locked.swap(true, Ordering::Acquire)
    }

    /// Takes the lock without a guard object (fork handlers, snapshot).
    #[inline]
    pub(crate) fn raw_lock(&self) {
        if self.try_raw_lock() {
            return;
        }
        self.lock_contended();
    }

    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            if self.try_raw_lock() {
                return;
            }
            // Relaxed: only a hint before retrying the swap.
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 128 {
                    core::hint::spin_loop();
                } else {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                }
            }
        }
    }

    /// Releases a lock taken with [`SpinLock::raw_lock`].
    #[inline]
    pub(crate) fn raw_unlock(&self) {
        // Release: publishes the holder's writes to the next holder.
        self.locked.store(false, Ordering::Release);
    }
}

/// A held lock whose holder manages the re-entrancy guard itself.
pub(crate) struct RawGuard<'a> {
    lock: &'a SpinLock,
}

impl Drop for RawGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw_unlock();
    }
}

impl Drop for SpinGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw_unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_lock_fails_on_a_held_lock_and_leaves_it_held() {
        let l = SpinLock::new();
        let held = l.try_lock_guarded().expect("a free lock");
        assert!(l.try_lock_guarded().is_none(), "held");
        assert!(
            l.try_lock_guarded().is_none(),
            "still held after a failed try"
        );
        drop(held);
        assert!(l.try_lock_guarded().is_some(), "free again");
    }
}
