//! Reading the live records and totals: whole snapshots, and one stack's
//! exact totals, each taken with every shard lock held.

use core::sync::atomic::Ordering;
use std::collections::{HashMap, HashSet};

use super::sampling;
use super::state::early_bytes;
use crate::depot::{DEPOT, SAMPLED_TAG};
use crate::guard::{Guard, GuardState};
use crate::snapshot::{Allocation, Snapshot, Stack, StackHandle};
use crate::table::TABLE;
use crate::{capture, sys};

/// The exact live totals of `handle`: the depot's counters once every
/// shard's pending changes are added, with every shard lock held.
pub(crate) fn live_totals(handle: StackHandle) -> (u64, u64) {
    let handle = handle.without_sampled_mark();
    let _locked = Guard::enter(GuardState::Locked);
    TABLE.lock_all();
    TABLE.publish_locked();
    let totals = DEPOT.live(handle);
    TABLE.unlock_all();
    totals
}

/// Takes a consistent copy: every shard lock is held while records and
/// per-stack totals are copied (into buffers sized beforehand, so nothing
/// is allocated under the locks); frames are copied after.
pub(crate) fn snapshot() -> Snapshot {
    let _g = Guard::enter(GuardState::Inside);
    let mode = capture::mode();
    let mut slack = 64;
    let (allocations, live) = loop {
        let n = TABLE.len();
        // Relaxed: a sizing hint.
        let nstacks = DEPOT.stats().stacks as usize;
        let mut allocations: Vec<Allocation> = Vec::with_capacity(n + n / 8 + slack);
        let mut live: Vec<(StackHandle, u64, u64)> = Vec::with_capacity(nstacks + slack);
        let locked = Guard::enter(GuardState::Locked);
        TABLE.lock_all();
        if TABLE.len() > allocations.capacity()
            || DEPOT.stats().stacks as usize + 4 > live.capacity()
        {
            TABLE.unlock_all();
            drop(locked);
            slack *= 4;
            continue;
        }
        let thread = TABLE.has_thread();
        TABLE.publish_locked();
        TABLE.for_each_locked(|r| {
            allocations.push(Allocation {
                addr: r.addr,
                size: r.size,
                align: r.align,
                stack: r.handle,
                thread: thread.then_some(r.tid),
                timestamp_ns: thread.then_some(r.ts),
            });
        });
        for h in [
            StackHandle::DUMMY,
            StackHandle::FAILURE,
            StackHandle::UNSAMPLED,
        ] {
            let (c, b) = DEPOT.live(h);
            if c > 0 {
                live.push((h, c, b));
            }
        }
        DEPOT.for_each(|h| {
            let (c, b) = DEPOT.live(h);
            if c > 0 && live.len() < live.capacity() {
                live.push((h, c, b));
            }
        });
        TABLE.unlock_all();
        drop(locked);
        break (allocations, live);
    };
    let mut allocations = allocations;
    let mut stacks = HashMap::with_capacity(live.len());
    // Sampled twins: their tag frame goes, their handle gets the mark.
    let mut sampled = HashSet::new();
    for (handle, live_count, live_bytes) in live {
        let mut frames = DEPOT.frames(handle);
        let mut handle = handle;
        if let Some((&SAMPLED_TAG, rest)) = frames.split_last() {
            frames = rest;
            sampled.insert(handle);
            handle = handle.with_sampled_mark();
        }
        stacks.insert(
            handle,
            Stack {
                handle,
                frames: frames.to_vec(),
                live_count,
                live_bytes,
            },
        );
    }
    if !sampled.is_empty() {
        for a in &mut allocations {
            if sampled.contains(&a.stack) {
                a.stack = a.stack.with_sampled_mark();
            }
        }
    }
    let period = sampling::period();
    Snapshot {
        mode,
        allocations,
        stacks,
        early_bytes: early_bytes(),
        own_mapped_bytes: sys::MAPPED_BYTES.load(Ordering::Relaxed),
        sample_bytes: (period != 0).then_some(period),
    }
}
