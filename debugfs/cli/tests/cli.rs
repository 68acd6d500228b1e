//! `dyndbgctl` against a child process serving its debugfs (this test
//! binary re-executed, see the server's `tests/common`).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// The child's side: runs only in a re-executed child.
#[test]
fn child_main() {
    common::child_main();
}

fn ctl(xdg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dyndbgctl"))
        .args(args)
        .env("XDG_RUNTIME_DIR", xdg)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn serving() -> (common::Serving, std::path::PathBuf) {
    let xdg = common::temp_dir("cli");
    let s = common::spawn(
        "serve",
        &[
            ("DYNDBG_CONTROL", "on"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    (s, xdg)
}

#[test]
fn ps_lists_servers_by_name_and_cleans_stale_sockets() {
    let (s, xdg) = serving();
    // A stale socket: bound, then its listener gone.
    let stale = xdg.join("dyndbg/4194304.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let out = ctl(&xdg, &["ps"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", s.pid())).unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        format!(
            "PID\tCOMMAND\tSOCKET\n{}\t{}\t{}\n",
            s.pid(),
            comm.trim_end(),
            s.path().display()
        )
    );
    assert!(!stale.exists(), "the stale socket was not removed");
    let (ok, err) = s.finish();
    assert!(ok, "{err}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn cat_and_write_by_pid_and_by_name() {
    let (s, xdg) = serving();
    let pid = s.pid().to_string();
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let name = name.trim_end();
    let out = ctl(&xdg, &["cat", &pid, "dynamic_debug/control"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("]debugfs_work =_ "));
    let out = ctl(
        &xdg,
        &[
            "write",
            name,
            "dynamic_debug/control",
            "func debugfs_work +p",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1 callsites matched\n");
    let out = ctl(&xdg, &["cat", name, "dynamic_debug/control"]);
    assert!(text(&out.stdout).contains("]debugfs_work =p "));
    // The whole name of the executable, longer than comm's 15 bytes.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let exe = exe.file_name().unwrap().to_str().unwrap();
    assert!(exe.len() > 15 && exe != name, "{exe}");
    let out = ctl(&xdg, &["cat", exe, "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A refused write: exit 1 and the server's line.
    let out = ctl(&xdg, &["write", &pid, "markers", "nope counter"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("dyndbgctl: {pid}: markers: no marker site matches `nope`\n")
    );
    let (ok, err) = s.finish();
    assert!(ok, "{err}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn errors_are_one_line_with_coreutils_exit_codes() {
    let xdg = common::temp_dir("cli-errors");
    let out = ctl(&xdg, &["cat", "4194305", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "dyndbgctl: cannot connect to 4194305: No such file or directory\n"
    );
    let out = ctl(&xdg, &["cat", "no-such-program", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "dyndbgctl: no process named no-such-program serves a debugfs socket (see dyndbgctl ps)\n"
    );
    // Usage errors: 2.
    assert_eq!(ctl(&xdg, &["cat"]).status.code(), Some(2));
    assert_eq!(ctl(&xdg, &["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        ctl(&xdg, &["heap", "1", "--format", "png"]).status.code(),
        Some(2)
    );
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn heap_reports_in_every_format_and_a_recording() {
    let (s, xdg) = serving();
    let pid = s.pid().to_string();
    for (format, check) in [
        ("grouped", b"debugfs_work".as_slice()),
        ("folded", b"debugfs_work"),
        ("svg", b"<svg"),
        ("pprof", b"\x1f\x8b"),
    ] {
        let file = xdg.join(format!("heap.{format}"));
        let out = ctl(
            &xdg,
            &[
                "heap",
                &pid,
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            bytes.windows(check.len()).any(|w| w == check),
            "{format}: {}",
            text(&bytes[..bytes.len().min(200)])
        );
    }
    // The output file is never written through a symlink.
    let link = xdg.join("link");
    std::os::unix::fs::symlink(xdg.join("target"), &link).unwrap();
    let out = ctl(&xdg, &["heap", &pid, "-o", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "dyndbgctl: cannot write report {}: a symbolic link\n",
            link.display()
        )
    );
    assert!(!xdg.join("target").exists());

    let rec = xdg.join("rec.json.z");
    let out = ctl(&xdg, &["record", &pid, "1", "-o", rec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stopped: "),
        "{}",
        text(&out.stdout)
    );
    let recording = allocowner::access::Recording::read(&rec).unwrap();
    assert!(!recording.aggregations.is_empty());
    let (ok, err) = s.finish();
    assert!(ok, "{err}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn an_interrupted_record_stops_the_recording_in_the_target() {
    let (s, xdg) = serving();
    let pid = s.pid().to_string();
    let rec = xdg.join("interrupted.json.z");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dyndbgctl"))
        .args(["record", &pid, "600", "-o", rec.to_str().unwrap()])
        .env("XDG_RUNTIME_DIR", &xdg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Recording in the target: then Ctrl-C.
    common::eventually("the recording to start", || {
        let out = ctl(&xdg, &["cat", &pid, "damon/record"]);
        (out.status.success() && !text(&out.stdout).starts_with("0 none")).then_some(())
    });
    let child_pid = child.id().cast_signed();
    // SAFETY: kill(2) on our own child's pid.
    let sent = unsafe { libc::kill(child_pid, libc::SIGINT) };
    assert_eq!(sent, 0);
    let done = common::eventually("dyndbgctl to exit", || child.try_wait().unwrap());
    let out = child.wait_with_output().unwrap();
    assert_eq!(done.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stopped: "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        text(&out.stderr),
        "dyndbgctl: recording interrupted by signal 2: stopped\n"
    );
    // Stopped in the target: a new recording is not refused (EBUSY).
    let out = ctl(&xdg, &["cat", &pid, "damon/record"]);
    assert_eq!(text(&out.stdout), "0 none\n");
    let out = ctl(&xdg, &["record", &pid, "1", "-o", rec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, err) = s.finish();
    assert!(ok, "{err}");
    std::fs::remove_dir_all(xdg).unwrap();
}
