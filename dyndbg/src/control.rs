//! The entry points: the start-up work every one of them runs first
//! (`DYNDBG`, read by `env`, applied once here), applying
//! queries to the callsites, reset, and the kernel's control-file listing.

use std::fmt::Write as _;
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::callsite::{Callsite, UNREGISTERED};
use crate::env;
use crate::flags::Flags;
#[cfg(any(feature = "tracing", feature = "log"))]
use crate::foreign;
use crate::pool::BodyView;
use crate::query::{self, QueryError};
use crate::registry;
use crate::store::{self, Stats, Store};

/// Set once `DYNDBG` has been applied and the start-up bits cleared.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Runs the start-up work once: the `DYNDBG` query, then the start-up bits
/// cleared. Every entry point (a callsite's first execution, a query, a
/// listing) calls this, so `DYNDBG` is applied before any callsite prints
/// and before any query. Only a `DYNDBG` that parses builds the store here
/// (inside the slow path of the first callsite to run: the query must read
/// the bodies).
pub(crate) fn init() {
    if REGISTERED.load(Ordering::Acquire) {
        return;
    }
    let writer = registry::lock_writer();
    if REGISTERED.load(Ordering::Acquire) {
        return;
    }
    let applied = env::startup_query().map(|batch| apply_locked(&batch, &writer));
    // Clear the start-up bit last: from here on, only `p` takes the slow path.
    for cs in registry::all() {
        cs.store_head(cs.head_bits() & !UNREGISTERED);
    }
    REGISTERED.store(true, Ordering::Release);
    drop(writer);
    if applied.is_some() {
        after_change();
    }
}

/// After a change of flags, outside the writer lock: `tracing` callsites
/// have their cached interest rebuilt (the `tracing` feature).
fn after_change() {
    #[cfg(any(feature = "tracing", feature = "log"))]
    foreign::after_change();
}

/// The batch kept for the callsites of `tracing` and `log` (seen ones
/// changed now, later ones when they register); their matches.
#[cfg(any(feature = "tracing", feature = "log"))]
fn apply_foreign(batch: &[query::Query]) -> usize {
    foreign::apply(batch)
}

#[cfg(not(any(feature = "tracing", feature = "log")))]
fn apply_foreign(_batch: &[query::Query]) -> usize {
    0
}

/// Applies a batch of queries in the kernel's language and returns how many
/// callsites matched, summed over the queries (a callsite whose flags did
/// not change still counts, as in the kernel).
///
/// The whole batch is parsed before anything changes: on error no callsite
/// changes, and the error names the query, the byte offset and what was
/// expected.
///
/// ```
/// dyndbg::pr_debug!("hello from the doc test");
/// let matched = dyndbg::control("format 'hello from the doc' +pfl").unwrap();
/// assert!(matched >= 1);
/// let err = dyndbg::control("file x.rs +p; func y +q").unwrap_err();
/// assert!(err.to_string().contains("'q'"), "{err}");
/// ```
pub fn control(queries: &str) -> Result<usize, QueryError> {
    init();
    let batch = query::parse_batch(queries)?;
    let writer = registry::lock_writer();
    let matched = apply_locked(&batch, &writer);
    drop(writer);
    after_change();
    Ok(matched)
}

/// Applies parsed queries; the caller holds the writer lock. The bodies are
/// read once for the whole batch, block by block from the pool (or from
/// the raw records with `DYNDBG_POOL=off`); each callsite takes the batch's
/// queries in order, which gives the kernel's result (matching never
/// depends on flags).
pub(crate) fn apply_locked(batch: &[query::Query], writer: &MutexGuard<'static, ()>) -> usize {
    let store = store::store_locked(writer);
    let pooled = matches!(store, Store::Pool(_));
    let sites = registry::all();
    let mut matched = 0;
    store::for_each_body(store, |i, body| {
        let cs = &sites[i];
        let head = cs.head_bits();
        let old = Flags::from_bits(head);
        let new = step(batch, body, old, &mut matched);
        if new == old {
            return;
        }
        let was = old.contains(Flags::PRINT);
        let is = new.contains(Flags::PRINT);
        // The body is cached before `p` appears and dropped after it goes,
        // so a print that sees `p` finds it.
        if pooled && is && !was {
            store::cache_insert(i, body);
        }
        cs.store_head(new.bits() | (head & UNREGISTERED));
        if pooled && was && !is {
            store::cache_remove(i);
        }
    });
    matched + apply_foreign(batch)
}

/// One callsite through a batch: its new flags; `matched` counts matches.
fn step(batch: &[query::Query], body: &BodyView<'_>, old: Flags, matched: &mut usize) -> Flags {
    let mut new = old;
    for q in batch {
        if q.matches(body) {
            *matched += 1;
            new = q.apply(new);
        }
    }
    new
}

/// What a batch would do on `store`, from flags `old`, changing nothing:
/// the match count and every callsite's new flags. For the equivalence
/// tests of the pool against the raw records.
#[cfg(feature = "pool")]
pub(crate) fn simulate(
    store: &Store,
    batch: &[query::Query],
    old: &[Flags],
) -> (usize, Vec<Flags>) {
    let mut matched = 0;
    let mut flags = old.to_vec();
    store::for_each_body(store, |i, body| {
        flags[i] = step(batch, body, old[i], &mut matched);
    });
    (matched, flags)
}

/// Returns every callsite to the flags it had at startup (compile-time
/// defaults, before `DYNDBG`).
pub fn reset() {
    init();
    #[cfg(any(feature = "tracing", feature = "log"))]
    {
        foreign::reset();
        foreign::after_change();
    }
    let writer = registry::lock_writer();
    let sites = registry::all();
    for cs in sites {
        cs.store_head(cs.default_flags().bits() & !Flags::PRINT.bits());
    }
    store::cache_clear();
    if !sites
        .iter()
        .any(|cs| cs.default_flags().contains(Flags::PRINT))
    {
        return;
    }
    if let Store::Pool(pool) = store::store_locked(&writer) {
        pool.for_each(|i, body| {
            if sites[i].default_flags().contains(Flags::PRINT) {
                store::cache_insert(i, body);
            }
        });
    }
    for cs in sites {
        cs.store_head(cs.default_flags().bits());
    }
}

/// Every callsite compiled into the program, whether it has run or not.
///
/// The accessors of one callsite ([`Callsite::format`] and the others)
/// read its static record, which is always there; queries and listings
/// read the pool.
pub fn callsites() -> impl ExactSizeIterator<Item = &'static Callsite> {
    init();
    registry::all().iter()
}

/// The listing in the kernel's control-file format: a header, then
/// `file:line [module]function =flags "format"` per callsite, with ` class:NAME`
/// after the format of a classed callsite. The first listing (like the
/// first query) builds the pool; every listing decompresses it block by
/// block.
pub fn listing() -> String {
    init();
    let sites = registry::all();
    #[allow(unused_mut, reason = "appended to with the `tracing` feature")]
    let mut out = write_listing(store::store(), |i| sites[i].flags());
    #[cfg(feature = "tracing")]
    write_tracing_listing(&mut out);
    out
}

/// The `tracing` callsites seen so far, after the pr_debug! ones:
/// `file:line [module] =flags "" class:TARGET [tracing]`, after a comment
/// that says how many were seen. Nothing while none has been seen, so the
/// listing of a program without `tracing` events is the kernel's.
#[cfg(feature = "tracing")]
fn write_tracing_listing(out: &mut String) {
    let state = foreign::lock();
    let sites = state.tracing.sites();
    if sites.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# tracing: {} callsites seen (a tracing callsite is listed from its first run)",
        sites.len(),
    );
    for site in sites {
        let meta = site.metadata();
        let _ = write!(
            out,
            "{}:{} [{}] ={} \"\" class:{} [tracing]",
            meta.file().unwrap_or("?"),
            meta.line().unwrap_or(0),
            meta.module_path().unwrap_or(""),
            site.flags(),
            meta.target(),
        );
        if site.by_message() {
            out.push_str(" format?");
        }
        out.push('\n');
    }
}

/// The listing of `store`'s bodies with the flags `flags(i)`.
pub(crate) fn write_listing(store: &Store, flags: impl Fn(usize) -> Flags) -> String {
    let mut out = String::from("# filename:lineno [module]function flags format\n");
    store::for_each_body(store, |i, body| {
        let _ = write!(
            out,
            "{}:{} [{}]{} ={} \"",
            body.file,
            body.line,
            body.module,
            body.function,
            flags(i)
        );
        escape_format(body.format, &mut out);
        out.push('"');
        if !body.class.is_empty() {
            let _ = write!(out, " class:{}", body.class);
        }
        out.push('\n');
    });
    out
}

/// What the callsites' bodies cost: raw, pooled, cached. Counts as first
/// use: builds the pool if no query or listing has.
///
/// ```
/// dyndbg::pr_debug!("counted");
/// let stats = dyndbg::stats();
/// assert!(stats.callsites >= 1);
/// assert!(stats.raw_body_bytes > 0);
/// ```
pub fn stats() -> Stats {
    init();
    store::stats()
}

/// The kernel escapes `\t \r \n` (seq_escape_str with ESCAPE_SPACE); we also
/// escape `"` and `\` so every line parses back unambiguously.
fn escape_format(format: &str, out: &mut String) {
    for c in format.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
}
