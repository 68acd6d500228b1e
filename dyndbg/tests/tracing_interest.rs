//! Interest caching kept: `QueryFilter` answers `always` or `never` per
//! callsite (as `EnvFilter` does), so tracing asks no filter per event,
//! and every `control` rebuilds the cached interest. One test in its own
//! binary: the interest is process-wide.

#[path = "support/tracing_collect.rs"]
mod collect;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use collect::Collect;
use dyndbg::tracing::QueryFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Counts how often the subscriber is asked whether a callsite is enabled:
/// once per registration and rebuild (the default `register_callsite` of
/// a layer asks), never per event of a callsite whose interest is cached.
#[derive(Clone, Default)]
struct CountEnabled(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountEnabled {
    fn enabled(&self, _meta: &tracing::Metadata<'_>, _cx: Context<'_, S>) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed);
        true
    }
}

fn event() {
    tracing::info!("cached");
}

#[test]
fn interest_is_cached_per_callsite_and_rebuilt_by_control() {
    let collect = Collect::default();
    let asked = CountEnabled::default();
    let subscriber = tracing_subscriber::registry()
        .with(QueryFilter::new())
        .with(asked.clone())
        .with(collect.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let asked_now = || asked.0.load(Ordering::Relaxed);
    event(); // registers
    let before = asked_now();
    for _ in 0..3 {
        event();
    }
    assert!(collect.take().is_empty());
    assert_eq!(asked_now(), before, "never: not asked per event");

    // The change rebuilds the interest: now always, still not asked.
    dyndbg::control("module tracing_interest +p").unwrap();
    let before = asked_now();
    for _ in 0..3 {
        event();
    }
    assert_eq!(collect.take().len(), 3);
    assert_eq!(asked_now(), before, "always: not asked per event");

    // And back to never: without the rebuild the cached `always` would
    // still let events through.
    dyndbg::control("module tracing_interest -p").unwrap();
    let before = asked_now();
    event();
    assert!(collect.take().is_empty());
    assert_eq!(asked_now(), before);

    // A `format` query makes the callsite depend on each message:
    // sometimes, asked per event.
    dyndbg::control("module tracing_interest format cach +p").unwrap();
    let before = asked_now();
    event();
    event();
    assert_eq!(collect.take().len(), 2);
    assert_eq!(asked_now(), before + 2, "sometimes: asked per event");

    // reset: every tracing callsite off, nothing kept to replay.
    dyndbg::reset();
    event();
    assert!(collect.take().is_empty());
}
