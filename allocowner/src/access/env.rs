//! Start at load time from `ALLOCOWNER_ACCESS="<buffer_len> <path>"`, stop
//! and flush at exit.
//!
//! The monitor thread is started by a constructor in `.init_array`, which
//! the C runtime runs before `main`, outside the allocator and with no lock
//! held; nothing starts from inside `OwnerAlloc`. The constructor registers
//! an `atexit` handler that stops the monitor and flushes the buffer when the
//! program returns from `main` or calls `std::process::exit`. A process
//! killed by a signal or ending in `_exit` loses what is still buffered.
//! The constructor also notes the main thread, whose control block the
//! target leaves out.
//!
//! The constructor runs in every program that links allocowner with the
//! `access` feature (only there: without the feature this module is not
//! compiled), so it does nothing at all (no allocation, no output) unless `ALLOCOWNER_ACCESS` is
//! set, which it checks with `getenv` first. In a setuid or setgid program
//! (`getauxval(AT_SECURE) != 0`) both variables are ignored, as glibc's
//! `secure_getenv` would, with one line on stderr per variable set
//! (`ALLOCOWNER_ACCESS_MODE` alone does nothing anywhere, so it is not
//! mentioned then).
//!
//! **One monitor per process.** Two copies of allocowner in one binary (two
//! semver-incompatible versions) each have this constructor and their own
//! statics. The first to start claims the process by binding the abstract
//! Unix socket `allocowner-access-<pid>` (process-wide, independent of any
//! symbol or static, released by the kernel when the process ends or
//! execs, since the socket is close-on-exec); the second finds the name
//! taken and starts nothing, saying so on stderr. If sockets are
//! forbidden (a seccomp policy), the claim is skipped; the record file's
//! `flock` still stops two monitors from writing one file.
//!
//! **Forked children.** A child inherits the monitor object but not its
//! thread. At the child's exit nothing is stopped, flushed or closed: the
//! child never writes to, truncates or appends to the parent's recording
//! (including the part of it still buffered, which the parent flushes), and
//! never touches the parent's monitor thread or userfaultfd. A child does
//! not record on its own either: that would need a monitor thread started
//! inside the child, which cannot be done safely from a fork handler, so
//! there is no `PATH.<pid>` recording of children (unlike the allocator's
//! exit report). The child's claim socket is closed at fork.

use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, Once, PoisonError};

use super::detect::Mode;
use super::error::AccessError;
use super::monitor::{Attrs, Monitor, Summary};

/// The variable read at startup: `"<buffer_len> <path>"`.
pub const ENV_VAR: &str = "ALLOCOWNER_ACCESS";
/// Optional: `write-protect` (default) or `mprotect`.
pub const MODE_ENV_VAR: &str = "ALLOCOWNER_ACCESS_MODE";

const ENV_VAR_C: &CStr = c"ALLOCOWNER_ACCESS";
const MODE_ENV_VAR_C: &CStr = c"ALLOCOWNER_ACCESS_MODE";

static GLOBAL: Mutex<Option<Monitor>> = Mutex::new(None);
/// The process that started [`GLOBAL`]'s monitor (0: none). A forked child
/// sees another pid and leaves the monitor alone.
static OWNER_PID: AtomicU32 = AtomicU32::new(0);
/// The descriptor of the process-wide claim socket, -1 when none.
static CLAIM_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn close_claim_in_child() {
    // The child must not hold the parent's name: if the parent execs, its
    // new image claims the same pid's name again. close is
    // async-signal-safe. Relaxed: the child is single-threaded here.
    let fd = CLAIM_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: the child's own copy of the claim descriptor.
        unsafe { libc::close(fd) };
    }
}

/// Claims the process for one monitor: binds the abstract socket
/// `allocowner-access-<pid>`. `Err` when another copy of allocowner holds
/// it; `Ok` also when sockets are not available here (the claim is then
/// skipped).
fn claim() -> Result<(), AccessError> {
    static ATFORK: Once = Once::new();
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(()); // no sockets (seccomp): the file's flock remains
    }
    let name = format!("allocowner-access-{}", std::process::id());
    // SAFETY: a zeroed sockaddr_un is valid (family set below).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // Abstract name: sun_path[0] stays 0, the name follows.
    for (d, s) in addr.sun_path[1..].iter_mut().zip(name.bytes()) {
        *d = s.cast_signed();
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
    // SAFETY: `addr` is a valid sockaddr_un and `len` covers the family,
    // the leading NUL and the name, within its size.
    let r = unsafe { libc::bind(fd, (&raw const addr).cast(), len as libc::socklen_t) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: our own fresh descriptor.
        unsafe { libc::close(fd) };
        if e.raw_os_error() == Some(libc::EADDRINUSE) {
            return Err(AccessError::State(
                "another copy of allocowner already monitors this process (one monitor per process)",
            ));
        }
        return Ok(());
    }
    // Relaxed: read by this thread at stop and by the fork child handler,
    // which runs in the forking thread.
    CLAIM_FD.store(fd, Ordering::Relaxed);
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" function for the child.
        unsafe { libc::pthread_atfork(None, None, Some(close_claim_in_child)) };
    });
    Ok(())
}

fn release_claim() {
    // Relaxed: see `claim`.
    let fd = CLAIM_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: the claim descriptor, owned by this module.
        unsafe { libc::close(fd) };
    }
}

fn start_from_env() -> Result<Option<Mode>, AccessError> {
    use std::env::VarError;
    // A value that is not UTF-8 is an error that names the variable, never
    // taken for "unset".
    let control = match std::env::var(ENV_VAR) {
        Ok(control) => control,
        Err(VarError::NotPresent) => return Ok(None),
        Err(VarError::NotUnicode(v)) => {
            // Named by the caller's "ALLOCOWNER_ACCESS ignored: " prefix.
            return Err(AccessError::InvalidControl(format!(
                "{} (not UTF-8)",
                v.display()
            )));
        }
    };
    let mode = match std::env::var(MODE_ENV_VAR) {
        Err(VarError::NotPresent) => Mode::WriteProtect,
        Ok(m) if m.is_empty() || m == "write-protect" => Mode::WriteProtect,
        Ok(m) if m == "mprotect" => Mode::Mprotect,
        Ok(other) => {
            return Err(AccessError::InvalidAttrs(format!(
                "{MODE_ENV_VAR}={other:?}: expected \"write-protect\" or \"mprotect\""
            )));
        }
        Err(VarError::NotUnicode(v)) => {
            return Err(AccessError::InvalidAttrs(format!(
                "{MODE_ENV_VAR}=\"{}\": expected \"write-protect\" or \"mprotect\"",
                v.display()
            )));
        }
    };
    let mut m = Monitor::with_mode(Attrs::default(), mode)?;
    m.set_recording(&control)?;
    claim()?;
    if let Err(e) = m.start() {
        release_claim();
        return Err(e);
    }
    // Relaxed: read at exit by this process (after the constructor) or by
    // a forked child, whose memory is a copy made after this store.
    OWNER_PID.store(std::process::id(), Ordering::Relaxed);
    *GLOBAL.lock().unwrap_or_else(PoisonError::into_inner) = Some(m);
    Ok(Some(mode))
}

/// Stops the monitor started from [`ENV_VAR`], flushing its record file;
/// `None` if none runs. Also called at exit. In a forked child it is
/// `None` and does nothing: the monitor and its recording are the
/// parent's.
pub fn stop_global() -> Option<Result<Summary, AccessError>> {
    // Relaxed: see `start_from_env`.
    let owner = OWNER_PID.load(Ordering::Relaxed);
    if owner == 0 || owner != std::process::id() {
        return None; // never started here, or a forked child
    }
    let m = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner).take();
    let r = m.map(|mut m| m.stop());
    release_claim();
    r
}

extern "C" fn at_exit() {
    if let Some(Err(e)) = stop_global() {
        eprintln!("allocowner::access: {e}");
    }
}

extern "C" fn init() {
    if crate::sys::getenv(ENV_VAR_C).is_none() {
        return; // every program linking the sampler: nothing at all
    }
    if crate::sys::secure_execution() {
        eprintln!("allocowner: {ENV_VAR} ignored: setuid/setgid program (AT_SECURE)");
        if crate::sys::getenv(MODE_ENV_VAR_C).is_some() {
            eprintln!("allocowner: {MODE_ENV_VAR} ignored: setuid/setgid program (AT_SECURE)");
        }
        return;
    }
    super::target::note_main_thread();
    match start_from_env() {
        Ok(None) => {}
        Ok(Some(mode)) => {
            // SAFETY: registers a plain extern "C" function with no
            // arguments, as atexit requires.
            unsafe { libc::atexit(at_exit) };
            eprintln!(
                "allocowner::access: monitoring {} with {mode}, recording {}",
                mode.measures(),
                std::env::var(ENV_VAR).unwrap_or_default()
            );
        }
        Err(e) => eprintln!("allocowner::access: {ENV_VAR} ignored: {e}"),
    }
}

/// Run by the C runtime before `main` (and kept by the linker: `#[used]`).
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;
