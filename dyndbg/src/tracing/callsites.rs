//! [`callsites`]: the `tracing` callsites seen so far, as
//! [`crate::callsites`] gives pr_debug!'s.

use tracing_core::{Level, Metadata};

use crate::flags::Flags;
use crate::foreign::{self, tracing_sites::TracingSite};

/// One `tracing` event callsite that has run (and so registered) while a
/// [`QueryFilter`](super::QueryFilter) was in a dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct TracingCallsite {
    site: &'static TracingSite,
}

impl TracingCallsite {
    /// The callsite's `tracing` metadata.
    pub fn metadata(&self) -> &'static Metadata<'static> {
        self.site.metadata()
    }

    /// `file!()` where the event is, if tracing knows it.
    pub fn file(&self) -> Option<&'static str> {
        self.metadata().file()
    }

    /// Its line, if tracing knows it.
    pub fn line(&self) -> Option<u32> {
        self.metadata().line()
    }

    /// Its module path, if tracing knows it.
    pub fn module(&self) -> Option<&'static str> {
        self.metadata().module_path()
    }

    /// Its target: what `class` matches.
    pub fn target(&self) -> &'static str {
        self.metadata().target()
    }

    /// Its level.
    pub fn level(&self) -> Level {
        *self.metadata().level()
    }

    /// The flags the queries gave it (`p`: its events pass), `format`
    /// queries aside.
    pub fn flags(&self) -> Flags {
        self.site.flags()
    }

    /// Whether a `format` query decides its events one by one, on their
    /// message.
    pub fn decided_per_message(&self) -> bool {
        self.site.by_message()
    }
}

/// The `tracing` event callsites seen so far, in the order they
/// registered. A callsite that has not run yet is not among them (tracing
/// registers a callsite at its first run); queries applied before then
/// take effect when it registers.
pub fn callsites() -> impl ExactSizeIterator<Item = TracingCallsite> {
    let sites: Vec<TracingCallsite> = foreign::lock()
        .tracing
        .sites()
        .iter()
        .map(|&site| TracingCallsite { site })
        .collect();
    sites.into_iter()
}
