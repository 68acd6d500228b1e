//! `ALLOCOWNER_ACCESS="<buffer_len> <path>"` starts the monitor before
//! `main` with no call in the program, and process exit stops it and flushes
//! the record file, in a program whose global allocator is `OwnerAlloc`
//! (tracking on through `ALLOCOWNER=on`). The test re-runs its own binary as
//! the program.

use std::process::Command;
use std::time::{Duration, Instant};

use allocowner::access::Recording;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

const CHILD: &str = "ACCESS_ENV_TEST_CHILD";

/// The program: no call into allocowner at all; 64 MiB of heap with 4 MiB
/// of it written continuously for 3 s (the 64 MiB appear in the target at the first update, after 1 s).
fn child() {
    let mut buf = vec![0u8; 64 << 20];
    let t = Instant::now();
    let mut round = 0u8;
    while t.elapsed() < Duration::from_secs(3) {
        round = round.wrapping_add(1);
        for i in (8 << 20..12 << 20).step_by(4096) {
            buf[i] = round;
        }
        std::hint::black_box(&buf);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        allocowner::is_enabled(),
        "ALLOCOWNER=on tracks this program"
    );
    println!("hot set at {:#x}", buf.as_ptr() as usize + (8 << 20));
}

fn run_child(control: &str) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "env_var_starts_and_exit_flushes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("ALLOCOWNER_ACCESS", control)
        .env("ALLOCOWNER", "on")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn env_var_starts_and_exit_flushes() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let dir = std::env::temp_dir().join(format!("access-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["env.data", "env.json.z"] {
        let path = dir.join(name);
        let (stdout, stderr) = run_child(&format!("4096 {}", path.display()));
        assert!(
            stderr
                .contains("allocowner::access: monitoring writes (write heat) with write-protect"),
            "{stderr}"
        );
        let hot: u64 = stdout
            .lines()
            .find_map(|l| l.split_once("hot set at 0x"))
            .map_or_else(
                || panic!("{stdout}"),
                |(_, h)| u64::from_str_radix(h.trim(), 16).unwrap(),
            );
        let rec = Recording::read(&path).unwrap();
        // 3 s of work at 100 ms per aggregation: the tail was flushed at
        // exit (the 4 KiB buffer holds a few aggregations).
        assert!(rec.aggregations.len() >= 28, "{}", rec.aggregations.len());
        assert!(name.ends_with(".json.z") == rec.intervals.is_some());
        let found = rec
            .aggregations
            .iter()
            .map(|a| {
                a.regions
                    .iter()
                    .filter(|r| r.nr_accesses >= 5)
                    .map(|r| r.end.min(hot + (4 << 20)).saturating_sub(r.start.max(hot)))
                    .sum::<u64>()
            })
            .max()
            .unwrap();
        assert!(found >= 3 << 20, "hot bytes found {found}: {rec:?}");
    }
    // A bad setting is named and nothing is recorded.
    let bad = dir.join("bad.data");
    let (_, stderr) = run_child(&format!("12 {}", bad.display()));
    assert!(
        stderr.contains(
            "ALLOCOWNER_ACCESS ignored: result buffer size (12) is out of [1024,4194304]"
        ),
        "{stderr}"
    );
    assert!(!bad.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A value that is not UTF-8 is an error naming the variable, reported by
/// the constructor before `main`, never taken for "unset".
#[test]
fn non_utf8_value_is_named() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--list")
        .env(
            "ALLOCOWNER_ACCESS",
            std::ffi::OsStr::from_bytes(b"4096 /tmp/\xffaccess"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "allocowner::access: ALLOCOWNER_ACCESS ignored: invalid record control string"
        ) && stderr.contains("(not UTF-8)"),
        "{stderr}"
    );
}
