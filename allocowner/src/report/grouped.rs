//! The grouped report, as `page_owner_sort --cull=st` gives it: one entry
//! per owner stack with its live count and bytes, sorted, top N.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Frame, Owner, Report, capture_line, unresolved_addrs, write_own_footer};
use crate::StackHandle;

/// How the grouped report is sorted (largest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortBy {
    /// By live bytes, then count (page_owner_sort `-m`).
    Bytes,
    /// By live allocation count, then bytes (page_owner_sort `-t`).
    Count,
}

/// The live allocations owned by one stack (after trimming; stacks that
/// print identically are merged) or by one special owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// A depot stack or a special owner.
    pub owner: Owner,
    /// The owner stack, innermost first (empty for special owners without
    /// a stack).
    pub frames: Vec<Frame>,
    /// Live allocations; `None` for the early owner, whose count is unknown.
    pub count: Option<u64>,
    /// Live bytes (estimated for the early owner).
    pub bytes: u64,
    /// The depot handles merged into this group, ascending.
    pub handles: Vec<StackHandle>,
}

impl Group {
    /// Whether this group is in the program's totals (everything but
    /// allocowner's own, the dummy owner).
    pub fn is_program(&self) -> bool {
        self.owner != Owner::Dummy
    }
}

pub(super) fn sort_groups(groups: &mut [Group], sort: SortBy) {
    groups.sort_by(|a, b| {
        let (ca, cb) = (a.count.unwrap_or(0), b.count.unwrap_or(0));
        let primary = match sort {
            SortBy::Bytes => b.bytes.cmp(&a.bytes).then(cb.cmp(&ca)),
            SortBy::Count => cb.cmp(&ca).then(b.bytes.cmp(&a.bytes)),
        };
        primary
            .then(a.owner.cmp(&b.owner))
            .then_with(|| a.handles.cmp(&b.handles))
    });
}

impl Report<'_> {
    /// Live count and bytes per owner, sorted by `sort` (largest first),
    /// special owners included. Stacks that print identically are merged,
    /// as page_owner_sort merges blocks by their text: equal after
    /// trimming, or equal but for return addresses (two calls on one
    /// source line, an unrolled loop). A merged group shows the frames of
    /// its lowest handle.
    pub fn groups(&self, sort: SortBy) -> Vec<Group> {
        crate::guard::inside(|| {
            let mut by_key: HashMap<(Owner, Vec<String>), Group> = HashMap::new();
            for (handle, count, bytes) in self.totals() {
                let owner = Owner::of(handle);
                let frames = self.frames(handle);
                let g = by_key
                    .entry((owner, self.render.printed(frames)))
                    .or_insert_with(|| Group {
                        owner,
                        frames: frames.to_vec(),
                        count: Some(0),
                        bytes: 0,
                        handles: Vec::new(),
                    });
                g.count = g.count.zip(count).map(|(a, b)| a + b);
                g.bytes += bytes;
                g.handles.push(handle);
            }
            let mut groups: Vec<Group> = by_key.into_values().collect();
            for g in &mut groups {
                g.handles.sort_unstable();
                if let Some(&first) = g.handles.first() {
                    // Deterministic: the frames of the lowest handle.
                    if g.owner == Owner::Stack {
                        g.frames = self.frames(first).to_vec();
                    }
                }
            }
            sort_groups(&mut groups, sort);
            groups
        })
    }

    /// The grouped report as text: a header (with the capture mode), the
    /// `top_n` largest groups (`usize::MAX` for all) as page_owner_sort
    /// prints them (`N times, B bytes[, owner]:` then the stack, then a
    /// blank line), the program's totals over all groups, allocowner's own
    /// memory apart, and the module map if some frame lacked debug info.
    ///
    /// ```text
    /// # allocowner grouped report: live heap by owner stack, sorted by bytes, top 2 of 3 groups
    /// # capture: frame pointers (every allocation)
    ///
    /// 1000 times, 64000 bytes:
    ///  myapp::load (src/load.rs:42)
    ///  myapp::main (src/main.rs:7)
    ///
    /// ? times, 4096 bytes, early (estimated: live bytes allocated before tracking was enabled):
    ///
    /// # total: 68608 bytes live in 1002 allocations (early estimate included); 3 groups, 2 shown
    /// # allocowner's own (not in the totals above): 1052672 bytes mapped from the OS (side table, stack depot)
    /// ```
    pub fn grouped(&self, sort: SortBy, top_n: usize) -> String {
        crate::guard::inside(|| {
            let groups = self.groups(sort);
            // allocowner's own allocations are ranked nowhere: the footer
            // states them apart from the program's figures.
            let ranked: Vec<&Group> = groups.iter().filter(|g| g.is_program()).collect();
            let shown = ranked.len().min(top_n);
            let mut out = String::new();
            let _ = writeln!(
                out,
                "# allocowner grouped report: live heap by owner stack, sorted by {}, top {shown} of {} groups",
                match sort {
                    SortBy::Bytes => "bytes",
                    SortBy::Count => "count",
                },
                ranked.len()
            );
            let _ = writeln!(out, "# capture: {}", capture_line(self.snapshot.mode));
            out.push('\n');
            for g in &ranked[..shown] {
                match g.count {
                    Some(c) => {
                        let _ = write!(out, "{c} times, {} bytes", g.bytes);
                    }
                    None => {
                        let _ = write!(out, "? times, {} bytes", g.bytes);
                    }
                }
                if let Some(label) = g.owner.label() {
                    let _ = write!(out, ", {label}");
                }
                out.push_str(":\n");
                for f in &g.frames {
                    out.push_str(&self.frame_line(f));
                    out.push('\n');
                }
                if g.frames.is_empty() && g.owner == Owner::Stack {
                    out.push_str(" [no frames]\n");
                }
                out.push('\n');
            }
            let program = groups.iter().filter(|g| g.is_program());
            let bytes: u64 = program.clone().map(|g| g.bytes).sum();
            let count: u64 = program.filter_map(|g| g.count).sum();
            let early = groups.iter().any(|g| g.owner == Owner::Early);
            let _ = writeln!(
                out,
                "# total: {bytes} bytes live in {count} allocations{}; {} groups, {shown} shown",
                if early {
                    " (early estimate included)"
                } else {
                    ""
                },
                ranked.len()
            );
            let dummy = groups
                .iter()
                .find(|g| g.owner == Owner::Dummy)
                .map(|g| (g.count.unwrap_or(0), g.bytes));
            write_own_footer(&mut out, self.snapshot, dummy);
            let addrs = unresolved_addrs(ranked[..shown].iter().flat_map(|g| &g.frames));
            self.render.write_module_map(&mut out, &addrs);
            out
        })
    }
}
