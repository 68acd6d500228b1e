//! The handlers of dyndbg's files in the process's debugfs (served by the
//! `dyndbg-debugfs` crate, which only routes): `dynamic_debug/control`,
//! read as the listing and written with a query batch, and dyndbg's part
//! of `stats`. They return text or a one-line error and hold no lock
//! longer than [`control`](fn@crate::control) does.

use std::fmt::Write as _;
use std::io;

use crate::control;
use crate::flags::Flags;

/// Reading `dynamic_debug/control`: the kernel's control-file listing
/// ([`listing`](crate::listing)).
pub fn read_control() -> String {
    control::listing()
}

/// Writing `dynamic_debug/control`: applies `body` as a query batch
/// ([`control`](fn@crate::control)) and answers with the match count,
/// `"3 callsites matched\n"`. A batch that does not parse changes
/// nothing; the error ([`io::ErrorKind::InvalidInput`]) carries the
/// [`QueryError`](crate::QueryError)'s text, which names the query, the
/// offset and what was expected.
///
/// ```
/// dyndbg::pr_debug!("debugfs doc example");
/// let answer = dyndbg::debugfs::write_control("format 'debugfs doc' +p").unwrap();
/// assert_eq!(answer, "1 callsites matched\n");
/// let err = dyndbg::debugfs::write_control("func x +q").unwrap_err();
/// assert!(err.to_string().contains("'q'"), "{err}");
/// ```
pub fn write_control(body: &str) -> io::Result<String> {
    match control::control(body) {
        Ok(n) => Ok(format!("{n} callsites matched\n")),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())),
    }
}

/// Callsites whose `p` flag is set now. dyndbg does not count printed
/// lines (that would cost every enabled print an atomic add), so this is
/// what the metrics export as `dyndbg_callsites_enabled`.
pub fn enabled_callsites() -> usize {
    control::callsites()
        .filter(|cs| cs.flags().contains(Flags::PRINT))
        .count()
}

/// dyndbg's lines of the `stats` file, `dyndbg.<name> <value>`.
pub fn stats() -> String {
    let s = control::stats();
    let mut out = String::new();
    let _ = writeln!(out, "dyndbg.callsites {}", s.callsites);
    let _ = writeln!(out, "dyndbg.callsites_enabled {}", enabled_callsites());
    let _ = writeln!(out, "dyndbg.raw_body_bytes {}", s.raw_body_bytes);
    let _ = writeln!(out, "dyndbg.pool_bytes {}", s.pool_bytes);
    let _ = writeln!(out, "dyndbg.pool_blocks {}", s.pool_blocks);
    let _ = writeln!(out, "dyndbg.cached_bodies {}", s.cached_bodies);
    let _ = writeln!(out, "dyndbg.cached_bytes {}", s.cached_bytes);
    let _ = writeln!(out, "dyndbg.pooled {}", u8::from(s.pooled));
    out
}
