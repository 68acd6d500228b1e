//! Issue #14, items 4 and 6 (access part): `ALLOCOWNER_ACCESS` is ignored in
//! setuid/setgid programs (AT_SECURE); the recording is opened with
//! `O_NOFOLLOW`, mode 0600, never through a symbolic link, never on a FIFO
//! or a device (and never blocks on one); a file being recorded to is
//! locked against a second monitor.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Monitor, Recording};

const CHILD: &str = "ACCESS_PATHS_TEST_PROGRAM";

/// The tests of this file run one at a time: a process spawned by one test
/// holds copies of the other tests' descriptors between its fork and its
/// exec, and with them the recording's `flock`.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("access-paths-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `exe` as the program of test `scenario` with `env`, killing it
/// (and failing) if it has not exited within 5 s.
fn run_program(exe: &Path, scenario: &str, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", scenario, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("ALLOCOWNER")
        .env_remove("ALLOCOWNER_ACCESS")
        .env_remove("ALLOCOWNER_ACCESS_MODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the program did not exit within 5 s (killed): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn stderr_of(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "program failed: {}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// The program: nothing but a little heap work.
fn program() {
    let v = vec![7u8; 1 << 20];
    std::hint::black_box(v);
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn setgid_program_ignores_the_variables() {
    if std::env::var_os(CHILD).is_some() {
        program();
        return;
    }
    let _serial = serial();
    let dir = scratch("secure");
    // A setgid copy of this binary: run by root (gid 0) it gets egid 65534,
    // so the kernel sets AT_SECURE.
    let exe = dir.join("setgid-copy");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&exe, None, Some(65534)) {
        panic!(
            "this test needs root to make a setgid copy (chown to gid 65534 failed: {e}); \
             run the tests as root, as CI does"
        );
    }
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let rec = dir.join("secure.data");
    let out = run_program(
        &exe,
        "setgid_program_ignores_the_variables",
        &[
            ("ALLOCOWNER_ACCESS", format!("4096 {}", rec.display())),
            ("ALLOCOWNER_ACCESS_MODE", "mprotect".to_owned()),
        ],
    );
    let stderr = stderr_of(&out);
    for var in ["ALLOCOWNER_ACCESS", "ALLOCOWNER_ACCESS_MODE"] {
        let line = format!("allocowner: {var} ignored: setuid/setgid program (AT_SECURE)");
        assert_eq!(stderr.lines().filter(|l| *l == line).count(), 1, "{stderr}");
    }
    assert!(!stderr.contains("monitoring"), "{stderr}");
    assert!(!rec.exists(), "nothing recorded");
    // The same binary without the setgid bit records.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_program(
        &exe,
        "setgid_program_ignores_the_variables",
        &[("ALLOCOWNER_ACCESS", format!("4096 {}", rec.display()))],
    );
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("allocowner::access: monitoring"),
        "{stderr}"
    );
    Recording::read(&rec).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fifo_and_devices_are_refused_without_blocking() {
    if std::env::var_os(CHILD).is_some() {
        program();
        return;
    }
    let _serial = serial();
    let dir = scratch("fifo");
    let fifo = dir.join("rec.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = run_program(
        &std::env::current_exe().unwrap(),
        "fifo_and_devices_are_refused_without_blocking",
        &[("ALLOCOWNER_ACCESS", format!("4096 {}", fifo.display()))],
    );
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(
            "allocowner::access: ALLOCOWNER_ACCESS ignored: cannot write recording {}: a FIFO",
            fifo.display()
        )),
        "{stderr}"
    );
    for dev in ["/dev/null", "/dev/zero"] {
        let mut m = Monitor::new(Attrs::default()).unwrap();
        m.set_recording(&format!("4096 {dev}")).unwrap();
        let e = m.start().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot write recording {dev}: a device, not a regular file")
        );
        assert!(!m.is_running());
        assert!(m.tick().is_err(), "manual mode refuses it too");
    }
    let mut m = Monitor::new(Attrs::default()).unwrap();
    m.set_recording(&format!("4096 {}", dir.display())).unwrap();
    let e = m.start().unwrap_err();
    assert!(e.to_string().contains("a directory"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn symlink_is_refused_and_its_target_untouched() {
    let _serial = serial();
    let dir = scratch("link");
    let target = dir.join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.join("rec.data");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut m = Monitor::new(Attrs::default()).unwrap();
    m.set_recording(&format!("4096 {}", link.display()))
        .unwrap();
    let e = m.start().unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "cannot write recording {}: a symbolic link",
            link.display()
        )),
        "{e}"
    );
    assert_eq!(e.errno(), libc::ELOOP);
    assert!(m.tick().is_err());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // A dangling link is refused too (O_NOFOLLOW | O_CREAT would not
    // create its target).
    let dangling = dir.join("dangling.data");
    std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
    m.set_recording(&format!("4096 {}", dangling.display()))
        .unwrap();
    assert!(m.start().is_err());
    assert!(!dir.join("nowhere").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn new_recording_is_private_and_locked_against_a_second_monitor() {
    let _serial = serial();
    let dir = scratch("mode");
    let path = dir.join("rec.data");
    let mut first = Monitor::new(Attrs::default()).unwrap();
    first
        .set_recording(&format!("4096 {}", path.display()))
        .unwrap();
    for _ in 0..=40 {
        first.tick().unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let before = std::fs::read(&path).unwrap();
    // A second monitor on the same file is refused and changes nothing
    // (no truncation).
    let mut second = Monitor::new(Attrs::default()).unwrap();
    second
        .set_recording(&format!("4096 {}", path.display()))
        .unwrap();
    let e = second.tick().unwrap_err();
    assert_eq!(e.errno(), libc::EBUSY, "{e}");
    assert!(
        e.to_string().contains(&format!(
            "cannot write recording {}: another monitor is recording to this file",
            path.display()
        )),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let s = first.stop().unwrap();
    assert_eq!(s.aggregations, 2);
    assert_eq!(Recording::read(&path).unwrap().aggregations.len(), 2);
    // Once the first is done the file is free again.
    second.tick().unwrap();
    second.stop().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
