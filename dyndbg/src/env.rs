//! The `DYNDBG` environment variable: a query applied at first use; and
//! how dyndbg reads its variables (`DYNDBG`, `DYNDBG_POOL`): never in a
//! setuid/setgid program, as glibc's `secure_getenv` does.

use std::ffi::OsString;

use crate::query::{self, Query};

/// The environment variable read once, before the first callsite prints.
pub const ENV_VAR: &str = "DYNDBG";

/// Whether the program runs in secure mode: setuid or setgid (or with
/// file capabilities), where the environment belongs to a less privileged
/// caller. Linux: the kernel's `AT_SECURE` auxiliary value; the BSDs and
/// macOS: `issetugid()`; elsewhere never.
#[cfg(target_os = "linux")]
pub(crate) fn at_secure() -> bool {
    // SAFETY: getauxval has no preconditions; it reads the auxiliary vector
    // the kernel gave the process and returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
pub(crate) fn at_secure() -> bool {
    // SAFETY: issetugid has no preconditions and cannot fail.
    unsafe { libc::issetugid() != 0 }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
pub(crate) fn at_secure() -> bool {
    false
}

/// Reads `name` like glibc's `secure_getenv`: `None` in a setuid/setgid
/// program, saying so on one stderr line when the variable was set. Each
/// of dyndbg's variables is read once per process (`DYNDBG` at the first
/// callsite, `DYNDBG_POOL` when the store is built), so the line is
/// printed at most once per variable.
pub(crate) fn secure_var_os(name: &str) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    if at_secure() {
        eprintln!("dyndbg: {name} ignored: setuid/setgid program (AT_SECURE)");
        return None;
    }
    Some(value)
}

/// The `DYNDBG` query, read and parsed for the start-up work
/// (`control::init`, which applies it): `None` when the variable is unset,
/// ignored (setuid/setgid), not UTF-8 or not a valid batch, each of the
/// last three said on one stderr line. A bad query thus changes nothing.
pub(crate) fn startup_query() -> Option<Vec<Query>> {
    let value = secure_var_os(ENV_VAR)?;
    let Some(value) = value.to_str() else {
        eprintln!("dyndbg: {ENV_VAR} is not valid UTF-8; ignored");
        return None;
    };
    match query::parse_batch(value) {
        Ok(batch) => Some(batch),
        Err(err) => {
            eprintln!("dyndbg: {ENV_VAR} ignored: {err}");
            None
        }
    }
}
