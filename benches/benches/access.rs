//! The access monitor's cost to the program it watches: the workload of
//! the accuracy test (256 MiB of heap, 16 MiB of it written continuously)
//! with the monitor off, then on at DAMON's default attributes (5 ms
//! sampling, 100 ms aggregation, 1 s update, 10..=1000 regions) in each
//! detection mode.
//!
//! One operation is 400 passes over the hot set (a write every 64 bytes);
//! the "on" cases start the monitor before it and stop it after it (recording
//! off), so start and stop are included. The monitor's own work runs on its
//! thread, so instruction counts under Callgrind would say nothing about it
//! and are skipped. On a loaded machine, the wall-clock table also counts the
//! time the workload waits for a core while the monitor thread runs; the
//! second table gives the CPU time of the workload's own thread (its
//! user time plus the kernel time of its write-protect faults or traps)
//! and of the monitor thread, per operation.
//!
//! `cargo bench -p benches --bench access`

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::Duration;

use allocowner::access::{Attrs, Mode, Monitor};
use benches::{Case, compare};

const HEAP: usize = 256 << 20;
const HOT: std::ops::Range<usize> = (97 << 20)..(113 << 20);
const PASSES: u64 = 400;

fn pass(buf: &mut [u8], round: u8) {
    for i in HOT.step_by(64) {
        buf[i] = buf[i].wrapping_add(round);
    }
    black_box(&buf);
}

fn op(buf: &mut [u8]) {
    for k in 0..PASSES {
        pass(buf, k as u8);
    }
}

fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid output storage.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is valid for writing.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of the workload thread and of the monitor, and operations.
#[derive(Default)]
struct Cpu {
    workload: Cell<Duration>,
    monitor: Cell<Duration>,
    ops: Cell<u64>,
}

fn run(buf: &mut [u8], n: u64, mode: Option<Mode>, cpu: &Cpu) {
    let mut m = mode.map(|mode| {
        let mut m = Monitor::with_mode(Attrs::default(), mode).expect("default attributes");
        m.start().expect("the detector runs on this kernel");
        m
    });
    let t = thread_cpu();
    for _ in 0..n {
        op(buf);
    }
    cpu.workload
        .set(cpu.workload.get() + thread_cpu().saturating_sub(t));
    cpu.ops.set(cpu.ops.get() + n);
    if let Some(m) = m.as_mut() {
        let s = m.stop().expect("recording is off: nothing to fail");
        cpu.monitor.set(cpu.monitor.get() + s.cpu);
    }
}

fn main() {
    if std::env::var_os("BENCH_NO_CALLGRIND").is_none() {
        // SAFETY: single-threaded here, before any case runs.
        unsafe { std::env::set_var("BENCH_NO_CALLGRIND", "1") };
    }
    let mut heap = vec![0u8; HEAP];
    for i in (0..HEAP).step_by(4096) {
        heap[i] = 1; // the rest: touched once
    }
    let buf = RefCell::new(heap);
    let modes = [None, Some(Mode::WriteProtect), Some(Mode::Mprotect)];
    let names = [
        "monitor off",
        "monitor on: write-protect (default)",
        "monitor on: mprotect (opt-in)",
    ];
    let cpu: [Cpu; 3] = Default::default();
    let mut cases: Vec<Case<'_>> = (0..3)
        .map(|i| {
            let (buf, cpu) = (&buf, &cpu[i]);
            Case::new(names[i], move |n| {
                run(&mut buf.borrow_mut(), n, modes[i], cpu);
            })
        })
        .collect();
    compare(
        "heap workload, access monitor off vs on (default attributes)",
        &mut cases,
    );
    drop(cases);
    let per_op = |c: &Cpu, d: Duration| d.as_secs_f64() * 1e3 / c.ops.get().max(1) as f64;
    let base = per_op(&cpu[0], cpu[0].workload.get());
    println!("\n## CPU time per operation (all rounds)\n");
    println!("| case | workload thread ms/op | ratio | monitor thread ms/op |");
    println!("|---|---|---|---|");
    for (name, c) in names.iter().zip(&cpu) {
        let w = per_op(c, c.workload.get());
        println!(
            "| {name} | {w:.2} | {:.2}x | {:.2} |",
            w / base,
            per_op(c, c.monitor.get())
        );
    }
}
