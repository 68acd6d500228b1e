//! The store of the cold bodies that queries and listings read (the zstd
//! pool, or with `DYNDBG_POOL=off` or without the `pool` feature the raw
//! static records), the cache of
//! enabled bodies, the function names handed out by
//! [`Callsite::function`], and what all of it costs ([`Stats`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use crate::callsite::Callsite;
#[cfg(feature = "pool")]
use crate::flags::Flags;
use crate::pool::{self, BodyView, CachedBody, Pool};
use crate::registry::{all, index_of, lock_writer};

/// The environment variable that chooses where bodies live, read once at
/// first use: `off` keeps the raw records; `on` (the default) builds the
/// pool and drops the raw strings' pages; `keep` builds the pool and keeps
/// them mapped. Without the `pool` feature only `off` is possible (the
/// default then).
pub(crate) const POOL_ENV_VAR: &str = "DYNDBG_POOL";

/// Where queries and listings read the bodies.
pub(crate) enum Store {
    /// The raw static records, with the function names the runtime computed
    /// on the heap (`DYNDBG_POOL=off`, or no `pool` feature).
    Raw(RawStore),
    /// The compressed pool; enabled bodies are in [`CACHE`]. Without the
    /// `pool` feature [`Pool`] has no values: this variant never exists.
    #[cfg_attr(
        not(feature = "pool"),
        expect(dead_code, reason = "no pool without the `pool` feature")
    )]
    Pool(Pool),
}

pub(crate) struct RawStore {
    functions: Vec<&'static str>,
    names_bytes: usize,
    raw_body_bytes: usize,
}

static STORE: OnceLock<Store> = OnceLock::new();

/// Decompressed bodies of the callsites that print, by index: what an
/// enabled callsite's slow path reads, so it never decompresses. Entries
/// are added before a head gains `p` and removed after it loses it.
/// Indexed like the slice (allocated at the first insert): an enabled
/// print finds its body by index, with no hashing.
static CACHE: RwLock<Vec<Option<Arc<CachedBody>>>> = RwLock::new(Vec::new());

/// Function names handed out by [`Callsite::function`] when the raw store
/// has not computed them: interned so the `&'static str` is made once.
static NAMES: Mutex<Option<HashMap<u32, &'static str>>> = Mutex::new(None);

/// The store, built at the first call (first query, listing or stats).
pub(crate) fn store() -> &'static Store {
    if let Some(store) = STORE.get() {
        return store;
    }
    let writer = lock_writer();
    store_locked(&writer)
}

/// The store, for a caller that holds the writer lock (so no head changes
/// while the cache of enabled bodies is filled).
pub(crate) fn store_locked(_writer: &MutexGuard<'static, ()>) -> &'static Store {
    STORE.get_or_init(build_store)
}

/// Whether the store has been built (for tests of "first use").
#[cfg(feature = "pool")]
pub(crate) fn store_built() -> bool {
    STORE.get().is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolMode {
    /// `on` (the default): the pool, then the raw strings' pages dropped.
    Drop,
    /// `keep`: the pool, the raw strings' pages left mapped.
    Keep,
    /// `off`: no pool.
    Off,
}

/// What an unset or unknown `DYNDBG_POOL` means: the pool when it is
/// compiled in, else the raw records.
const DEFAULT_MODE: (PoolMode, &str) = if cfg!(feature = "pool") {
    (PoolMode::Drop, "on")
} else {
    (PoolMode::Off, "off")
};

/// Read once, when the store is built; ignored in a setuid/setgid program
/// (see [`crate::env::secure_var_os`]). Without the `pool` feature, `on`
/// and `keep` cannot be honoured: said once on stderr, raw records kept.
fn pool_mode() -> PoolMode {
    let (default, default_name) = DEFAULT_MODE;
    let mode = match crate::env::secure_var_os(POOL_ENV_VAR).map(std::ffi::OsString::into_string) {
        None => return default,
        Some(Ok(v)) => match v.as_str() {
            "on" => PoolMode::Drop,
            "keep" => PoolMode::Keep,
            "off" => PoolMode::Off,
            _ => {
                eprintln!(
                    "dyndbg: {POOL_ENV_VAR}={v:?} is not one of \"on\", \"keep\", \"off\"; using \"{default_name}\""
                );
                return default;
            }
        },
        Some(Err(_)) => {
            eprintln!("dyndbg: {POOL_ENV_VAR} is not valid UTF-8; using \"{default_name}\"");
            return default;
        }
    };
    if !cfg!(feature = "pool") && mode != PoolMode::Off {
        let v = if mode == PoolMode::Keep { "keep" } else { "on" };
        eprintln!(
            "dyndbg: {POOL_ENV_VAR}={v} ignored: the pool is not compiled in (dyndbg's `pool` feature is off); keeping the raw records"
        );
        return PoolMode::Off;
    }
    mode
}

/// Bytes of raw-string pages dropped after the pool was built.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Returns the pages of the raw records' strings to the OS (Linux); the
/// pool has copied them. Returns the bytes dropped.
#[cfg(all(target_os = "linux", feature = "pool"))]
fn drop_raw_strings() -> usize {
    let pages = crate::pool::resident::pages(all().iter().flat_map(|cs| {
        let b = cs.body();
        [b.module, b.file, b.format, b.class].map(|s| (s.as_ptr() as usize, s.len()))
    }));
    crate::pool::resident::drop_clean_file_pages(&pages)
}

#[cfg(all(not(target_os = "linux"), feature = "pool"))]
fn drop_raw_strings() -> usize {
    0
}

/// The build's scratch (zstd's compression context and dictionary tables,
/// a few MiB) is freed by now; glibc keeps freed memory mapped unless
/// asked, so ask once.
#[cfg(all(target_os = "linux", target_env = "gnu", feature = "pool"))]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory of the allocator to
    // the OS; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(not(all(target_os = "linux", target_env = "gnu")), feature = "pool"))]
fn trim_heap() {}

/// The function name of a static record, computed from its `type_name`.
fn computed_name(cs: &Callsite) -> String {
    let body = cs.body();
    crate::function_name::qualified_name((body.function)(), body.module)
}

/// The view of a raw record, with its function name.
fn raw_view<'a>(cs: &'static Callsite, function: &'a str) -> BodyView<'a> {
    let body = cs.body();
    BodyView {
        module: body.module,
        file: body.file,
        function,
        format: body.format,
        class: body.class,
        line: body.line,
    }
}

fn build_store() -> Store {
    let mode = pool_mode();
    #[cfg(feature = "pool")]
    if mode != PoolMode::Off {
        match build_pool(pool::Params::default()) {
            Ok(pool) => {
                fill_cache(&pool);
                if mode == PoolMode::Drop {
                    DROPPED.store(drop_raw_strings(), Ordering::Relaxed);
                }
                trim_heap();
                return Store::Pool(pool);
            }
            Err(err) => {
                eprintln!("dyndbg: cannot build the body pool ({err}); keeping the raw records");
            }
        }
    }
    #[cfg(not(feature = "pool"))]
    let _ = mode;
    Store::Raw(build_raw())
}

/// A pool of every callsite's body.
#[cfg(feature = "pool")]
pub(crate) fn build_pool(params: pool::Params) -> Result<Pool, pool::PoolError> {
    let sites = all();
    Pool::build(
        sites.len(),
        // One name at a time: the names only ever live in the pool.
        |i, f| f(&raw_view(&sites[i], &computed_name(&sites[i]))),
        params,
    )
}

pub(crate) fn build_raw() -> RawStore {
    let mut names_bytes = 0;
    let mut raw_body_bytes = 0;
    let functions = all()
        .iter()
        .map(|cs| {
            let name: &'static str = Box::leak(computed_name(cs).into_boxed_str());
            names_bytes += name.len();
            raw_body_bytes += pool::raw_bytes(&raw_view(cs, name));
            name
        })
        .collect::<Vec<_>>();
    names_bytes += std::mem::size_of_val(&*functions);
    RawStore {
        functions,
        names_bytes,
        raw_body_bytes,
    }
}

/// Caches the bodies of callsites that already print (compile-time
/// defaults or flags set before the pool existed).
#[cfg(feature = "pool")]
fn fill_cache(pool: &Pool) {
    let sites = all();
    if !sites.iter().any(|cs| cs.flags().contains(Flags::PRINT)) {
        return;
    }
    pool.for_each(|i, view| {
        if sites[i].flags().contains(Flags::PRINT) {
            cache_insert(i, view);
        }
    });
}

fn cache_write() -> std::sync::RwLockWriteGuard<'static, Vec<Option<Arc<CachedBody>>>> {
    CACHE.write().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn cache_insert(index: usize, view: &BodyView<'_>) {
    let mut cache = cache_write();
    if cache.is_empty() {
        cache.resize(all().len(), None);
    }
    cache[index] = Some(Arc::new(CachedBody::new(view)));
}

pub(crate) fn cache_remove(index: usize) {
    if let Some(slot) = cache_write().get_mut(index) {
        *slot = None;
    }
}

pub(crate) fn cache_clear() {
    *cache_write() = Vec::new();
}

fn cached(index: usize) -> Option<Arc<CachedBody>> {
    CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(index)?
        .clone()
}

/// Calls `f` with every body in slice order, read from the store.
pub(crate) fn for_each_body(store: &Store, mut f: impl FnMut(usize, &BodyView<'_>)) {
    match store {
        Store::Raw(raw) => {
            for (i, cs) in all().iter().enumerate() {
                f(i, &raw_view(cs, raw.functions[i]));
            }
        }
        Store::Pool(pool) => pool.for_each(f),
    }
}

/// Calls `f` with the body of an enabled callsite: the cached one (never
/// decompressing), or the static record when there is no pool.
pub(crate) fn with_enabled_body<R>(cs: &'static Callsite, f: impl FnOnce(&BodyView<'_>) -> R) -> R {
    let index = index_of(cs);
    if let Some(Store::Pool(_)) = STORE.get()
        && let Some(body) = cached(index)
    {
        return f(&body.view());
    }
    // No pool, or a head read stale around a change: the static record.
    f(&raw_view(cs, function_name(cs)))
}

// === impl Callsite: the accessors that read the store ===
//
// The record's own module (`callsite`) sits below the store, so the one
// accessor that needs the store's names, and the `Debug` that prints it,
// are implemented here.

impl Callsite {
    /// The enclosing function, qualified within its module: `connect`,
    /// `Client::connect`, `outer::inner`. Closures and async blocks fold into
    /// the function around them. The rule, with examples:
    /// [the crate docs](crate#function-names).
    pub fn function(&self) -> &'static str {
        function_name(self)
    }
}

impl fmt::Debug for Callsite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callsite")
            .field("module", &self.module())
            .field("file", &self.file())
            .field("line", &self.line())
            .field("function", &self.function())
            .field("format", &self.format())
            .field("class", &self.class())
            .field("flags", &self.flags())
            .finish()
    }
}

/// The function name of one callsite, as a `&'static str`.
fn function_name(cs: &Callsite) -> &'static str {
    let index = index_of(cs);
    if let Some(Store::Raw(raw)) = STORE.get() {
        return raw.functions[index];
    }
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    names
        .get_or_insert_with(HashMap::new)
        .entry(index as u32)
        .or_insert_with(|| Box::leak(computed_name(cs).into_boxed_str()))
}

/// What [`stats`](crate::stats) reports (the caller has run the start-up work).
pub(crate) fn stats() -> Stats {
    let store = store();
    let (cached_bodies, cached_bytes) = CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flatten()
        .fold((0, 0), |(n, bytes), b| (n + 1, bytes + b.bytes()));
    let interned: usize = NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map_or(0, |m| m.values().map(|n| n.len()).sum());
    let (pooled, raw_body_bytes, pool_bytes, pool_blocks, names_bytes) = match store {
        Store::Raw(raw) => (false, raw.raw_body_bytes, 0, 0, raw.names_bytes),
        Store::Pool(pool) => (true, pool.raw_body_bytes(), pool.bytes(), pool.blocks(), 0),
    };
    Stats {
        callsites: all().len(),
        raw_body_bytes,
        pool_bytes,
        pool_blocks,
        cached_bodies,
        cached_bytes,
        names_bytes: names_bytes + interned,
        dropped_raw_bytes: DROPPED.load(Ordering::Relaxed),
        pooled,
    }
}

/// What the callsites' bodies cost, from [`stats`](crate::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Callsites compiled into the program.
    pub callsites: usize,
    /// The bodies as raw records: per callsite the `Body` struct plus every
    /// string it points to and its function name (as if no string were
    /// shared).
    pub raw_body_bytes: usize,
    /// The pool: compressed blocks, their index and the zstd dictionary;
    /// 0 with `DYNDBG_POOL=off` or without the `pool` feature.
    pub pool_bytes: usize,
    /// Independently decompressible blocks in the pool.
    pub pool_blocks: usize,
    /// Bodies kept decompressed because their callsite prints.
    pub cached_bodies: usize,
    /// Heap bytes of those cached bodies.
    pub cached_bytes: usize,
    /// Heap bytes of function names kept outside the pool: all of them with
    /// the raw records (`DYNDBG_POOL=off`, no `pool` feature), else those handed out by [`Callsite::function`].
    pub names_bytes: usize,
    /// Bytes of `.rodata` pages holding the raw records' strings that were
    /// returned to the OS after the pool copied them (Linux, `DYNDBG_POOL=on`).
    pub dropped_raw_bytes: usize,
    /// Whether the bodies are in the pool (false with `DYNDBG_POOL=off` or
    /// without the `pool` feature).
    pub pooled: bool,
}
