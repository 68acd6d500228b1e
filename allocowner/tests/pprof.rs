//! Issue #17, item 1: `Report::write_pprof` writes a profile that `go tool
//! pprof` reads (`-top`, `-traces`), with the test's own allocation sites
//! named and the totals of the grouped report, in count and in bytes.
//! Debian's `golang-go` is installed when `go` is missing.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use allocowner::report::{Report, SortBy, Symbolizer, read_dump};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn pprof_alpha_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..100 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn pprof_beta_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..50 {
        out.push(black_box(vec![2u8; 3000]).into_boxed_slice());
    }
}

/// An allocation site named by a qualified path (`<T as Trait>::f`).
trait PprofMaker {
    fn pprof_make(&self, out: &mut Vec<Box<[u8]>>);
}

struct PprofGamma;

impl PprofMaker for PprofGamma {
    #[inline(never)]
    fn pprof_make(&self, out: &mut Vec<Box<[u8]>>) {
        for _ in 0..10 {
            out.push(black_box(vec![3u8; 700]).into_boxed_slice());
        }
    }
}

#[path = "support/go_pprof.rs"]
mod go_pprof;
use go_pprof::pprof;

/// The total of `-top`'s "Showing nodes accounting for X, 100% of X total".
fn top_total(top: &str) -> u64 {
    let line = top
        .lines()
        .find(|l| l.contains("% of ") && l.ends_with(" total"))
        .unwrap_or_else(|| panic!("no total line in:\n{top}"));
    let total = line
        .rsplit_once("% of ")
        .unwrap()
        .1
        .trim_end_matches(" total")
        .trim_end_matches('B');
    total
        .parse()
        .unwrap_or_else(|_| panic!("total {total:?} in {line:?}"))
}

/// The sum of the values that start `-traces`' samples.
fn traces_total(traces: &str) -> u64 {
    let mut sum = 0;
    let mut new_sample = false;
    for line in traces.lines() {
        if line.starts_with("-----------+") {
            new_sample = true;
            continue;
        }
        if new_sample {
            let v = line.split_whitespace().next().unwrap_or("");
            if v.ends_with(':') {
                continue; // a label line (`owner: [early, estimated]`)
            }
            sum += v
                .trim_end_matches('B')
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("sample value {v:?} in {line:?}"));
            new_sample = false;
        }
    }
    sum
}

#[test]
fn go_tool_pprof_reads_the_profile_with_the_grouped_reports_totals() {
    allocowner::enable_with("depth=32").unwrap();
    let mut a = Vec::with_capacity(100);
    let mut b = Vec::with_capacity(50);
    pprof_alpha_allocates(&mut a);
    pprof_beta_allocates(&mut b);
    let mut c = Vec::with_capacity(10);
    black_box(&PprofGamma as &dyn PprofMaker).pprof_make(&mut c);
    let snapshot = allocowner::snapshot();
    let report = Report::new(&snapshot);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("heap.pb.gz");
    report
        .write_pprof(std::io::BufWriter::new(
            std::fs::File::create(&file).unwrap(),
        ))
        .unwrap();

    // The grouped report's totals of the program's heap.
    let groups: Vec<_> = report
        .groups(SortBy::Bytes)
        .into_iter()
        .filter(allocowner::report::Group::is_program)
        .collect();
    let bytes: u64 = groups.iter().map(|g| g.bytes).sum();
    let count: u64 = groups.iter().filter_map(|g| g.count).sum();
    let grouped = report.grouped(SortBy::Bytes, 0);
    assert!(
        grouped.contains(&format!(
            "# total: {bytes} bytes live in {count} allocations"
        )),
        "{grouped}"
    );

    let top = pprof(&["-top", "-unit=B", "-sample_index=inuse_space"], &file);
    assert!(top.contains("Type: inuse_space"), "{top}");
    assert!(top.contains("pprof::pprof_alpha_allocates"), "{top}");
    assert!(top.contains("pprof::pprof_beta_allocates"), "{top}");
    // pprof keeps a name it is given (it strips `<...>` from a function
    // whose name is its system name, as from C++ not yet simplified).
    assert!(
        top.contains("<pprof::PprofGamma as pprof::PprofMaker>::pprof_make"),
        "{top}"
    );
    assert_eq!(top_total(&top), bytes, "{top}");
    let top = pprof(&["-top", "-sample_index=inuse_objects"], &file);
    assert!(top.contains("Type: inuse_objects"), "{top}");
    assert_eq!(top_total(&top), count, "{top}");

    let traces = pprof(&["-traces", "-unit=B", "-sample_index=inuse_space"], &file);
    assert_eq!(traces_total(&traces), bytes, "{traces}");
    // beta's trace: its own 150000 bytes, the test function below it.
    let beta = traces
        .split("-----------+")
        .find(|t| t.contains("pprof_beta_allocates"))
        .and_then(|t| t.split_once('\n'))
        .unwrap_or_else(|| panic!("{traces}"))
        .1;
    assert!(beta.trim_start().starts_with("150000B"), "{beta}");
    assert!(
        beta.contains("go_tool_pprof_reads_the_profile_with_the_grouped_reports_totals"),
        "{beta}"
    );
    // The early owner: a pseudo-frame, its name kept whole (pprof shortens
    // names by dropping parenthesised parts), with its label.
    assert!(traces.contains("owner:  [early, estimated]"), "{traces}");
    assert!(traces.contains("B   [early, estimated]"), "{traces}");
    // Mappings: only those holding locations, this test binary first
    // (pprof's main binary), named with its path and build id.
    let raw = pprof(&["-raw"], &file);
    let first = raw
        .split_once("\nMappings\n")
        .and_then(|(_, m)| m.lines().next())
        .unwrap_or_else(|| panic!("{raw}"));
    let exe = std::env::current_exe().unwrap();
    let map = allocowner::report::ModuleMap::current().unwrap();
    let me = map.modules().iter().find(|m| m.path == exe).unwrap();
    let id = me
        .build_id
        .as_deref()
        .expect("the test binary has a build id");
    assert!(
        first.starts_with("1: ") && first.contains(&format!(" {} {id} ", exe.display())),
        "{first}"
    );
    // Every mapping written holds a location (as in Go's own profiles,
    // which list executable mappings only).
    let (locations, mappings) = raw
        .split_once("\nLocations\n")
        .and_then(|(_, r)| r.split_once("\nMappings\n"))
        .unwrap_or_else(|| panic!("{raw}"));
    let used: std::collections::BTreeSet<&str> = locations
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("M="))
        .collect();
    assert_eq!(mappings.lines().count(), used.len(), "{raw}");
    let traces = pprof(&["-traces", "-sample_index=inuse_objects"], &file);
    assert_eq!(traces_total(&traces), count, "{traces}");
    drop((a, b, c));
}

/// The first mapping of `go tool pprof -raw`: `(start, offset)`.
fn first_mapping(raw: &str) -> (usize, u64) {
    let first = raw
        .split_once("\nMappings\n")
        .and_then(|(_, m)| m.lines().next())
        .unwrap_or_else(|| panic!("{raw}"));
    let mut f = first
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{first}"))
        .split('/')
        .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap());
    let start = f.next().unwrap() as usize;
    let _limit = f.next();
    (start, f.next().unwrap())
}

/// Checks that `go tool pprof` names the frames of `file` (a profile made
/// without function names) from this test binary: the first mapping maps
/// the same file offsets as /proc/self/maps, at the start of the
/// executable segment (Go's pprof takes the start for it).
fn check_symbolized_by_pprof(file: &Path) {
    let raw = pprof(&["-raw"], file);
    let (start, offset) = first_mapping(&raw);
    let exe = std::env::current_exe().unwrap();
    let live = allocowner::report::ModuleMap::current().unwrap();
    let me = live.modules().iter().find(|m| m.path == exe).unwrap();
    let addr = pprof_alpha_allocates as *const () as usize;
    let &(live_start, _, live_offset) = me
        .mappings
        .iter()
        .find(|&&(s, e, _)| (s..e).contains(&addr))
        .unwrap();
    assert_eq!(
        start as u64 - offset,
        live_start as u64 - live_offset,
        "{raw}"
    );
    assert_eq!(
        me.file_address(start),
        Some(offset_vaddr(&exe, offset)),
        "the mapping starts where its segment does"
    );
    // The frame in pprof_alpha_allocates is named so, or (debug builds:
    // Go's symbolizer reads the file and line from DWARF, the name not
    // always) at a line of its body.
    let source = include_str!("pprof.rs");
    let first = source
        .lines()
        .position(|l| l.starts_with("fn pprof_alpha_allocates"))
        .unwrap()
        + 1;
    let body: Vec<String> = (first..first + 5)
        .map(|l| format!("allocowner/tests/pprof.rs:{l} "))
        .collect();
    assert!(
        raw.lines().any(|l| l.contains(" M=1 ")
            && (l.contains(" M=1 pprof_alpha_allocates ")
                || body.iter().any(|b| l.contains(b.as_str())))),
        "no location at lines {first}.. of pprof.rs:\n{raw}"
    );
    let top = pprof(&["-top", "-sample_index=inuse_space"], file);
    assert!(top.contains("__rust_begin_short_backtrace"), "{top}");
}

/// The virtual address of the loadable segment at file offset `offset`
/// (readelf -lW's `LOAD` lines).
fn offset_vaddr(exe: &Path, offset: u64) -> u64 {
    let out = Command::new("readelf")
        .arg("-lW")
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let off = u64::from_str_radix(w[1].trim_start_matches("0x"), 16).ok()?;
            let vaddr = u64::from_str_radix(w[2].trim_start_matches("0x"), 16).ok()?;
            (off == offset).then_some(vaddr)
        })
        .unwrap_or_else(|| panic!("no LOAD segment at offset {offset:#x}:\n{text}"))
}

/// A report of this process made without debug info
/// (`Symbolizer::raw`): `go tool pprof` names the frames from the binary.
#[test]
fn go_tool_pprof_symbolizes_a_raw_live_profile() {
    allocowner::enable_with("depth=32").unwrap();
    let mut a = Vec::with_capacity(100);
    pprof_alpha_allocates(&mut a);
    pprof_symbolizes_live(&a);
    drop(a);
}

#[inline(never)]
fn pprof_symbolizes_live(_keep: &[Box<[u8]>]) {
    let snapshot = allocowner::snapshot();
    let report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("live-raw-{}.pb.gz", std::process::id()));
    let mut buf = Vec::new();
    report.write_pprof(&mut buf).unwrap();
    std::fs::write(&file, buf).unwrap();
    check_symbolized_by_pprof(&file);
}

/// A raw dump saved on a server (frames as addresses) and converted
/// elsewhere without symbolizing: `go tool pprof` names the frames from the
/// binary itself, so each mapping must say which file offset it maps (the
/// dump prints no mappings: they are rebuilt from the file's segments).
#[test]
fn go_tool_pprof_symbolizes_the_profile_of_a_raw_saved_dump() {
    allocowner::enable_with("depth=32").unwrap();
    let mut a = Vec::with_capacity(100);
    pprof_alpha_allocates(&mut a);
    pprof_symbolizes_saved(&a);
    drop(a);
}

#[inline(never)]
fn pprof_symbolizes_saved(_keep: &[Box<[u8]>]) {
    let snapshot = allocowner::snapshot();
    let dump = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw()).dump();
    assert!(!dump.contains("pprof_alpha_allocates"), "the dump is raw");
    let saved = read_dump(&dump).unwrap();
    let report = Report::from_saved(&saved);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("saved-raw-{}.pb.gz", std::process::id()));
    let mut buf = Vec::new();
    report.write_pprof(&mut buf).unwrap();
    std::fs::write(&file, buf).unwrap();
    check_symbolized_by_pprof(&file);
}
