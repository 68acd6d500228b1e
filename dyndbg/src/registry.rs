//! Every callsite compiled into the program, found through a linkme slice,
//! and the lock that serialises every change of their flags.

use std::sync::{Mutex, MutexGuard, PoisonError};

use linkme::distributed_slice;

use crate::callsite::Callsite;

// `DYNDBG_CALLSITES_<semver-major>` and its alias `CALLSITES`: the name
// keeps semver-incompatible copies of dyndbg apart (see build.rs).
include!(concat!(env!("OUT_DIR"), "/slice.rs"));

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

/// The index of a callsite in the slice.
pub(crate) fn index_of(cs: &Callsite) -> usize {
    let base = all().as_ptr() as usize;
    (std::ptr::from_ref(cs) as usize - base) / std::mem::size_of::<Callsite>()
}
