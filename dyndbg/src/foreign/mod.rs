//! Callsites that dyndbg does not own: `tracing`'s and `log`'s. How a query
//! selects one, the queries applied so far (replayed on a callsite seen
//! after them, since neither crate lists its callsites before they run),
//! and a generation bumped on every change, which decision caches compare.
//!
//! One lock ([`STATE`]) holds the log of queries and the table of `tracing`
//! callsites seen, so a callsite that registers while a batch applies sees
//! the batch either whole or not at all. The lock is never held while
//! calling into `tracing` (its registry calls back into the filter).

#[cfg(feature = "tracing")]
pub(crate) mod tracing_sites;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::flags::Flags;
use crate::query::{Query, SiteInfo};

/// What a query can see of a foreign callsite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    /// The module path (`tracing`'s `module_path`, `log`'s `module_path`);
    /// "" when the callsite has none.
    pub(crate) module: &'a str,
    /// `file!()`; "" when unknown.
    pub(crate) file: &'a str,
    /// `line!()`; 0 when unknown (no line range selects it).
    pub(crate) line: u32,
    /// The target: what `class` matches.
    pub(crate) target: &'a str,
    /// The message, when the decision may read it: `log`'s literal message
    /// (`Arguments::as_str`), `tracing`'s formatted `message` field. `None`:
    /// no `format` query selects the callsite.
    pub(crate) message: Option<&'a str>,
}

/// One query's view of a site: `class` is the target only for a query that
/// names a class (a query without `class` selects a foreign callsite
/// whatever its target, see `docs::kernel_differences`).
struct View<'a> {
    site: &'a Site<'a>,
    class: Option<&'a str>,
}

impl SiteInfo for View<'_> {
    fn module(&self) -> &str {
        self.site.module
    }
    fn file(&self) -> &str {
        self.site.file
    }
    fn function(&self) -> &'static str {
        ""
    }
    fn line(&self) -> u32 {
        self.site.line
    }
    fn format(&self) -> &str {
        self.site.message.unwrap_or("")
    }
    fn class(&self) -> Option<&str> {
        self.class
    }
}

/// Whether `query` selects the foreign callsite `site`: never when it names
/// `func` (no function is known), nor when it names `format` and the
/// message is not known; otherwise the query's own matching, with the
/// target as the class.
pub(crate) fn selects(query: &Query, site: &Site<'_>) -> bool {
    if query.names_function() || (query.names_format() && site.message.is_none()) {
        return false;
    }
    let view = View {
        site,
        class: query.class().map(|_| site.target),
    };
    query.matches(&view)
}

#[cfg(feature = "tracing")]
/// Whether some message would let `query` select `site`: the query names
/// `format` and everything else matches. Such a callsite is decided per
/// event (its message read), not once per callsite.
pub(crate) fn depends_on_message(query: &Query, site: &Site<'_>) -> bool {
    query.names_format()
        && selects(
            &query.without_format(),
            &Site {
                message: None,
                ..*site
            },
        )
}

/// The queries applied so far, and the `tracing` callsites seen.
pub(crate) struct State {
    /// Every query applied since the start (or the last `reset`), in order:
    /// `DYNDBG`'s, then each [`control`](fn@crate::control) batch's.
    queries: Vec<Query>,
    #[cfg(feature = "tracing")]
    pub(crate) tracing: tracing_sites::Table,
}

static STATE: Mutex<State> = Mutex::new(State {
    queries: Vec::new(),
    #[cfg(feature = "tracing")]
    tracing: tracing_sites::Table::new(),
});

/// Bumped after every change of the queries (a batch, a reset).
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The state. A panic while holding it leaves whole values (a query is
/// pushed whole, flags are stored atomically), so poisoning is ignored.
pub(crate) fn lock() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(feature = "log")]
/// The generation: it changes after every batch and reset, so a decision
/// cached under an older one is stale.
pub(crate) fn generation() -> u64 {
    // Acquire: pairs with the Release bump, so a reader that sees the new
    // generation also sees the queries it stands for (read under the lock).
    GENERATION.load(Ordering::Acquire)
}

fn bump() {
    // Release: publishes the change of the queries before the number.
    GENERATION.fetch_add(1, Ordering::Release);
}

impl State {
    /// The flags the queries so far give `site`, from none.
    pub(crate) fn flags(&self, site: &Site<'_>) -> Flags {
        self.queries
            .iter()
            .filter(|q| selects(q, site))
            .fold(Flags::NONE, |flags, q| q.apply(flags))
    }

    /// Whether some query so far reads the message of `site`.
    #[cfg(feature = "tracing")]
    pub(crate) fn depends_on_message(&self, site: &Site<'_>) -> bool {
        self.queries.iter().any(|q| depends_on_message(q, site))
    }

    /// Whether a `log` record passes: the queries so far give it `p`.
    #[cfg(feature = "log")]
    pub(crate) fn passes(&self, site: &Site<'_>) -> bool {
        self.flags(site).contains(Flags::PRINT)
    }
}

/// Applies a parsed batch to every foreign callsite known and keeps it for
/// the ones seen later; returns how many known callsites matched, summed
/// over the batch's queries (as for pr_debug! callsites).
pub(crate) fn apply(batch: &[Query]) -> usize {
    let mut state = lock();
    state.queries.extend_from_slice(batch);
    #[cfg(feature = "tracing")]
    let matched = {
        let State { queries, tracing } = &mut *state;
        tracing.apply(batch, queries)
    };
    #[cfg(not(feature = "tracing"))]
    let matched = 0;
    drop(state);
    bump();
    matched
}

/// Forgets every query: foreign callsites are off again.
pub(crate) fn reset() {
    let mut state = lock();
    state.queries.clear();
    #[cfg(feature = "tracing")]
    state.tracing.reset();
    drop(state);
    bump();
}

/// After a change, outside every dyndbg lock: `tracing` asks every filter
/// again for the interest of every callsite.
///
/// Rebuilds run one at a time: tracing-core does not serialise them, and
/// two at once can end with the older interest stored last.
pub(crate) fn after_change() {
    #[cfg(feature = "tracing")]
    {
        static REBUILD: Mutex<()> = Mutex::new(());
        let _one = REBUILD.lock().unwrap_or_else(PoisonError::into_inner);
        tracing_core::callsite::rebuild_interest_cache();
    }
}
