//! Every callsite compiled into the program, found through a linkme slice,
//! and the one-time start-up work: naming functions and applying `DYNDBG`.

use std::sync::{Mutex, MutexGuard, OnceLock};

use linkme::distributed_slice;

use crate::callsite::{Callsite, UNREGISTERED};

// `DYNDBG_CALLSITES_<semver-major>` and its alias `CALLSITES`: the name
// keeps semver-incompatible copies of dyndbg apart (see build.rs).
include!(concat!(env!("OUT_DIR"), "/slice.rs"));

/// What the registry computes once, at first use.
struct Registry {
    /// Function names, indexed like the slice.
    functions: Vec<&'static str>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Serialises every change of flags, so a batch applies as one step.
static WRITER: Mutex<()> = Mutex::new(());

/// Takes the lock that every flag change holds. A panic while holding it
/// cannot leave flags half-written (each store is atomic), so poisoning is
/// ignored.
pub(crate) fn lock_writer() -> MutexGuard<'static, ()> {
    WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The callsites of the program, in link order.
pub(crate) fn all() -> &'static [Callsite] {
    &CALLSITES
}

/// Runs the start-up work once: names, then the `DYNDBG` query. Every entry
/// point (a callsite's first execution, a query, a listing) calls this, so
/// `DYNDBG` is applied before any callsite prints and before any query.
pub(crate) fn init() {
    if REGISTRY.get().is_some() {
        return;
    }
    let _writer = lock_writer();
    if REGISTRY.get().is_some() {
        return;
    }
    let functions = all()
        .iter()
        .map(|cs| {
            let body = cs.body();
            let name = crate::function_name::qualified_name((body.function)(), body.module);
            &*Box::leak(name.into_boxed_str())
        })
        .collect();
    let _ = REGISTRY.set(Registry { functions });
    crate::env::apply_startup_query();
    // Clear the start-up bit last: from here on, only `p` takes the slow path.
    for cs in all() {
        cs.store_head(cs.head_bits() & !UNREGISTERED);
    }
}

/// The index of a callsite in the slice.
pub(crate) fn index_of(cs: &Callsite) -> usize {
    let base = all().as_ptr() as usize;
    (std::ptr::from_ref(cs) as usize - base) / std::mem::size_of::<Callsite>()
}

pub(crate) fn function_name(cs: &Callsite) -> &'static str {
    init();
    REGISTRY.get().map_or("", |r| r.functions[index_of(cs)])
}
