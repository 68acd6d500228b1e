//! Reports on a [`Snapshot`]: what owns the live heap.
//!
//! Everything here runs at report time, outside the allocator: symbols are
//! resolved (with the `backtrace` crate, cached per address) only when a
//! [`Report`] is made, never when memory is allocated. What the reports
//! allocate (symbol caches, the strings they return) is allocowner's own:
//! it is recorded against [`StackHandle::DUMMY`], so making a report does
//! not change the program's figures.
//!
//! | report | method | after |
//! |---|---|---|
//! | one block per live allocation | [`Report::dump`], [`Report::write_dump`] | `/sys/kernel/debug/page_owner` |
//! | live bytes and count per owner stack, sorted, top N | [`Report::grouped`], [`Report::groups`] | `page_owner_sort --cull=st -m` / `page_owner_stacks/show_stacks` |
//! | folded stacks (`outer;inner bytes`) | [`Report::folded`] | read by inferno, flamegraph.pl, speedscope |
//! | a self-contained SVG flame graph | [`Report::flamegraph_svg`] | flamegraph.pl's pictures |
//! | growth per owner stack between two snapshots | [`diff`] | comparing two `show_stacks` reads |
//! | pprof profile.proto, gzip-compressed | [`Report::write_pprof`] | `go tool pprof`'s heap profiles |
//! | DHAT JSON | [`Report::write_dhat`] | dhat-rs's `dhat-heap.json` |
//!
//! Every report says which capture mode produced it (frame pointers, or
//! sampling 1 in N allocations). allocowner's own memory (the side table and
//! stack depot it maps from the OS, and its own heap allocations, owned by
//! [`StackHandle::DUMMY`]) is stated apart and never counted in the
//! program's totals.
//!
//! # Owners
//! Each live allocation is owned by a stack from the depot, or by one of the
//! special owners ([`Owner`]): **early** (bytes allocated before tracking was
//! enabled, estimated), **dummy** (allocowner's own), **failure** (the depot
//! could not store the stack) and **unsampled** (sampling mode: stack not
//! captured). A handle's totals are the depot's live counters
//! ([`Stack::live_count`], [`Stack::live_bytes`]) when the snapshot holds the
//! stack, else the sum of its allocation records.
//!
//! # Stacks
//! Return addresses are shown innermost first. Functions inlined at an
//! address are shown as frames of their own, marked `[inlined]`. The top of
//! each stack is trimmed of the allocation machinery (allocowner, the
//! `alloc` crate, `std::alloc`, `__rust_alloc`: see [`is_allocator_frame`]),
//! so the first frame is the user's; its bottom is trimmed from
//! `__rust_begin_short_backtrace` outwards, as std's short backtraces are.
//! Stacks that print identically are one group, as page_owner_sort groups
//! blocks by their text: equal after trimming, or different only in return
//! addresses (two calls on one source line, an unrolled loop), which a
//! reader could not tell apart. Folded stacks and flame graphs merge by
//! frame label (function names), so the same stacks merge there too.
//!
//! Where a frame has no debug info (a stripped release build), it is shown
//! as its raw address with the module holding it (`0x7f.. (libfoo.so+0x1234)`),
//! and the report ends with the module map: each module's path, build-id and
//! load address, with the `addr2line` command that symbolizes it offline.
//!
//! # Viewing
//! - Text reports ([`Report::grouped`], [`Report::dump`], [`diff`]) are
//!   read as they are; the dump keeps page_owner's shape (header line with
//!   an `order N,`, a `PFN` line with the address, frames, blank line), so
//!   it splits on blank lines and the kernel's `page_owner_sort --cull=st`
//!   groups it by owner stack and counts its pages (see
//!   [`Report::write_dump`] for what a PFN and an order are for a heap
//!   block).
//! - [`Report::write_pprof`]: `go tool pprof -http=: heap.pb.gz`, or load
//!   it in Pyroscope, Parca or speedscope.
//! - [`Report::write_dhat`]: open Valgrind's `dh_view.html` and load the
//!   file, or drop it on the Firefox Profiler.
//! - [`Report::folded`]: pipe it through `inferno-flamegraph
//!   --countname=bytes` or `flamegraph.pl --countname=bytes`, or drop the
//!   file on speedscope.app.
//! - [`Report::flamegraph_svg`]: open the file in a browser; hover a frame
//!   for its name, bytes and share.
//!
//! # Overhead (measured)
//! Release build, this workspace's 2-core VM, one process with 1,000,003
//! live allocations from 22 stacks of 8.7 frames on average:
//!
//! | step | time |
//! |---|---|
//! | [`Report::new`], first in the process (loads the binary's debug info) | 150–280 ms |
//! | [`Report::with_symbolizer`] reusing a warm [`Symbolizer`] | 0.25 ms |
//! | [`Report::grouped`] (one pass over the records) | 13–23 ms |
//! | [`Report::folded`] | 19–31 ms |
//! | [`Report::flamegraph_svg`] | 40–95 ms |
//! | [`diff`] of two such snapshots | 36–102 ms |
//! | [`Report::dump`]: 642 MB of text, about 640 bytes per allocation | 2.5–4.5 s |
//!
//! The first symbolization keeps the `backtrace` crate's parsed debug info
//! of the binary: 36.7 MB of heap for the test binary measured, owned by
//! [`StackHandle::DUMMY`] (allocowner's own). For large heaps prefer
//! [`Report::write_dump`] into a `BufWriter<File>` over [`Report::dump`].
//!
//! # Example
//! ```
//! use allocowner::report::{Report, SortBy};
//! use allocowner::{Allocation, CaptureMode, Snapshot, Stack, StackHandle};
//! use std::collections::HashMap;
//!
//! let h = StackHandle::from_raw(1);
//! let stack = Stack { handle: h, frames: vec![], live_count: 2, live_bytes: 96 };
//! let alloc = |addr, size| Allocation {
//!     addr, size, align: 8, stack: h, thread: Some(7), timestamp_ns: Some(1000),
//! };
//! let snapshot = Snapshot {
//!     mode: CaptureMode::FramePointers,
//!     allocations: vec![alloc(0x1000, 32), alloc(0x2000, 64)],
//!     stacks: HashMap::from([(h, stack)]),
//!     early_bytes: 4096,
//!     own_mapped_bytes: 1 << 20,
//!     sample_bytes: None,
//! };
//! let report = Report::new(&snapshot);
//! let grouped = report.grouped(SortBy::Bytes, 10);
//! assert!(grouped.contains("# capture: frame pointers"));
//! assert!(grouped.contains("2 times, 96 bytes"));
//! assert!(grouped.contains("? times, 4096 bytes, early"));
//! assert!(grouped.contains("# total: 4192 bytes live in 2 allocations"));
//! assert!(grouped.contains("1048576 bytes mapped from the OS"));
//! ```

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use crate::{CaptureMode, Snapshot, Stack, StackHandle};

mod dhat;
mod diff;
mod dump;
mod elf;
mod flamegraph;
mod folded;
mod grouped;
mod modules;
mod pprof;
mod profile;
mod saved;
mod symbolize;

pub use diff::{Diff, DiffEntry, diff, diff_reports};
pub use grouped::{Group, SortBy};
pub use modules::{MapsError, Module, ModuleMap};
pub use saved::{DumpError, SavedDump, read_dump};
pub use symbolize::{Frame, Symbolizer, is_allocator_frame, trim};

/// Who owns an allocation: a stack from the depot or a special owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A stack stored in the depot.
    Stack,
    /// Live bytes allocated before tracking was enabled (estimated; their
    /// count is unknown).
    Early,
    /// allocowner's own heap allocations: never in the program's totals.
    Dummy,
    /// The depot could not store the stack (full or capped).
    Failure,
    /// Sampling mode: the stack was not captured.
    Unsampled,
}

impl Owner {
    /// The owner of allocations recorded with `handle`.
    pub const fn of(handle: StackHandle) -> Owner {
        match handle {
            StackHandle::EARLY => Owner::Early,
            StackHandle::DUMMY => Owner::Dummy,
            StackHandle::FAILURE => Owner::Failure,
            StackHandle::UNSAMPLED => Owner::Unsampled,
            _ => Owner::Stack,
        }
    }

    /// The label reports print for a special owner (`None` for a stack).
    pub const fn label(self) -> Option<&'static str> {
        match self {
            Owner::Stack => None,
            Owner::Early => {
                Some("early (estimated: live bytes allocated before tracking was enabled)")
            }
            Owner::Dummy => Some("dummy (allocowner's own allocations, not in the program totals)"),
            Owner::Failure => Some("failure (the stack depot could not store the stack)"),
            Owner::Unsampled => Some("unsampled (sampling mode: stack not captured)"),
        }
    }

    /// A one-word name, used as the frame of special owners in folded
    /// stacks and flame graphs.
    pub const fn name(self) -> &'static str {
        match self {
            Owner::Stack => "stack",
            Owner::Early => "[early (estimated)]",
            Owner::Dummy => "[allocowner]",
            Owner::Failure => "[depot failure]",
            Owner::Unsampled => "[unsampled]",
        }
    }
}

/// The line every report carries: how its stacks were captured.
pub fn capture_line(mode: CaptureMode) -> String {
    crate::guard::inside(|| match mode {
        CaptureMode::FramePointers => "frame pointers (every allocation)".to_owned(),
        CaptureMode::Sampling { every } => format!(
            "sampling 1 in {every} allocations with the unwinder (the others: unsampled owner)"
        ),
    })
}

/// Reports on one snapshot, with its stacks symbolized once.
///
/// Build it with [`Report::new`] (or [`Report::with_symbolizer`] to share a
/// symbol cache or to get raw addresses), then ask for any of the formats.
#[derive(Debug)]
pub struct Report<'a> {
    snapshot: &'a Snapshot,
    /// Symbolized, trimmed stacks by handle.
    stacks: HashMap<StackHandle, Vec<Frame>>,
    render: Render,
    /// The snapshot is of this process: its module map is the process's.
    live: bool,
    /// The id of the process the snapshot is of, if known: this one's when
    /// live, a saved dump's `tgid`.
    pid: Option<u32>,
}

/// How frames are written: needs the module map when some frame has no
/// debug info.
#[derive(Debug)]
struct Render {
    /// Present when some frame has no debug info: the map, or why it could
    /// not be read.
    modules: Option<Result<ModuleMap, String>>,
}

impl Render {
    /// Reads the module map if one of `frames` lacks debug info.
    fn for_frames<'f>(frames: impl IntoIterator<Item = &'f Frame>) -> Render {
        let needs_map = frames.into_iter().any(|f| !f.has_debug_info());
        Render {
            modules: needs_map.then(|| ModuleMap::current().map_err(|e| e.to_string())),
        }
    }

    fn module_map(&self) -> Option<&ModuleMap> {
        self.modules.as_ref().and_then(|m| m.as_ref().ok())
    }

    /// The line of one frame in text reports, starting with a space like
    /// page_owner's stack lines: `function (file:line)`, or the raw address
    /// with its module and the address inside the module's file.
    fn frame_line(&self, f: &Frame) -> String {
        let mut s = String::from(" ");
        match &f.function {
            Some(name) => s.push_str(name),
            None => {
                let _ = write!(s, "{:#x}", f.addr);
            }
        }
        match (&f.file, f.line) {
            (Some(file), Some(line)) => {
                let _ = write!(s, " ({file}:{line})");
            }
            (Some(file), None) => {
                let _ = write!(s, " ({file})");
            }
            _ => match self.module_map().and_then(|m| m.lookup(f.addr)) {
                Some((m, a)) => {
                    let _ = write!(s, " ({}+{a:#x})", m.path.display());
                }
                None if f.function.is_some() => {
                    let _ = write!(s, " ({:#x})", f.addr);
                }
                None => {}
            },
        }
        if f.inlined {
            s.push_str(" [inlined]");
        }
        s
    }

    /// The lines of a stack as text reports print it: the key under which
    /// stacks are grouped, as page_owner_sort groups by printed text.
    fn printed(&self, frames: &[Frame]) -> Vec<String> {
        frames.iter().map(|f| self.frame_line(f)).collect()
    }

    /// The short name of one frame in folded stacks and flame graphs: the
    /// function, else `module+0xADDR`, else the raw address.
    fn frame_label(&self, f: &Frame) -> String {
        if let Some(name) = &f.function {
            return name.clone();
        }
        match self.module_map().and_then(|m| m.lookup(f.addr)) {
            Some((m, a)) => format!("{}+{a:#x}", m.file_name()),
            None => format!("{:#x}", f.addr),
        }
    }

    /// Appends the module map section, listing the modules that hold one
    /// of `addrs` (the frames without debug info), if any.
    fn write_module_map(&self, out: &mut String, addrs: &[usize]) {
        match &self.modules {
            None => {}
            Some(Err(e)) => {
                let _ = writeln!(out, "# module map: unavailable ({e})");
            }
            Some(Ok(map)) => {
                let used = |m: &&Module| addrs.iter().any(|&a| m.file_address(a).is_some());
                let mut modules = map.modules().iter().filter(used).peekable();
                if modules.peek().is_none() {
                    return;
                }
                out.push_str(
                    "# module map (frames without debug info; `file+0xADDR` is the address \
                     inside the file):\n",
                );
                for m in modules {
                    let _ = writeln!(
                        out,
                        "# {} build-id {} load address {:#x}",
                        m.path.display(),
                        m.build_id.as_deref().unwrap_or("none"),
                        m.load_address
                    );
                    if let Some(e) = &m.elf_error {
                        let _ = writeln!(out, "#   (ELF headers unreadable: {e})");
                    }
                    if m.is_file() {
                        let _ = writeln!(
                            out,
                            "#   symbolize offline: addr2line -C -f -i -e {} ADDR-{:#x}",
                            m.path.display(),
                            m.load_address
                        );
                    }
                }
            }
        }
    }
}

impl<'a> Report<'a> {
    /// Symbolizes the stacks of `snapshot` with a fresh [`Symbolizer`].
    pub fn new(snapshot: &'a Snapshot) -> Report<'a> {
        Report::with_symbolizer(snapshot, &mut Symbolizer::new())
    }

    /// Symbolizes the stacks of `snapshot` with `symbolizer` (its cache is
    /// kept for the next report).
    pub fn with_symbolizer(snapshot: &'a Snapshot, symbolizer: &mut Symbolizer) -> Report<'a> {
        crate::guard::inside(|| {
            let stacks: HashMap<StackHandle, Vec<Frame>> = snapshot
                .stacks
                .iter()
                .map(|(&h, s)| (h, symbolizer.stack(&s.frames)))
                .collect();
            let render = Render::for_frames(stacks.values().flatten());
            Report {
                snapshot,
                stacks,
                render,
                live: true,
                pid: Some(std::process::id()),
            }
        })
    }

    /// The snapshot reported on.
    pub fn snapshot(&self) -> &'a Snapshot {
        self.snapshot
    }

    /// The symbolized, trimmed frames of `handle` (empty for an unknown
    /// handle or a special owner without a stack).
    pub fn frames(&self, handle: StackHandle) -> &[Frame] {
        self.stacks.get(&handle).map_or(&[], Vec::as_slice)
    }

    /// The module map, when some frame lacked debug info.
    pub fn module_map(&self) -> Option<&ModuleMap> {
        self.render.module_map()
    }

    /// The line of one frame in text reports, starting with a space like
    /// page_owner's stack lines: `function (file:line)`, or the raw address
    /// with its module and the address inside the module's file
    /// (`0x7f.. (/usr/lib/libfoo.so+0x1234)`); `[inlined]` marks a function
    /// inlined into the next frame.
    pub fn frame_line(&self, f: &Frame) -> String {
        crate::guard::inside(|| self.render.frame_line(f))
    }

    /// The short name of one frame in folded stacks and flame graphs: the
    /// function, else `module+0xADDR`, else the raw address.
    pub fn frame_label(&self, f: &Frame) -> String {
        crate::guard::inside(|| self.render.frame_label(f))
    }

    /// Live count (when known) and bytes per handle, by the rule in the
    /// module docs. Early bytes are folded into [`StackHandle::EARLY`].
    fn totals(&self) -> Vec<(StackHandle, Option<u64>, u64)> {
        let mut sums: HashMap<StackHandle, (u64, u64)> = HashMap::new();
        for a in &self.snapshot.allocations {
            if !self.snapshot.stacks.contains_key(&a.stack) {
                let e = sums.entry(a.stack).or_default();
                e.0 += 1;
                e.1 += a.size as u64;
            }
        }
        let mut out: Vec<_> = self
            .snapshot
            .stacks
            .values()
            .map(|s: &Stack| (s.handle, Some(s.live_count), s.live_bytes))
            .chain(sums.into_iter().map(|(h, (c, b))| (h, Some(c), b)))
            .collect();
        if self.snapshot.early_bytes > 0 {
            match out.iter_mut().find(|(h, ..)| *h == StackHandle::EARLY) {
                Some(e) => {
                    e.1 = None;
                    e.2 += self.snapshot.early_bytes;
                }
                None => out.push((StackHandle::EARLY, None, self.snapshot.early_bytes)),
            }
        } else if let Some(e) = out.iter_mut().find(|(h, ..)| *h == StackHandle::EARLY) {
            e.1 = None;
        }
        out.retain(|&(_, c, b)| b > 0 || c.unwrap_or(0) > 0);
        out
    }
}

/// The addresses of the frames without debug info among `frames`.
fn unresolved_addrs<'f>(frames: impl IntoIterator<Item = &'f Frame>) -> Vec<usize> {
    let mut addrs: Vec<usize> = frames
        .into_iter()
        .filter(|f| !f.has_debug_info())
        .map(|f| f.addr)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    addrs
}

/// Appends the footer on allocowner's own memory, which is never in the
/// program's figures.
fn write_own_footer(out: &mut String, snapshot: &Snapshot, dummy: Option<(u64, u64)>) {
    let _ = write!(
        out,
        "# allocowner's own (not in the totals above): {} bytes mapped from the OS \
         (side table, stack depot)",
        snapshot.own_mapped_bytes
    );
    if let Some((count, bytes)) = dummy {
        let _ = write!(
            out,
            ", {bytes} bytes in {count} heap allocations (dummy owner)"
        );
    }
    out.push('\n');
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label().unwrap_or("stack"))
    }
}

#[cfg(test)]
mod tests;
