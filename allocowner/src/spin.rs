//! A lock that never allocates, for the side table's shards, the depot's
//! insert path, the page index's growth and the tracker's enable path.
//! Holding it sets the re-entrancy guard to `Locked`, so a signal handler
//! that allocates on the same thread passes through instead of deadlocking.
//!
//! It is Drepper's "mutex 2" ("Futexes Are Tricky"): the word is 0 free,
//! 1 locked, 2 locked with (possible) waiters. Taking a free lock is one
//! compare-exchange; releasing an uncontended one is one exchange and no
//! call. A waiter spins a bounded number of times, then sleeps in
//! `FUTEX_WAIT` on the word, so a `SCHED_FIFO` thread that waits for a
//! lower-priority holder sleeps and lets it run, where an endless
//! `sched_yield` loop would not (yield never gives the CPU to a thread of
//! lower priority). An unlock that finds 2 wakes one waiter. Off Linux the
//! waiter yields instead of sleeping.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::guard::{Guard, GuardState};

/// Free.
const FREE: u32 = 0;
/// Held, nobody asleep on it.
const HELD: u32 = 1;
/// Held, and a waiter may be asleep on it: the unlock must wake one.
const CONTENDED: u32 = 2;

/// Spins (`pause`, re-reading the word) before a waiter goes to sleep:
/// long enough to cover a short critical section on another CPU.
const SPINS: u32 = 128;

#[derive(Debug)]
pub(crate) struct SpinLock {
    state: AtomicU32,
}

pub(crate) struct SpinGuard<'a> {
    lock: &'a SpinLock,
    _guard: Guard,
}

impl SpinLock {
    pub(crate) const fn new() -> Self {
        SpinLock {
            state: AtomicU32::new(FREE),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_> {
        let g = Guard::enter(GuardState::Locked);
        self.raw_lock();
        SpinGuard {
            lock: self,
            _guard: g,
        }
    }

    /// Takes the lock for a caller that has already set the re-entrancy
    /// guard to `Locked` (the tracked allocation paths).
    #[inline]
    pub(crate) fn lock_guarded(&self) -> RawGuard<'_> {
        self.raw_lock();
        RawGuard { lock: self }
    }

    /// Takes the lock if it is free, for a caller that has already set the
    /// re-entrancy guard to `Locked`; never waits.
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
        // holder's writes are visible. Relaxed on failure: nothing is read.
        self.state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
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
        // Spin a while: the holder is likely running on another CPU.
        for _ in 0..SPINS {
            // Relaxed: only a hint before retrying the exchange.
            if self.state.load(Ordering::Relaxed) == FREE && self.try_raw_lock() {
                return;
            }
            core::hint::spin_loop();
        }
        // Then sleep. Marking the word CONTENDED before each sleep makes
        // the holder's unlock wake us; taking it as CONTENDED (rather than
        // HELD) is conservative: our own unlock may wake a waiter that is
        // not there, never miss one that is.
        // Acquire: as in `try_raw_lock`, when the swap finds it FREE.
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            self.wait();
        }
    }

    /// Sleeps while the word is CONTENDED (returns at once if it is not,
    /// on a wake-up, or on a signal; the caller re-checks).
    #[cfg(target_os = "linux")]
    #[inline(never)]
    fn wait(&self) {
        // SAFETY: FUTEX_WAIT on a valid, aligned u32 that lives as long as
        // the lock (the kernel only reads it); a null timeout waits without
        // limit, which is what a lock wants; every outcome (woken, EAGAIN
        // because the word changed, EINTR) is handled by the caller's loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.state.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                CONTENDED,
                core::ptr::null::<libc::timespec>(),
            );
        }
    }

    /// Without futexes: give the CPU away and let the caller re-check.
    #[cfg(not(target_os = "linux"))]
    #[inline(never)]
    fn wait(&self) {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    }

    /// Wakes one thread sleeping in [`SpinLock::wait`].
    #[cfg(target_os = "linux")]
    #[cold]
    #[inline(never)]
    fn wake(&self) {
        // SAFETY: FUTEX_WAKE on a valid, aligned u32; it only wakes
        // sleepers on this address (none is harmless).
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.state.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }

    /// Nobody sleeps off Linux: waiters yield and re-check.
    #[cfg(not(target_os = "linux"))]
    #[inline(always)]
    fn wake(&self) {}

    /// Releases a lock taken with [`SpinLock::raw_lock`].
    #[inline]
    pub(crate) fn raw_unlock(&self) {
        // Release: publishes the holder's writes to the next holder.
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            self.wake();
        }
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
    use core::cell::UnsafeCell;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

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

    struct Counted {
        lock: SpinLock,
        n: UnsafeCell<u64>,
    }
    // SAFETY: `n` is only touched with `lock` held.
    unsafe impl Sync for Counted {}

    /// Many more threads than CPUs, each taking the lock many times with a
    /// non-atomic increment inside: every thread finishes, no increment is
    /// lost, and the lock ends free.
    #[test]
    fn contended_lock_loses_no_update() {
        const THREADS: u64 = 16;
        const ROUNDS: u64 = 20_000;
        let c = Arc::new(Counted {
            lock: SpinLock::new(),
            n: UnsafeCell::new(0),
        });
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let _g = c.lock.lock();
                        // SAFETY: the lock is held.
                        unsafe { *c.n.get() += 1 };
                        if (i + t) % 64 == 0 {
                            // A longer hold now and then, so that waiters
                            // run out of spins and sleep.
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // SAFETY: every thread is joined.
        assert_eq!(unsafe { *c.n.get() }, THREADS * ROUNDS);
        assert_eq!(c.lock.state.load(Ordering::Relaxed), FREE);
    }

    /// The scheduler's view of a thread: its `/proc` state letter.
    #[cfg(target_os = "linux")]
    fn thread_state(tid: i32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // "tid (comm) S ...": the letter after the last ')'.
        stat[stat.rfind(')')? + 1..].trim_start().chars().next()
    }

    /// A waiter that finds the lock held past its spins marks it CONTENDED
    /// and sleeps (not runnable) until the holder's unlock wakes it.
    #[cfg(target_os = "linux")]
    #[test]
    fn waiter_sleeps_and_is_woken() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let lock = Arc::new(SpinLock::new());
        let got = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicU32::new(0));
        lock.raw_lock();
        let waiter = {
            let (lock, got, tid) = (Arc::clone(&lock), Arc::clone(&got), Arc::clone(&tid));
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() } as u32, Ordering::SeqCst);
                lock.raw_lock();
                got.store(true, Ordering::SeqCst);
                lock.raw_unlock();
            })
        };
        // Wait (without a time limit that matters) for the waiter to mark
        // the word and go to sleep.
        loop {
            let t = tid.load(Ordering::SeqCst);
            if t != 0
                && lock.state.load(Ordering::SeqCst) == CONTENDED
                && thread_state(t.cast_signed()) == Some('S')
            {
                break;
            }
            assert!(Instant::now() < deadline, "the waiter never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!got.load(Ordering::SeqCst), "took a held lock");
        lock.raw_unlock();
        waiter.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
        assert_eq!(lock.state.load(Ordering::SeqCst), FREE);
    }
}
