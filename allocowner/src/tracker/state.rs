//! The process-wide tracking state the allocation paths read (the
//! kernel's static key), and the statistics they bump.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

// The order makes each allocation path's check one compare: `alloc`
// passes through below UNINIT (off, starting, paused), `dealloc` and
// `realloc` below PAUSED (off, starting).

/// Off, never enabled: pure pass-through.
pub(super) const OFF: u8 = 0;
/// One thread is reading `ALLOCOWNER`.
pub(super) const STARTING: u8 = 1;
/// Disabled after being on: new allocations are not recorded, frees still
/// remove their records.
pub(crate) const PAUSED: u8 = 2;
/// No allocation has been seen yet: `ALLOCOWNER` not read. (A free now
/// looks for a record in the empty table, finds none: only frees of
/// blocks allocated before the first allocation, which there are none.)
pub(crate) const UNINIT: u8 = 3;
/// On: allocations are recorded.
pub(crate) const ON: u8 = 4;
/// On, sampled: one allocation per `sample_bytes` on average is recorded
/// (see [`super::sampling`]).
pub(crate) const SAMPLED: u8 = 5;

pub(super) static STATE: AtomicU8 = AtomicU8::new(UNINIT);
/// The inner allocator's live bytes when tracking was enabled: the early
/// owner's estimate, less what was freed of it since.
pub(super) static EARLY_AT_ENABLE: AtomicU64 = AtomicU64::new(0);
pub(super) static EARLY_FREED: AtomicU64 = AtomicU64::new(0);
static UNRECORDED: AtomicU64 = AtomicU64::new(0);

#[inline(always)]
pub(crate) fn state() -> u8 {
    // Relaxed: the static-key check. Everything the tracked path reads
    // (table layout, depot index) is published with Release before ON is
    // stored and read with Acquire where it matters.
    STATE.load(Ordering::Relaxed)
}

// Frees look for records from PAUSED up (PAUSED, UNINIT, ON, SAMPLED):
// one compare.
const _: () =
    assert!(OFF < PAUSED && STARTING < PAUSED && PAUSED < UNINIT && UNINIT < ON && ON < SAMPLED);

pub(crate) fn is_enabled() -> bool {
    let s = state();
    s == ON || s == SAMPLED
}

pub(crate) fn count_unrecorded() {
    // Relaxed: a statistic.
    UNRECORDED.fetch_add(1, Ordering::Relaxed);
}

/// A pointer without a record was freed: it was allocated while off.
pub(crate) fn early_freed(size: usize) {
    // Relaxed: a statistic.
    EARLY_FREED.fetch_add(size as u64, Ordering::Relaxed);
}

pub(super) fn early_bytes() -> u64 {
    // Relaxed: statistics.
    EARLY_AT_ENABLE
        .load(Ordering::Relaxed)
        .saturating_sub(EARLY_FREED.load(Ordering::Relaxed))
}

pub(crate) fn unrecorded() -> u64 {
    // Relaxed: a statistic.
    UNRECORDED.load(Ordering::Relaxed)
}
