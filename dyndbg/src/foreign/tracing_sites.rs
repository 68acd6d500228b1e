//! The `tracing` callsites seen so far (tracing registers a callsite when
//! it first runs), each with the flags the queries gave it; and the lookup
//! by metadata address that a filter's `enabled` does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{PoisonError, RwLock};

use tracing_core::{Interest, Metadata};

use super::{Site, State};
use crate::flags::Flags;
use crate::query::Query;

/// The name of the tracing events that pr_debug! lines become (the
/// `tracing` feature): the filter leaves them to pr_debug!'s own flags.
pub(crate) const PR_DEBUG_EVENT: &str = "dyndbg::pr_debug";

/// Whether any callsite seen is decided per message: while none is, a
/// filter's `event_enabled` has nothing to add to `enabled` and the
/// interest, and answers without a lookup.
static ANY_BY_MESSAGE: AtomicBool = AtomicBool::new(false);

/// Whether some callsite seen is decided per message.
pub(crate) fn any_by_message() -> bool {
    // Relaxed: as a callsite's flags, a stale read only lets one event
    // through late or early (as the kernel's flag word does).
    ANY_BY_MESSAGE.load(Ordering::Relaxed)
}

/// One tracing event callsite seen, leaked: callsites are statics, so there
/// are as many of these as event macros that ran.
#[derive(Debug)]
pub(crate) struct TracingSite {
    meta: &'static Metadata<'static>,
    flags: AtomicU8,
    /// Some query names `format` and would select this callsite for some
    /// message: each event is decided on its message.
    by_message: AtomicBool,
}

impl TracingSite {
    /// The callsite's metadata.
    pub(crate) fn metadata(&self) -> &'static Metadata<'static> {
        self.meta
    }

    /// What queries see of it, with `message` when known.
    pub(crate) fn site<'a>(&self, message: Option<&'a str>) -> Site<'a> {
        site_of(self.meta, message)
    }

    /// Its flags, `format` queries aside.
    pub(crate) fn flags(&self) -> Flags {
        // Relaxed: the byte guards no other memory (as a pr_debug! head).
        Flags::from_bits(self.flags.load(Ordering::Relaxed))
    }

    /// Whether each event must be decided on its message.
    pub(crate) fn by_message(&self) -> bool {
        // Relaxed: as the flags.
        self.by_message.load(Ordering::Relaxed)
    }

    /// Whether an event of this callsite may pass: `p`, or decided later on
    /// the message.
    pub(crate) fn may_pass(&self) -> bool {
        self.by_message() || self.flags().contains(Flags::PRINT)
    }

    /// The interest to cache in the callsite, as `EnvFilter` returns it:
    /// always or never, or sometimes while the message decides.
    pub(crate) fn interest(&self) -> Interest {
        if self.by_message() {
            Interest::sometimes()
        } else if self.flags().contains(Flags::PRINT) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn update(&self, state_queries: &[Query], batch: &[Query], matched: &mut usize) {
        let site = self.site(None);
        let mut flags = self.flags();
        for q in batch {
            if super::selects(q, &site) {
                *matched += 1;
                flags = q.apply(flags);
            }
        }
        let by_message = state_queries
            .iter()
            .any(|q| super::depends_on_message(q, &site));
        // Relaxed: as the flags.
        self.flags.store(flags.bits(), Ordering::Relaxed);
        self.by_message.store(by_message, Ordering::Relaxed);
    }
}

/// What queries see of a tracing callsite: its module path, file, line and
/// target.
fn site_of<'a>(meta: &'static Metadata<'static>, message: Option<&'a str>) -> Site<'a> {
    Site {
        module: meta.module_path().unwrap_or(""),
        file: meta.file().unwrap_or(""),
        line: meta.line().unwrap_or(0),
        target: meta.target(),
        message,
    }
}

/// The callsites seen, in the order they registered.
#[derive(Debug)]
pub(crate) struct Table {
    sites: Vec<&'static TracingSite>,
}

impl Table {
    pub(crate) const fn new() -> Table {
        Table { sites: Vec::new() }
    }

    /// Every callsite seen.
    pub(crate) fn sites(&self) -> &[&'static TracingSite] {
        &self.sites
    }

    /// Applies `batch` (already appended to `queries`) to every callsite
    /// seen; returns the matches.
    pub(super) fn apply(&mut self, batch: &[Query], queries: &[Query]) -> usize {
        let mut matched = 0;
        for site in &self.sites {
            site.update(queries, batch, &mut matched);
        }
        let any = self.sites.iter().any(|site| site.by_message());
        // Relaxed: see any_by_message.
        ANY_BY_MESSAGE.store(any, Ordering::Relaxed);
        matched
    }

    /// Every callsite seen off again.
    pub(super) fn reset(&mut self) {
        for site in &self.sites {
            // Relaxed: as the flags.
            site.flags.store(0, Ordering::Relaxed);
            site.by_message.store(false, Ordering::Relaxed);
        }
        // Relaxed: see any_by_message.
        ANY_BY_MESSAGE.store(false, Ordering::Relaxed);
    }
}

/// A multiplicative hash of an address: the keys are distinct pointers.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        let h = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

type Index = HashMap<usize, &'static TracingSite, BuildHasherDefault<AddrHasher>>;

/// The callsites seen, by the address of their metadata.
static INDEX: RwLock<Index> = RwLock::new(HashMap::with_hasher(BuildHasherDefault::new()));

fn key(meta: &Metadata<'_>) -> usize {
    std::ptr::from_ref(meta) as usize
}

/// The callsite of `meta`, if it has been seen.
pub(crate) fn lookup(meta: &Metadata<'_>) -> Option<&'static TracingSite> {
    INDEX
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key(meta))
        .copied()
}

/// The callsite of `meta`, seen now if it was not: its flags are the
/// queries applied so far, replayed in order.
pub(crate) fn register(meta: &'static Metadata<'static>) -> &'static TracingSite {
    if let Some(site) = lookup(meta) {
        return site;
    }
    let mut state = super::lock();
    if let Some(site) = lookup(meta) {
        return site;
    }
    let seen = site_of(meta, None);
    let site: &'static TracingSite = Box::leak(Box::new(TracingSite {
        meta,
        flags: AtomicU8::new(state.flags(&seen).bits()),
        by_message: AtomicBool::new(state.depends_on_message(&seen)),
    }));
    if site.by_message() {
        // Relaxed: see any_by_message.
        ANY_BY_MESSAGE.store(true, Ordering::Relaxed);
    }
    state.tracing.sites.push(site);
    INDEX
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key(meta), site);
    site
}

/// Whether an event of `site` with this message (`None`: it has none)
/// passes: the queries so far replayed with the message known.
pub(crate) fn passes_with_message(site: &TracingSite, message: Option<&str>) -> bool {
    let state: std::sync::MutexGuard<'_, State> = super::lock();
    state.flags(&site.site(message)).contains(Flags::PRINT)
}
