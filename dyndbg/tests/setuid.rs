//! In a setuid/setgid program (the kernel sets `AT_SECURE`), `DYNDBG` and
//! `DYNDBG_POOL` are ignored, as glibc's `secure_getenv` ignores them, with
//! one line on stderr per variable that was set. The program is a setgid
//! copy of this test binary: run by root (gid 0) it gets egid 65534, so the
//! kernel sets `AT_SECURE`.
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "DYNDBG_SETUID_CHILD";

fn work() {
    dyndbg::pr_debug!("secure child says hi");
}

/// The program: runs its callsite, then prints its flags and whether the
/// store is the pool.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    work();
    let site = dyndbg::callsites()
        .find(|cs| cs.format() == "secure child says hi")
        .expect("the callsite is listed");
    let stats = dyndbg::stats();
    println!("FLAGS {} POOLED {}", site.flags(), stats.pooled);
}

/// Runs `exe` as the child with `vars` set; fails if it does not exit
/// within a generous deadline.
fn run(exe: &Path, vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("DYNDBG")
        .env_remove("DYNDBG_POOL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The child's `FLAGS f POOLED b` line.
fn figures(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("FLAGS ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no figures in {stdout}"));
    let (flags, pooled) = line.split_once(" POOLED ").unwrap();
    (flags.to_owned(), pooled.to_owned())
}

fn setgid_copy() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("setuid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("setgid-copy");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&exe, None, Some(65534)) {
        panic!(
            "this test needs root to make a setgid copy (chown to gid 65534 failed: {e}); \
             run the tests as root, as CI does"
        );
    }
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o2755)).unwrap();
    exe
}

#[test]
fn setgid_program_ignores_dyndbg_and_dyndbg_pool() {
    let exe = setgid_copy();
    let out = run(&exe, &[("DYNDBG", "+p"), ("DYNDBG_POOL", "off")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for var in ["DYNDBG", "DYNDBG_POOL"] {
        let line = format!("dyndbg: {var} ignored: setuid/setgid program (AT_SECURE)");
        assert_eq!(
            stderr.lines().filter(|l| *l == line).count(),
            1,
            "one line for {var}: {stderr}"
        );
    }
    // `+p` was not applied; `off` was not applied (the default pool was
    // built; without the `pool` feature the default is the raw records).
    assert_eq!(
        figures(&out),
        ("_".to_owned(), cfg!(feature = "pool").to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("secure child says hi"), "{stderr}");

    // Only the variables that are set are reported.
    let out = run(&exe, &[("DYNDBG", "+p")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("dyndbg:"))
            .collect::<Vec<_>>(),
        ["dyndbg: DYNDBG ignored: setuid/setgid program (AT_SECURE)"],
        "{stderr}"
    );

    // The same binary without the setgid bit applies both.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(&exe, &[("DYNDBG", "+p"), ("DYNDBG_POOL", "off")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("ignored"), "{stderr}");
    assert!(stderr.contains("secure child says hi"), "{stderr}");
    assert_eq!(
        figures(&out),
        ("p".to_owned(), "false".to_owned()),
        "{stderr}"
    );
    std::fs::remove_dir_all(exe.parent().unwrap()).unwrap();
}
