//! The exit report of forked children (`report=PATH`): a child never
//! writes, truncates or overwrites the parent's PATH; by default it
//! writes nothing, with `report_children` it writes `PATH.<pid>`. Each
//! case runs in a fresh process (this binary re-run) that forks a child
//! which leaves through `exit` (so its atexit handlers run).
use std::hint::black_box;
use std::path::{Path, PathBuf};

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

const HEADER: &str = "# allocowner grouped report: live heap by owner stack";

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The re-run process: enable (from the environment or, if
/// `ALLOCOWNER_TEST_OPTIONS` is set, with `enable_with`), fork a child that
/// allocates and calls `exit(0)`, and check that PATH is still as enabling
/// left it (created, empty) once the child is gone.
fn parent_side() {
    if let Ok(options) = std::env::var("ALLOCOWNER_TEST_OPTIONS") {
        allocowner::enable_with(&options).unwrap();
    }
    assert!(allocowner::is_enabled());
    let path = PathBuf::from(std::env::var("ALLOCOWNER_TEST_PATH").unwrap());
    let keep = black_box(vec![3u8; 4000]);
    // SAFETY: fork in a single-purpose process; the child allocates and
    // leaves through exit(3), which runs the atexit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let v: Vec<Vec<u8>> = (0..100).map(|i| vec![1; i]).collect();
        black_box(&v);
        // SAFETY: ends the child normally: atexit handlers, stdio flush.
        unsafe { libc::exit(0) };
    }
    assert_eq!(common::wait_within(pid, 60), 0, "child failed");
    assert_eq!(size(&path), Some(0), "the child wrote the parent's report");
    println!("CHILD PID {pid}");
    drop(keep);
}

/// Runs the parent side with `env`; returns the child's pid.
fn run(name: &str, env: &[(&str, &str)]) -> u32 {
    let out = common::output_within(&mut common::rerun(name, env), 120);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("CHILD PID ").map(|(_, pid)| pid))
        .unwrap_or_else(|| panic!("the parent side did not run: {stdout}"))
        .trim()
        .parse()
        .unwrap()
}

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "allocowner-children-{tag}-{}.txt",
        std::process::id()
    ))
}

fn child_path(path: &Path, pid: u32) -> PathBuf {
    PathBuf::from(format!("{}.{pid}", path.display()))
}

/// Checks PATH has the parent's report, and removes it.
fn parent_report(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::remove_file(path).unwrap();
    assert!(text.starts_with(HEADER), "{text}");
}

#[test]
fn forked_child_writes_no_report_by_default() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        parent_side();
        return;
    }
    let path = temp_path("default");
    let p = path.to_str().unwrap();
    let pid = run(
        "forked_child_writes_no_report_by_default",
        &[
            ("ALLOCOWNER_TEST_CHILD", "1"),
            ("ALLOCOWNER_TEST_PATH", p),
            ("ALLOCOWNER", &format!("on,report={p}")),
        ],
    );
    parent_report(&path);
    assert!(
        !child_path(&path, pid).exists(),
        "a child report was written"
    );
}

#[test]
fn report_children_writes_path_dot_pid() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        parent_side();
        return;
    }
    let path = temp_path("env");
    let p = path.to_str().unwrap();
    let pid = run(
        "report_children_writes_path_dot_pid",
        &[
            ("ALLOCOWNER_TEST_CHILD", "1"),
            ("ALLOCOWNER_TEST_PATH", p),
            ("ALLOCOWNER", &format!("on,report={p},report_children")),
        ],
    );
    parent_report(&path);
    let child = child_path(&path, pid);
    let text = std::fs::read_to_string(&child).unwrap();
    std::fs::remove_file(&child).unwrap();
    assert!(text.starts_with(HEADER), "{text}");
}

#[test]
fn report_children_through_enable_with() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        parent_side();
        return;
    }
    let path = temp_path("api");
    let p = path.to_str().unwrap();
    let pid = run(
        "report_children_through_enable_with",
        &[
            ("ALLOCOWNER_TEST_CHILD", "1"),
            ("ALLOCOWNER_TEST_PATH", p),
            (
                "ALLOCOWNER_TEST_OPTIONS",
                &format!("depth=8,report={p},report_children"),
            ),
        ],
    );
    parent_report(&path);
    let child = child_path(&path, pid);
    let text = std::fs::read_to_string(&child).unwrap();
    std::fs::remove_file(&child).unwrap();
    assert!(text.starts_with(HEADER), "{text}");
}
