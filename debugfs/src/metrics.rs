//! `/metrics`: the Prometheus text, encoded by `prometheus-client` from
//! figures each crate's debugfs handler gives. A fresh registry per
//! scrape: nothing is kept between scrapes, nothing runs between them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The content type of [`encode`]'s text (OpenMetrics, which Prometheus
/// asks for first).
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How many owner stacks `/metrics` labels.
pub const TOP_OWNERS: usize = 10;

type Labels = Vec<(String, String)>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let g: Gauge = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    registry.register(name, help, g);
}

/// The metrics now, as OpenMetrics text:
///
/// - `dyndbg_callsites`, `dyndbg_callsites_enabled`: callsites compiled
///   in and those printing now (dyndbg does not count printed lines);
/// - `markers_probe_hits_total{marker}`: the counter probes connected
///   through the `markers` file;
/// - `allocowner_enabled`, `allocowner_heap_live_bytes`,
///   `allocowner_heap_live_allocations`: the live heap (the early
///   estimate in the bytes, allocowner's own left out);
/// - `allocowner_owner_live_bytes{owner}`,
///   `allocowner_owner_live_allocations{owner}`: the [`TOP_OWNERS`] owner
///   stacks with the most live bytes, by the short name of a frame;
/// - `allocowner_recording_hot_bytes`, `allocowner_recording_cold_bytes`:
///   of the last recording stopped through `damon/record` (absent before).
pub(crate) fn encode_now() -> String {
    let mut registry = Registry::default();
    let stats = dyndbg::stats();
    gauge(
        &mut registry,
        "dyndbg_callsites",
        "pr_debug! callsites compiled into the program",
        stats.callsites as u64,
    );
    gauge(
        &mut registry,
        "dyndbg_callsites_enabled",
        "callsites whose p flag is set (dyndbg does not count printed lines)",
        dyndbg::debugfs::enabled_callsites() as u64,
    );

    let hits = Family::<Labels, Counter>::default();
    for (marker, n) in markers::debugfs::counters() {
        hits.get_or_create(&vec![("marker".to_owned(), marker)])
            .inc_by(n);
    }
    registry.register(
        "markers_probe_hits",
        "hits counted by the counter probes connected through the markers file",
        hits,
    );

    let enabled = allocowner::is_enabled();
    gauge(
        &mut registry,
        "allocowner_enabled",
        "1 while allocowner records allocations",
        u64::from(enabled),
    );
    let (count, bytes) = allocowner::debugfs::heap_totals();
    gauge(
        &mut registry,
        "allocowner_heap_live_bytes",
        "live heap bytes of the program (early estimate included)",
        bytes,
    );
    gauge(
        &mut registry,
        "allocowner_heap_live_allocations",
        "live allocations of the program recorded by allocowner",
        count,
    );
    let owner_bytes = Family::<Labels, Gauge>::default();
    let owner_count = Family::<Labels, Gauge>::default();
    for line in allocowner::debugfs::top_owners(TOP_OWNERS) {
        let labels = vec![("owner".to_owned(), line.label)];
        owner_bytes
            .get_or_create(&labels)
            .set(i64::try_from(line.bytes).unwrap_or(i64::MAX));
        owner_count
            .get_or_create(&labels)
            .set(i64::try_from(line.count).unwrap_or(i64::MAX));
    }
    registry.register(
        "allocowner_owner_live_bytes",
        "live bytes of the biggest owner stacks, by a short frame name",
        owner_bytes,
    );
    registry.register(
        "allocowner_owner_live_allocations",
        "live allocations of the biggest owner stacks, by a short frame name",
        owner_count,
    );
    if let Some((hot, cold)) = allocowner::debugfs::last_recording_heat() {
        gauge(
            &mut registry,
            "allocowner_recording_hot_bytes",
            "bytes found accessed in the last recording (average per aggregation)",
            hot,
        );
        gauge(
            &mut registry,
            "allocowner_recording_cold_bytes",
            "bytes never found accessed in the last recording (average per aggregation)",
            cold,
        );
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}
