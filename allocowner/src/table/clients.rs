//! The side table's clients (page_ext's `page_ext_operations`): what each
//! keeps per record, whether the configuration needs it, and the record
//! layout fixed from their needs when tracking is first enabled.

use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicBool, AtomicU64};

use super::rows::ROW;
use crate::config::Config;
use crate::sys;

/// One client of the side table (page_ext's `page_ext_operations`).
pub(super) struct Client {
    /// Its name, for statistics.
    pub(super) name: &'static str,
    /// Bytes it keeps per record.
    pub(super) size: usize,
    /// Whether it needs its bytes under this configuration.
    pub(super) need: fn(&Config) -> bool,
    /// Runs once after the table layout is fixed, if needed.
    pub(super) init: fn(&Config),
    /// Whether it has rows, once fixed.
    pub(super) active: &'static AtomicBool,
}

static CORE_ACTIVE: AtomicBool = AtomicBool::new(false);
static THREAD_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether small records go to page slots: set up, core client alone.
static PAGED: AtomicBool = AtomicBool::new(false);
/// The monotonic clock when the table was first set up: the thread
/// client's timestamps count from it, and a report without them (the DHAT
/// file's end time) measures the run from it.
pub(crate) static EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// The clients. The core client keeps the address, size, alignment and
/// depot handle; the thread client keeps the OS thread id and a timestamp.
pub(super) static CLIENTS: [Client; 2] = [
    Client {
        name: "core",
        size: ROW,
        need: |_| true,
        init: |_| EPOCH_NS.store(sys::now_ns(), Relaxed),
        active: &CORE_ACTIVE,
    },
    Client {
        name: "thread",
        size: ROW,
        need: |c| c.thread,
        // Its timestamps count from the core client's epoch.
        init: |_| {},
        active: &THREAD_ACTIVE,
    },
];

/// Activates every client `config` needs and runs its `init`; returns
/// the bytes per record over them. Once per process, under the tracker's
/// enable lock.
pub(super) fn activate(config: &Config) -> usize {
    let mut stride = 0;
    for c in &CLIENTS {
        if (c.need)(config) {
            c.active.store(true, Relaxed);
            stride += c.size;
            (c.init)(config);
        }
    }
    PAGED.store(!THREAD_ACTIVE.load(Relaxed), Relaxed);
    stride
}

/// The first client `config` needs that the fixed layout lacks.
pub(super) fn missing(config: &Config) -> Option<&'static str> {
    CLIENTS
        .iter()
        .find(|c| (c.need)(config) && !c.active.load(Relaxed))
        .map(|c| c.name)
}

/// Whether records carry the thread client's fields.
#[inline]
pub(super) fn has_thread() -> bool {
    // Relaxed: fixed once before tracking turns on.
    THREAD_ACTIVE.load(Relaxed)
}

/// Whether small records go to page slots (the core client alone).
#[inline(always)]
pub(super) fn paged() -> bool {
    // Relaxed: fixed before tracking turns on.
    PAGED.load(Relaxed)
}
