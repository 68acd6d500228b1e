//! Helpers shared by the one-scenario test binaries.
#![allow(dead_code)]

use allocowner::{Snapshot, StackHandle};

/// Whether any frame of `frames` resolves to a function whose name contains
/// `name`.
pub(crate) fn mentions(frames: &[usize], name: &str) -> bool {
    frames.iter().any(|&ip| {
        let mut hit = false;
        backtrace::resolve((ip - 1) as *mut core::ffi::c_void, |sym| {
            if let Some(n) = sym.name()
                && format!("{n:#}").contains(name)
            {
                hit = true;
            }
        });
        hit
    })
}

/// Handles of the stacks in `snap` that go through a function named `name`.
pub(crate) fn stacks_of(snap: &Snapshot, name: &str) -> Vec<StackHandle> {
    let mut v: Vec<_> = snap
        .stacks
        .values()
        .filter(|s| mentions(&s.frames, name))
        .map(|s| s.handle)
        .collect();
    v.sort();
    v
}

/// Live (count, bytes) owned by stacks through `name`, from the stacks'
/// counters, checked against the records.
pub(crate) fn owned_by(snap: &Snapshot, name: &str) -> (u64, u64) {
    let handles = stacks_of(snap, name);
    let (mut c, mut b) = (0, 0);
    for h in &handles {
        let s = &snap.stacks[h];
        c += s.live_count;
        b += s.live_bytes;
    }
    let rc = snap
        .allocations
        .iter()
        .filter(|a| handles.contains(&a.stack))
        .count() as u64;
    let rb: u64 = snap
        .allocations
        .iter()
        .filter(|a| handles.contains(&a.stack))
        .map(|a| a.size as u64)
        .sum();
    assert_eq!(
        (c, b),
        (rc, rb),
        "stack counters disagree with records for {name}"
    );
    (c, b)
}

/// Runs `cmd` with its output captured; if it has not finished within
/// `secs` seconds (a generous "does not hang" limit, not a timing), kills
/// it and fails.
pub(crate) fn output_within(cmd: &mut std::process::Command, secs: u64) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let pid: libc::pid_t = child.id().cast_signed();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Ok(out) = rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        out.expect("wait for the child")
    } else {
        // SAFETY: killing our own child, which has not been reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("child {pid} did not finish within {secs} s: killed");
    }
}

/// This test binary again, running only test `name` (single-threaded,
/// output not captured), with `env` set: the child side of a test that
/// needs a fresh process.
pub(crate) fn rerun(name: &str, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    cmd.env_remove("ALLOCOWNER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Forks; the child runs `f` and leaves with its result as exit code
/// through `_exit` (no atexit handlers, no destructors).
pub(crate) fn fork_run(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: fork in a test; the child runs `f` and then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: leaves the child without running the parent's atexit.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for child `pid`; if it has not exited within `secs` seconds (a
/// generous "does not hang" limit), kills it and fails. Returns its exit
/// code; fails if it died of a signal.
pub(crate) fn wait_within(pid: libc::pid_t, secs: u64) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        assert!(r == 0, "waitpid failed");
        if std::time::Instant::now() > deadline {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: reaping it.
            unsafe { libc::waitpid(pid, &raw mut status, 0) };
            panic!("child {pid} did not exit within {secs} s (deadlocked?): killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(
        libc::WIFEXITED(status),
        "child {pid} died: status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}
