//! Marker sites against the peers a user would pick instead, in one run and
//! one table: a disarmed `marker!` vs a disabled `pr_debug!` vs a
//! filtered-out `tracing` event; then a marker with 1 and with 4 probes vs a
//! `tracing` event whose one layer does the same work (count the hit 1 or 4
//! times, or add up the `len` argument).
//!
//! `cargo bench -p benches --bench markers`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use benches::{Case, compare};
use markers::Probe;
use tracing_subscriber::layer::{Context, SubscriberExt};
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

/// The tracing side of the work: count each event once (target
/// `bench_on_1`) or four times (`bench_on_4`), or add up its `len` field
/// (`bench_on_typed`), like the probes on the markers.
struct Work;

struct Len(u64);

impl tracing::field::Visit for Len {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "len" {
            self.0 = value;
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Work {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        match event.metadata().target() {
            "bench_on_1" => {
                HITS.fetch_add(1, Ordering::Relaxed);
            }
            "bench_on_4" => {
                for _ in 0..4 {
                    HITS.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                let mut len = Len(0);
                event.record(&mut len);
                BYTES.fetch_add(len.0, Ordering::Relaxed);
            }
        }
    }
}

fn main() {
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,bench_off=info"))
        .with(Work)
        .init();
    dyndbg::set_sink(dyndbg::Discard);

    markers::connect("bench_on_1", markers::Counter::new()).unwrap();
    for _ in 0..4 {
        markers::connect("bench_on_4", markers::Counter::new()).unwrap();
    }
    markers::connect(
        "bench_on_typed",
        Probe::typed(|&(len, _): &(usize, u8)| {
            BYTES.fetch_add(len as u64, Ordering::Relaxed);
        }),
    )
    .unwrap();

    compare(
        "markers vs pr_debug! vs tracing",
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
            Case::new("marker! + 1 Counter probe", |n| {
                (0..n).for_each(|i| on::marker_1(black_box(i as usize)));
            }),
            Case::new("tracing::info! + layer counting 1x", |n| {
                (0..n).for_each(|i| on::tracing_1(black_box(i as usize)));
            }),
            Case::new("marker! + 4 Counter probes", |n| {
                (0..n).for_each(|i| on::marker_4(black_box(i as usize)));
            }),
            Case::new("tracing::info! + layer counting 4x", |n| {
                (0..n).for_each(|i| on::tracing_4(black_box(i as usize)));
            }),
            Case::new("marker! + 1 typed probe summing len", |n| {
                (0..n).for_each(|i| on::marker_typed(black_box(i as usize)));
            }),
            Case::new("tracing::info! + layer summing len field", |n| {
                (0..n).for_each(|i| on::tracing_typed(black_box(i as usize)));
            }),
        ],
    );
    black_box((HITS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed)));
}
