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

use std::sync::{Mutex, PoisonError};

use super::detect::Mode;
use super::error::AccessError;
use super::monitor::{Attrs, Monitor, Summary};

/// The variable read at startup: `"<buffer_len> <path>"`.
pub const ENV_VAR: &str = "ALLOCOWNER_ACCESS";
/// Optional: `write-protect` (default) or `mprotect`.
pub const MODE_ENV_VAR: &str = "ALLOCOWNER_ACCESS_MODE";

static GLOBAL: Mutex<Option<Monitor>> = Mutex::new(None);

fn start_from_env() -> Result<Option<Mode>, AccessError> {
    let Ok(control) = std::env::var(ENV_VAR) else {
        return Ok(None);
    };
    let mode = match std::env::var(MODE_ENV_VAR).as_deref() {
        Err(_) | Ok("" | "write-protect") => Mode::WriteProtect,
        Ok("mprotect") => Mode::Mprotect,
        Ok(other) => {
            return Err(AccessError::InvalidAttrs(format!(
                "{MODE_ENV_VAR}={other:?}: expected \"write-protect\" or \"mprotect\""
            )));
        }
    };
    let mut m = Monitor::with_mode(Attrs::default(), mode)?;
    m.set_recording(&control)?;
    m.start()?;
    *GLOBAL.lock().unwrap_or_else(PoisonError::into_inner) = Some(m);
    Ok(Some(mode))
}

/// Stops the monitor started from [`ENV_VAR`], flushing its record file;
/// `None` if none runs. Also called at exit.
pub fn stop_global() -> Option<Result<Summary, AccessError>> {
    let m = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner).take();
    m.map(|mut m| m.stop())
}

extern "C" fn at_exit() {
    if let Some(Err(e)) = stop_global() {
        eprintln!("allocowner::access: {e}");
    }
}

extern "C" fn init() {
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
