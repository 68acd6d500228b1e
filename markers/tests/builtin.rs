//! The built-in probes: counter, printer (through dyndbg's sink), ring
//! buffer. One test per probe, each on its own markers.

use std::sync::{Arc, Mutex};

use dyndbg::Flags;
use markers::{Counter, Error, Printer, RingBuffer, marker};

fn counted() {
    marker!(builtin_counted, n: u8 = 1);
}

#[test]
fn counter_counts_hits_and_clones_share_it() {
    let hits = Counter::new();
    let id = markers::connect("builtin_counted", hits.clone()).unwrap();
    for _ in 0..5 {
        counted();
    }
    assert_eq!(hits.get(), 5);
    // The same counter twice is the same probe; another counter is not.
    assert!(matches!(
        markers::connect("builtin_counted", hits.clone()),
        Err(Error::AlreadyConnected { .. })
    ));
    let other = Counter::new();
    let other_id = markers::connect("builtin_counted", other.clone()).unwrap();
    counted();
    assert_eq!((hits.get(), other.get()), (6, 1));
    assert_eq!(hits.reset(), 6);
    assert_eq!(hits.get(), 0);
    markers::disconnect(id).unwrap();
    markers::disconnect(other_id).unwrap();
}

/// Collects what dyndbg's output receives.
struct Lines(Arc<Mutex<Vec<String>>>);

impl dyndbg::Sink for Lines {
    fn write(&self, record: &dyndbg::Record<'_>) {
        self.0.lock().unwrap().push(record.to_string());
    }
}

fn printed(len: usize, name: &str) {
    marker!(builtin_printed, len: usize, name: &str);
}

#[test]
fn printer_writes_one_line_per_hit_to_the_dyndbg_sink() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    dyndbg::set_sink(Lines(lines.clone()));
    let plain = markers::connect("builtin_printed", Printer::new()).unwrap();
    printed(1500, "eth0");
    assert_eq!(
        *lines.lock().unwrap(),
        ["builtin_printed: len=1500 name=\"eth0\""]
    );
    // Equal printers are the same probe; one with other flags is not.
    assert!(matches!(
        markers::connect("builtin_printed", Printer::new()),
        Err(Error::AlreadyConnected { .. })
    ));
    markers::disconnect(plain).unwrap();
    let prefixed = markers::connect(
        "builtin_printed",
        Printer::with_flags(Flags::FUNCTION | Flags::LINE),
    )
    .unwrap();
    lines.lock().unwrap().clear();
    printed(3, "lo");
    let line = lines.lock().unwrap()[0].clone();
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "builtin_printed")
        .unwrap();
    assert_eq!(
        line,
        format!(
            "printed:{}: builtin_printed: len=3 name=\"lo\"",
            site.line()
        )
    );
    markers::disconnect(prefixed).unwrap();
}

fn ringed(i: u32) {
    marker!(builtin_ringed, i: u32);
}

fn ringed_other() {
    marker!(builtin_ringed_other, s: &'static str = "x");
}

#[test]
fn ring_buffer_keeps_the_last_hits() {
    let ring = RingBuffer::new(3);
    assert_eq!(ring.capacity(), 3);
    let id = markers::connect("builtin_ringed*", ring.clone()).unwrap();
    for i in 0..5 {
        ringed(i);
    }
    ringed_other();
    let hits = ring.read();
    let texts: Vec<String> = hits
        .iter()
        .map(|h| format!("{} {}", h.marker, h.args))
        .collect();
    assert_eq!(
        texts,
        [
            "builtin_ringed i=3",
            "builtin_ringed i=4",
            "builtin_ringed_other s=\"x\""
        ]
    );
    assert!(
        hits[0].location.starts_with("markers/tests/builtin.rs:"),
        "{}",
        hits[0].location
    );
    assert_eq!(ring.drain().len(), 3);
    assert!(ring.read().is_empty());
    markers::disconnect(id).unwrap();
    ringed(9);
    assert!(ring.read().is_empty());
    assert_eq!(RingBuffer::new(0).capacity(), 1);
}
