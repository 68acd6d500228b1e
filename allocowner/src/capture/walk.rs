//! The frame-pointer walk: from a frame record (the saved frame pointer and
//! return address a function with frame pointers pushes on entry) to its
//! caller's, and on up, keeping the return addresses.
//!
//! Every record must lie inside the thread's own stack, above the one
//! before it, 8-byte aligned: a broken chain (code without frame pointers)
//! ends the walk, never faults.

use core::cell::Cell;

use crate::depot::{HASH_SEED, hash_finish, hash_step};
use crate::sys;

thread_local! {
    /// The thread's stack as [`Bounds`] (`top` 0: not read yet, or none).
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Where frame records may lie: this thread's stack.
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    lo: usize,
    /// The highest address a 16-byte record may start at.
    top: usize,
}

impl Bounds {
    /// The calling thread's stack, read once per thread.
    #[inline(always)]
    pub(super) fn of_thread() -> Option<Bounds> {
        match BOUNDS.try_with(Cell::get) {
            Ok((lo, top)) if top != 0 => Some(Bounds { lo, top }),
            _ => Self::first_of_thread(),
        }
    }

    #[cold]
    #[inline(never)]
    fn first_of_thread() -> Option<Bounds> {
        let (lo, hi) = sys::thread_stack_bounds()?;
        let top = hi.checked_sub(16).filter(|&top| lo <= top)?;
        let _ = BOUNDS.try_with(|c| c.set((lo, top)));
        Some(Bounds { lo, top })
    }

    #[inline(always)]
    fn valid(&self, fp: usize) -> bool {
        fp >= self.lo && fp <= self.top && fp.is_multiple_of(8)
    }

    /// Whether `next`, read from the valid record at `fp`, is a valid record
    /// further up: strictly above (so at or above `lo`), at most `top`,
    /// aligned.
    #[inline(always)]
    pub(super) fn valid_next(&self, next: usize, fp: usize) -> bool {
        next > fp && next <= self.top && next.is_multiple_of(8)
    }

    /// The record `skip` records up from the frame pointer `fp` (a value of
    /// the frame-pointer register), if the chain is valid that far.
    #[inline(always)]
    pub(super) fn start(&self, fp: usize, skip: usize) -> Option<usize> {
        if !self.valid(fp) {
            return None;
        }
        let mut fp = fp;
        for _ in 0..skip {
            // SAFETY: `fp` is a valid record of this thread's stack, at or
            // above the caller's frame.
            let (next, _) = unsafe { record(fp) };
            if !self.valid_next(next, fp) {
                return None;
            }
            fp = next;
        }
        Some(fp)
    }

    /// Walks from the valid record `fp` (from [`Bounds::start`]), storing
    /// return addresses in `frames`; returns how many and their
    /// [`crate::depot::hash`]. It stops at a zero return address (the
    /// outermost frame of some threads) or a record that is not valid.
    #[inline(always)]
    pub(super) fn walk(&self, mut fp: usize, frames: &mut [usize]) -> (usize, u64) {
        let mut n = 0;
        let mut h = HASH_SEED;
        while n < frames.len() {
            // SAFETY: `fp` is a valid record of this thread's stack, at or
            // above the caller's frame (each step goes strictly up).
            let (next, ret) = unsafe { record(fp) };
            if ret == 0 {
                break;
            }
            frames[n] = ret;
            n += 1;
            h = hash_step(h, ret);
            if !self.valid_next(next, fp) {
                break;
            }
            fp = next;
        }
        (n, hash_finish(h, n))
    }
}

/// The two words of the frame record at `fp`: the saved frame pointer (the
/// caller's record) and the return address.
///
/// # Safety
/// `fp` must have passed [`Bounds::valid`] (or [`Bounds::valid_next`]) for
/// the calling thread's stack, at or above a frame that was live on it:
/// such memory is mapped for as long as the thread runs, and 8-byte
/// aligned.
#[inline(always)]
pub(super) unsafe fn record(fp: usize) -> (usize, usize) {
    // SAFETY: per the contract, 16 readable, aligned bytes at `fp`.
    unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) }
}
