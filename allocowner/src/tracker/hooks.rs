//! The process-wide hooks tracking registers when first enabled: the
//! `pthread_atfork` handlers, which hold every lock across `fork`, and the
//! `atexit` handler that writes `report=PATH`.

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

use super::ENABLE_LOCK;
use crate::depot::DEPOT;
use crate::guard::{self, Guard, GuardState};
use crate::limits::MAX_PATH;
use crate::table::TABLE;
use crate::{capture, sys};

static REPORT_PATH: [AtomicU8; MAX_PATH] = [const { AtomicU8::new(0) }; MAX_PATH];
static REPORT_LEN: AtomicU64 = AtomicU64::new(0);
/// The process that set `report=PATH`: a forked child (another pid) does
/// not write PATH at its exit.
static REPORT_PID: AtomicU32 = AtomicU32::new(0);
/// `report_children`: a forked child writes `PATH.<pid>` instead of nothing.
static REPORT_CHILDREN: AtomicBool = AtomicBool::new(false);
/// Whether `fork_prepare` holds every lock (so the after-fork handlers
/// release exactly what it took), and the forking thread's guard state
/// before it, put back after. Both only change with `ENABLE_LOCK` held.
static FORK_HELD: AtomicBool = AtomicBool::new(false);
static FORK_GUARD: AtomicU8 = AtomicU8::new(0);
static HOOKS: AtomicU8 = AtomicU8::new(0);
pub(super) const HOOK_ATFORK: u8 = 1;
pub(super) const HOOK_ATEXIT: u8 = 2;

/// Registers `hook` once per process. Only with `ENABLE_LOCK` held.
pub(super) fn register_hook(hook: u8) {
    // Relaxed: under ENABLE_LOCK.
    if HOOKS.load(Ordering::Relaxed) & hook != 0 {
        return;
    }
    HOOKS.fetch_or(hook, Ordering::Relaxed);
    // SAFETY: registering plain `extern "C"` functions that never unwind
    // (each catches panics); glibc may call C malloc here, never ours.
    unsafe {
        if hook == HOOK_ATFORK {
            libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
        } else {
            libc::atexit(report_at_exit);
        }
    }
}

/// Makes `path` (checked: at most [`MAX_PATH`] bytes) the exit report of
/// this process, and registers the exit handler. Only with `ENABLE_LOCK`
/// held.
pub(super) fn set_report(path: &[u8], children: bool) {
    for (dst, &b) in REPORT_PATH.iter().zip(path) {
        // Relaxed: published by the Release store of REPORT_LEN.
        dst.store(b, Ordering::Relaxed);
    }
    REPORT_LEN.store(path.len() as u64, Ordering::Release);
    // Relaxed: read at exit, on this thread or after its writes are
    // published by the Release above.
    REPORT_PID.store(sys::getpid(), Ordering::Relaxed);
    REPORT_CHILDREN.store(children, Ordering::Relaxed);
    register_hook(HOOK_ATEXIT);
}

/// Before `fork`: wait for every insert in flight and hold every lock
/// allocowner has, so the child's copy of the tables, the depot and the
/// enable state is consistent (what glibc's malloc does for its arenas).
/// Order: the enable lock (held while enabling, which takes the others),
/// the depot's, every shard's, then the page index's growth lock (taken
/// under a shard's). The thread's guard is `Locked` until the after-fork
/// handler: an allocation in another `pthread_atfork` handler that runs in
/// between (the program's, registered before ours) passes through
/// untracked instead of deadlocking on a lock this thread holds.
extern "C" fn fork_prepare() {
    let prev = guard::state();
    guard::set(GuardState::Locked);
    ENABLE_LOCK.raw_lock();
    DEPOT.raw_lock();
    TABLE.lock_everything();
    // Relaxed: both are read by this thread's after-fork handler, or by
    // another thread's once it holds ENABLE_LOCK.
    FORK_GUARD.store(prev as u8, Ordering::Relaxed);
    FORK_HELD.store(true, Ordering::Relaxed);
}

/// After `fork`, in the parent.
extern "C" fn fork_parent() {
    fork_release();
}

/// After `fork`, in the child: its only thread (the one that forked) has a
/// new thread id, which the thread client must not take from the cache.
extern "C" fn fork_child() {
    capture::forget_tid();
    fork_release();
}

/// Releases what [`fork_prepare`] took, in reverse order, and puts the
/// thread's guard back.
fn fork_release() {
    // Relaxed: set by this thread's prepare.
    if !FORK_HELD.swap(false, Ordering::Relaxed) {
        return;
    }
    let prev = GuardState::from_u8(FORK_GUARD.load(Ordering::Relaxed));
    TABLE.unlock_everything();
    DEPOT.raw_unlock();
    ENABLE_LOCK.raw_unlock();
    guard::set(prev);
}

/// The exit report: `report=PATH` written by the process that asked for
/// it; a forked child writes nothing, or `PATH.<pid>` with
/// `report_children`. Everything it allocates, its copy of the path
/// included, is allocowner's own (the dummy owner), never the program's.
extern "C" fn report_at_exit() {
    let _g = Guard::enter(GuardState::Inside);
    let _ = std::panic::catch_unwind(|| {
        // Acquire: pairs with the Release in `set_report`.
        let len = (REPORT_LEN.load(Ordering::Acquire) as usize).min(MAX_PATH);
        if len == 0 {
            return;
        }
        let mut buf = [0u8; MAX_PATH + 12];
        for (dst, src) in buf.iter_mut().zip(&REPORT_PATH[..len]) {
            // Relaxed: published by the Release store of REPORT_LEN.
            *dst = src.load(Ordering::Relaxed);
        }
        let mut end = len;
        let pid = sys::getpid();
        // Relaxed: see `set_report`.
        if pid != REPORT_PID.load(Ordering::Relaxed) {
            if !REPORT_CHILDREN.load(Ordering::Relaxed) {
                return;
            }
            let mut tail = &mut buf[len..];
            let _ = std::io::Write::write_fmt(&mut tail, format_args!(".{pid}"));
            end = MAX_PATH + 12 - tail.len();
        }
        let path = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&buf[..end]);
        if let Err(e) = crate::write_report(std::path::Path::new(path)) {
            let mut line = sys::LineBuf::new();
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!("allocowner: {e}\n"));
            sys::write_stderr(line.bytes());
        }
    });
}
