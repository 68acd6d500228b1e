//! A real crate from crates.io: `polling` (smol-rs; epoll on Linux) emits
//! `tracing` events from two of its files, `src/epoll.rs` (a poller made,
//! events waited for) and `src/lib.rs` (a `wait` skipped because another
//! thread is waiting). `dyndbg::control("file epoll.rs +p")` switches on
//! exactly the events of `epoll.rs`, at runtime; `-p` switches them off.
//!
//! Two layers watch: one sees every event (no filter), one only what
//! `QueryFilter` lets through; the second must be the first restricted to
//! the file switched on.

#![cfg(target_os = "linux")]

#[path = "support/tracing_collect.rs"]
mod collect;

use std::sync::Arc;
use std::time::{Duration, Instant};

use collect::{Collect, Seen};
use dyndbg::tracing::QueryFilter;
use polling::{Events, Poller};
use tracing_subscriber::prelude::*;

/// Drives `polling` through both files: a poller made and waited on
/// (`epoll.rs`), and a `wait` skipped while another thread waits
/// (`lib.rs`), retried until the unfiltered layer has seen the skip.
fn drive(all: &Collect) {
    let poller = Arc::new(Poller::new().unwrap());
    let mut ready = Events::new();
    poller.wait(&mut ready, Some(Duration::ZERO)).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiter = {
        let poller = Arc::clone(&poller);
        let stop = Arc::clone(&stop);
        // The same subscriber on the waiter: either thread may be the one
        // that skips.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        std::thread::spawn(move || {
            let _default = tracing::dispatcher::set_default(&dispatch);
            let mut events = Events::new();
            // Waits (holding polling's wait lock) until told to stop; a
            // wait that returns early is simply waited again.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                events.clear();
                poller.wait(&mut events, None).unwrap();
            }
        })
    };
    // Does not hang: a generous deadline for the other thread to be in
    // its wait.
    let deadline = Instant::now() + Duration::from_secs(20);
    let skipped = |seen: &[Seen]| seen.iter().any(|s| s.basename() == "lib.rs");
    while !skipped(&all.0.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "no skipped wait seen in 20 s: {:?}",
            events(&all.0.lock().unwrap())
        );
        poller.wait(&mut ready, Some(Duration::ZERO)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poller.notify().unwrap();
    waiter.join().unwrap();
}

/// The events of one run, as (file basename, message), in order.
fn events(seen: &[Seen]) -> Vec<(String, String)> {
    seen.iter()
        .map(|s| (s.basename().to_owned(), s.message().to_owned()))
        .collect()
}

fn run() -> (Vec<Seen>, Vec<Seen>) {
    let all = Collect::default();
    let filtered = Collect::default();
    let subscriber = tracing_subscriber::registry()
        .with(all.clone())
        .with(filtered.clone().with_filter(QueryFilter::new()));
    tracing::subscriber::with_default(subscriber, || drive(&all));
    (all.take(), filtered.take())
}

fn only(seen: &[Seen], file: &str) -> Vec<(String, String)> {
    events(seen)
        .into_iter()
        .filter(|(f, _)| f == file)
        .collect()
}

/// One test: queries are process-wide.
#[test]
fn switches_exactly_the_events_of_one_file_of_polling() {
    let (all, filtered) = run();
    assert!(
        all.iter().any(|s| s.basename() == "epoll.rs"),
        "{:?}",
        events(&all)
    );
    assert!(
        filtered.is_empty(),
        "off before any query: {:?}",
        events(&filtered)
    );

    dyndbg::control("file epoll.rs +p").unwrap();
    let (all, filtered) = run();
    assert!(all.iter().any(|s| s.basename() == "lib.rs"));
    assert_eq!(events(&filtered), only(&all, "epoll.rs"));
    assert!(!filtered.is_empty());
    let listing = dyndbg::listing();
    assert!(
        listing
            .lines()
            .any(|l| l.contains("src/epoll.rs:") && l.contains("[polling::epoll] =p")),
        "{listing}"
    );

    dyndbg::control("file epoll.rs -p; module polling file lib.rs +p").unwrap();
    let (all, filtered) = run();
    assert_eq!(events(&filtered), only(&all, "lib.rs"));
    assert!(!filtered.is_empty());

    dyndbg::control("module polling* -p").unwrap();
    let (all, filtered) = run();
    assert!(!all.is_empty());
    assert!(filtered.is_empty(), "{:?}", events(&filtered));
}
