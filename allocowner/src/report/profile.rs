//! What the profile writers ([`Report::write_pprof`],
//! [`Report::write_dhat`]) take from a report: the program's groups with
//! their figures, the sampling period, and the module map. Both writers read
//! their numbers through [`Report::profile_groups`] only, so that the
//! figures of a sampled snapshot (scaled by the inverse sampling
//! probability) are wired in one place.

use std::borrow::Cow;

use super::{Group, ModuleMap, Report, SortBy};

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
    /// report.
    pub(super) fn profile_groups(&self) -> Vec<(Group, Figures)> {
        self.groups(SortBy::Bytes)
            .into_iter()
            .filter(|g| g.is_program() && (g.bytes > 0 || g.count.unwrap_or(0) > 0))
            .map(|g| {
                let figures = Figures {
                    count: g.count.unwrap_or(0),
                    bytes: g.bytes,
                    estimate: self.estimate_of(&g),
                };
                (g, figures)
            })
            .collect()
    }

    /// The scaled estimate of `group`'s figures when the snapshot was taken
    /// in byte-sampled mode; `None` for an exact snapshot. Snapshots carry
    /// no sampling rate yet (every allocation is recorded, and
    /// [`CaptureMode::Sampling`](crate::CaptureMode::Sampling) samples
    /// stacks, not records), so there is no estimate to give.
    fn estimate_of(&self, group: &Group) -> Option<(u64, u64)> {
        let _ = group;
        None
    }

    /// The mean number of bytes between two sampled allocations (pprof's
    /// `period` of `space`/`bytes`): 1 when every allocation is recorded.
    pub(super) fn sample_period(&self) -> u64 {
        1
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
