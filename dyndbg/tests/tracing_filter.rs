//! `dyndbg::tracing::QueryFilter`: the query language on `tracing` events,
//! the replay of queries at registration, the listing, and the rows of
//! `docs::kernel_differences` ("tracing and log callsites") named
//! `row_tracing_*`.
//!
//! Queries are process-wide and tests run in parallel: every test selects
//! only the events of its own module (`module tracing_filter::NAME`).

// The serial guard is the first statement of every test, before its items.
#![allow(clippy::items_after_statements)]

#[path = "support/tracing_collect.rs"]
mod collect;

use collect::{Collect, Seen};
use dyndbg::tracing::QueryFilter;
use tracing_subscriber::prelude::*;

/// Held by every test: tracing-core does not serialise the rebuilds of
/// interest that a new dispatcher (each test makes several) and a query
/// start, so two tests at once could leave a callsite's older interest
/// stored last. One test at a time, as a program that sets its
/// subscriber once.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` with a subscriber whose only layer collects the events that
/// `QueryFilter` lets through; returns them.
fn filtered(f: impl FnOnce()) -> Vec<Seen> {
    let collect = Collect::default();
    let subscriber =
        tracing_subscriber::registry().with(collect.clone().with_filter(QueryFilter::new()));
    tracing::subscriber::with_default(subscriber, f);
    collect.take()
}

fn messages(seen: &[Seen]) -> Vec<&str> {
    seen.iter().map(Seen::message).collect()
}

mod selectors {
    pub(crate) fn run() -> u32 {
        tracing::info!("one");
        let line = line!() + 1;
        tracing::debug!("two");
        tracing::warn!(target: "wire", "three");
        line
    }
}

#[test]
fn module_file_and_line_select_events() {
    let _serial = serial();
    let seen = filtered(|| {
        selectors::run();
    });
    assert!(seen.is_empty(), "off before any query: {seen:?}");

    dyndbg::control("module tracing_filter::selectors +p").unwrap();
    let seen = filtered(|| {
        selectors::run();
    });
    assert_eq!(messages(&seen), ["one", "two", "three"]);
    assert!(seen.iter().all(|s| s.basename() == "tracing_filter.rs"));

    let mut line = 0;
    dyndbg::control("module tracing_filter::selectors -p").unwrap();
    let _ = filtered(|| line = selectors::run());
    let query = format!("file tracing_filter.rs line {line} +p");
    assert!(dyndbg::control(&query).unwrap() >= 1);
    let seen = filtered(|| {
        selectors::run();
    });
    assert_eq!(messages(&seen), ["two"]);
    assert_eq!(seen[0].line, line);
    dyndbg::control(&format!("file tracing_filter.rs line {line} -p")).unwrap();
}

mod replay {
    pub(crate) fn run() {
        tracing::info!("late");
    }
}

/// tracing registers a callsite when it first runs: a query applied
/// before that takes effect when it registers, and the listing shows the
/// callsite from then on.
#[test]
fn a_query_before_registration_applies_when_the_callsite_registers() {
    let _serial = serial();
    assert!(!dyndbg::listing().contains("[tracing_filter::replay]"));
    // Matches no callsite seen yet: 0, and kept.
    assert_eq!(
        dyndbg::control("module tracing_filter::replay +p").unwrap(),
        0
    );
    let seen = filtered(replay::run);
    assert_eq!(messages(&seen), ["late"]);
    let listing = dyndbg::listing();
    let line = listing
        .lines()
        .find(|l| l.contains("[tracing_filter::replay]"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(
        line.ends_with(" =p \"\" class:tracing_filter::replay [tracing]"),
        "{line}"
    );
    assert!(
        line.starts_with("dyndbg/tests/tracing_filter.rs:") || line.contains("tracing_filter.rs:"),
        "{line}"
    );
    assert!(listing.contains("# tracing: "), "{listing}");
    let seen: Vec<_> = dyndbg::tracing::callsites()
        .filter(|cs| cs.module() == Some("tracing_filter::replay"))
        .collect();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].flags(), dyndbg::Flags::PRINT);
    assert_eq!(seen[0].target(), "tracing_filter::replay");
    assert_eq!(seen[0].level(), tracing::Level::INFO);
    assert!(
        seen[0]
            .file()
            .is_some_and(|f| f.ends_with("tracing_filter.rs"))
    );
    // The process's debugfs control file reads the same listing.
    assert!(dyndbg::debugfs::read_control().contains(line), "{line}");
    // Seen now: the next query counts it.
    assert_eq!(
        dyndbg::control("module tracing_filter::replay -p").unwrap(),
        1
    );
    assert!(filtered(replay::run).is_empty());
}

mod targets {
    pub(crate) fn run() {
        tracing::info!(target: "wire", "on the wire");
        tracing::info!("plain");
    }
}

/// `class` is the event's target, exactly.
#[test]
fn row_tracing_class_is_the_target() {
    let _serial = serial();
    dyndbg::control("module tracing_filter::targets class wire +p").unwrap();
    assert_eq!(messages(&filtered(targets::run)), ["on the wire"]);
    dyndbg::control("module tracing_filter::targets class wir* -p").unwrap();
    assert_eq!(
        messages(&filtered(targets::run)),
        ["on the wire"],
        "no wildcards in class"
    );
    dyndbg::control("module tracing_filter::targets class wire -p").unwrap();
    assert!(filtered(targets::run).is_empty());
}

mod anytarget {
    pub(crate) fn run() {
        tracing::info!(target: "wire", "on the wire");
        tracing::info!("plain");
    }
}

/// A query without `class` selects a tracing event whatever its target
/// (every event has one; a pr_debug! callsite with a class would be left
/// alone).
#[test]
fn row_tracing_no_class_selects_any_target() {
    let _serial = serial();
    dyndbg::control("module tracing_filter::anytarget +p").unwrap();
    assert_eq!(
        messages(&filtered(anytarget::run)),
        ["on the wire", "plain"]
    );
}

mod funcs {
    pub(crate) fn run() {
        tracing::info!("in run");
    }
}

/// `func` never selects a tracing event: its metadata has no function.
#[test]
fn row_tracing_func_never_selects() {
    let _serial = serial();
    assert_eq!(
        dyndbg::control("module tracing_filter::funcs func run +p").unwrap(),
        0
    );
    assert_eq!(
        dyndbg::control("module tracing_filter::funcs func * +p").unwrap(),
        0
    );
    assert!(filtered(funcs::run).is_empty());
}

mod formats {
    pub(crate) fn run(n: u32) {
        tracing::info!("ready");
        tracing::info!("count {n}");
        tracing::info!(n, "fields {}", n + 1);
        tracing::info!(n);
    }
}

/// `format` matches the message as formatted, per event: for a literal
/// message the literal; an event without a message never matches.
#[test]
fn row_tracing_format_is_the_formatted_message() {
    let _serial = serial();
    dyndbg::control("module tracing_filter::formats format ready +p").unwrap();
    assert_eq!(messages(&filtered(|| formats::run(3))), ["ready"]);
    dyndbg::control("module tracing_filter::formats format 'count 4' +p").unwrap();
    assert_eq!(messages(&filtered(|| formats::run(3))), ["ready"]);
    assert_eq!(
        messages(&filtered(|| formats::run(4))),
        ["ready", "count 4"]
    );
    // The format string is not seen: `{n}` matches nothing.
    dyndbg::control("module tracing_filter::formats format {n} +p").unwrap();
    assert_eq!(messages(&filtered(|| formats::run(5))), ["ready"]);
    dyndbg::control("module tracing_filter::formats format ^fields +p").unwrap();
    assert_eq!(
        messages(&filtered(|| formats::run(5))),
        ["ready", "fields 6"]
    );
    // An empty format matches every message, but not an event without one.
    dyndbg::control("module tracing_filter::formats format '' +p").unwrap();
    let seen = filtered(|| formats::run(5));
    assert_eq!(messages(&seen), ["ready", "count 5", "fields 6"]);
    // The listing marks callsites decided per message.
    assert!(
        dyndbg::listing()
            .lines()
            .any(|l| l.contains("[tracing_filter::formats]") && l.ends_with(" format?")),
        "{}",
        dyndbg::listing()
    );
}

mod flags {
    pub(crate) fn run() {
        tracing::info!("flagged");
    }
}

/// Flags other than `p` are kept and listed; they change nothing in what
/// the layer prints.
#[test]
fn row_tracing_flags_other_than_p_are_listed_only() {
    let _serial = serial();
    let _ = filtered(flags::run);
    dyndbg::control("module tracing_filter::flags +pmflt").unwrap();
    let seen = filtered(flags::run);
    assert_eq!(messages(&seen), ["flagged"]);
    let listing = dyndbg::listing();
    assert!(
        listing
            .lines()
            .any(|l| l.contains("[tracing_filter::flags] =pmflt \"\"")),
        "{listing}"
    );
    dyndbg::control("module tracing_filter::flags -p").unwrap();
    assert!(filtered(flags::run).is_empty());
    assert!(dyndbg::listing().contains("[tracing_filter::flags] =mflt"));
}

mod spans {
    pub(crate) fn run() {
        let span = tracing::info_span!("request", id = 7);
        let _enter = span.enter();
        tracing::info!("inside");
    }
}

/// Spans are always enabled and never listed: a switched-on event keeps
/// its span context.
#[test]
fn row_tracing_spans_always_enabled() {
    let _serial = serial();
    #[derive(Clone, Default)]
    struct Spans(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl<S> tracing_subscriber::Layer<S> for Spans
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_event(
            &self,
            _event: &tracing::Event<'_>,
            cx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if let Some(span) = cx.lookup_current() {
                self.0.lock().unwrap().push(span.name().to_owned());
            }
        }
    }
    dyndbg::control("module tracing_filter::spans +p").unwrap();
    let spans = Spans::default();
    let subscriber =
        tracing_subscriber::registry().with(spans.clone().with_filter(QueryFilter::new()));
    tracing::subscriber::with_default(subscriber, spans::run);
    assert_eq!(*spans.0.lock().unwrap(), ["request"]);
    assert!(!dyndbg::listing().contains("request"));
}

mod global {
    pub(crate) fn run() {
        tracing::info!("global");
    }
}

/// `QueryFilter` as a `Layer` of its own filters every layer after it.
#[test]
fn works_as_a_global_filter_layer() {
    let _serial = serial();
    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry()
        .with(QueryFilter::new())
        .with(collect.clone());
    tracing::subscriber::with_default(subscriber, global::run);
    assert!(collect.take().is_empty());
    dyndbg::control("module tracing_filter::global +p").unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(QueryFilter::new())
        .with(collect.clone());
    tracing::subscriber::with_default(subscriber, global::run);
    assert_eq!(messages(&collect.take()), ["global"]);
}

mod combined {
    pub(crate) fn run() {
        tracing::warn!("warned");
        tracing::debug!("detail");
    }
}

/// With `FilterExt::or`, a level filter keeps its events and the queries
/// add to them.
#[test]
fn combines_with_a_level_filter() {
    let _serial = serial();
    use tracing_subscriber::filter::{FilterExt, LevelFilter};
    let run = || {
        let collect = Collect::default();
        let filter = LevelFilter::WARN.or(QueryFilter::new());
        let subscriber = tracing_subscriber::registry().with(collect.clone().with_filter(filter));
        tracing::subscriber::with_default(subscriber, combined::run);
        collect.take()
    };
    assert_eq!(messages(&run()), ["warned"]);
    dyndbg::control("module tracing_filter::combined +p").unwrap();
    assert_eq!(messages(&run()), ["warned", "detail"]);
}

/// A bad batch changes nothing for tracing callsites either, and keeps
/// nothing to replay.
#[test]
fn a_bad_batch_keeps_nothing() {
    let _serial = serial();
    mod bad {
        pub(crate) fn run() {
            tracing::info!("bad");
        }
    }
    assert!(dyndbg::control("module tracing_filter::* +p; func x +q").is_err());
    assert!(filtered(bad::run).is_empty());
}

/// Every row of the "tracing and log callsites" table of
/// `docs::kernel_differences` names tests that exist.
#[test]
fn every_tracing_and_log_row_names_a_test() {
    let _serial = serial();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("src/docs/kernel_differences.rs")).unwrap();
    let section = doc
        .split("## `tracing` and `log` callsites")
        .nth(1)
        .expect("the section")
        .split("\n//! Not carried over")
        .next()
        .unwrap();
    let tests: String = ["tests/tracing_filter.rs", "tests/log_filter.rs"]
        .iter()
        .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
        .collect();
    let mut names = 0;
    for row in section.lines().filter(|l| l.starts_with("//! | `")) {
        let first_cell = row.split('|').nth(1).unwrap();
        for name in first_cell.split('`').skip(1).step_by(2) {
            assert!(tests.contains(&format!("fn {name}(")), "no test {name}");
            names += 1;
        }
    }
    assert!(names >= 9, "{names} row tests found");
}
