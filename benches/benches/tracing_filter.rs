//! `dyndbg::tracing::QueryFilter` against `tracing_subscriber::EnvFilter`,
//! in one run, each a per-layer filter on the same fmt layer writing to
//! `io::sink`: a disabled `tracing::debug!` (interest `never` under both)
//! and an enabled one (interest `always`, formatted and discarded); and an
//! enabled `pr_debug!` that becomes a `tracing` event (the `tracing`
//! feature, default sink) into the same fmt layer, against
//! `tracing::debug!` itself.
//!
//! `cargo bench -p benches --bench tracing_filter`

#![allow(clippy::inline_always)]

use std::cell::RefCell;
use std::hint::black_box;

use benches::{Case, compare};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

mod off {
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn event(x: u64) {
        tracing::debug!("request {x} took {}us", x * 3);
    }
}

mod on {
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn event(x: u64) {
        tracing::debug!("request {x} took {}us", x * 3);
    }

    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn pr_debug(x: u64) {
        dyndbg::pr_debug!("request {x} took {}us", x * 3);
    }
}

fn fmt_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_ansi(false)
}

/// A case run with `dispatch` as the thread's default.
fn case<'a>(name: &str, dispatch: &'a Dispatch, run: fn(u64)) -> Case<'a> {
    let guard = RefCell::new(None);
    let guard: &'a RefCell<_> = Box::leak(Box::new(guard));
    Case::new(name, move |n| (0..n).for_each(|i| run(black_box(i)))).around(
        move || *guard.borrow_mut() = Some(tracing::dispatcher::set_default(dispatch)),
        move || *guard.borrow_mut() = None,
    )
}

fn main() {
    // Both subscribers live for the whole run: a callsite's interest is
    // the union of every live dispatcher's, so both say the same.
    let env = Dispatch::new(tracing_subscriber::registry().with(fmt_layer().with_filter(
        tracing_subscriber::EnvFilter::new("info,tracing_filter::on=debug"),
    )));
    let query = Dispatch::new(
        tracing_subscriber::registry()
            .with(fmt_layer().with_filter(dyndbg::tracing::QueryFilter::new())),
    );
    dyndbg::control("module tracing_filter::on +p").unwrap();

    compare(
        "disabled tracing::debug!",
        &mut [
            case("EnvFilter (info)", &env, off::event),
            case("dyndbg QueryFilter (off)", &query, off::event),
        ],
    );
    compare(
        "enabled tracing::debug!, fmt -> io::sink",
        &mut [
            case("EnvFilter (module=debug)", &env, on::event),
            case("dyndbg QueryFilter (+p)", &query, on::event),
        ],
    );
    compare(
        "enabled line into the fmt layer (QueryFilter) -> io::sink",
        &mut [
            case("tracing::debug!", &query, on::event),
            case("pr_debug! +p as a tracing event", &query, on::pr_debug),
        ],
    );
}
