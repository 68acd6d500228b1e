//! The one error type of `allocowner::access`.

use std::fmt;
use std::io;

use super::detect::{DetectError, Mode};

/// What went wrong, with the errno DAMON's debugfs would have returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum AccessError {
    /// The control string is malformed (`EINVAL`).
    InvalidControl(String),
    /// The buffer length is outside 1024..=4 MiB and not 0 (`EINVAL`).
    BufferLen(u64),
    /// The path is 256 bytes or longer (`EINVAL`).
    PathTooLong(usize),
    /// Monitoring attributes out of range (`EINVAL`).
    InvalidAttrs(String),
    /// The setting cannot change while the monitor runs (`EBUSY`).
    Busy,
    /// The detector of this mode cannot run here (`ENOTSUP`).
    Unsupported {
        /// The mode asked for.
        mode: Mode,
        /// Why the kernel or a seccomp policy refused.
        cause: DetectError,
    },
    /// The operation needs a monitor that is not running (e.g. `tick` on a
    /// threaded monitor) or one that is (`EINVAL`).
    State(&'static str),
    /// Opening or writing the record file failed.
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// Writing the record file failed while recording: the monitor ran on,
    /// and this is reported at stop.
    Write {
        /// The file.
        path: String,
        /// Failed writes.
        failures: u64,
        /// Bytes lost.
        dropped_bytes: u64,
        /// The last error.
        source: io::Error,
    },
    /// A record file could not be parsed.
    Format(String),
    /// The record path is refused before anything is written: a symbolic
    /// link, a FIFO, a device or a directory, or a file another monitor is
    /// recording to (its `flock` is held).
    RecordPath {
        /// The path.
        path: String,
        /// Why it was refused.
        reason: &'static str,
        /// The errno: `ELOOP` for a link, `EBUSY` for a locked file,
        /// `EINVAL` for a file that is not regular.
        errno: i32,
    },
}

impl AccessError {
    /// The errno DAMON's debugfs returns for the same condition.
    pub fn errno(&self) -> i32 {
        match self {
            AccessError::InvalidControl(_)
            | AccessError::BufferLen(_)
            | AccessError::PathTooLong(_)
            | AccessError::InvalidAttrs(_)
            | AccessError::State(_)
            | AccessError::Format(_) => libc::EINVAL,
            AccessError::Busy => libc::EBUSY,
            AccessError::Unsupported { .. } => libc::ENOTSUP,
            AccessError::Io { source, .. } | AccessError::Write { source, .. } => {
                source.raw_os_error().unwrap_or(libc::EIO)
            }
            AccessError::RecordPath { errno, .. } => *errno,
        }
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::InvalidControl(s) => {
                write!(
                    f,
                    "invalid record control string {s:?}: expected \"<buffer_len> <path>\""
                )
            }
            AccessError::BufferLen(n) => write!(
                f,
                "result buffer size ({n}) is out of [1024,4194304] (0 disables recording)"
            ),
            AccessError::PathTooLong(n) => {
                write!(f, "too long (>=256 bytes) result file path: {n} bytes")
            }
            AccessError::InvalidAttrs(s) => write!(f, "invalid monitoring attributes: {s}"),
            AccessError::Busy => {
                f.write_str("the monitor is running: stop it before changing the recording (EBUSY)")
            }
            AccessError::Unsupported { mode, cause } => {
                write!(f, "access detection mode {mode} cannot run here: {cause}")
            }
            AccessError::State(s) => f.write_str(s),
            AccessError::Io { path, source } => {
                write!(f, "cannot write recording {path}: {source}")
            }
            AccessError::Write {
                path,
                failures,
                dropped_bytes,
                source,
            } => write!(
                f,
                "record file {path}: {failures} write(s) failed, {dropped_bytes} bytes dropped; last error: {source}"
            ),
            AccessError::Format(s) => write!(f, "malformed record file: {s}"),
            AccessError::RecordPath { path, reason, .. } => {
                write!(f, "cannot write recording {path}: {reason}")
            }
        }
    }
}

impl std::error::Error for AccessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccessError::Unsupported { cause, .. } => Some(cause),
            AccessError::Io { source, .. } | AccessError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}
