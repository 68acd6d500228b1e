//! Every callsite compiled into the program, found through a linkme slice;
//! the one-time start-up work (applying `DYNDBG`); and the store of the cold
//! bodies that queries and listings read: the zstd pool, or with
//! `DYNDBG_POOL=off` the raw static records.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use linkme::distributed_slice;

use crate::callsite::{Callsite, UNREGISTERED};
use crate::flags::Flags;
use crate::pool::{self, BodyView, CachedBody, Pool};

// `DYNDBG_CALLSITES_<semver-major>` and its alias `CALLSITES`: the name
// keeps semver-incompatible copies of dyndbg apart (see build.rs).
include!(concat!(env!("OUT_DIR"), "/slice.rs"));

/// The environment variable that chooses where bodies live, read once at
/// first use: `off` keeps the raw records; `on` (the default) builds the
/// pool and drops the raw strings' pages; `keep` builds the pool and keeps
/// them mapped.
pub(crate) const POOL_ENV_VAR: &str = "DYNDBG_POOL";

/// Where queries and listings read the bodies.
pub(crate) enum Store {
    /// The raw static records, with the function names the runtime computed
    /// on the heap (`DYNDBG_POOL=off`).
    Raw(RawStore),
    /// The compressed pool; enabled bodies are in [`CACHE`].
    Pool(Pool),
}

pub(crate) struct RawStore {
    functions: Vec<&'static str>,
    names_bytes: usize,
    raw_body_bytes: usize,
}

/// Set once `DYNDBG` has been applied and the start-up bits cleared.
static REGISTERED: AtomicBool = AtomicBool::new(false);

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

/// Serialises every change of flags, so a batch applies as one step.
static WRITER: Mutex<()> = Mutex::new(());

/// Takes the lock that every flag change holds. A panic while holding it
/// cannot leave flags half-written (each store is atomic), so poisoning is
/// ignored.
pub(crate) fn lock_writer() -> MutexGuard<'static, ()> {
    WRITER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The callsites of the program, in link order.
pub(crate) fn all() -> &'static [Callsite] {
    &CALLSITES
}

/// Runs the start-up work once: the `DYNDBG` query, then the start-up bits
/// cleared. Every entry point (a callsite's first execution, a query, a
/// listing) calls this, so `DYNDBG` is applied before any callsite prints
/// and before any query. Only a `DYNDBG` that parses builds the store here.
pub(crate) fn init() {
    if REGISTERED.load(Ordering::Acquire) {
        return;
    }
    let writer = lock_writer();
    if REGISTERED.load(Ordering::Acquire) {
        return;
    }
    crate::env::apply_startup_query(&writer);
    // Clear the start-up bit last: from here on, only `p` takes the slow path.
    for cs in all() {
        cs.store_head(cs.head_bits() & !UNREGISTERED);
    }
    REGISTERED.store(true, Ordering::Release);
}

/// The index of a callsite in the slice.
pub(crate) fn index_of(cs: &Callsite) -> usize {
    let base = all().as_ptr() as usize;
    (std::ptr::from_ref(cs) as usize - base) / std::mem::size_of::<Callsite>()
}

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

/// Read once, when the store is built; ignored in a setuid/setgid program
/// (see [`crate::env::secure_var_os`]).
fn pool_mode() -> PoolMode {
    match crate::env::secure_var_os(POOL_ENV_VAR).map(std::ffi::OsString::into_string) {
        None => PoolMode::Drop,
        Some(Ok(v)) => match v.as_str() {
            "on" => PoolMode::Drop,
            "keep" => PoolMode::Keep,
            "off" => PoolMode::Off,
            _ => {
                eprintln!(
                    "dyndbg: {POOL_ENV_VAR}={v:?} is not one of \"on\", \"keep\", \"off\"; using \"on\""
                );
                PoolMode::Drop
            }
        },
        Some(Err(_)) => {
            eprintln!("dyndbg: {POOL_ENV_VAR} is not valid UTF-8; using \"on\"");
            PoolMode::Drop
        }
    }
}

/// Bytes of raw-string pages dropped after the pool was built.
static DROPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Returns the pages of the raw records' strings to the OS (Linux); the
/// pool has copied them. Returns the bytes dropped.
#[cfg(target_os = "linux")]
fn drop_raw_strings() -> usize {
    let pages = crate::pool::resident::pages(all().iter().flat_map(|cs| {
        let b = cs.body();
        [b.module, b.file, b.format, b.class].map(|s| (s.as_ptr() as usize, s.len()))
    }));
    crate::pool::resident::drop_clean_file_pages(&pages)
}

#[cfg(not(target_os = "linux"))]
fn drop_raw_strings() -> usize {
    0
}

/// The build's scratch (zstd's compression context and dictionary tables,
/// a few MiB) is freed by now; glibc keeps freed memory mapped unless
/// asked, so ask once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory of the allocator to
    // the OS; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
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
    if mode == PoolMode::Off {
        return Store::Raw(build_raw());
    }
    match build_pool(pool::Params::default()) {
        Ok(pool) => {
            fill_cache(&pool);
            if mode == PoolMode::Drop {
                DROPPED.store(drop_raw_strings(), Ordering::Relaxed);
            }
            trim_heap();
            Store::Pool(pool)
        }
        Err(err) => {
            eprintln!("dyndbg: cannot build the body pool ({err}); keeping the raw records");
            Store::Raw(build_raw())
        }
    }
}

/// A pool of every callsite's body.
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

/// The function name of one callsite, as a `&'static str`.
pub(crate) fn function_name(cs: &Callsite) -> &'static str {
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

/// What [`stats`](crate::stats) reports.
pub(crate) fn stats() -> crate::control::Stats {
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
    crate::control::Stats {
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
