//! Recent chains: each thread remembers its last few frame-pointer walks,
//! where each frame record lay and what it held, with the stack's handle.
//!
//! A capture that starts at a remembered record compares every remembered
//! record with the stack as it is now. The addresses are known, so the
//! loads do not wait on each other as a walk's pointer chase does; on a
//! full match the remembered handle is the answer, with nothing walked,
//! hashed or looked up. A match is exact, not a guess: the first record is
//! where the walk starts, and each record that holds what it held before
//! points to the same next record, so the walk would find the same frames,
//! and stop for the same reason.
//!
//! The check is branch-free: every entry compares [`DEPTH`] records, each
//! as one 16-byte compare of what the stack holds with what it held (a
//! chain of fewer frames pads with a record of zeros that always matches),
//! about four instructions a frame.

use core::cell::Cell;

use super::walk::{self, End};
use crate::snapshot::StackHandle;

/// The deepest chain remembered: the default depth.
pub(super) const DEPTH: usize = crate::config::DEFAULT_DEPTH;
/// Chains remembered per thread, in pairs (two ways).
const ENTRIES: usize = 64;
const _: () = assert!(ENTRIES.is_power_of_two());
const PAIR_BITS: u32 = (ENTRIES / 2).trailing_zeros();

/// A frame record as it lies on the stack: the saved frame pointer (the
/// caller's record), then the return address.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Pair([usize; 2]);

/// What a padding record holds, and where it lies.
static ZEROS: Pair = Pair([0; 2]);

struct Entry {
    /// Frames (0: an empty entry).
    n: Cell<u8>,
    /// Whether it is the one of its pair used last (the other goes first).
    last: Cell<bool>,
    /// Whether the depth ended the walk (else the chain did, and the entry
    /// stands for any depth at least `n`).
    by_depth: Cell<bool>,
    handle: Cell<u32>,
    /// What each record held (`ZEROS` past the last).
    pairs: [Cell<Pair>; DEPTH],
    /// Where each frame's record lay (`ZEROS`' address past the last).
    records: [Cell<usize>; DEPTH],
}

thread_local! {
    // Destructor-free (usable during thread teardown); 26 KiB per thread.
    static RECENT: [Entry; ENTRIES] = const {
        [const {
            Entry {
                n: Cell::new(0),
                last: Cell::new(false),
                by_depth: Cell::new(false),
                handle: Cell::new(0),
                pairs: [const { Cell::new(Pair([0; 2])) }; DEPTH],
                records: [const { Cell::new(0) }; DEPTH],
            }
        }; ENTRIES]
    };
}

/// A chain may be in either entry of a pair, picked by where its first
/// record lies and by its first two return addresses (the first alone is
/// often inside the allocator shim, the same for every allocation). Two
/// ways, least recently used out: call sites at one depth often share a
/// pair.
#[inline(always)]
fn pair(fp: usize, ret0: usize, ret1: usize) -> usize {
    let k = (fp as u64 >> 4).wrapping_mul(0xff51_afd7_ed55_8ccd)
        ^ (ret0 as u64).wrapping_mul(0xc4ce_b9fe_1a85_ec53)
        ^ (ret1 as u64).rotate_left(17);
    ((k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PAIR_BITS)) as usize) << 1
}

/// Marks entry `i` as the last used of its pair.
#[inline(always)]
fn touch(recent: &[Entry; ENTRIES], i: usize) {
    recent[i].last.set(true);
    recent[i ^ 1].last.set(false);
}

/// The first two return addresses of the chain from the valid record `fp`
/// (0 for the second if there is none).
#[inline(always)]
fn key(bounds: &walk::Bounds, fp: usize) -> (usize, usize) {
    // SAFETY: `fp` is a valid record of this thread's stack.
    let (next, ret0) = unsafe { walk::record(fp) };
    if !bounds.valid_next(next, fp) {
        return (ret0, 0);
    }
    // SAFETY: `next` passed the bounds checks for this thread's stack.
    (ret0, unsafe { walk::record(next) }.1)
}

/// The handle of the chain a walk of `depth` frames from the valid record
/// `fp` would find, if it is a remembered one.
#[inline(always)]
pub(super) fn find(bounds: &walk::Bounds, fp: usize, depth: usize) -> Option<StackHandle> {
    let (ret0, ret1) = key(bounds, fp);
    RECENT
        .try_with(|recent| {
            // The first entry of the pair that starts where the walk would;
            // if it is stale, the miss remembers the chain over the least
            // recently used entry, which is this one when the other is the
            // current chain.
            let p = pair(fp, ret0, ret1);
            let i = [p, p + 1].into_iter().find(|&i| {
                let e = &recent[i];
                e.records[0].get() == fp && e.pairs[0].get().0[1] == ret0
            })?;
            let e = &recent[i];
            let n = usize::from(e.n.get());
            let by_depth = e.by_depth.get();
            if n == 0 || (if by_depth { n != depth } else { n > depth }) {
                return None;
            }
            if !unchanged(e) {
                return None;
            }
            touch(recent, i);
            Some(StackHandle::from_raw(e.handle.get()))
        })
        .ok()
        .flatten()
}

/// Whether every record of `e` holds what it held.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn unchanged(e: &Entry) -> bool {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_load_si128, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_setzero_si128, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of x86_64. Each address in `records` is either
    // `ZEROS` or passed the walk's bounds checks for this thread's stack
    // (the entry is this thread's), so 16 bytes there are mapped and
    // readable, unaligned loads; `pairs` are 16-byte aligned by `Pair`.
    unsafe {
        let mut diff = _mm_setzero_si128();
        for k in 0..DEPTH {
            let live = _mm_loadu_si128(e.records[k].get() as *const _);
            let then = _mm_load_si128(e.pairs[k].as_ptr().cast());
            diff = _mm_or_si128(diff, _mm_xor_si128(live, then));
        }
        _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xffff
    }
}

/// Whether every record of `e` holds what it held.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn unchanged(e: &Entry) -> bool {
    let mut diff = 0;
    for k in 0..DEPTH {
        // SAFETY: as in the x86_64 version: `ZEROS` or a checked record of
        // this thread's stack.
        let (next, ret) = unsafe { walk::record(e.records[k].get()) };
        let then = e.pairs[k].get().0;
        diff |= (next ^ then[0]) | (ret ^ then[1]);
    }
    diff == 0
}

/// Remembers a walk: `records` and `frames` as [`walk::Bounds::walk`]
/// filled them, why it ended and the stack's handle. A walk that ended at
/// a record holding a zero return address (the outermost frame of some
/// threads) keeps that record too, to be checked like the others.
#[inline(always)]
pub(super) fn remember(records: &[usize], frames: &[usize], end: End, handle: StackHandle) {
    let n = frames.len();
    let last = if end == End::Zero { n + 1 } else { n };
    if n == 0 || last > DEPTH || !handle.is_stack() {
        return;
    }
    let ret1 = if n > 1 { frames[1] } else { 0 };
    let _ = RECENT.try_with(|recent| {
        let p = pair(records[0], frames[0], ret1);
        let i = if recent[p].last.get() { p + 1 } else { p };
        touch(recent, i);
        let e = &recent[i];
        for k in 0..DEPTH {
            let (at, held) = if k < n {
                (records[k], Pair([records[k + 1], frames[k]]))
            } else if k < last {
                // SAFETY: `records[n]` passed the walk's bounds checks for
                // this thread's stack (it was the last record's `next`).
                let (next, _) = unsafe { walk::record(records[n]) };
                (records[n], Pair([next, 0]))
            } else {
                (core::ptr::from_ref(&ZEROS) as usize, ZEROS)
            };
            e.records[k].set(at);
            e.pairs[k].set(held);
        }
        e.n.set(n as u8);
        e.by_depth.set(end == End::Depth);
        e.handle.set(handle.raw());
    });
}
