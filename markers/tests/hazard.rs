//! The armed path's bookkeeping (hazard slots): a probe that panics, probes
//! nested deeper than the limit, and many short-lived threads leave every
//! site usable and every disconnect able to finish.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use markers::{Probe, marker};

fn panicking_site() {
    marker!(hz_panics, n: u32 = 1);
}

#[test]
fn a_probe_that_panics_leaves_the_site_usable_and_disconnect_finishes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let id = markers::connect(
        "hz_panics",
        Probe::typed(move |_: &(u32,)| {
            seen.fetch_add(1, Ordering::SeqCst);
            panic!("probe panics");
        }),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(catch_unwind(AssertUnwindSafe(panicking_site)).is_err());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // The unwinding hits left their hazard slots: nothing is "running".
    markers::disconnect_timeout(id, std::time::Duration::from_secs(10)).unwrap();
    // Not inside a probe any more either: disconnect is allowed here.
    let again = markers::connect("hz_panics", markers::Counter::new()).unwrap();
    markers::disconnect(again).unwrap();
}

fn recursive_site(depth: u32) {
    marker!(hz_recurse, depth: u32 = depth);
}

#[test]
fn probes_nested_deeper_than_the_limit_are_not_called() {
    let deepest = Arc::new(AtomicUsize::new(0));
    let seen = deepest.clone();
    let id = markers::connect(
        "hz_recurse",
        Probe::typed(move |&(depth,): &(u32,)| {
            seen.fetch_max(depth as usize, Ordering::SeqCst);
            // Each call hits the site again: without a limit this would
            // recurse until the stack overflowed.
            recursive_site(depth + 1);
        }),
    )
    .unwrap();
    recursive_site(1);
    assert_eq!(deepest.load(Ordering::SeqCst), 8, "eight levels, then none");
    markers::disconnect(id).unwrap();
}

fn thread_site() {
    marker!(hz_threads);
}

#[test]
fn many_short_lived_threads_hit_and_disconnect_still_finishes() {
    let hits = markers::Counter::new();
    let id = markers::connect("hz_threads", hits.clone()).unwrap();
    for _ in 0..20 {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                thread::spawn(|| {
                    for _ in 0..100 {
                        thread_site();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }
    assert_eq!(hits.get(), 20 * 8 * 100);
    markers::disconnect(id).unwrap();
    thread_site();
    assert_eq!(hits.get(), 20 * 8 * 100);
}
