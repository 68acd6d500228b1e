//! The access monitor's cost to the program it watches: the workload of
//! the accuracy test (256 MiB of heap, 16 MiB of it written continuously)
//! with the monitor off, then on at DAMON's default attributes (5 ms
//! sampling, 100 ms aggregation, 1 s update, 10..=1000 regions) in each
//! detection mode.
//!
//! One operation is 400 passes over the hot set (a write every 64 bytes),
//! about half a second; the "on" cases start the monitor before it and stop
//! it (flushing nothing: recording off) after it, so start-up is included.
//! The monitor's own work runs on its thread, so instruction counts under
//! Callgrind say nothing here and are skipped.
//!
//! `cargo bench -p benches --bench access`

use std::hint::black_box;

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

fn with_monitor(mode: Mode, buf: &mut [u8], n: u64) {
    let mut m = Monitor::with_mode(Attrs::default(), mode).expect("default attributes");
    m.start().expect("the detector runs on this kernel");
    for _ in 0..n {
        op(buf);
    }
    let s = m.stop().expect("recording is off: nothing to fail");
    if std::env::var_os("ACCESS_BENCH_VERBOSE").is_some() {
        eprintln!("{s:?}");
    }
}

fn main() {
    if std::env::var_os("BENCH_NO_CALLGRIND").is_none() {
        // SAFETY: single-threaded here, before any case runs.
        unsafe { std::env::set_var("BENCH_NO_CALLGRIND", "1") };
    }
    let mut buf = vec![0u8; HEAP];
    for i in (0..HEAP).step_by(4096) {
        buf[i] = 1; // the rest: touched once
    }
    let buf = std::cell::RefCell::new(buf);
    compare(
        "heap workload, access monitor off vs on (default attributes)",
        &mut [
            Case::new("monitor off", |n| {
                let mut b = buf.borrow_mut();
                for _ in 0..n {
                    op(&mut b);
                }
            }),
            Case::new("monitor on: write-protect (default)", |n| {
                with_monitor(Mode::WriteProtect, &mut buf.borrow_mut(), n);
            }),
            Case::new("monitor on: mprotect (opt-in)", |n| {
                with_monitor(Mode::Mprotect, &mut buf.borrow_mut(), n);
            }),
        ],
    );
}
