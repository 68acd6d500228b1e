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

/// Sampling intervals in which the program must see the monitor arm a page
/// of its hot set before it stops writing: at 20 intervals per aggregation,
/// at least 15 aggregations that watched the hot set (the accuracy test's
/// workload needs about 10 to converge). A count of events, not of time:
/// on a loaded machine it takes longer, it means the same.
const WATCHED: u32 = 300;
/// Then, the intervals watched after the program prints its time: at least
/// one whole aggregation ends after that time. (A pass that falls in the
/// middle of one interval's arming may count it twice: 60 counts are at
/// least 30 intervals, more than the 20 of an aggregation.)
const AFTER: u32 = 60;
/// A failure bound only: a monitor that never arms the hot set.
const DEADLINE: Duration = Duration::from_secs(120);

/// How many of the `pages` pages from page number `first` are
/// write-protected by a userfaultfd right now: bit 57 of their
/// `/proc/self/pagemap` entries ("pte is uffd-wp write-protected", readable
/// unprivileged). The monitor arms one page per region per sampling
/// interval; the program's next write to it clears it.
fn armed_pages(pagemap: &std::fs::File, first: usize, pages: usize) -> usize {
    use std::os::unix::fs::FileExt;
    let mut entries = vec![0u8; pages * 8];
    pagemap
        .read_exact_at(&mut entries, (first * 8) as u64)
        .expect("read /proc/self/pagemap");
    entries
        .chunks_exact(8)
        .filter(|e| u64::from_le_bytes((*e).try_into().unwrap()) & (1 << 57) != 0)
        .count()
}

fn monotonic_ns() -> u64 {
    // SAFETY: a zeroed timespec is valid output storage.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is valid for writing.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The program: no call into allocowner at all; 64 MiB of heap with 4 MiB
/// of it written continuously (the 64 MiB enter the monitor's target at
/// its first regions update) until the monitor has armed a page of the hot
/// set in `WATCHED` sampling intervals, seen in `/proc/self/pagemap`; then
/// it prints the time and the hot set's address, goes on for `AFTER` more
/// and returns from `main`.
fn child() {
    if std::env::var(CHILD).as_deref() == Ok("unmonitored") {
        return;
    }
    let mut buf = vec![0u8; 64 << 20];
    let hot = buf.as_ptr() as usize + (8 << 20);
    let pagemap = std::fs::File::open("/proc/self/pagemap").unwrap();
    let started = Instant::now();
    let (mut watched, mut round, mut printed) = (0u32, 0u8, false);
    while watched < WATCHED + AFTER {
        assert!(
            started.elapsed() < DEADLINE,
            "the monitor armed the hot set in {watched} sampling intervals in {DEADLINE:?}"
        );
        // A page armed since the last pass: one more sampling interval
        // watched the hot set (passes are far more frequent than
        // intervals). The pass writes every page counted (the 1024 pages
        // from `hot`'s), so each arming is counted once.
        if armed_pages(&pagemap, hot / 4096, 1024) > 0 {
            watched += 1;
        }
        if watched >= WATCHED && !printed {
            println!("watched at {}", monotonic_ns());
            printed = true;
        }
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
    println!("hot set at {hot:#x}");
}

fn run_child(control: &str, role: &str) -> (String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "env_var_starts_and_exit_flushes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, role)
        .env("ALLOCOWNER_ACCESS", control)
        .env("ALLOCOWNER", "on")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The number after `prefix` on a line of `out`, in `radix`.
fn printed(out: &str, prefix: &str, radix: u32) -> u64 {
    out.lines().find_map(|l| l.split_once(prefix)).map_or_else(
        || panic!("no {prefix:?} in {out}"),
        |(_, v)| u64::from_str_radix(v.trim(), radix).unwrap(),
    )
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
        let (stdout, stderr) = run_child(&format!("4096 {}", path.display()), "monitored");
        assert!(
            stderr
                .contains("allocowner::access: monitoring writes (write heat) with write-protect"),
            "{stderr}"
        );
        let hot = printed(&stdout, "hot set at 0x", 16);
        let watched_at = printed(&stdout, "watched at ", 10);
        let rec = Recording::read(&path).unwrap();
        assert!(name.ends_with(".json.z") == rec.intervals.is_some());
        // The aggregations that ended after the program printed its time
        // were in the buffer until the exit flushed it (a json_compressed
        // file is not even readable without the end the exit writes).
        assert!(
            rec.aggregations.iter().any(|a| a.end_ns > watched_at),
            "no aggregation after {watched_at}: {} aggregations, the last ended at {:?}",
            rec.aggregations.len(),
            rec.aggregations.last().map(|a| a.end_ns)
        );
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
    let (_, stderr) = run_child(&format!("12 {}", bad.display()), "unmonitored");
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
