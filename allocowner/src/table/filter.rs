//! The sampled mode's filter of recorded addresses: how a free knows,
//! without a lock or a lookup in the table, that its block has no record
//! (it was not sampled), so that it costs one load.
//!
//! A counting filter: [`COUNTERS`] 16-bit counters in `.bss` (untouched
//! until sampled mode is first on: nothing mapped when off), counter
//! `(addr >> 4) % COUNTERS` of each recorded address counting the records
//! that map to it. A counter of 0 says for sure that no record of the
//! address exists; more than 0 sends the free down the table's own path,
//! which finds the record or not (another address's record shares the
//! counter: in sampled mode, with about one record per 512 KiB of live
//! heap, rarely).
//!
//! It is kept up to date (`on`) from the first time sampled mode is
//! turned on until `stop()`, also while exact again after it: each change
//! of a record (an insert, a remove) counts itself in or out under the
//! record's shard lock, so that the flag, set under every lock, divides
//! every change into before (counted by the rebuild) and after (counting
//! itself). A counter that reached `u16::MAX` stays there (a permanent
//! "maybe", never a wrong "no").

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicBool, AtomicU16};

/// Counters in the filter: 256K, 512 KiB of `.bss`, one per 16 bytes of
/// a 4 MiB window that wraps around the address space.
pub(crate) const COUNTERS: usize = 1 << 18;

static FILTER: [AtomicU16; COUNTERS] = [const { AtomicU16::new(0) }; COUNTERS];
/// Changes of records count themselves (each shard keeps a copy, read
/// under its lock).
static ON: AtomicBool = AtomicBool::new(false);
/// Frees may trust the filter (set after the rebuild that makes it whole).
static READY: AtomicBool = AtomicBool::new(false);

#[inline(always)]
fn counter(addr: u64) -> &'static AtomicU16 {
    &FILTER[((addr >> 4) as usize) & (COUNTERS - 1)]
}

/// Whether a free can ask [`maybe_recorded`] (sampled mode has been on
/// since tracking was last started).
#[inline(always)]
pub(crate) fn ready() -> bool {
    // Acquire: pairs with the Release in `start`, so that the counts of
    // the rebuild are seen by a free that trusts the filter.
    READY.load(Acquire)
}

/// Whether `addr` may have a record: false means it has none for sure.
/// Only after [`ready`] returned true. The record of a block being freed
/// was counted in before the block reached its freeing thread (by its
/// insert, or by the rebuild that [`ready`] acquired), and only its own
/// remove counts it out: so a count of 0 is never wrong.
#[inline(always)]
pub(crate) fn maybe_recorded(addr: usize) -> bool {
    // Relaxed: see above; the happens-before comes from the program
    // handing the block over, or from `ready`'s Acquire.
    counter(addr as u64).load(Relaxed) != 0
}

/// In sampled mode (the allocation path read the state `SAMPLED`, which
/// is stored with Release after [`start_locked`] made the filter whole):
/// whether `addr` surely has no record. A free or realloc costs this one
/// load, no lock, no lookup.
#[inline(always)]
pub(crate) fn surely_unrecorded(addr: usize) -> bool {
    // Acquire: pairs with the Release store of the state SAMPLED (read
    // Relaxed by the caller), so the rebuild's counts are seen. On x86_64
    // a compiler fence only.
    core::sync::atomic::fence(Acquire);
    !maybe_recorded(addr)
}

/// Counts a record of `addr` in (`delta` 1) or out (-1). Under the
/// record's shard lock, when the filter is on.
#[cold]
#[inline(never)]
pub(super) fn change(addr: u64, delta: i32) {
    let c = counter(addr);
    // Relaxed: counters are independent; see `maybe_recorded`.
    let _ = c.fetch_update(Relaxed, Relaxed, |v| {
        if v == u16::MAX {
            None // saturated: stays a "maybe" for good
        } else if delta > 0 {
            Some(v + 1)
        } else {
            // Never below 0: every count-out follows its count-in.
            Some(v.saturating_sub(1))
        }
    });
}

/// Turns the filter on: `for_each` marks every shard as filtering and
/// counts in every record there is. Only with every shard lock held.
pub(super) fn start_locked(for_each: impl FnOnce(&mut dyn FnMut(u64))) {
    // Relaxed: every shard lock is held; released after (Release).
    if ON.load(Relaxed) {
        return;
    }
    ON.store(true, Relaxed);
    for_each(&mut |addr| change(addr, 1));
    // Release: the counts above before a free trusts the filter.
    READY.store(true, Release);
}

/// Turns the filter off and empties it (stop); whether it was on. Only
/// with every shard lock held, and the table empty.
pub(super) fn clear_locked() -> bool {
    // Relaxed: every shard lock is held.
    if !ON.load(Relaxed) {
        return false;
    }
    READY.store(false, Relaxed);
    ON.store(false, Relaxed);
    for c in &FILTER {
        // Relaxed: every lock is held, and no free trusts the filter now.
        if c.load(Relaxed) != 0 {
            c.store(0, Relaxed);
        }
    }
    true
}
