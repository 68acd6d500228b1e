//! The access monitor's cost to the program it watches, on the workload of
//! issue #16 and of the accuracy test: 256 MiB of heap, each page written
//! once, then a 16 MiB hot set written continuously (a write every 64
//! bytes, pass after pass), at DAMON's default attributes (5 ms sampling,
//! 100 ms aggregation, 1 s update, 10..=1000 regions), recording off.
//!
//! Rounds interleave "off" and "on" segments (the order alternates from
//! round to round). An "on" segment starts the monitor, lets the workload
//! run unmeasured for a warm-up of 1.5 s (past the first regions update, so
//! the regions have converged), then measures the same number of passes as
//! an "off" segment, then stops the monitor: what is measured is the steady
//! state a long-running program sees. Each segment measures the workload
//! thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: its user time plus the
//! kernel time of its write-protect faults or traps, not the time it waits
//! for a core, so the figure does not depend on the machine being idle) and
//! its wall-clock time (which does). The printed ratios are the medians over
//! rounds of on/off within one round; the monitor thread's CPU time (its
//! whole thread's, sleeps included) is given as a share of one core, the
//! warm-up's share removed in proportion to its length. Each round's line
//! also gives the workload thread's page faults (the write faults the
//! monitor causes), the times it was preempted and the times it blocked:
//! enough to tell the monitor's cost from the machine's load (a round with
//! many more preemptions "on" than "off" lost its core to something). The
//! monitor's TLB shootdowns, the main cost when it runs on another core
//! than the program's, show in the `TLB` row of `/proc/interrupts`.
//!
//! ```text
//! cargo bench -p benches --bench access                  # write-protect (default)
//! cargo bench -p benches --bench access -- mprotect      # the opt-in mode
//! ACCESS_ROUNDS=21 cargo bench -p benches --bench access # more rounds (default 11)
//! ACCESS_WARM_UP_MS=0 ACCESS_SEGMENT_MS=250 cargo bench -p benches --bench access
//!                                                        # the first 250 ms of a session
//! ```
//!
//! The monitor's own work runs on its thread, so instruction counts under
//! Callgrind would say nothing about it and are not taken.

use std::hint::black_box;
use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Mode, Monitor};

const HEAP: usize = 256 << 20;
const HOT: std::ops::Range<usize> = (97 << 20)..(113 << 20);
const WARM_UP_MS: u64 = 1500;
/// The wall-clock length of one measured segment, monitor off, calibrated
/// once at start.
const SEGMENT_MS: u64 = 600;

fn pass(buf: &mut [u8], round: u8) {
    for i in HOT.step_by(64) {
        buf[i] = buf[i].wrapping_add(round);
    }
    black_box(&buf);
}

fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid output storage.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is valid for writing.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The calling thread's page faults (minor), involuntary context switches
/// (preempted) and voluntary ones (blocked, e.g. on a lock) so far.
fn thread_events() -> (i64, i64, i64) {
    // SAFETY: a zeroed rusage is valid output storage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writing.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &raw mut ru) };
    (ru.ru_minflt, ru.ru_nivcsw, ru.ru_nvcsw)
}

/// One measured segment: the workload thread's CPU and wall-clock time,
/// its page faults (the write-protect faults the monitor causes) and the
/// times it was preempted.
#[derive(Clone, Copy)]
struct Segment {
    cpu: Duration,
    wall: Duration,
    faults: i64,
    preempted: i64,
    blocked: i64,
}

fn passes(buf: &mut [u8], n: u64) -> Segment {
    let (c, w, e) = (thread_cpu(), Instant::now(), thread_events());
    for k in 0..n {
        pass(buf, k as u8);
    }
    let e2 = thread_events();
    Segment {
        cpu: thread_cpu().saturating_sub(c),
        wall: w.elapsed(),
        faults: e2.0 - e.0,
        preempted: e2.1 - e.1,
        blocked: e2.2 - e.2,
    }
}

/// `f`'s result and its wall-clock time on this thread.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// One "on" segment.
fn on(buf: &mut [u8], passes_per_segment: u64, mode: Mode, warm_up: Duration) -> On {
    let mut monitor = Monitor::with_mode(Attrs::default(), mode).expect("default attributes");
    let ((), start) = timed(|| monitor.start().expect("the detector runs on this kernel"));
    let until = Instant::now() + warm_up;
    let mut round = 0u8;
    while Instant::now() < until {
        pass(buf, round);
        round = round.wrapping_add(1);
    }
    // The monitor's CPU time so far is not readable from here; the warm-up
    // share is removed using the warm-up's length (the monitor's cost per
    // second is steady by then).
    let seg = passes(buf, passes_per_segment);
    let (summary, stop) = timed(|| monitor.stop().expect("recording is off: nothing to fail"));
    let total = warm_up + seg.wall;
    let share = seg.wall.as_secs_f64() / total.as_secs_f64();
    On {
        seg,
        monitor: summary.cpu.mul_f64(share),
        samples: summary.samples,
        start,
        stop,
    }
}

/// What one "on" segment measured.
struct On {
    /// The measured passes.
    seg: Segment,
    /// The monitor thread's CPU time during them.
    monitor: Duration,
    /// Sampling intervals run, warm-up included.
    samples: u64,
    /// `Monitor::start` and `Monitor::stop`, wall-clock on the workload's
    /// thread.
    start: Duration,
    stop: Duration,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

fn main() {
    let mode = match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        None => Mode::WriteProtect,
        Some(a) if a == "write-protect" => Mode::WriteProtect,
        Some(a) if a == "mprotect" => Mode::Mprotect,
        Some(a) => panic!("unknown mode {a:?}: write-protect or mprotect"),
    };
    let rounds: usize = std::env::var("ACCESS_ROUNDS").map_or(11, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("ACCESS_ROUNDS={v:?} is not a number"))
    });
    let ms = |var: &str, default: u64| {
        Duration::from_millis(std::env::var(var).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{var}={v:?} is not a number of milliseconds"))
        }))
    };
    let warm_up = ms("ACCESS_WARM_UP_MS", WARM_UP_MS);
    let segment = ms("ACCESS_SEGMENT_MS", SEGMENT_MS);
    let mut heap = vec![0u8; HEAP];
    for i in (0..HEAP).step_by(4096) {
        heap[i] = 1; // the cold part: written once
    }
    // Calibrate: passes per segment.
    passes(&mut heap, 20);
    let t = passes(&mut heap, 50).wall;
    let n = ((segment.as_secs_f64() / t.as_secs_f64() * 50.0) as u64).max(10);
    println!(
        "# access monitor overhead, {mode} mode, DAMON defaults; {n} passes over 16 MiB per segment after a warm-up of {warm_up:?}, {rounds} rounds"
    );
    let (mut cpu, mut wall, mut mon) = (Vec::new(), Vec::new(), Vec::new());
    let mut samples = 0;
    let mut per_round = Vec::new();
    let (mut start_ms, mut stop_ms) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let (off, o) = if r % 2 == 0 {
            let off = passes(&mut heap, n);
            (off, on(&mut heap, n, mode, warm_up))
        } else {
            let on = on(&mut heap, n, mode, warm_up);
            (passes(&mut heap, n), on)
        };
        let on = o.seg;
        samples += o.samples;
        start_ms.push(o.start.as_secs_f64() * 1e3);
        stop_ms.push(o.stop.as_secs_f64() * 1e3);
        let rc = on.cpu.as_secs_f64() / off.cpu.as_secs_f64();
        let rw = on.wall.as_secs_f64() / off.wall.as_secs_f64();
        cpu.push(rc);
        wall.push(rw);
        mon.push(o.monitor.as_secs_f64() / on.wall.as_secs_f64());
        per_round.push(format!(
            "round {r}: off {:.0}/{:.0} ms, on {:.0}/{:.0} ms (cpu/wall): {rc:.3}x cpu, {rw:.3}x wall; faults {}/{}, preempted {}/{}, blocked {}/{}",
            off.cpu.as_secs_f64() * 1e3,
            off.wall.as_secs_f64() * 1e3,
            on.cpu.as_secs_f64() * 1e3,
            on.wall.as_secs_f64() * 1e3,
            off.faults,
            on.faults,
            off.preempted,
            on.preempted,
            off.blocked,
            on.blocked,
        ));
    }
    for l in &per_round {
        println!("{l}");
    }
    println!();
    println!("| {mode} monitor on vs off, median of {rounds} rounds | ratio |");
    println!("|---|---|");
    println!("| workload thread CPU time | {:.3}x |", median(&mut cpu));
    println!("| workload wall-clock time | {:.3}x |", median(&mut wall));
    println!(
        "| monitor thread CPU, share of one core | {:.2}% |",
        median(&mut mon) * 100.0
    );
    println!(
        "| Monitor::start / Monitor::stop, wall-clock on the calling thread | {:.1} ms / {:.1} ms |",
        median(&mut start_ms),
        median(&mut stop_ms)
    );
    println!(
        "({samples} sampling intervals run in {rounds} monitored segments with their warm-ups)"
    );
}
