//! Issue #17, item 5: the `allocowner` binary converts a saved dump (a raw
//! one symbolized offline from this test binary's own file) to every
//! format, diffs two, and reports errors as coreutils do.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use allocowner::report::{Report, Symbolizer};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn cli_first_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..40 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn cli_later_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..30 {
        out.push(black_box(vec![2u8; 3000]).into_boxed_slice());
    }
}

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allocowner-cli");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_allocowner"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Two raw dumps of this process (no debug info read, as a server saves
/// them): after `cli_first_allocates`, and after `cli_later_allocates`.
/// Made once; the test functions share the files.
fn dumps() -> (PathBuf, PathBuf) {
    static DUMPS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    DUMPS
        .get_or_init(|| {
            allocowner::enable_with("depth=32,thread").unwrap();
            let mut a = Vec::with_capacity(40);
            let mut b = Vec::with_capacity(30);
            cli_first_allocates(&mut a);
            let before = allocowner::snapshot();
            cli_later_allocates(&mut b);
            let after = allocowner::snapshot();
            let write = |name: &str, snap: &allocowner::Snapshot| {
                let path = dir().join(name);
                let report = Report::with_symbolizer(snap, &mut Symbolizer::raw());
                std::fs::write(&path, report.dump()).unwrap();
                path
            };
            let paths = (write("before.dump", &before), write("after.dump", &after));
            // The blocks stay live until the process ends.
            std::mem::forget((a, b));
            paths
        })
        .clone()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_raw_dump_is_symbolized_offline_with_progress() {
    let (_, after) = dumps();
    let raw = std::fs::read_to_string(&after).unwrap();
    assert!(!raw.contains("cli_later_allocates"), "the dump is raw");
    assert!(raw.contains(" build-id "), "{raw}");

    let out = run(&["convert", "--progress=always", s(&after)]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("allocowner: symbolizing ["), "{stderr}");
    assert!(stderr.contains("100% "), "{stderr}");
    assert!(
        stdout.contains("30 times, 90000 bytes:\n cli::cli_later_allocates ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("40 times, 40000 bytes:\n cli::cli_first_allocates ("),
        "{stdout}"
    );

    // Without symbolization, the frames stay addresses in their modules.
    let out = run(&["convert", "--no-symbolize", "--progress=never", s(&after)]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("cli_later_allocates"), "{stdout}");
    assert!(stdout.contains("# module map"), "{stdout}");
}

#[test]
fn every_format_is_written() {
    let (_, after) = dumps();
    let d = dir();
    for (format, check) in [
        (
            "folded",
            &(|b: &[u8]| text(b).contains(";cli::cli_later_allocates 90000\n"))
                as &dyn Fn(&[u8]) -> bool,
        ),
        ("svg", &|b: &[u8]| {
            text(b).contains("<svg") && text(b).contains("cli_later_allocates")
        }),
        ("pprof", &|b: &[u8]| b.starts_with(&[0x1f, 0x8b])),
        ("dhat", &|b: &[u8]| {
            text(b).starts_with("{\"dhatFileVersion\":2,\"mode\":\"rust-heap\"")
                && text(b).contains(": cli::cli_later_allocates (")
        }),
        ("dump", &|b: &[u8]| {
            text(b).contains("\n cli::cli_later_allocates (")
        }),
    ] {
        let file = d.join(format!("out.{format}"));
        let _ = std::fs::remove_file(&file);
        let out = run(&["convert", "--to", format, "-o", s(&file), s(&after)]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        let bytes = std::fs::read(&file).unwrap();
        assert!(check(&bytes), "{format}: {}", text(&bytes));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{format}");
    }
    // A symbolized dump reads back as it was written.
    let dump = d.join("out.dump");
    let again = d.join("again.dump");
    let out = run(&["convert", "--to", "dump", "-o", s(&again), s(&dump)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&dump).unwrap()
    );
}

#[test]
fn diff_shows_the_growth_between_two_dumps() {
    let (before, after) = dumps();
    let out = run(&["diff", "--progress=never", s(&before), s(&after)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("+90000 bytes, +30 allocations (before 0 bytes in 0, after 90000 bytes in 30):\n cli::cli_later_allocates ("),
        "{stdout}"
    );
    assert!(
        !stdout.contains(":\n cli::cli_first_allocates ("),
        "{stdout}"
    );
}

#[test]
fn errors_name_what_was_wrong_with_status_1_and_usage_errors_2() {
    let out = run(&["convert", "/nonexistent/heap.dump"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "allocowner: cannot read /nonexistent/heap.dump: No such file or directory\n"
    );
    assert!(out.stdout.is_empty());

    let bad = dir().join("bad.dump");
    std::fs::write(&bad, "# a comment\nnot a block\n").unwrap();
    let out = run(&["convert", s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "allocowner: {}:2: expected a block header",
            bad.display()
        )),
        "{}",
        text(&out.stderr)
    );

    // Never written through a symlink; nothing truncated.
    let (_, after) = dumps();
    let target = dir().join("target.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = dir().join("link.txt");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(&["convert", "-o", s(&link), s(&after)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "allocowner: cannot write report {}: Too many levels of symbolic links\n",
            link.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // The path under a file: the workspace's agreed message.
    let under = target.join("x");
    let out = run(&["convert", "-o", s(&under), s(&after)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "allocowner: cannot write report {}: Not a directory\n",
            under.display()
        )
    );

    let out = run(&["convert", "--to", "png", s(&after)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'png'"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
}

/// A write that fails half-way (a file-size limit: `EFBIG`, as a full
/// disk gives `ENOSPC`) leaves the file that was there untouched and no
/// partial or temporary file beside it.
#[test]
fn a_failed_write_leaves_the_old_file_whole() {
    let (_, after) = dumps();
    let out_dir = dir().join("failed-write");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let svg = out_dir.join("heap.svg");
    std::fs::write(&svg, "the old profile").unwrap();
    // SIGXFSZ ignored, so that the write past the limit fails with EFBIG
    // instead of killing the process; the limit is 1 KiB (bash) or 512
    // bytes (dash), far below the SVG.
    let script = format!(
        "trap '' XFSZ; ulimit -f 1; exec '{}' convert --to svg -o '{}' '{}'",
        env!("CARGO_BIN_EXE_allocowner"),
        svg.display(),
        after.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "allocowner: cannot write report {}: File too large\n",
            svg.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), "the old profile");
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["heap.svg"], "only the old file is left");

    // Without the limit the same command replaces it whole.
    let out = run(&["convert", "--to", "svg", "-o", s(&svg), s(&after)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<?xml"));
}

#[path = "../../allocowner/tests/support/go_pprof.rs"]
mod go_pprof;
use go_pprof::pprof;

/// Converted to pprof, symbolized here or left raw for pprof to
/// symbolize, the dump opens in `go tool pprof` with the program's sites
/// named and the grouped report's total.
#[test]
fn converted_profiles_open_in_go_tool_pprof() {
    let (_, after) = dumps();
    let out = run(&["convert", "--progress=never", s(&after)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let grouped = text(&out.stdout);
    let total: u64 = grouped
        .lines()
        .find_map(|l| l.strip_prefix("# total: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("{grouped}"));
    let first = include_str!("cli.rs")
        .lines()
        .position(|l| l.starts_with("fn cli_later_allocates"))
        .unwrap()
        + 1;
    let body: Vec<String> = (first..first + 5)
        .map(|l| format!("allocowner-cli/tests/cli.rs:{l} "))
        .collect();
    for (name, extra) in [("sym", None), ("raw", Some("--no-symbolize"))] {
        let file = dir().join(format!("go-{name}-{}.pb.gz", std::process::id()));
        let mut args = vec![
            "convert",
            "--progress=never",
            "--to",
            "pprof",
            "-o",
            s(&file),
        ];
        args.extend(extra);
        args.push(s(&after));
        let out = run(&args);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let top = pprof(&["-top", "-unit=B", "-sample_index=inuse_space"], &file);
        assert!(
            top.contains(&format!("100% of {total}B total")),
            "{name}: {total}: {top}"
        );
        // The frame in cli_later_allocates: named, or (Go's symbolizer of a
        // raw profile of a debug build finds the line in DWARF, the name
        // not always) at a line of its body.
        let raw = pprof(&["-raw"], &file);
        assert!(
            raw.lines().any(|l| l.contains(" M=1 ")
                && (l.contains("cli_later_allocates ")
                    || body.iter().any(|b| l.contains(b.as_str())))),
            "{name}: no location in cli_later_allocates (lines {first}..):\n{raw}"
        );
        if extra.is_none() {
            assert!(top.contains("cli::cli_later_allocates"), "{name}: {top}");
            assert!(top.contains("cli::cli_first_allocates"), "{name}: {top}");
        }
        let _ = std::fs::remove_file(&file);
    }
}
