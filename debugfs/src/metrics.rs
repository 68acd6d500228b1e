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

/// The content type of [`encode_text_now`]: Prometheus's text format.
pub(crate) const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics now in Prometheus's text format (0.0.4), for clients that
/// do not ask for OpenMetrics: `curl`, `promtool check metrics`, older
/// scrapers. The same figures as [`encode_now`].
pub(crate) fn encode_text_now() -> String {
    openmetrics_to_text(&encode_now())
}

/// Turns `prometheus-client`'s OpenMetrics text into Prometheus's text
/// format: a counter family `x` is named `x_total` in its `# HELP` and
/// `# TYPE` lines (as its samples are; the text format has no suffix
/// rule), `unknown` is `untyped`, `# UNIT`, `_created` samples and
/// `# EOF` are dropped.
fn openmetrics_to_text(om: &str) -> String {
    let counters: Vec<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let tail = if prefix == "# TYPE " && tail == "unknown" {
                "untyped"
            } else {
                tail
            };
            out.push_str(prefix);
            out.push_str(name);
            if counters.contains(&name) {
                out.push_str("_total");
            }
            out.push(' ');
            out.push_str(tail);
        } else if line.starts_with('#')
            || counters.iter().any(|c| {
                line.strip_prefix(c)
                    .and_then(|r| r.strip_prefix("_created"))
                    .is_some_and(|r| r.starts_with(['{', ' ']))
            })
        {
            continue;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::openmetrics_to_text;

    #[test]
    fn openmetrics_counters_become_text_format_families() {
        let om = "# HELP a_hits hits.\n# TYPE a_hits counter\na_hits_total{m=\"x\"} 3\na_hits_created 1.0\n# HELP g a gauge.\n# TYPE g gauge\ng 1\n# TYPE u unknown\nu 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP a_hits_total hits.\n# TYPE a_hits_total counter\na_hits_total{m=\"x\"} 3\n# HELP g a gauge.\n# TYPE g gauge\ng 1\n# TYPE u untyped\nu 2\n"
        );
    }
}
