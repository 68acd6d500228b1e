//! `tracing` callsites switched by the query language, and pr_debug! lines
//! as `tracing` events (the `tracing` feature).
//!
//! # Switching existing `tracing` events
//!
//! Put a [`QueryFilter`] on a layer (or in the subscriber as a layer of its
//! own): from then on the same queries that switch pr_debug! callsites
//! switch `tracing` events one by one, at runtime, with no restart and no
//! change to the code that emits them.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer().with_filter(dyndbg::tracing::QueryFilter::new()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!("off: no query switched this callsite on");
//!     dyndbg::control("file *.rs line 1-200 +p").unwrap();
//!     tracing::info!("on");
//!     assert!(dyndbg::listing().contains("[tracing]"));
//! });
//! ```
//!
//! | keyword | on a `tracing` event |
//! |---|---|
//! | `file` | the event's `file!()` (full path, basename or path in its crate, as for pr_debug!) |
//! | `line` | its `line!()` |
//! | `module` | its module path |
//! | `class NAME` | its target, exactly; a query without `class` selects events whatever their target |
//! | `format TEXT` | its `message` field as formatted, decided per event: for a literal message (`info!("ready")`) that is the literal; events without a message never match |
//! | `func` | never selects a `tracing` event: tracing's metadata has no function (spans are not functions either) |
//!
//! Flags: `p` lets the event through; `m f s l t` are kept and listed but
//! change nothing (the layer formats the event its own way). Every
//! difference from pr_debug!'s semantics is a row of
//! [`docs::kernel_differences`](crate::docs::kernel_differences), "tracing
//! and log callsites".
//!
//! `tracing` registers a callsite only when it first runs, so a query
//! cannot see callsites that have not run yet. dyndbg keeps every query
//! applied (`DYNDBG` and each [`control`](fn@crate::control) batch, in
//! order, until [`reset`](crate::reset)) and replays them on each callsite
//! as it registers: `control("file net.rs +p")` before the first request
//! switches on the events of `net.rs` when they first run. The
//! [`listing`](crate::listing) shows the callsites seen so far, and
//! [`callsites`] gives them one by one:
//!
//! ```text
//! # tracing: 2 callsites seen (a tracing callsite is listed from its first run)
//! src/net.rs:40 [app::net] =p "" class:app::net [tracing]
//! src/db.rs:12 [app::db] =_ "" class:app::db [tracing]
//! ```
//!
//! tracing-core does not serialise its rebuilds of cached interest: a
//! dispatcher created on one thread at the very moment another thread
//! applies a query can leave a callsite with the interest from before the
//! query, until the next change. dyndbg runs its own rebuilds one at a
//! time; a program that sets its subscriber once, at startup, never sees
//! this.
//!
//! Every query is kept, for the callsites still to come, until
//! [`reset`](crate::reset): a program that sends queries in a loop grows
//! the list by one entry per query (a few dozen bytes each), and each
//! callsite's first run replays them all.
//!
//! # Costs
//!
//! `cargo bench -p benches --bench tracing_filter`, instructions under
//! Callgrind (2026-12-04, 2-core VM), `QueryFilter` against `EnvFilter`,
//! each the per-layer filter of the same fmt layer writing to `io::sink`,
//! in one run:
//!
//! | `tracing::debug!` | `EnvFilter` | `QueryFilter` | ratio |
//! |---|---|---|---|
//! | disabled (interest `never`) | 26 | 26 | 1.00x |
//! | enabled (interest `always`), formatted and discarded | 5,693 | 5,718 | 1.00x |
//!
//! An enabled pr_debug! line as a `tracing` event into the same fmt layer
//! costs 6,667 instructions, 1.17x a `tracing::debug!` of the same
//! message (5,700): it carries one more field to format (`function`).
//!
//! A disabled callsite costs what it costs under `EnvFilter`: the interest
//! `tracing` caches in the callsite, so no filter runs. (In a program
//! whose only filter is an `EnvFilter`, its level hint can stop a
//! `debug!` even before the interest check; `QueryFilter` gives no level
//! hint, since any event may be switched on at runtime.)
//!
//! # pr_debug! lines into `tracing`
//!
//! With the feature, an enabled pr_debug! line becomes a `tracing` event
//! (level `DEBUG`, name `dyndbg::pr_debug`, target and module path = the
//! module, file and line set, fields `message`, `function` and `class`)
//! whenever a `tracing` dispatcher is in force on the thread (a global
//! default, or a scoped one) and dyndbg's sink is the default one (no
//! [`set_sink`](crate::set_sink) call): it then flows into the layers the
//! program already has (fmt, OpenTelemetry appenders), and is **not**
//! written to stderr (nor to `log` with the `log` feature). Without a
//! dispatcher, or with a sink set, the line goes to the sink as before.
//! [`QueryFilter`] leaves these events alone: pr_debug!'s own flags
//! already decided.

mod callsites;
mod event;
mod filter;

pub use callsites::{TracingCallsite, callsites};
pub(crate) use event::emit;
pub use filter::QueryFilter;
