//! What the profile writers ([`Report::write_pprof`],
//! [`Report::write_dhat`]) take from a report: the program's groups with
//! their figures, the sampling period, and the module map. Both writers read
//! their numbers through [`Report::profile_groups`] only, so that the
//! figures of a sampled snapshot (scaled by the inverse sampling
//! probability) are wired in one place.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Group, ModuleMap, Report, SortBy};
use crate::{Estimate, StackHandle};

/// The figures of one owner group in a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Figures {
    /// Live allocations recorded (0 where unknown: the early owner).
    pub(super) count: u64,
    /// Live bytes recorded (estimated for the early owner).
    pub(super) bytes: u64,
    /// In a sampled snapshot, the estimate of the whole heap's figures for
    /// this owner: `(count, bytes)` scaled by the inverse of the
    /// probability that an allocation was sampled. `None` when every
    /// allocation is recorded.
    pub(super) estimate: Option<(u64, u64)>,
}

impl Report<'_> {
    /// The program's groups (allocowner's own left out, empty groups left
    /// out), biggest first, each with the figures the profile writers
    /// report: the records' count and bytes, and in a sampled snapshot
    /// ([`Snapshot::sampling`](crate::Snapshot::sampling)) the estimates
    /// of the whole heap.
    pub(super) fn profile_groups(&self) -> Vec<(Group, Figures)> {
        let sampled = self.snapshot.sampling().is_some();
        let estimates = if sampled {
            self.snapshot.estimates()
        } else {
            HashMap::new()
        };
        self.groups(SortBy::Bytes)
            .into_iter()
            .filter(|g| g.is_program() && (g.bytes > 0 || g.count.unwrap_or(0) > 0))
            .map(|g| {
                let figures = Figures {
                    count: g.count.unwrap_or(0),
                    bytes: g.bytes,
                    estimate: sampled.then(|| estimate_of(&g, &estimates)),
                };
                (g, figures)
            })
            .collect()
    }

    /// The mean number of bytes between two sampled allocations (pprof's
    /// `period` of `space`/`bytes`): 1 when every allocation is recorded.
    pub(super) fn sample_period(&self) -> u64 {
        self.snapshot.sampling().unwrap_or(1)
    }

    /// The module map to name in a profile: the report's own when it has
    /// one, else (a report on this process) the process's, else none.
    pub(super) fn profile_modules(&self) -> Option<Cow<'_, ModuleMap>> {
        if let Some(m) = self.render.module_map() {
            return Some(Cow::Borrowed(m));
        }
        if self.live {
            return ModuleMap::current().ok().map(Cow::Owned);
        }
        None
    }
}

/// The estimated `(count, bytes)` of `group`: the sum of its stacks'
/// [`Snapshot::estimates`](crate::Snapshot::estimates) (a group may merge
/// a stack's exact and sampled handles); an owner without a stack (early,
/// failure) is its records, every one of which was kept.
fn estimate_of(group: &Group, estimates: &HashMap<StackHandle, Estimate>) -> (u64, u64) {
    if group.handles.iter().any(|h| !estimates.contains_key(h)) {
        return (group.count.unwrap_or(0), group.bytes);
    }
    group
        .handles
        .iter()
        .map(|h| estimates[h])
        .fold((0u64, 0u64), |(c, b), e| {
            (c.saturating_add(e.count), b.saturating_add(e.bytes))
        })
}
