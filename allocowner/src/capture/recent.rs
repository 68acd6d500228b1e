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
//! The check compares each record as one 16-byte compare of what the stack
//! holds with what it held, four records at a time with no branch between
//! them (a chain pads its last group with a record of zeros that always
//! matches): about four instructions a frame.

use core::cell::Cell;

use super::walk::{self, End};
use crate::snapshot::StackHandle;

/// The deepest chain remembered: the default depth.
pub(super) const DEPTH: usize = crate::config::DEFAULT_DEPTH;
/// Chains remembered per thread, in sets of [`WAYS`].
const ENTRIES: usize = 64;
/// Entries a chain may be in. Chains that start alike (the same first
/// record and first two return addresses: one allocating path reached from
/// several callers at one depth) share a set; the JSON parse has three such
/// that take turns, which two ways could not hold. A new chain replaces
/// the set's least recently used (first in, first out instead cost the
/// JSON parse 5% more instructions in `alloc_one`: hot chains pushed out).
const WAYS: usize = 4;
const SETS: usize = ENTRIES / WAYS;
const SET_BITS: u32 = SETS.trailing_zeros();
const _: () =
    assert!(ENTRIES.is_power_of_two() && WAYS.is_power_of_two() && DEPTH.is_multiple_of(4));

/// A frame record as it lies on the stack: the saved frame pointer (the
/// caller's record), then the return address.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Pair([usize; 2]);

/// What a padding record holds, and where it lies.
static ZEROS: Pair = Pair([0; 2]);

struct Entry {
    /// Frames.
    n: Cell<u8>,
    /// The depth the walk was asked for (0: an empty entry). A chain is
    /// found again only for the same depth, which then ends it the same
    /// way.
    depth: Cell<u8>,
    handle: Cell<u32>,
    /// When it was last used, on the thread's clock (least: replaced first).
    used: Cell<u32>,
    /// What each record held (`ZEROS` past the last).
    pairs: [Cell<Pair>; DEPTH],
    /// Where each frame's record lay (`ZEROS`' address past the last).
    records: [Cell<usize>; DEPTH],
}

struct Recent {
    /// Counts uses, for `Entry::used` (wrapping: a stale entry may then
    /// look fresh once in 2^32 uses, which only costs a miss).
    clock: Cell<u32>,
    entries: [Entry; ENTRIES],
}

thread_local! {
    // Destructor-free (usable during thread teardown); 26 KiB per thread.
    static RECENT: Recent = const {
        Recent {
            clock: Cell::new(0),
            entries: [const {
                Entry {
                    n: Cell::new(0),
                    depth: Cell::new(0),
                    handle: Cell::new(0),
                    used: Cell::new(0),
                    pairs: [const { Cell::new(Pair([0; 2])) }; DEPTH],
                    records: [const { Cell::new(0) }; DEPTH],
                }
            }; ENTRIES],
        }
    };
}

/// The entries a chain may be in, picked by where its first record lies
/// and by its first two return addresses (the first alone is often inside
/// the allocator shim, the same for every allocation), each mixed by its
/// own multiplier: XORed plainly, the chains of one recursion (records a
/// frame apart, return addresses a call site apart) cancel into one set.
#[inline(always)]
fn set(fp: usize, ret0: usize, ret1: usize) -> usize {
    let k = (fp as u64 >> 4).wrapping_mul(0xff51_afd7_ed55_8ccd)
        ^ (ret0 as u64).wrapping_mul(0xc4ce_b9fe_1a85_ec53)
        ^ (ret1 as u64).rotate_left(17);
    (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SET_BITS)) as usize
}

/// The entries of set `set`.
#[inline(always)]
fn ways(recent: &Recent, set: usize) -> &[Entry] {
    &recent.entries[set * WAYS..set * WAYS + WAYS]
}

/// Marks entry `e` as used now.
#[inline(always)]
fn touch(recent: &Recent, e: &Entry) {
    let now = recent.clock.get().wrapping_add(1);
    recent.clock.set(now);
    e.used.set(now);
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
            let e = ways(recent, set(fp, ret0, ret1)).iter().find(|e| {
                e.records[0].get() == fp
                    && e.pairs[0].get().0[1] == ret0
                    && usize::from(e.depth.get()) == depth
                    && unchanged(e)
            })?;
            touch(recent, e);
            Some(StackHandle::from_raw(e.handle.get()))
        })
        .ok()
        .flatten()
}

/// How many groups of four records of `e` to check: as far as its chain
/// goes, with the record that ended it (the padding past them matches).
#[inline(always)]
fn chunks(e: &Entry) -> usize {
    ((usize::from(e.n.get()) + 4) / 4).min(DEPTH / 4)
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
        for chunk in 0..chunks(e) {
            for k in chunk * 4..chunk * 4 + 4 {
                let live = _mm_loadu_si128(e.records[k].get() as *const _);
                let then = _mm_load_si128(e.pairs[k].as_ptr().cast());
                diff = _mm_or_si128(diff, _mm_xor_si128(live, then));
            }
        }
        _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xffff
    }
}

/// Whether every record of `e` holds what it held.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn unchanged(e: &Entry) -> bool {
    let mut diff = 0;
    for k in 0..chunks(e) * 4 {
        // SAFETY: as in the x86_64 version: `ZEROS` or a checked record of
        // this thread's stack.
        let (next, ret) = unsafe { walk::record(e.records[k].get()) };
        let then = e.pairs[k].get().0;
        diff |= (next ^ then[0]) | (ret ^ then[1]);
    }
    diff == 0
}

/// Remembers a walk of at most `depth` frames: `records` and `frames` as
/// [`walk::Bounds::walk`] filled them, why it ended and the stack's handle.
/// A walk that ended at a record holding a zero return address (the
/// outermost frame of some threads) keeps that record too, to be checked
/// like the others.
#[inline(always)]
pub(super) fn remember(
    records: &[usize],
    frames: &[usize],
    end: End,
    depth: usize,
    handle: StackHandle,
) {
    let n = frames.len();
    let last = if end == End::Zero { n + 1 } else { n };
    if n == 0 || last > DEPTH || depth > DEPTH || !handle.is_stack() {
        return;
    }
    let ret1 = if n > 1 { frames[1] } else { 0 };
    let _ = RECENT.try_with(|recent| {
        let now = recent.clock.get();
        let Some(e) = ways(recent, set(records[0], frames[0], ret1))
            .iter()
            .max_by_key(|e| now.wrapping_sub(e.used.get()))
        else {
            return;
        };
        touch(recent, e);
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
        e.depth.set(depth as u8);
        e.handle.set(handle.raw());
    });
}
