//! Process-wide tracking: the state the allocation paths read
//! ([`state`](mod@state)), turning tracking on and off (here: from
//! `ALLOCOWNER` at the first allocation, or through the API), the fork
//! and exit hooks registered when it is first on ([`hooks`]), and reading
//! the records ([`snapshot`](mod@snapshot)).

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

mod hooks;
pub(crate) mod sampling;
mod snapshot;
mod state;

pub(crate) use snapshot::{live_totals, snapshot};
pub(crate) use state::{
    ON, PAUSED, SAMPLED, UNINIT, count_unrecorded, early_freed, is_enabled, state, unrecorded,
};

use state::{EARLY_AT_ENABLE, EARLY_FREED, OFF, STARTING, STATE};

use crate::config::{Capture, Config, ConfigError, ConfigErrorKind};
use crate::depot::DEPOT;
use crate::guard::{Guard, GuardState};
use crate::limits::MAX_PATH;
use crate::spin::SpinLock;
use crate::table::TABLE;
use crate::{capture, sys};

/// Held while tracking is enabled or stopped, and across `fork` (see
/// [`hooks`]).
static ENABLE_LOCK: SpinLock = SpinLock::new();
static LIVE_BYTES_FN: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
/// Whether the next enable takes a new early estimate (first enable, or
/// after `stop`).
static EARLY_PENDING: AtomicBool = AtomicBool::new(true);

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
    let period = sampling::period();
    if config.sample_bytes != 0 && period != 0 && period != config.sample_bytes {
        // The records sampled at `period` would be scaled by another.
        return Err(ConfigError::new(
            ConfigErrorKind::SampleBytesChanged,
            b"sample_bytes",
        ));
    }
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
        hooks::set_report(path, config.report_children);
    }
    hooks::register_hook(hooks::HOOK_ATFORK);
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
    if config.sample_bytes != 0 {
        // Frees learn from the filter whether their block was sampled:
        // every record there is now is counted in first.
        let _locked = Guard::enter(GuardState::Locked);
        TABLE.lock_all();
        TABLE.start_filter_locked();
        TABLE.unlock_all();
        sampling::set_period(config.sample_bytes);
    }
    // Release: the table layout and depot index are visible before ON.
    STATE.store(
        if config.sample_bytes == 0 {
            ON
        } else {
            SAMPLED
        },
        Ordering::Release,
    );
    Ok(())
}

/// Turns tracking on at runtime with default options plus `options`.
pub(crate) fn enable_with(options: &str) -> Result<(), ConfigError> {
    let config = Config::DEFAULT.parse_options(options.as_bytes())?;
    if options.trim().is_empty() && is_enabled() {
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
    if s != ON && s != PAUSED && s != SAMPLED {
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
    sampling::set_period(0);
    EARLY_PENDING.store(true, Ordering::Relaxed);
}

/// Stops recording new allocations; frees keep removing records.
pub(crate) fn disable() {
    for from in [ON, SAMPLED] {
        let _ = STATE.compare_exchange(from, PAUSED, Ordering::AcqRel, Ordering::Relaxed);
    }
}
