//! Where the socket lives, the directory's checks, and the environment
//! read as glibc's `secure_getenv` reads it.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use crate::Error;

/// Whether the program runs setuid/setgid (the kernel's `AT_SECURE`):
/// then the environment belongs to a less privileged caller.
pub(crate) fn at_secure() -> bool {
    // SAFETY: getauxval has no preconditions; it reads the auxiliary
    // vector and returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// `name` as `secure_getenv` gives it: `None` in a setuid/setgid program.
/// With `report`, a set variable ignored that way is said on one stderr
/// line (the constructor reads each variable once).
pub(crate) fn secure_var_os(name: &str, report: bool) -> Option<OsString> {
    let value = std::env::var_os(name)?;
    if at_secure() {
        if report {
            eprintln!("dyndbg-debugfs: {name} ignored: setuid/setgid program (AT_SECURE)");
        }
        return None;
    }
    Some(value)
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The directory of the sockets of this user's processes:
/// `$XDG_RUNTIME_DIR/dyndbg` when that variable is set to an absolute path
/// (and the program is not setuid/setgid), else `/tmp/dyndbg-<uid>`.
pub fn socket_dir() -> PathBuf {
    match secure_var_os("XDG_RUNTIME_DIR", false) {
        Some(dir) if Path::new(&dir).is_absolute() => Path::new(&dir).join("dyndbg"),
        _ => PathBuf::from(format!("/tmp/dyndbg-{}", euid())),
    }
}

/// The socket of process `pid`: `<socket_dir>/<pid>.sock`.
pub fn socket_path(pid: u32) -> PathBuf {
    socket_dir().join(format!("{pid}.sock"))
}

/// Creates `dir` with mode 0700 if it is missing, then checks it is ours:
/// a real directory (not a symbolic link), owned by the effective uid,
/// with no access for group or others. Anything else is refused, naming
/// the directory, and nothing is created in it.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), Error> {
    let unsafe_dir = |why: String| Error::UnsafeDir {
        path: dir.to_owned(),
        why,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Error::Io {
                what: "cannot create the socket directory",
                path: dir.to_owned(),
                source: e,
            });
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| Error::Io {
        what: "cannot read the socket directory",
        path: dir.to_owned(),
        source: e,
    })?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir("a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory".into()));
    }
    if meta.uid() != euid() {
        return Err(unsafe_dir(format!(
            "owned by uid {}, not by this process's uid {}",
            meta.uid(),
            euid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "mode {:04o}, open to group or others (0700 needed)",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}
