//! Issue #14, items 1 and 2: a program recording with `ALLOCOWNER_ACCESS`
//! forks; every child exits promptly (it inherits the monitor but not its
//! thread, and must not wait for it), and no child writes to, truncates or
//! appends to the parent's recording, including the part still buffered.
//! Each scenario runs in a fresh copy of this test binary (the "program"),
//! so that the monitor and the forks see no other test's threads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Format, Monitor, Recording};

const CHILD: &str = "ACCESS_FORK_TEST_PROGRAM";
const DEADLINE: Duration = Duration::from_secs(5);

/// Waits for `pid` for at most [`DEADLINE`]; kills it and says so if it
/// did not exit. Returns the wait status.
fn wait_with_deadline(pid: libc::pid_t) -> Result<i32, String> {
    let until = Instant::now() + DEADLINE;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is valid for writing.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(status);
        }
        assert!(r == 0, "waitpid: {}", std::io::Error::last_os_error());
        if Instant::now() >= until {
            // SAFETY: our own child, still running.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: reaps it.
            unsafe { libc::waitpid(pid, &raw mut status, 0) };
            return Err(format!(
                "child {pid} did not exit within {DEADLINE:?} (killed)"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Forks a child that runs `f` (allocating) and then exits through
/// `std::process::exit(0)`, so the atexit handlers run; checks it exited 0
/// within the deadline.
fn fork_child(f: impl FnOnce()) {
    // SAFETY: fork has no preconditions; the child only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        f();
        std::process::exit(0);
    }
    match wait_with_deadline(pid) {
        Ok(status) => assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child {pid} ended with status {status:#x}"
        ),
        Err(e) => panic!("{e}"),
    }
}

/// The program of the env-var scenario: the monitor was started before
/// `main` by `ALLOCOWNER_ACCESS`; 100 forked children allocate and exit.
fn program_env_forks() {
    let mut heap = vec![0u8; 8 << 20];
    let work = |heap: &mut Vec<u8>, rounds: u8| {
        for round in 0..rounds {
            heap.iter_mut().step_by(4096).for_each(|b| *b = round);
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    work(&mut heap, 40);
    for i in 0..100usize {
        fork_child(|| {
            let v = vec![i as u8; 4096 * (i + 1)];
            std::hint::black_box(&v);
            let s = format!("child {i}");
            std::hint::black_box(s);
        });
    }
    work(&mut heap, 40);
    println!("program pid {}", std::process::id());
}

/// The program of the manual scenario: a ticked monitor's buffer holds
/// aggregations not yet written when the program forks; the child stops
/// and drops its copy of the monitor (the parent's recording must not see
/// it), then exits.
fn program_manual_forks(path: &Path) {
    let mut m = Monitor::new(Attrs::default()).unwrap();
    // A 1 MiB buffer: nothing is flushed before stop.
    m.set_recording(&format!("1048576 {}", path.display()))
        .unwrap();
    let mut hot = vec![0u8; 1 << 20];
    for round in 0..=40u8 {
        hot.iter_mut().step_by(4096).for_each(|b| *b = round);
        m.tick().unwrap();
    }
    let mut slot = Some(m);
    for _ in 0..3 {
        fork_child(|| {
            // The child's copy: taken out of the child's memory only.
            let mut m = slot.take().unwrap();
            let e = m.stop().unwrap_err();
            assert!(e.to_string().contains("forked child"), "{e}");
            drop(m);
            let v = vec![1u8; 1 << 16];
            std::hint::black_box(v);
        });
    }
    let mut m = slot.take().unwrap();
    for round in 0..=40u8 {
        hot.iter_mut().step_by(4096).for_each(|b| *b = round);
        m.tick().unwrap();
    }
    let s = m.stop().unwrap();
    assert_eq!(s.aggregations, 4, "{s:?}");
    println!("program pid {}", std::process::id());
}

fn run_program(scenario: &str, env: &[(&str, String)]) -> (u32, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", scenario, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("ALLOCOWNER")
        .env_remove("ALLOCOWNER_ACCESS")
        .env_remove("ALLOCOWNER_ACCESS_MODE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "program failed:\n{stdout}\n{stderr}");
    let pid = stdout
        .lines()
        .find_map(|l| l.split_once("program pid ").map(|(_, p)| p))
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"))
        .parse()
        .unwrap();
    (pid, stderr)
}

/// The recording is complete and the parent's alone: it parses to the end,
/// every aggregation is the program's, times only go forward (a child's
/// flush of the inherited buffer would repeat aggregations), and a binary
/// file has exactly the bytes of what it holds (nothing appended).
fn check_recording(path: &Path, pid: u32, min_aggregations: usize) -> Recording {
    let rec = Recording::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        rec.aggregations.len() >= min_aggregations,
        "{} aggregations",
        rec.aggregations.len()
    );
    assert!(
        rec.aggregations
            .iter()
            .all(|a| a.target_id == u64::from(pid))
    );
    for w in rec.aggregations.windows(2) {
        assert!(w[0].end_ns < w[1].end_ns, "time went back: {w:?}");
    }
    if rec.format == Format::V2 {
        let expected: u64 = 20
            + rec
                .aggregations
                .iter()
                .map(|a| 20 + 12 + 20 * a.regions.len() as u64)
                .sum::<u64>();
        assert_eq!(std::fs::metadata(path).unwrap().len(), expected);
    }
    rec
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("access-fork-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn forked_children_exit_and_leave_the_recording_alone() {
    if std::env::var_os(CHILD).is_some() {
        program_env_forks();
        return;
    }
    let dir = scratch("env");
    for name in ["env.data", "env.json.z"] {
        let path = dir.join(name);
        let (pid, stderr) = run_program(
            "forked_children_exit_and_leave_the_recording_alone",
            &[("ALLOCOWNER_ACCESS", format!("4096 {}", path.display()))],
        );
        assert!(
            stderr.contains("allocowner::access: monitoring"),
            "{stderr}"
        );
        assert!(!stderr.contains("did not exit"), "{stderr}");
        // About 80 x 5 ms of work plus 100 forks: a few aggregations.
        check_recording(&path, pid, 3);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn forked_child_never_flushes_the_inherited_buffer() {
    if let Some(path) = std::env::var_os("ACCESS_FORK_MANUAL_PATH") {
        program_manual_forks(Path::new(&path));
        return;
    }
    let dir = scratch("manual");
    for name in ["manual.data", "manual.json.z"] {
        let path = dir.join(name);
        let (pid, _) = run_program(
            "forked_child_never_flushes_the_inherited_buffer",
            &[("ACCESS_FORK_MANUAL_PATH", path.display().to_string())],
        );
        let rec = check_recording(&path, pid, 4);
        assert_eq!(rec.aggregations.len(), 4, "{rec:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
