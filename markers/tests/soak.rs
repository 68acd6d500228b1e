//! Soak: several threads fire one site while another thread connects and
//! disconnects probes in a loop. A stable probe must see every hit exactly
//! once and in order; a churning probe must never be called twice for one
//! hit nor after its `disconnect` returned. Sized for a few seconds in
//! release on 2 cores (`cargo test -p markers --release --test soak`).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use markers::Probe;

const FIRING_THREADS: usize = 3;
/// Connect/disconnect rounds; the firing threads fire until they are done.
/// Each disconnect waits for the hits in flight, and with more firing
/// threads than cores a hit in flight is often one preempted for a time
/// slice (milliseconds): a grace period, as with RCU. Hence few rounds.
const ROUNDS: u64 = if cfg!(debug_assertions) { 30 } else { 100 };
/// ... and each firing thread has fired at least this many hits.
const MIN_HITS: u64 = if cfg!(debug_assertions) {
    20_000
} else {
    200_000
};

fn fire(thread: usize, i: u64) {
    markers::marker!(soak_hit, thread: usize, i: u64);
}

/// What a churning probe checks on every call.
struct Churn {
    /// Cleared once `disconnect` of this probe has returned.
    connected: AtomicBool,
    /// The last hit seen per firing thread, plus one (0: none yet).
    last: Vec<AtomicU64>,
    calls: AtomicU64,
}

/// Connects a checking probe and a counter, lets hits through, disconnects
/// both; returns how often the checking probe ran.
fn churn_once(round: u64, bad: &Arc<AtomicUsize>) -> u64 {
    let churn = Arc::new(Churn {
        connected: AtomicBool::new(true),
        last: (0..FIRING_THREADS).map(|_| AtomicU64::new(0)).collect(),
        calls: AtomicU64::new(0),
    });
    let (probe_data, bad) = (churn.clone(), bad.clone());
    let probe = Probe::typed(move |&(thread, i): &(usize, u64)| {
        let c = &probe_data;
        c.calls.fetch_add(1, Ordering::Relaxed);
        // Called after disconnect returned, or twice for one hit.
        if !c.connected.load(Ordering::SeqCst) || c.last[thread].swap(i + 1, Ordering::Relaxed) > i
        {
            bad.fetch_add(1, Ordering::Relaxed);
        }
    })
    // Before, with, and after the stable probe.
    .priority([0, 10, 20][(round % 3) as usize]);
    let id = markers::connect("soak_hit", probe).unwrap();
    // Let some hits through, plus a second probe so arrays of several sizes
    // are published and retired.
    let extra = markers::connect("soak_*", markers::Counter::new()).unwrap();
    thread::yield_now();
    markers::disconnect(extra).unwrap();
    markers::disconnect(id).unwrap();
    churn.connected.store(false, Ordering::SeqCst);
    churn.calls.load(Ordering::Relaxed)
}

#[test]
fn firing_while_connecting_and_disconnecting() {
    let violations = Arc::new(AtomicUsize::new(0));
    // Stable probe: for each thread, the next hit it must see.
    let next: Arc<Vec<AtomicU64>> =
        Arc::new((0..FIRING_THREADS).map(|_| AtomicU64::new(0)).collect());
    let (expect, bad) = (next.clone(), violations.clone());
    let stable = markers::connect(
        "soak_hit",
        Probe::typed(move |&(thread, i): &(usize, u64)| {
            if expect[thread].swap(i + 1, Ordering::Relaxed) != i {
                bad.fetch_add(1, Ordering::Relaxed);
            }
        }),
    )
    .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(FIRING_THREADS + 1));
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..FIRING_THREADS).map(|_| AtomicU64::new(0)).collect());
    let churner = {
        let (done, bad, start, progress) = (
            done.clone(),
            violations.clone(),
            start.clone(),
            progress.clone(),
        );
        thread::spawn(move || {
            start.wait();
            let mut rounds = 0u64;
            let mut churn_calls = 0u64;
            while rounds < ROUNDS
                || progress
                    .iter()
                    .any(|p| p.load(Ordering::Relaxed) < MIN_HITS)
            {
                churn_calls += churn_once(rounds, &bad);
                rounds += 1;
            }
            done.store(true, Ordering::Relaxed);
            churn_calls
        })
    };
    let firing: Vec<_> = (0..FIRING_THREADS)
        .map(|thread| {
            let (start, done, progress) = (start.clone(), done.clone(), progress.clone());
            thread::spawn(move || {
                start.wait();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    fire(thread, i);
                    i += 1;
                    progress[thread].store(i, Ordering::Relaxed);
                }
                i
            })
        })
        .collect();
    let hits: Vec<u64> = firing.into_iter().map(|f| f.join().unwrap()).collect();
    let churn_calls = churner.join().unwrap();
    markers::disconnect(stable).unwrap();

    assert_eq!(
        violations.load(Ordering::Relaxed),
        0,
        "lost, doubled or late calls"
    );
    for (thread, next) in next.iter().enumerate() {
        assert_eq!(
            next.load(Ordering::Relaxed),
            hits[thread],
            "thread {thread}"
        );
    }
    assert!(churn_calls > 0, "the churning probes never ran");
    assert!(hits.iter().all(|&h| h >= MIN_HITS), "{hits:?}");
    eprintln!(
        "soak: {ROUNDS}+ connect/disconnect rounds, hits {hits:?}, {churn_calls} churn probe calls"
    );
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "soak_hit")
        .unwrap();
    assert_eq!(site.probes(), 0);
}
