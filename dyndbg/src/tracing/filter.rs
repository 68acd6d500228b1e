//! [`QueryFilter`]: the query language on `tracing` callsites, as a
//! per-layer `Filter` and as a `Layer` (a global filter).

use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Interest, Metadata, Subscriber};
use tracing_subscriber::layer::{self, Context, Layer};

use crate::flags::Flags;
use crate::foreign::tracing_sites::{self, PR_DEBUG_EVENT, TracingSite};

/// A `tracing-subscriber` filter that lets through exactly the `tracing`
/// events whose callsites the queries switched on (`+p`), by `file`,
/// `line`, `module` (module path), `class` (the target) and `format` (the
/// message). Events of callsites no query switched on are filtered out,
/// as pr_debug! callsites are off until a query says `+p`.
///
/// The same [`control`](fn@crate::control) batches, `DYNDBG` and
/// [`reset`](crate::reset) switch these callsites and pr_debug! ones; the
/// [`listing`](crate::listing) shows the `tracing` callsites seen so far,
/// marked `[tracing]`.
///
/// As a per-layer filter (the fmt layer shows only what the queries
/// switched on; other layers see everything):
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(
///     tracing_subscriber::fmt::layer().with_filter(dyndbg::tracing::QueryFilter::new()),
/// );
/// tracing::subscriber::with_default(subscriber, || {
///     dyndbg::control("module rust_out* +p").unwrap();
///     tracing::debug!("shown");
/// });
/// ```
///
/// As a global filter, a [`Layer`] of its own:
/// `tracing_subscriber::registry().with(QueryFilter::new()).with(fmt::layer())`.
///
/// Spans are always enabled (not listed, not switched): an event that is
/// switched on keeps its span context. To keep a level-based filter for
/// everything else, combine it with `FilterExt::or`:
/// `EnvFilter::new("info").or(QueryFilter::new())` lets through `info` and
/// above plus what the queries switched on. (`or` asks both filters'
/// `event_enabled` and passes if either does: a callsite that a `format`
/// query decides per message then passes every message.)
///
/// Each callsite's decision is cached by `tracing` ([`Interest::always`]
/// or [`Interest::never`], as `EnvFilter` does); every change by a query
/// rebuilds that cache (`tracing_core::callsite::rebuild_interest_cache`).
/// A callsite that some `format` query could select is decided per event
/// on its message ([`Interest::sometimes`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryFilter {
    _private: (),
}

impl QueryFilter {
    /// The filter. Runs dyndbg's start-up work (`DYNDBG`) now, so the
    /// variable's queries apply to the first `tracing` callsite that
    /// registers.
    pub fn new() -> QueryFilter {
        crate::control::init();
        QueryFilter { _private: () }
    }

    /// Whether the filter leaves this callsite alone: spans, and the events
    /// pr_debug! lines become (decided by pr_debug!'s own flags).
    fn passes_through(meta: &Metadata<'_>) -> bool {
        !meta.is_event() || meta.name() == PR_DEBUG_EVENT
    }

    fn interest(meta: &'static Metadata<'static>) -> Interest {
        if Self::passes_through(meta) {
            return Interest::always();
        }
        tracing_sites::register(meta).interest()
    }

    fn enabled(meta: &Metadata<'_>) -> bool {
        if Self::passes_through(meta) {
            return true;
        }
        // Every callsite is registered with a dispatcher before it is asked
        // about; one that was not has no flags: off.
        tracing_sites::lookup(meta).is_some_and(TracingSite::may_pass)
    }

    fn event_enabled(event: &Event<'_>) -> bool {
        // The interest (or `enabled`) already decided every callsite that
        // is not decided per message.
        if !tracing_sites::any_by_message() {
            return true;
        }
        let meta = event.metadata();
        if Self::passes_through(meta) {
            return true;
        }
        let Some(site) = tracing_sites::lookup(meta) else {
            return false;
        };
        if !site.by_message() {
            return site.flags().contains(Flags::PRINT);
        }
        let mut message = Message(None);
        event.record(&mut message);
        tracing_sites::passes_with_message(site, message.0.as_deref())
    }
}

/// The `message` field of an event, formatted; `None` for an event
/// without one.
struct Message(Option<String>);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S> layer::Filter<S> for QueryFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        Self::enabled(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        Self::interest(meta)
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        Self::event_enabled(event)
    }
}

impl<S: Subscriber> Layer<S> for QueryFilter {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        Self::interest(meta)
    }

    fn enabled(&self, meta: &Metadata<'_>, _cx: Context<'_, S>) -> bool {
        Self::enabled(meta)
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: Context<'_, S>) -> bool {
        Self::event_enabled(event)
    }
}
