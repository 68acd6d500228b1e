//! Process-wide tracking state: off/on, enabling from `ALLOCOWNER` or the
//! API, the early-owner estimate, fork handlers, the exit report, and
//! taking snapshots.

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::collections::HashMap;

use crate::config::{Capture, Config, ConfigError, ConfigErrorKind};
use crate::depot::DEPOT;
use crate::guard::{self, Guard, GuardState};
use crate::limits::MAX_PATH;
use crate::snapshot::{Allocation, Snapshot, Stack, StackHandle};
use crate::spin::SpinLock;
use crate::table::TABLE;
use crate::{capture, sys};

/// No allocation has been seen yet: `ALLOCOWNER` not read.
pub(crate) const UNINIT: u8 = 0;
/// One thread is reading `ALLOCOWNER`.
const STARTING: u8 = 1;
/// Off, never enabled: pure pass-through.
const OFF: u8 = 2;
/// On: allocations are recorded.
pub(crate) const ON: u8 = 3;
/// Disabled after being on: new allocations are not recorded, frees still
/// remove their records.
const PAUSED: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);
static ENABLE_LOCK: SpinLock = SpinLock::new();
static EARLY_AT_ENABLE: AtomicU64 = AtomicU64::new(0);
static EARLY_FREED: AtomicU64 = AtomicU64::new(0);
static UNRECORDED: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES_FN: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
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
/// Whether the next enable takes a new early estimate (first enable, or
/// after `stop`).
static EARLY_PENDING: AtomicBool = AtomicBool::new(true);
static HOOKS: AtomicU8 = AtomicU8::new(0);
const HOOK_ATFORK: u8 = 1;
const HOOK_ATEXIT: u8 = 2;

#[inline(always)]
pub(crate) fn state() -> u8 {
    // Relaxed: the static-key check. Everything the tracked path reads
    // (table layout, depot index) is published with Release before ON is
    // stored and read with Acquire where it matters.
    STATE.load(Ordering::Relaxed)
}

/// Whether frees must look for records (on, or paused after being on).
#[inline(always)]
pub(crate) fn has_records() -> bool {
    let s = state();
    s == ON || s == PAUSED
}

pub(crate) fn count_unrecorded() {
    // Relaxed: a statistic.
    UNRECORDED.fetch_add(1, Ordering::Relaxed);
}

/// A pointer without a record was freed: it was allocated while off.
pub(crate) fn early_freed(size: usize) {
    // Relaxed: a statistic.
    EARLY_FREED.fetch_add(size as u64, Ordering::Relaxed);
}

/// At the first allocation: read `ALLOCOWNER` (with `getenv`, which does
/// not allocate) and turn tracking on if it says so. In a setuid or setgid
/// program (`AT_SECURE`) the variable is ignored, as glibc's
/// `secure_getenv` would, with one line on stderr if it is set.
pub(crate) fn start_from_env(live_bytes: Option<fn() -> u64>) {
    if STATE
        .compare_exchange(UNINIT, STARTING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return; // another thread is starting: this allocation passes through
    }
    if let Some(f) = live_bytes {
        // Release: read with Acquire in `enable_config`.
        LIVE_BYTES_FN.store(f as *mut (), Ordering::Release);
    }
    let _g = Guard::enter(GuardState::Inside);
    let mut value = sys::getenv(c"ALLOCOWNER").unwrap_or(b"");
    if sys::secure_execution() {
        if sys::getenv(c"ALLOCOWNER").is_some() {
            sys::write_stderr(
                b"allocowner: ALLOCOWNER ignored: setuid/setgid program (AT_SECURE)\n",
            );
        }
        value = b"";
    }
    match Config::parse_env(value) {
        Ok(Some(config)) => {
            if let Err(e) = enable_config(&config) {
                print_error(&e);
            }
        }
        Ok(None) => {}
        Err(e) => print_error(&e),
    }
    // Relaxed CAS: if enable_config stored ON, keep it.
    let _ = STATE.compare_exchange(STARTING, OFF, Ordering::Release, Ordering::Relaxed);
}

fn print_error(e: &ConfigError) {
    use core::fmt::Write;
    let mut line = sys::LineBuf::new();
    let _ = write!(line, "{e}");
    line.push(b"\n");
    sys::write_stderr(line.bytes());
}

/// Checks that the report file `path` can be opened for writing, as the
/// exit report will open it (no symlink followed), by opening it: created
/// (empty, mode 0600) if missing, never truncated. Allocation-free: this
/// runs inside the first allocation when `ALLOCOWNER` asks for a report.
fn check_report_path(path: &[u8]) -> Result<(), ConfigError> {
    let mut c_path = [0u8; MAX_PATH + 1];
    // `parse_options` refuses paths that are longer or contain a NUL.
    c_path[..path.len()].copy_from_slice(path);
    // SAFETY: `c_path` is NUL-terminated (zeroed past `path`); open has no
    // other precondition, and the descriptor is closed right after.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        // Reads errno, allocating nothing.
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(ConfigError::unwritable(path, errno));
    }
    // SAFETY: closes the descriptor opened above, once.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Turns tracking on with `config` (tables set up on the first call).
/// Nothing changes on an error.
pub(crate) fn enable_config(config: &Config) -> Result<(), ConfigError> {
    #[cfg(not(target_os = "linux"))]
    {
        let _ = config;
        return Err(ConfigError::new(ConfigErrorKind::Unsupported, b""));
    }
    if let Some(path) = config.report() {
        check_report_path(path)?;
    }
    let _lock = ENABLE_LOCK.lock();
    if let Err(client) = TABLE.setup(config) {
        return Err(ConfigError::new(
            ConfigErrorKind::TooLate,
            client.as_bytes(),
        ));
    }
    if !DEPOT.init(config.depot_cap) {
        return Err(ConfigError::new(ConfigErrorKind::OutOfMemory, b"depot"));
    }
    let frame_pointers = match config.capture {
        Capture::FramePointers => true,
        Capture::Unwind => false,
        Capture::Auto => capture::frame_pointers_work(),
    };
    let sample = if frame_pointers { 0 } else { config.sample };
    capture::configure(sample, config.depth);
    if let Some(path) = config.report() {
        for (dst, &b) in REPORT_PATH.iter().zip(path) {
            // Relaxed: published by the Release store of REPORT_LEN.
            dst.store(b, Ordering::Relaxed);
        }
        REPORT_LEN.store(path.len() as u64, Ordering::Release);
        // Relaxed: read at exit, on this thread or after its writes are
        // published by the Release above.
        REPORT_PID.store(sys::getpid(), Ordering::Relaxed);
        REPORT_CHILDREN.store(config.report_children, Ordering::Relaxed);
        register_hook(HOOK_ATEXIT);
    }
    register_hook(HOOK_ATFORK);
    // Relaxed: under ENABLE_LOCK.
    if EARLY_PENDING.swap(false, Ordering::Relaxed) {
        // After a `stop`, the pages it gave back come back at once.
        TABLE.refill();
        EARLY_FREED.store(0, Ordering::Relaxed);
        // Acquire: pairs with the Release in `start_from_env`.
        let f = LIVE_BYTES_FN.load(Ordering::Acquire);
        if !f.is_null() {
            // SAFETY: the pointer was stored from a `fn() -> u64` in
            // `start_from_env` and never changes type.
            let f: fn() -> u64 = unsafe { core::mem::transmute::<*mut (), fn() -> u64>(f) };
            EARLY_AT_ENABLE.store(f(), Ordering::Relaxed);
        }
    }
    // Release: the table layout and depot index are visible before ON.
    STATE.store(ON, Ordering::Release);
    Ok(())
}

fn register_hook(hook: u8) {
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
        // Acquire: pairs with the Release in `enable_config`.
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
        // Relaxed: see `enable_config`.
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

/// Turns tracking on at runtime with default options plus `options`.
pub(crate) fn enable_with(options: &str) -> Result<(), ConfigError> {
    let config = Config::DEFAULT.parse_options(options.as_bytes())?;
    if options.trim().is_empty() && state() == ON {
        return Ok(()); // `enable()` while on keeps the options in force
    }
    let _g = Guard::enter(GuardState::Inside);
    // The first allocation may not have happened; make sure the env is not
    // read later over this explicit choice.
    let _ = STATE.compare_exchange(UNINIT, OFF, Ordering::AcqRel, Ordering::Relaxed);
    enable_config(&config)
}

/// Turns tracking off completely: every record is dropped (the side
/// table's memory is kept, empty, for a later enable); stack totals go to zero (the depot
/// keeps its stacks). `OwnerAlloc` is a pass-through again, as if never
/// enabled; a later enable starts afresh, with a new early estimate.
pub(crate) fn stop() {
    let _lock = ENABLE_LOCK.lock();
    let s = STATE.load(Ordering::Acquire);
    if s != ON && s != PAUSED {
        return;
    }
    // Release: later allocations pass through; one already past its state
    // check may still insert after the clear (a stale record, replaced when
    // its address is next allocated).
    STATE.store(OFF, Ordering::Release);
    TABLE.lock_all();
    TABLE.clear_locked();
    DEPOT.zero_counters();
    TABLE.unlock_all();
    EARLY_PENDING.store(true, Ordering::Relaxed);
}

/// Stops recording new allocations; frees keep removing records.
pub(crate) fn disable() {
    let _ = STATE.compare_exchange(ON, PAUSED, Ordering::AcqRel, Ordering::Relaxed);
}

/// The exact live totals of `handle`: the depot's counters once every
/// shard's pending changes are added, with every shard lock held.
pub(crate) fn live_totals(handle: StackHandle) -> (u64, u64) {
    let _locked = Guard::enter(GuardState::Locked);
    TABLE.lock_all();
    TABLE.publish_locked();
    let totals = DEPOT.live(handle);
    TABLE.unlock_all();
    totals
}

pub(crate) fn is_enabled() -> bool {
    state() == ON
}

pub(crate) fn early_bytes() -> u64 {
    // Relaxed: statistics.
    EARLY_AT_ENABLE
        .load(Ordering::Relaxed)
        .saturating_sub(EARLY_FREED.load(Ordering::Relaxed))
}

pub(crate) fn unrecorded() -> u64 {
    // Relaxed: a statistic.
    UNRECORDED.load(Ordering::Relaxed)
}

/// Takes a consistent copy: every shard lock is held while records and
/// per-stack totals are copied (into buffers sized beforehand, so nothing
/// is allocated under the locks); frames are copied after.
pub(crate) fn snapshot() -> Snapshot {
    let _g = Guard::enter(GuardState::Inside);
    let mode = capture::mode();
    let mut slack = 64;
    let (allocations, live) = loop {
        let n = TABLE.len();
        // Relaxed: a sizing hint.
        let nstacks = DEPOT.stats().stacks as usize;
        let mut allocations: Vec<Allocation> = Vec::with_capacity(n + n / 8 + slack);
        let mut live: Vec<(StackHandle, u64, u64)> = Vec::with_capacity(nstacks + slack);
        let locked = Guard::enter(GuardState::Locked);
        TABLE.lock_all();
        if TABLE.len() > allocations.capacity()
            || DEPOT.stats().stacks as usize + 4 > live.capacity()
        {
            TABLE.unlock_all();
            drop(locked);
            slack *= 4;
            continue;
        }
        let thread = TABLE.has_thread();
        TABLE.publish_locked();
        TABLE.for_each_locked(|r| {
            allocations.push(Allocation {
                addr: r.addr,
                size: r.size,
                align: r.align,
                stack: r.handle,
                thread: thread.then_some(r.tid),
                timestamp_ns: thread.then_some(r.ts),
            });
        });
        for h in [
            StackHandle::DUMMY,
            StackHandle::FAILURE,
            StackHandle::UNSAMPLED,
        ] {
            let (c, b) = DEPOT.live(h);
            if c > 0 {
                live.push((h, c, b));
            }
        }
        DEPOT.for_each(|h| {
            let (c, b) = DEPOT.live(h);
            if c > 0 && live.len() < live.capacity() {
                live.push((h, c, b));
            }
        });
        TABLE.unlock_all();
        drop(locked);
        break (allocations, live);
    };
    let mut stacks = HashMap::with_capacity(live.len());
    for (handle, live_count, live_bytes) in live {
        stacks.insert(
            handle,
            Stack {
                handle,
                frames: DEPOT.frames(handle).to_vec(),
                live_count,
                live_bytes,
            },
        );
    }
    Snapshot {
        mode,
        allocations,
        stacks,
        early_bytes: early_bytes(),
        own_mapped_bytes: sys::MAPPED_BYTES.load(Ordering::Relaxed),
    }
}
