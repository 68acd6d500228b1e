//! A dump read back ([`read_dump`]): the saved form of a snapshot, so a
//! profile taken on a server can be converted, symbolized and compared
//! elsewhere (the `allocowner` command-line tool reads it).
//!
//! [`Report::write_dump`] writes every live allocation (size, alignment,
//! thread, timestamp, owner handle, address) and each owner's stack as
//! printed, and its footer the capture mode, the early estimate,
//! allocowner's own memory and the module map (path, build-id, load
//! address) of the frames left unresolved. That is all a [`Report`] needs:
//! reading it back gives the same groups, totals and reports. A dump made
//! with [`Symbolizer::raw`](super::Symbolizer::raw) (cheap on the server:
//! no debug info read) keeps every frame as `0xADDR (file+0xOFFSET)`, to
//! be symbolized where the files and their debug info are.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::PathBuf;

use super::{Frame, Module, ModuleMap, Render, Report};
use crate::{Allocation, CaptureMode, Snapshot, Stack, StackHandle};

/// A dump read back by [`read_dump`].
#[derive(Clone, Debug)]
pub struct SavedDump {
    /// The allocations, stacks (with addresses of raw frames only) and
    /// figures of the dump.
    pub snapshot: Snapshot,
    /// Each owner stack as the dump printed it, innermost first. Frames
    /// printed with a function have address 0 (the dump does not print
    /// it); raw frames keep their address and no function.
    pub frames: HashMap<StackHandle, Vec<Frame>>,
    /// The modules of the raw frames (from the footer's module map and the
    /// `(file+0xOFFSET)` of each raw frame), if any.
    pub modules: Option<ModuleMap>,
    /// The id of the process the dump is of (its blocks' `tgid`), if it
    /// says.
    pub pid: Option<u32>,
}

/// Why a dump could not be read: the line (1-based) and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpError {
    /// The line of the text where reading stopped (0: the text as a whole).
    pub line: usize,
    /// What was expected there.
    pub message: String,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for DumpError {}

fn err(line: usize, message: impl Into<String>) -> DumpError {
    DumpError {
        line,
        message: message.into(),
    }
}

fn hex(s: &str) -> Option<usize> {
    usize::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// The handle printed as `handle H`.
fn parse_handle(s: &str) -> Option<StackHandle> {
    Some(match s {
        "dummy" => StackHandle::DUMMY,
        "early" => StackHandle::EARLY,
        "failure" => StackHandle::FAILURE,
        "unsampled" => StackHandle::UNSAMPLED,
        n => {
            let h = StackHandle::from_raw(n.parse().ok()?);
            if !h.is_stack() {
                return None;
            }
            h
        }
    })
}

/// `Allocation of S bytes (align A), order N, pid T|pid ?, tgid P|tgid ? (name), ts X ns|ts ?, handle H`,
/// or, from before page_owner's `pid`/`tgid` were printed, `tid T[ (name)]|tid ?`
/// in place of the `pid` and `tgid`. The allocation of a header line (its
/// address, on the next line, 0) and the process id (`tgid`) if given.
fn parse_header(line: &str) -> Option<(Allocation, Option<u32>)> {
    let rest = line.strip_prefix("Allocation of ")?;
    let (size, rest) = rest.split_once(" bytes (align ")?;
    let (align, rest) = rest.split_once("), ")?;
    let rest = match rest.strip_prefix("order ") {
        Some(r) => r.split_once(", ")?.1,
        None => rest, // dumps from before the order was printed
    };
    // page_owner's `pid` is the thread, its `tgid` the process.
    let (thread, process, rest) = if let Some(r) = rest.strip_prefix("pid ") {
        let (thread, r) = r.split_once(", tgid ")?;
        let (process, r) = r.split_once(' ')?;
        let process = match process {
            "?" => None,
            p => Some(p.parse().ok()?),
        };
        (thread, process, r)
    } else {
        let (thread, r) = rest.strip_prefix("tid ")?.split_once([' ', ','])?;
        (thread, None, r)
    };
    // The thread name (up to 15 bytes, any characters) runs to "), ts ".
    let rest = rest.trim_start_matches(' ');
    let rest = if rest.starts_with('(') {
        rest.split_once("), ")?.1
    } else {
        rest.trim_start_matches([',', ' '])
    };
    let rest = rest.strip_prefix("ts ")?;
    let (ts, rest) = rest.split_once(", handle ")?;
    let ts = match ts {
        "?" => None,
        t => Some(t.strip_suffix(" ns")?.parse().ok()?),
    };
    let thread = match thread {
        "?" => None,
        t => Some(t.parse().ok()?),
    };
    let alloc = Allocation {
        addr: 0,
        size: size.parse().ok()?,
        align: align.parse().ok()?,
        stack: parse_handle(rest)?,
        thread,
        timestamp_ns: ts,
    };
    Some((alloc, process))
}

/// One printed frame (see [`Report::frame_line`]) and, for a raw frame,
/// its module and address in the module's file.
fn parse_frame(line: &str) -> Option<(Frame, Option<(PathBuf, usize)>)> {
    let mut text = line.strip_prefix(' ')?;
    let inlined = match text.strip_suffix(" [inlined]") {
        Some(t) => {
            text = t;
            true
        }
        None => false,
    };
    let mut frame = Frame {
        inlined,
        ..Frame::unresolved(0)
    };
    let (head, paren) = match text.strip_suffix(')').and_then(|t| t.rsplit_once(" (")) {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    match hex(head) {
        Some(addr) if !head.contains(' ') => frame.addr = addr,
        _ => frame.function = Some(head.to_owned()),
    }
    let mut module = None;
    if let Some(p) = paren {
        if let Some(addr) = hex(p) {
            frame.addr = addr;
        } else if let Some((path, off)) = p.rsplit_once('+').filter(|(_, o)| hex(o).is_some()) {
            module = Some((PathBuf::from(path), hex(off)?));
        } else if let Some((file, l)) = p.rsplit_once(':').filter(|(_, l)| l.parse::<u32>().is_ok())
        {
            frame.file = Some(file.to_owned());
            frame.line = l.parse().ok();
        } else {
            frame.file = Some(p.to_owned());
        }
    }
    Some((frame, module))
}

/// `# PATH build-id ID load address 0xADDR`
fn parse_module_line(line: &str) -> Option<(PathBuf, Option<String>, usize)> {
    let rest = line.strip_prefix("# ")?;
    let (rest, load) = rest.rsplit_once(" load address ")?;
    let (path, id) = rest.rsplit_once(" build-id ")?;
    Some((
        PathBuf::from(path),
        (id != "none").then(|| id.to_owned()),
        hex(load)?,
    ))
}

/// What the footer says (all lines start with `#`).
#[derive(Default)]
struct Footer {
    mode: Option<CaptureMode>,
    early_bytes: u64,
    /// The line of the early estimate.
    early_line: usize,
    own_mapped_bytes: u64,
    sample_bytes: Option<u64>,
    modules: Vec<(PathBuf, Option<String>, usize)>,
}

fn parse_footer_line(footer: &mut Footer, line: &str, n: usize) -> Result<(), DumpError> {
    if let Some(c) = line.strip_prefix("# capture: ") {
        footer.mode = Some(if c.starts_with("frame pointers") {
            CaptureMode::FramePointers
        } else if let Some(r) = c.strip_prefix("sampling 1 in ") {
            let every = r.split(' ').next().and_then(|e| e.parse().ok());
            CaptureMode::Sampling {
                every: every.ok_or_else(|| err(n, format!("bad sampling rate in {c:?}")))?,
            }
        } else {
            return Err(err(n, format!("unknown capture mode {c:?}")));
        });
    } else if let Some(r) = line.strip_prefix("# sample_bytes: ") {
        footer.sample_bytes = Some(
            r.split(' ')
                .next()
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| err(n, "bad sample_bytes"))?,
        );
    } else if let Some(r) = line.strip_prefix("# plus about ") {
        footer.early_line = n;
        footer.early_bytes = r
            .split(' ')
            .next()
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| err(n, "bad early estimate"))?;
    } else if let Some(r) = line.strip_prefix("# allocowner's own (not in the totals above): ") {
        footer.own_mapped_bytes = r
            .split(' ')
            .next()
            .and_then(|b| b.parse().ok())
            .ok_or_else(|| err(n, "bad figure of allocowner's own memory"))?;
    } else if line.contains(" build-id ") && line.contains(" load address ") {
        footer
            .modules
            .push(parse_module_line(line).ok_or_else(|| err(n, "bad module map line"))?);
    }
    Ok(())
}

/// The address on block line `n2` (`PFN 0x.. address 0x..`, or an older
/// dump's `Address 0x..`) of a block of `size` bytes whose header is line
/// `n`, with `total` the sizes of the blocks before it: live blocks fit in
/// the address space, and so do their sizes added up (every total of the
/// reports is a sum of them).
fn block_address(
    pfn: &str,
    n2: usize,
    size: usize,
    n: usize,
    total: &mut usize,
) -> Result<usize, DumpError> {
    let addr = pfn
        .strip_prefix("PFN ")
        .and_then(|r| r.split_once(" address "))
        .and_then(|(_, a)| hex(a))
        .or_else(|| pfn.strip_prefix("Address ").and_then(hex))
        .ok_or_else(|| {
            err(
                n2,
                format!("expected `PFN 0x.. address 0x..`, found {pfn:?}"),
            )
        })?;
    if addr.checked_add(size).is_none() {
        return Err(err(
            n,
            format!("a block of {size} bytes at {addr:#x} passes the end of the address space"),
        ));
    }
    *total = total
        .checked_add(size)
        .ok_or_else(|| err(n, "the blocks' sizes add up to more than the address space"))?;
    Ok(addr)
}

/// The frame on line `n` (`l`); a raw frame's module and file address go
/// to `raw_modules`.
fn read_frame(
    l: &str,
    n: usize,
    raw_modules: &mut Vec<(PathBuf, usize, usize)>,
) -> Result<Frame, DumpError> {
    let (f, module) =
        parse_frame(l).ok_or_else(|| err(n, format!("expected a frame, found {l:?}")))?;
    if let Some((path, file_addr)) = module {
        if file_addr > f.addr {
            return Err(err(
                n,
                format!(
                    "raw frame {:#x} is below its file address {file_addr:#x} in {}",
                    f.addr,
                    path.display()
                ),
            ));
        }
        raw_modules.push((path, f.addr, file_addr));
    }
    Ok(f)
}

/// Reads a dump written by [`Report::write_dump`] (or served as
/// `page_owner`): blocks, then the footer. Stops at the first line that is
/// not what the format has there, saying which and why.
///
/// ```
/// use allocowner::report::{Report, SortBy, read_dump};
///
/// let text = "Allocation of 32 bytes (align 8), order 0, pid 7, tgid 5 (app), ts 10 ns, handle 1\n\
///             PFN 0x1 address 0x1000\n myapp::load (src/load.rs:42)\n\n\
///             ## allocowner dump: live allocations, one block each\n\
///             ## capture: frame pointers (every allocation)\n";
/// let saved = read_dump(text).unwrap();
/// let report = Report::from_saved(&saved);
/// assert!(report.grouped(SortBy::Bytes, 10).contains("1 times, 32 bytes:\n myapp::load (src/load.rs:42)\n"));
/// ```
pub fn read_dump(text: &str) -> Result<SavedDump, DumpError> {
    crate::guard::inside(|| {
        let mut allocations = Vec::new();
        let mut frames: HashMap<StackHandle, Vec<Frame>> = HashMap::new();
        let mut raw_modules: Vec<(PathBuf, usize, usize)> = Vec::new(); // path, addr, file addr
        let mut footer = Footer::default();
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).peekable();
        let mut blocks = 0usize;
        // The first block that names its process (all of a dump's do).
        let mut pid = None;
        let mut total_bytes = 0usize;
        while let Some((n, line)) = lines.next() {
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                parse_footer_line(&mut footer, line, n)?;
                continue;
            }
            let (mut alloc, tgid) = parse_header(line).ok_or_else(|| {
                err(
                    n,
                    format!(
                        "expected a block header (`Allocation of N bytes ...`), found {line:?}"
                    ),
                )
            })?;
            pid = pid.or(tgid);
            let (n2, pfn) = lines
                .next()
                .ok_or_else(|| err(n + 1, "the block ends before its address"))?;
            let addr = block_address(pfn, n2, alloc.size, n, &mut total_bytes)?;
            let mut stack_frames = Vec::new();
            while let Some(&(n3, l)) = lines.peek() {
                if l.is_empty() {
                    break;
                }
                stack_frames.push(read_frame(l, n3, &mut raw_modules)?);
                lines.next();
            }
            frames.entry(alloc.stack).or_insert(stack_frames);
            alloc.addr = addr;
            allocations.push(alloc);
            blocks += 1;
        }
        // The early estimate joins the blocks in every total.
        if u64::try_from(total_bytes)
            .ok()
            .and_then(|t| t.checked_add(footer.early_bytes))
            .is_none_or(|t| usize::try_from(t).is_err())
        {
            return Err(err(
                footer.early_line,
                "the early estimate and the blocks' sizes add up to more than the address space",
            ));
        }
        let mode = footer
            .mode
            .ok_or_else(|| err(0, format!("no `# capture:` line after {blocks} blocks: not an allocowner dump, or cut short")))?;
        let mut stacks: HashMap<StackHandle, Stack> = HashMap::new();
        for a in &allocations {
            if a.stack.is_stack() {
                let s = stacks.entry(a.stack).or_insert_with(|| Stack {
                    handle: a.stack,
                    frames: frames[&a.stack]
                        .iter()
                        .filter(|f| f.function.is_none())
                        .map(|f| f.addr)
                        .collect(),
                    live_count: 0,
                    live_bytes: 0,
                });
                s.live_count += 1;
                s.live_bytes += a.size as u64;
            }
        }
        Ok(SavedDump {
            snapshot: Snapshot {
                mode,
                allocations,
                stacks,
                early_bytes: footer.early_bytes,
                own_mapped_bytes: footer.own_mapped_bytes,
                sample_bytes: footer.sample_bytes,
            },
            frames,
            modules: saved_modules(&footer.modules, &raw_modules),
            pid,
        })
    })
}

/// The module map of a dump: the footer's modules, each with one mapping
/// covering the raw frames found in it (a dump does not print mappings).
fn saved_modules(
    listed: &[(PathBuf, Option<String>, usize)],
    raw: &[(PathBuf, usize, usize)],
) -> Option<ModuleMap> {
    if listed.is_empty() && raw.is_empty() {
        return None;
    }
    let mut modules: Vec<Module> = Vec::new();
    for (path, addr, file_addr) in raw {
        let idx = if let Some(i) = modules.iter().position(|m| &m.path == path) {
            i
        } else {
            let (build_id, load) = listed
                .iter()
                .find(|(p, ..)| p == path)
                .map_or((None, addr - file_addr), |(_, id, load)| {
                    (id.clone(), *load)
                });
            modules.push(Module::saved(
                path.clone(),
                build_id,
                load,
                vec![(*addr, addr.saturating_add(1), 0)],
            ));
            modules.len() - 1
        };
        let m = &mut modules[idx];
        // The file address of a raw frame is its address less the load
        // address: keep the load address the footer gives, and widen the
        // one mapping to hold the frame.
        let (start, end, _) = m.mappings[0];
        m.mappings[0] = (start.min(*addr), end.max(addr.saturating_add(1)), 0);
    }
    for m in &mut modules {
        if let Some(maps) = segment_mappings(m) {
            m.mappings = maps;
        }
    }
    for (path, build_id, load) in listed {
        if !modules.iter().any(|m| &m.path == path) {
            modules.push(Module::saved(
                path.clone(),
                build_id.clone(),
                *load,
                Vec::new(),
            ));
        }
    }
    Some(ModuleMap::from_modules(modules))
}

/// The page size of the mappings rebuilt from a file's segments.
const PAGE: usize = 4096;

/// The mappings that `/proc/self/maps` showed for the raw frames of saved
/// module `m` (whose one mapping spans its raw frames): its file's
/// loadable segments holding a frame, placed at the load address, with
/// their page-aligned start and file offset. A profile names these (pprof
/// finds a frame's file offset, then its segment, from them: the file
/// offset of a frame is not its file address when the segment's virtual
/// address differs from its offset, as in files linked by lld). `None`
/// when the file is not a regular file here, cannot be read as ELF or is
/// not the dump's (build-id), or no segment holds the frames.
fn segment_mappings(m: &Module) -> Option<Vec<(usize, usize, u64)>> {
    let &(lo, hi, _) = m.mappings.first()?;
    if !std::fs::metadata(&m.path).is_ok_and(|md| md.is_file()) {
        return None;
    }
    let info = super::elf::read(&m.path).ok()?;
    if let Some(want) = &m.build_id {
        let have: Option<String> = info.build_id.as_ref().map(|b| {
            b.iter().fold(String::new(), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            })
        });
        if have.as_deref() != Some(want.as_str()) {
            return None;
        }
    }
    let load = m.load_address;
    let maps: Vec<(usize, usize, u64)> = info
        .segments
        .iter()
        .filter_map(|s| {
            let begin = load.checked_add(usize::try_from(s.vaddr).ok()?)?;
            let end = begin.checked_add(usize::try_from(s.filesz).ok()?)?;
            let start = begin & !(PAGE - 1);
            let limit = end.checked_next_multiple_of(PAGE)?;
            // Only the segments that hold one of the module's raw frames.
            (start < hi && lo < limit).then_some((start, limit, s.offset & !(PAGE as u64 - 1)))
        })
        .collect();
    (!maps.is_empty()).then_some(maps)
}

impl<'a> Report<'a> {
    /// A report on a dump read back with [`read_dump`], with the stacks as
    /// the dump printed them (or as a tool symbolized them since, in
    /// [`SavedDump::frames`]). Its raw frames are named with the dump's
    /// module map, never this process's.
    pub fn from_saved(saved: &'a SavedDump) -> Report<'a> {
        crate::guard::inside(|| Report {
            snapshot: &saved.snapshot,
            stacks: saved.frames.clone(),
            render: Render {
                modules: saved.modules.clone().map(Ok),
            },
            live: false,
            pid: saved.pid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::alloc;
    use crate::report::{SortBy, Symbolizer};

    fn named(function: &str, file: &str, line: u32, inlined: bool) -> Frame {
        Frame {
            addr: 0,
            function: Some(function.to_owned()),
            file: Some(file.to_owned()),
            line: Some(line),
            inlined,
        }
    }

    #[test]
    fn a_dump_read_back_gives_the_same_reports() {
        let (h1, h2, h3) = (
            StackHandle::from_raw(1),
            StackHandle::from_raw(2),
            StackHandle::from_raw(3),
        );
        let stack = |h, n, b| Stack {
            handle: h,
            frames: vec![],
            live_count: n,
            live_bytes: b,
        };
        let mut a = vec![
            alloc(0x1000, 100, h1),
            alloc(0x2000, 100, h1),
            alloc(0x3000, 20_000, h2),
            alloc(0x9000, 7, h3),
            alloc(0xa000, 64, StackHandle::DUMMY),
            alloc(0xb000, 5, StackHandle::FAILURE),
        ];
        a[1].thread = None;
        a[1].timestamp_ns = None;
        let snapshot = Snapshot {
            mode: CaptureMode::Sampling { every: 16 },
            allocations: a,
            stacks: HashMap::from([
                (h1, stack(h1, 2, 200)),
                (h2, stack(h2, 1, 20_000)),
                (h3, stack(h3, 1, 7)),
            ]),
            early_bytes: 4096,
            own_mapped_bytes: 1 << 20,
            sample_bytes: None,
        };
        let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
        report.stacks.insert(
            h1,
            vec![
                named("Vec::push", "src/vec x.rs", 5, true),
                named("app::load", "src/load.rs", 10, false),
                named("app::main", "src/main.rs", 2, false),
            ],
        );
        report
            .stacks
            .insert(h2, vec![named("<T as Tr>::f", "src/a:b.rs", 7, false)]);
        // A raw frame with its module, as a stripped binary's report has.
        report
            .stacks
            .insert(h3, vec![Frame::unresolved(0x7f00_0000_1234)]);
        report.render.modules = Some(Ok(ModuleMap::from_modules(vec![Module::saved(
            PathBuf::from("/usr/lib/lib x.so"),
            Some("abcd".to_owned()),
            0x7f00_0000_0000,
            vec![(0x7f00_0000_0000, 0x7f00_0001_0000, 0)],
        )])));
        let dump = report.dump();

        let saved = read_dump(&dump).unwrap();
        assert_eq!(saved.snapshot.allocations, snapshot.allocations);
        assert_eq!(saved.snapshot.mode, snapshot.mode);
        assert_eq!(saved.snapshot.early_bytes, 4096);
        assert_eq!(saved.snapshot.own_mapped_bytes, 1 << 20);
        // The blocks' tgid: the process the dump was written by.
        assert_eq!(saved.pid, Some(std::process::id()));
        let back = Report::from_saved(&saved);
        assert_eq!(back.dump(), dump);
        for sort in [SortBy::Bytes, SortBy::Count] {
            assert_eq!(back.grouped(sort, 100), report.grouped(sort, 100));
        }
        assert_eq!(back.folded(), report.folded());
        let module = back.module_map().unwrap().modules()[0].clone();
        assert_eq!(module.build_id.as_deref(), Some("abcd"));
        assert_eq!(module.file_address(0x7f00_0000_1234), Some(0x1234));
    }

    #[test]
    fn a_sampled_dump_keeps_its_period_and_estimates() {
        // Bit 31 of a snapshot's handle marks the stack of sampled records.
        let h = StackHandle::from_raw((1 << 31) | 5);
        assert!(h.is_sampled());
        let snapshot = Snapshot {
            mode: CaptureMode::FramePointers,
            allocations: vec![alloc(0x1000, 100, h), alloc(0x2000, 30, h)],
            stacks: HashMap::from([(
                h,
                Stack {
                    handle: h,
                    frames: vec![],
                    live_count: 2,
                    live_bytes: 130,
                },
            )]),
            early_bytes: 0,
            own_mapped_bytes: 0,
            sample_bytes: Some(64),
        };
        let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
        report
            .stacks
            .insert(h, vec![named("app::load", "src/load.rs", 10, false)]);
        let dump = report.dump();
        assert!(dump.contains("\n# sample_bytes: 64 "), "{dump}");
        let saved = read_dump(&dump).unwrap();
        assert_eq!(saved.snapshot.sampling(), Some(64));
        assert_eq!(saved.snapshot.estimates(), snapshot.estimates());
        assert_eq!(Report::from_saved(&saved).dump(), dump);
    }

    #[test]
    fn bad_dumps_are_refused_with_the_line() {
        let e = read_dump("hello\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.to_string().starts_with("line 1: expected a block header"),
            "{e}"
        );
        let e = read_dump(
            "Allocation of 1 bytes (align 1), order 0, tid ?, ts ?, handle 1\nAddress x\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = read_dump(
            "Allocation of 1 bytes (align 1), order 0, tid ?, ts ?, handle 1\nPFN 0x0 address 0x1\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("no `# capture:` line after 1 blocks"),
            "{e}"
        );
        // A raw frame below its own file address (no load address can
        // place it), or at the top of the address space: refused or read,
        // never a panic.
        let block = |frame: &str| {
            format!(
                "Allocation of 1 bytes (align 1), order 0, tid ?, ts ?, handle 1\n\
                 PFN 0x0 address 0x1\n {frame}\n\n\
                 # capture: frame pointers (every allocation)\n"
            )
        };
        let e = read_dump(&block("0x10 (/x/y+0x20)")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.message
                .contains("raw frame 0x10 is below its file address 0x20 in /x/y"),
            "{e}"
        );
        // Sizes past the address space: refused with the line.
        let big = "Allocation of 18446744073709551615 bytes (align 1), order 0, tid ?, ts ?, handle 1\n\
                   PFN 0x0 address 0x1\n f\n\n";
        let e = read_dump(big).unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(
            e.message.contains("passes the end of the address space"),
            "{e}"
        );
        let half = "Allocation of 9223372036854775808 bytes (align 1), order 0, tid ?, ts ?, handle 1\n\
                    PFN 0x0 address 0x0\n f\n\n";
        let e = read_dump(&format!("{half}{half}")).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(
            e.message.contains("add up to more than the address space"),
            "{e}"
        );
        let e = read_dump(&format!(
            "{half}# capture: frame pointers (every allocation)\n\
             # plus about 9223372036854775808 bytes allocated before tracking was enabled\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(
            e.message
                .contains("the early estimate and the blocks' sizes"),
            "{e}"
        );
        let top = read_dump(&block("0xffffffffffffffff (/x/y+0x20)")).unwrap();
        let map = top.modules.unwrap();
        assert_eq!(map.modules()[0].load_address, usize::MAX - 0x20);
    }
}
