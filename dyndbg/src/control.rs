//! Applying queries to the callsites, and the kernel's control-file listing.

use std::fmt::Write as _;

use crate::callsite::{Callsite, UNREGISTERED};
use crate::flags::Flags;
use crate::query::{self, QueryError, SiteInfo};
use crate::registry;

impl SiteInfo for Callsite {
    fn module(&self) -> &str {
        Callsite::module(self)
    }
    fn file(&self) -> &str {
        Callsite::file(self)
    }
    fn function(&self) -> &str {
        Callsite::function(self)
    }
    fn line(&self) -> u32 {
        Callsite::line(self)
    }
    fn format(&self) -> &str {
        Callsite::format(self)
    }
    fn class(&self) -> Option<&str> {
        Callsite::class(self)
    }
}

/// Applies a batch of queries in the kernel's language and returns how many
/// callsites matched, summed over the queries (a callsite whose flags did
/// not change still counts, as in the kernel).
///
/// The whole batch is parsed before anything changes: on error no callsite
/// changes, and the error names the query, the byte offset and what was
/// expected.
///
/// ```
/// dyndbg::pr_debug!("hello from the doc test");
/// let matched = dyndbg::control("format 'hello from the doc' +pfl").unwrap();
/// assert!(matched >= 1);
/// let err = dyndbg::control("file x.rs +p; func y +q").unwrap_err();
/// assert!(err.to_string().contains("'q'"), "{err}");
/// ```
pub fn control(queries: &str) -> Result<usize, QueryError> {
    registry::init();
    let batch = query::parse_batch(queries)?;
    let _writer = registry::lock_writer();
    Ok(apply_locked(&batch))
}

/// Applies parsed queries; the caller holds the writer lock.
pub(crate) fn apply_locked(batch: &[query::Query]) -> usize {
    let mut matched = 0;
    for q in batch {
        for cs in registry::all() {
            if q.matches(cs) {
                matched += 1;
                let head = cs.head_bits();
                let new = q.apply(Flags::from_bits(head));
                cs.store_head(new.bits() | (head & UNREGISTERED));
            }
        }
    }
    matched
}

/// Returns every callsite to the flags it had at startup (compile-time
/// defaults, before `DYNDBG`).
pub fn reset() {
    registry::init();
    let _writer = registry::lock_writer();
    for cs in registry::all() {
        cs.store_head(cs.default_flags().bits());
    }
}

/// Every callsite compiled into the program, whether it has run or not.
pub fn callsites() -> impl ExactSizeIterator<Item = &'static Callsite> {
    registry::init();
    registry::all().iter()
}

/// The listing in the kernel's control-file format: a header, then
/// `file:line [module]function =flags "format"` per callsite, with ` class:NAME`
/// after the format of a classed callsite.
pub fn listing() -> String {
    let mut out = String::from("# filename:lineno [module]function flags format\n");
    for cs in callsites() {
        let _ = write!(
            out,
            "{}:{} [{}]{} ={} \"",
            cs.file(),
            cs.line(),
            cs.module(),
            cs.function(),
            cs.flags()
        );
        escape_format(cs.format(), &mut out);
        out.push('"');
        if let Some(class) = cs.class() {
            let _ = write!(out, " class:{class}");
        }
        out.push('\n');
    }
    out
}

/// The kernel escapes `\t \r \n` (seq_escape_str with ESCAPE_SPACE); we also
/// escape `"` and `\` so every line parses back unambiguously.
fn escape_format(format: &str, out: &mut String) {
    for c in format.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
}
