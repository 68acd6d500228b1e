//! Marker sites against the peers a user would pick instead, in one run: a
//! disarmed `marker!` vs a disabled `pr_debug!` vs a filtered-out `tracing`
//! event; then a marker with 1 and with 4 probes vs a `tracing` event with 1
//! and with 4 layers doing the same work (count the hit, or add up the `len`
//! argument).
//!
//! A tracing subscriber is global, so each table runs in a process of its
//! own (this binary again, with `MARKERS_BENCH_TABLE` set) whose subscriber
//! has exactly the layers that table compares: no layer sees an event of
//! another table or chooses its work per event.
//!
//! `cargo bench -p benches --bench markers`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use benches::{Case, compare};
use markers::Probe;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

mod off {
    pub(crate) fn marker(len: usize) {
        markers::marker!(bench_off, len: usize, proto: u8 = 6);
    }
    pub(crate) fn pr_debug(len: usize) {
        dyndbg::pr_debug!("net_rx len={len} proto={}", 6);
    }
    pub(crate) fn tracing(len: usize) {
        tracing::debug!(target: "bench_off", len, proto = 6u8, "net_rx");
    }
}

mod on {
    pub(crate) fn marker_1(len: usize) {
        markers::marker!(bench_on_1, len: usize, proto: u8 = 6);
    }
    pub(crate) fn marker_4(len: usize) {
        markers::marker!(bench_on_4, len: usize, proto: u8 = 6);
    }
    pub(crate) fn marker_typed(len: usize) {
        markers::marker!(bench_on_typed, len: usize, proto: u8 = 6);
    }
    pub(crate) fn tracing_1(len: usize) {
        tracing::info!(target: "bench_on_1", len, proto = 6u8, "net_rx");
    }
    pub(crate) fn tracing_4(len: usize) {
        tracing::info!(target: "bench_on_4", len, proto = 6u8, "net_rx");
    }
    pub(crate) fn tracing_typed(len: usize) {
        tracing::info!(target: "bench_on_typed", len, proto = 6u8, "net_rx");
    }
}

static HITS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// A layer counting each event, as a `Counter` probe counts each hit.
struct Count;

impl<S: tracing::Subscriber> Layer<S> for Count {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        HITS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A layer adding up each event's `len` field, as the typed probe does.
struct SumLen;

struct Len(u64);

impl tracing::field::Visit for Len {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "len" {
            self.0 = value;
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> Layer<S> for SumLen {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut len = Len(0);
        event.record(&mut len);
        BYTES.fetch_add(len.0, Ordering::Relaxed);
    }
}

/// The environment variable naming the table a child process runs.
const TABLE_VAR: &str = "MARKERS_BENCH_TABLE";
const TABLES: [&str; 4] = ["off", "one", "four", "typed"];

/// Installs the global subscriber of one table: tracing's usual
/// `EnvFilter` (info) over a registry with that table's layers.
fn subscribe<L>(layers: L)
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    tracing_subscriber::layer::Layered<L, tracing_subscriber::Registry>:
        tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::registry()
        .with(layers)
        .with(tracing_subscriber::EnvFilter::new("info"))
        .init();
}

fn main() {
    let Ok(table) = std::env::var(TABLE_VAR) else {
        // The parent: each table in a process of its own, one after the other.
        let exe = std::env::current_exe().expect("the bench binary");
        for table in TABLES {
            let status = std::process::Command::new(&exe)
                .env(TABLE_VAR, table)
                .status()
                .expect("run a table");
            assert!(status.success(), "table {table} failed: {status}");
        }
        return;
    };
    dyndbg::set_sink(dyndbg::Discard);
    match table.as_str() {
        "off" => {
            subscribe(Count);
            compare(
                "disarmed and disabled sites",
                &mut [
                    Case::new("marker! disarmed", |n| {
                        (0..n).for_each(|i| off::marker(black_box(i as usize)));
                    }),
                    Case::new("pr_debug! off", |n| {
                        (0..n).for_each(|i| off::pr_debug(black_box(i as usize)));
                    }),
                    Case::new("tracing::debug! filtered (EnvFilter info)", |n| {
                        (0..n).for_each(|i| off::tracing(black_box(i as usize)));
                    }),
                ],
            );
        }
        "one" => {
            subscribe(Count);
            markers::connect("bench_on_1", markers::Counter::new()).unwrap();
            compare(
                "one probe vs one layer, counting",
                &mut [
                    Case::new("tracing::info! + 1 counting layer", |n| {
                        (0..n).for_each(|i| on::tracing_1(black_box(i as usize)));
                    }),
                    Case::new("marker! + 1 Counter probe", |n| {
                        (0..n).for_each(|i| on::marker_1(black_box(i as usize)));
                    }),
                ],
            );
        }
        "four" => {
            subscribe(Count.and_then(Count).and_then(Count).and_then(Count));
            for _ in 0..4 {
                markers::connect("bench_on_4", markers::Counter::new()).unwrap();
            }
            compare(
                "four probes vs four layers, counting",
                &mut [
                    Case::new("tracing::info! + 4 counting layers", |n| {
                        (0..n).for_each(|i| on::tracing_4(black_box(i as usize)));
                    }),
                    Case::new("marker! + 4 Counter probes", |n| {
                        (0..n).for_each(|i| on::marker_4(black_box(i as usize)));
                    }),
                ],
            );
        }
        "typed" => {
            subscribe(SumLen);
            markers::connect(
                "bench_on_typed",
                Probe::typed(|&(len, _): &(usize, u8)| {
                    BYTES.fetch_add(len as u64, Ordering::Relaxed);
                }),
            )
            .unwrap();
            compare(
                "one probe vs one layer, reading an argument",
                &mut [
                    Case::new("tracing::info! + layer summing len field", |n| {
                        (0..n).for_each(|i| on::tracing_typed(black_box(i as usize)));
                    }),
                    Case::new("marker! + 1 typed probe summing len", |n| {
                        (0..n).for_each(|i| on::marker_typed(black_box(i as usize)));
                    }),
                ],
            );
        }
        other => panic!("{TABLE_VAR}={other}: not one of {TABLES:?}"),
    }
    black_box((HITS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed)));
}
