//! The report file: opened without following a symlink (its target is
//! never truncated), created with mode 0600, errors that name the path,
//! and an unwritable `report=PATH` found when tracking is enabled.
use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use allocowner::ConfigErrorKind;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

const HEADER: &str = "# allocowner grouped report: live heap by owner stack";

/// A fresh directory with `file` (a regular file holding "keep") and
/// `link`, a symlink to it.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("allocowner-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("file"), "keep").unwrap();
    std::os::unix::fs::symlink(dir.join("file"), dir.join("link")).unwrap();
    dir
}

#[test]
fn write_report_refuses_a_symlink_and_names_the_path() {
    let dir = scratch("api");
    let link = dir.join("link");
    let e = allocowner::write_report(&link).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write report {}: Too many levels of symbolic links",
            link.display()
        )
    );
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), "keep");

    let under_file = dir.join("file/x");
    let e = allocowner::write_report(&under_file).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotADirectory);
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write report {}: Not a directory",
            under_file.display()
        )
    );

    // A new report is private to its owner.
    let new = dir.join("new.txt");
    allocowner::write_report(&new).unwrap();
    let meta = std::fs::metadata(&new).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&new).unwrap().starts_with(HEADER));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// This process never enables tracking successfully: every attempt here
/// fails and must leave it off, with nothing mapped.
#[test]
fn enable_with_an_unwritable_report_changes_nothing() {
    let dir = scratch("enable");
    let under_file = dir.join("file/x");
    let e =
        allocowner::enable_with(&format!("depth=8,report={}", under_file.display())).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::ReportUnwritable);
    assert_eq!(e.token(), under_file.to_str().unwrap().as_bytes());
    assert_eq!(e.os_error(), Some(libc::ENOTDIR));
    assert_eq!(
        e.to_string(),
        format!(
            "allocowner: cannot write report {}: Not a directory; tracking stays off",
            under_file.display()
        )
    );
    let link = dir.join("link");
    let e = allocowner::enable_with(&format!("report={}", link.display())).unwrap_err();
    assert_eq!(e.os_error(), Some(libc::ELOOP));
    assert!(!allocowner::is_enabled());
    assert_eq!(allocowner::stats().own_mapped_bytes, 0, "half-applied");
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), "keep");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The re-run child: report what the report file holds now (after
/// enabling, before exit), then, if asked, make the path unwritable
/// (its directory replaced by a file) before the exit report.
fn child_side() {
    let v = black_box(vec![1u8; 1000]);
    let path = PathBuf::from(std::env::var("ALLOCOWNER_TEST_PATH").unwrap());
    let now = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("<{e}>"));
    println!("CHILD enabled={} holds=[{now}]", allocowner::is_enabled());
    if std::env::var_os("ALLOCOWNER_TEST_BREAK").is_some() {
        let dir = path.parent().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::write(dir, "now a file").unwrap();
    }
    drop(v);
}

fn run_child(value: &str, path: &Path, break_it: bool) -> (String, String) {
    let mut env = vec![
        ("ALLOCOWNER_TEST_CHILD", "1"),
        ("ALLOCOWNER", value),
        ("ALLOCOWNER_TEST_PATH", path.to_str().unwrap()),
    ];
    if break_it {
        env.push(("ALLOCOWNER_TEST_BREAK", "1"));
    }
    let out = common::output_within(&mut common::rerun("report_path_from_env", &env), 120);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}\n{stdout}", out.status);
    assert!(
        stdout.contains("CHILD enabled="),
        "child did not run: {stdout}"
    );
    (stdout, String::from_utf8(out.stderr).unwrap())
}

fn allocowner_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("allocowner"))
        .collect()
}

#[test]
fn report_path_from_env() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        child_side();
        return;
    }
    let dir = scratch("env");
    // A symlink at PATH: refused when enabling, one line naming it,
    // tracking off, the target untouched (also at exit).
    let link = dir.join("link");
    let (out, err) = run_child(&format!("on,report={}", link.display()), &link, false);
    assert!(out.contains("CHILD enabled=false"), "{out}");
    assert_eq!(
        allocowner_lines(&err),
        [format!(
            "allocowner: cannot write report {}: Too many levels of symbolic links; tracking stays off",
            link.display()
        )],
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), "keep");

    // An existing report: not truncated when enabling, replaced at exit.
    let old = dir.join("old.txt");
    std::fs::write(&old, "previous run").unwrap();
    let (out, err) = run_child(&format!("on,report={}", old.display()), &old, false);
    assert!(
        out.contains("CHILD enabled=true holds=[previous run]"),
        "{out}"
    );
    assert!(allocowner_lines(&err).is_empty(), "{err}");
    assert!(std::fs::read_to_string(&old).unwrap().starts_with(HEADER));

    // A new report: created (empty) when enabling, mode 0600.
    let new = dir.join("new.txt");
    let (out, _) = run_child(&format!("on,report={}", new.display()), &new, false);
    assert!(out.contains("CHILD enabled=true holds=[]"), "{out}");
    assert!(std::fs::read_to_string(&new).unwrap().starts_with(HEADER));
    let mode = std::fs::metadata(&new).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A path that became unwritable by exit: the exit handler names it.
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let gone = sub.join("r.txt");
    let (out, err) = run_child(&format!("on,report={}", gone.display()), &gone, true);
    assert!(out.contains("CHILD enabled=true"), "{out}");
    assert_eq!(
        allocowner_lines(&err),
        [format!(
            "allocowner: cannot write report {}: Not a directory",
            gone.display()
        )],
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
