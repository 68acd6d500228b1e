//! Issue #14, item 5: mprotect mode changes no protection of memory it
//! does not own. A read-only mapping placed where a target used to be stays
//! read-only; a read-only shared file mapping there is readable after
//! `stop()`; nothing stays protected after `stop()`; and a fault that is
//! not the monitor's goes to the previous handler (Rust's "has overflowed
//! its stack" message survives). Each scenario runs in a fresh copy of
//! this test binary: the trap and its `SIGSEGV` handler are process-wide.

use std::process::Command;
use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Mode, Monitor, PAGE};

const SCENARIO: &str = "ACCESS_MPROTECT_SCENARIO";

/// Many small regions, so that the test mapping is sampled every interval.
fn attrs() -> Attrs {
    Attrs {
        min_nr_regions: 1000,
        max_nr_regions: 2000,
        ..Attrs::default()
    }
}

/// The `/proc/self/maps` permissions of every piece of `[start, end)`.
fn perms_in(start: usize, end: usize) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (s, e) = f.next()?.split_once('-')?;
            let (s, e) = (
                usize::from_str_radix(s, 16).ok()?,
                usize::from_str_radix(e, 16).ok()?,
            );
            (s < end && start < e).then(|| format!("{s:x}-{e:x} {}", f.next().unwrap()))
        })
        .collect()
}

fn map(len: usize, prot: i32, flags: i32, fd: i32, at: usize) -> usize {
    // SAFETY: a new mapping; with MAP_FIXED `at` is a range this test owns.
    let p = unsafe { libc::mmap(at as *mut libc::c_void, len, prot, flags, fd, 0) };
    assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
    p as usize
}

const LEN: usize = 256 << 20;

/// A read-write anonymous mapping becomes a target; it is then replaced by
/// `replace` (a mapping of the same range) and the monitor goes on with its
/// target list of before (refreshed only once a second).
fn replaced_target(replace: impl FnOnce(usize)) -> usize {
    let addr = map(
        LEN,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    );
    let mut m = Monitor::with_mode(attrs(), Mode::Mprotect).unwrap();
    m.seed(1);
    m.tick().unwrap(); // reads the target and arms one page per region
    for _ in 0..5 {
        m.tick().unwrap();
    }
    let armed = perms_in(addr, addr + LEN)
        .iter()
        .filter(|p| p.ends_with("---p"))
        .count();
    assert!(armed > 0, "the test mapping is sampled");
    replace(addr);
    // 100 sampling intervals: fewer than the 200 of an update interval.
    for _ in 0..100 {
        m.tick().unwrap();
    }
    m.stop().unwrap();
    addr
}

fn scenario_read_only_private() {
    let addr = replaced_target(|addr| {
        map(
            LEN,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            addr,
        );
    });
    let perms = perms_in(addr, addr + LEN);
    assert!(
        perms.iter().all(|p| p.ends_with(" r--p")),
        "a read-only mapping got another protection: {perms:?}"
    );
}

fn scenario_read_only_shared_file() {
    let path = std::env::temp_dir().join(format!("access-mprotect-{}.bin", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(LEN as u64).unwrap();
    drop(f);
    let f = std::fs::File::open(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let addr = replaced_target(|addr| {
        map(
            LEN,
            libc::PROT_READ,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            addr,
        );
    });
    let perms = perms_in(addr, addr + LEN);
    assert!(
        perms.iter().all(|p| p.ends_with(" r--s")),
        "pages of a read-only shared mapping stayed protected after stop: {perms:?}"
    );
    // Every page reads (none left PROT_NONE).
    let mut sum = 0u64;
    for off in (0..LEN).step_by(PAGE) {
        // SAFETY: inside the live read-only mapping just checked.
        sum += u64::from(unsafe { std::ptr::read_volatile((addr + off) as *const u8) });
    }
    assert_eq!(sum, 0);
    std::fs::remove_file(&path).unwrap();
}

fn scenario_stop_leaves_nothing_protected() {
    let addr = map(
        64 << 20,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    );
    let mut m = Monitor::with_mode(attrs(), Mode::Mprotect).unwrap();
    m.start().unwrap();
    let t = Instant::now();
    let mut round = 0u8;
    while t.elapsed() < Duration::from_millis(300) {
        round = round.wrapping_add(1);
        for off in (0..16 << 20).step_by(PAGE) {
            // SAFETY: inside the live read-write mapping.
            unsafe { std::ptr::write_volatile((addr + off) as *mut u8, round) };
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = m.stop().unwrap();
    assert!(s.samples > 0);
    let perms = perms_in(addr, addr + (64 << 20));
    assert!(
        perms.iter().all(|p| p.ends_with(" rw-p")),
        "pages stayed protected after stop: {perms:?}"
    );
}

/// Recurses until the stack overflows (the condition never holds, but the
/// compiler cannot know).
fn recurse(n: u64) -> u64 {
    let buf = [n; 64];
    std::hint::black_box(&buf);
    if std::hint::black_box(n) == u64::MAX {
        return 0;
    }
    recurse(n + 1) + std::hint::black_box(buf[3])
}

fn overflow_a_thread() -> ! {
    let h = std::thread::Builder::new()
        .name("deep".to_owned())
        .stack_size(256 << 10)
        .spawn(|| recurse(0))
        .unwrap();
    let _ = h.join();
    unreachable!("the overflow ends the process");
}

fn scenario_stack_overflow() {
    let mut m = Monitor::with_mode(Attrs::default(), Mode::Mprotect).unwrap();
    m.start().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    overflow_a_thread();
}

/// The monitor was started before `main` by `ALLOCOWNER_ACCESS`, before
/// Rust's runtime set up its own handler.
fn scenario_env_stack_overflow() {
    std::thread::sleep(Duration::from_millis(200));
    overflow_a_thread();
}

fn run(scenario: &str, test: &str) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(SCENARIO, scenario)
        .env_remove("ALLOCOWNER_ACCESS")
        .env_remove("ALLOCOWNER_ACCESS_MODE");
    if scenario == "env_stack_overflow" {
        cmd.env("ALLOCOWNER_ACCESS", "0 none")
            .env("ALLOCOWNER_ACCESS_MODE", "mprotect");
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A generous deadline: a fault looping in a handler must not hang the test.
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            child.kill().unwrap();
            panic!("scenario {scenario} did not end within 60 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run_ok(scenario: &str, test: &str) {
    let out = run(scenario, test);
    assert!(
        out.status.success(),
        "scenario {scenario} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the scenario this process was started for, if any.
fn scenario() -> bool {
    let Ok(s) = std::env::var(SCENARIO) else {
        return false;
    };
    match s.as_str() {
        "read_only_private" => scenario_read_only_private(),
        "read_only_shared_file" => scenario_read_only_shared_file(),
        "stop" => scenario_stop_leaves_nothing_protected(),
        "stack_overflow" => scenario_stack_overflow(),
        "env_stack_overflow" => scenario_env_stack_overflow(),
        other => panic!("unknown scenario {other}"),
    }
    true
}

#[test]
fn read_only_mapping_at_a_former_target_stays_read_only() {
    if !scenario() {
        run_ok(
            "read_only_private",
            "read_only_mapping_at_a_former_target_stays_read_only",
        );
    }
}

#[test]
fn read_only_shared_file_mapping_is_readable_after_stop() {
    if !scenario() {
        run_ok(
            "read_only_shared_file",
            "read_only_shared_file_mapping_is_readable_after_stop",
        );
    }
}

#[test]
fn stop_leaves_nothing_protected() {
    if !scenario() {
        run_ok("stop", "stop_leaves_nothing_protected");
    }
}

fn check_overflow_message(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("thread 'deep'") && stderr.contains("has overflowed its stack"),
        "status {}: {stderr}",
        out.status
    );
    let sig = std::os::unix::process::ExitStatusExt::signal(&out.status);
    assert!(
        sig == Some(libc::SIGABRT) || sig == Some(libc::SIGSEGV),
        "{:?}",
        out.status
    );
}

#[test]
fn stack_overflow_message_survives() {
    if !scenario() {
        check_overflow_message(&run("stack_overflow", "stack_overflow_message_survives"));
    }
}

#[test]
fn stack_overflow_message_survives_a_monitor_started_before_main() {
    if !scenario() {
        let out = run(
            "env_stack_overflow",
            "stack_overflow_message_survives_a_monitor_started_before_main",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("allocowner::access: monitoring reads and writes with mprotect"),
            "{stderr}"
        );
        check_overflow_message(&out);
    }
}
