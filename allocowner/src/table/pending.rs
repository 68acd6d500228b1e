//! Per-shard pending changes to stacks' live totals. Rather than two
//! atomic read-modify-writes on the stack's depot record at every insert
//! and remove (a cache line that bounces between cores when threads share
//! a stack), the change is added to a small slot under the shard lock and
//! published to the depot when the slot is needed for another stack, or
//! when totals are read (every shard lock held).

use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32};

use super::record::unpack_handle;
use crate::depot::Depot;

/// Sets of pending stack totals per shard, of [`WAYS`] each. A JSON parse
/// allocates from a few dozen stacks (nesting makes more); with 32 totals
/// direct-mapped, a quarter of all calls pushed one out to the depot,
/// whose counters every thread shares.
const SETS: usize = 16;
const _: () = assert!(SETS.is_power_of_two());
/// Totals per set: one cache line.
const WAYS: usize = 4;

/// A change to one stack's live totals not yet added to the depot.
pub(super) struct Pending {
    handle: AtomicU32,
    count: AtomicI32,
    bytes: AtomicI64,
}

/// One set of pending totals, most recently added first.
#[repr(align(64))]
struct PendingSet([Pending; WAYS]);

/// A shard's pending totals, by set of the packed handle's hash. Only
/// touched with the shard lock held (or every lock held); Relaxed atomics
/// keep that sound without an `unsafe impl Sync`.
pub(super) struct PendingTotals([PendingSet; SETS]);

impl PendingTotals {
    pub(super) const fn new() -> Self {
        PendingTotals(
            [const {
                PendingSet(
                    [const {
                        Pending {
                            handle: AtomicU32::new(0),
                            count: AtomicI32::new(0),
                            bytes: AtomicI64::new(0),
                        }
                    }; WAYS],
                )
            }; SETS],
        )
    }

    /// Adds a change to the live totals of `handle` (packed as in a row),
    /// making room in its set (publishing the oldest to `*depot`) if it
    /// has none. Only with the shard lock held.
    ///
    /// `depot` is the table's field, by reference: it is only read on the
    /// cold path, where a set has no room.
    #[inline(always)]
    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "by value, the table's field is loaded on every call (Callgrind: +0.4% on alloc_one)"
    )]
    pub(super) fn add(&self, depot: &&Depot, handle: u32, count: i32, bytes: i64) {
        let p = match self.find(handle) {
            Some(p) => p,
            None => self.set_of(handle).make_room(depot, handle),
        };
        p.add(count, bytes);
    }

    #[inline(always)]
    fn set_of(&self, handle: u32) -> &PendingSet {
        const SHIFT: u32 = 32 - SETS.trailing_zeros();
        &self.0[(handle.wrapping_mul(0x9e37_79b9) >> SHIFT) as usize]
    }

    /// The pending totals of `handle`, if it has some in the shard. Only
    /// with the lock held.
    #[inline(always)]
    pub(super) fn find(&self, handle: u32) -> Option<&Pending> {
        self.set_of(handle)
            .0
            .iter()
            .find(|p| p.handle.load(Relaxed) == handle)
    }

    fn all(&self) -> impl Iterator<Item = &Pending> {
        self.0.iter().flat_map(|set| &set.0)
    }

    /// Adds every pending change to `depot`'s totals. Only with every
    /// lock held.
    pub(super) fn publish(&self, depot: &Depot) {
        for p in self.all() {
            p.publish(depot);
        }
    }

    /// Drops every pending change. Only with every lock held.
    pub(super) fn clear(&self) {
        for p in self.all() {
            p.count.store(0, Relaxed);
            p.bytes.store(0, Relaxed);
        }
    }
}

impl PendingSet {
    /// Publishes the oldest totals and puts empty ones for `handle` first.
    #[cold]
    #[inline(never)]
    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "the field's address, as `add` has it"
    )]
    fn make_room(&self, depot: &&Depot, handle: u32) -> &Pending {
        let ways = &self.0;
        ways[WAYS - 1].publish(depot);
        for i in (1..WAYS).rev() {
            let (to, from) = (&ways[i], &ways[i - 1]);
            to.handle.store(from.handle.load(Relaxed), Relaxed);
            to.count.store(from.count.load(Relaxed), Relaxed);
            to.bytes.store(from.bytes.load(Relaxed), Relaxed);
        }
        let p = &ways[0];
        p.handle.store(handle, Relaxed);
        p.count.store(0, Relaxed);
        p.bytes.store(0, Relaxed);
        p
    }
}

impl Pending {
    /// Adds a change. Only with the shard lock held.
    #[inline(always)]
    pub(super) fn add(&self, count: i32, bytes: i64) {
        self.count
            .store(self.count.load(Relaxed).wrapping_add(count), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    /// Adds the change to `depot`'s totals and zeroes it.
    #[cold]
    fn publish(&self, depot: &Depot) {
        let (c, b) = (self.count.load(Relaxed), self.bytes.load(Relaxed));
        if c != 0 || b != 0 {
            self.count.store(0, Relaxed);
            self.bytes.store(0, Relaxed);
            depot.add(unpack_handle(self.handle.load(Relaxed).into()), c, b);
        }
    }
}
