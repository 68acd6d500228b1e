//! The growth of the live heap per owner stack between two snapshots: what
//! grew (leaks) first.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use super::{Frame, Owner, Render, Report, SortBy, Symbolizer, capture_line, unresolved_addrs};
use crate::{CaptureMode, Snapshot};

/// One owner whose live count or bytes changed between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffEntry {
    /// A depot stack or a special owner.
    pub owner: Owner,
    /// The owner stack, innermost first.
    pub frames: Vec<Frame>,
    /// Live allocations before (`None`: unknown, the early owner).
    pub before_count: Option<u64>,
    /// Live allocations after (`None`: unknown, the early owner).
    pub after_count: Option<u64>,
    /// Live bytes before.
    pub before_bytes: u64,
    /// Live bytes after.
    pub after_bytes: u64,
}

impl DiffEntry {
    /// Bytes after minus bytes before (negative: shrank).
    pub fn bytes_growth(&self) -> i128 {
        i128::from(self.after_bytes) - i128::from(self.before_bytes)
    }

    /// Allocations after minus before (unknown counts taken as 0).
    pub fn count_growth(&self) -> i128 {
        i128::from(self.after_count.unwrap_or(0)) - i128::from(self.before_count.unwrap_or(0))
    }
}

/// What changed between two snapshots, per owner stack, sorted by growth in
/// bytes (largest growth first, shrinkage last). Its `Display` is the text
/// report.
#[derive(Debug)]
pub struct Diff {
    /// Changed owners, largest byte growth first. Unchanged ones are left
    /// out.
    pub entries: Vec<DiffEntry>,
    /// Capture mode of the first snapshot.
    pub before_mode: CaptureMode,
    /// Capture mode of the second snapshot.
    pub after_mode: CaptureMode,
    /// allocowner's own mapped bytes in the first snapshot.
    pub before_own_mapped_bytes: u64,
    /// allocowner's own mapped bytes in the second snapshot.
    pub after_own_mapped_bytes: u64,
    render: Render,
}

impl Diff {
    /// Total growth of the program's live bytes (allocowner's own left out).
    pub fn bytes_growth(&self) -> i128 {
        self.program().map(DiffEntry::bytes_growth).sum()
    }

    /// Total growth of the program's live allocations.
    pub fn count_growth(&self) -> i128 {
        self.program().map(DiffEntry::count_growth).sum()
    }

    fn program(&self) -> impl Iterator<Item = &DiffEntry> {
        self.entries.iter().filter(|e| e.owner != Owner::Dummy)
    }
}

/// Compares two snapshots of the same process (`before` taken first): for
/// each owner stack (after symbolization and trimming; stacks that print
/// identically are one owner, as in [`Report::groups`]), the change in live count and bytes. A stack that only grows
/// between snapshots taken at the same point of a repeated task is a leak
/// candidate.
///
/// ```
/// use allocowner::report::diff;
/// use allocowner::{Allocation, CaptureMode, Snapshot, StackHandle};
/// use std::collections::HashMap;
///
/// let snap = |sizes: &[usize]| Snapshot {
///     mode: CaptureMode::FramePointers,
///     allocations: sizes.iter().enumerate().map(|(i, &size)| Allocation {
///         addr: 0x1000 * (i + 1), size, align: 8, stack: StackHandle::FAILURE,
///         thread: None, timestamp_ns: None,
///     }).collect(),
///     stacks: HashMap::new(),
///     early_bytes: 0,
///     own_mapped_bytes: 0,
///     sample_bytes: None,
/// };
/// let d = diff(&snap(&[100]), &snap(&[100, 200, 300]));
/// assert_eq!(d.bytes_growth(), 500);
/// assert_eq!(d.count_growth(), 2);
/// assert!(d.to_string().contains("+500 bytes, +2 allocations"));
/// ```
pub fn diff(before: &Snapshot, after: &Snapshot) -> Diff {
    crate::guard::inside(|| {
        let mut symbolizer = Symbolizer::new();
        let b = Report::with_symbolizer(before, &mut symbolizer);
        let a = Report::with_symbolizer(after, &mut symbolizer);
        diff_reports(&b, &a)
    })
}

/// [`diff`] of two reports (e.g. of two dumps read back with
/// [`read_dump`](super::read_dump)). Owners match by their printed stack,
/// as groups do ([`Report::groups`]).
pub fn diff_reports(b: &Report<'_>, a: &Report<'_>) -> Diff {
    crate::guard::inside(|| {
        let mut by_key: HashMap<(Owner, Vec<String>), DiffEntry> = HashMap::new();
        for g in b.groups(SortBy::Bytes) {
            let e = by_key
                .entry((g.owner, b.render.printed(&g.frames)))
                .or_insert_with(|| empty_entry(g.owner, &g.frames));
            e.before_count = g.count;
            e.before_bytes = g.bytes;
        }
        for g in a.groups(SortBy::Bytes) {
            let e = by_key
                .entry((g.owner, a.render.printed(&g.frames)))
                .or_insert_with(|| empty_entry(g.owner, &g.frames));
            e.after_count = g.count;
            e.after_bytes = g.bytes;
        }
        let mut entries: Vec<DiffEntry> = by_key
            .into_values()
            .filter(|e| e.before_bytes != e.after_bytes || e.before_count != e.after_count)
            .collect();
        entries.sort_by(|x, y| {
            y.bytes_growth()
                .cmp(&x.bytes_growth())
                .then(y.count_growth().cmp(&x.count_growth()))
                .then(x.owner.cmp(&y.owner))
                .then_with(|| x.frames.cmp(&y.frames))
        });
        let render = Render::for_frames(entries.iter().flat_map(|e| &e.frames));
        Diff {
            entries,
            before_mode: b.snapshot.mode,
            after_mode: a.snapshot.mode,
            before_own_mapped_bytes: b.snapshot.own_mapped_bytes,
            after_own_mapped_bytes: a.snapshot.own_mapped_bytes,
            render,
        }
    })
}

fn empty_entry(owner: Owner, frames: &[Frame]) -> DiffEntry {
    DiffEntry {
        owner,
        frames: frames.to_vec(),
        before_count: Some(0),
        after_count: Some(0),
        before_bytes: 0,
        after_bytes: 0,
    }
}

fn count_text(c: Option<u64>) -> String {
    c.map_or_else(|| "?".to_owned(), |c| c.to_string())
}

/// The text report: a header with both capture modes, one block per changed
/// owner (`+B bytes, +N allocations (before ..., after ...)[, owner]:`, the
/// stack, a blank line), the program's total growth, allocowner's own
/// memory apart, and the module map if some frame lacked debug info.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::guard::inside(|| {
            let mut out = String::new();
            out.push_str(
                "# allocowner diff: live heap growth by owner stack, sorted by growth in bytes\n",
            );
            let _ = writeln!(
                out,
                "# capture: before: {}; after: {}",
                capture_line(self.before_mode),
                capture_line(self.after_mode)
            );
            out.push('\n');
            for e in &self.entries {
                let _ = write!(
                    out,
                    "{:+} bytes, {:+} allocations (before {} bytes in {}, after {} bytes in {})",
                    e.bytes_growth(),
                    e.count_growth(),
                    e.before_bytes,
                    count_text(e.before_count),
                    e.after_bytes,
                    count_text(e.after_count)
                );
                if let Some(label) = e.owner.label() {
                    let _ = write!(out, ", {label}");
                }
                out.push_str(":\n");
                for fr in &e.frames {
                    out.push_str(&self.render.frame_line(fr));
                    out.push('\n');
                }
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "# total growth: {:+} bytes, {:+} allocations (program); {} owners changed",
                self.bytes_growth(),
                self.count_growth(),
                self.entries.len()
            );
            let _ = writeln!(
                out,
                "# allocowner's own (not in the totals above): {} -> {} bytes mapped from the OS",
                self.before_own_mapped_bytes, self.after_own_mapped_bytes
            );
            let addrs = unresolved_addrs(self.entries.iter().flat_map(|e| &e.frames));
            self.render.write_module_map(&mut out, &addrs);
            f.write_str(&out)
        })
    }
}
