//! The kernel's dynamic-debug query language: parsing a batch of queries
//! and matching one query against a callsite.
//!
//! ```text
//! batch      ::= query ( (';' | '\n') query )*
//! query      ::= match-spec* flags-spec          (words split by blanks, at most 9)
//! match-spec ::= 'func' pattern | 'file' file-spec | 'module' pattern
//!              | 'format' text | 'class' name | 'line' line-range
//! file-spec  ::= pattern | pattern ':' pattern | pattern ':' line-range
//! line-range ::= N | N '-' M | N '-' | '-' M
//! flags-spec ::= ('+' | '-' | '=') [pmfslt_]*
//! ```
//!
//! Modules, one step each, in the kernel's order:
//! [`lexer`] splits the batch into queries and the queries into words,
//! [`parser`] turns words into a [`Query`] (with [`escape`] for `format`
//! values), [`matcher`] decides whether a query selects a callsite, and
//! [`error`] says what went wrong where. Where and why we differ from the
//! kernel: [`crate::docs::kernel_differences`].

mod error;
mod escape;
mod lexer;
mod matcher;
mod parser;

pub use error::QueryError;
pub(crate) use matcher::glob;

use crate::flags::Flags;

/// What a query can see of a callsite. Implemented by the body views the
/// store hands out (from the pool or the raw records), so matching never
/// cares where bodies live.
pub(crate) trait SiteInfo {
    /// `module_path!()`: `app::net`.
    fn module(&self) -> &str;
    /// `file!()`: `app/src/net.rs`.
    fn file(&self) -> &str;
    /// Qualified within the module: `Client::connect`.
    fn function(&self) -> &str;
    /// `line!()`.
    fn line(&self) -> u32;
    /// The format string as written.
    fn format(&self) -> &str;
    /// The class named with `class = "..."`, if any.
    fn class(&self) -> Option<&str>;
}

/// One parsed query: match-specs ANDed together, and a flags change.
///
/// An absent match-spec is no constraint, except `class`: a query without
/// `class` selects only callsites without a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    /// `module`: a glob over the whole module path.
    module: Option<String>,
    /// `file`: a glob over the path, its basename or its crate-relative path.
    file: Option<String>,
    /// `func` (or `file F:func`): a glob over the qualified name, its last
    /// segment, or `module::qualified`.
    function: Option<String>,
    /// `format`: unescaped bytes, a substring or an anchored prefix.
    format: Option<FormatPattern>,
    /// `line` (or `file F:N-M`); `None` when absent or fully open.
    lines: Option<LineRange>,
    /// `class`: exact name.
    class: Option<String>,
    /// The flags word.
    change: FlagsChange,
}

/// A `format` value after unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormatPattern {
    /// Written with a leading `^`: the format must start with `needle`.
    anchored: bool,
    needle: Vec<u8>,
}

/// Inclusive line bounds; `last` is `u32::MAX` when open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineRange {
    first: u32,
    last: u32,
}

/// The flags word: an operator and the flags it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlagsChange {
    op: FlagOp,
    flags: Flags,
}

/// `+`, `-` or `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagOp {
    /// `+`: set these flags, keep the others.
    Add,
    /// `-`: clear these flags, keep the others.
    Remove,
    /// `=`: exactly these flags.
    Set,
}

impl Query {
    /// Whether this query selects `site`: every given constraint holds.
    pub(crate) fn matches(&self, site: &impl SiteInfo) -> bool {
        matcher::matches(self, site)
    }

    /// Whether the query names `func` (or `file F:func`): callsites of
    /// other crates (`tracing`'s, `log`'s) have no function to match.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn names_function(&self) -> bool {
        self.function.is_some()
    }

    /// Whether the query names `format`.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn names_format(&self) -> bool {
        self.format.is_some()
    }

    /// The class the query names, if any.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn class(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// This query without its `format` match-spec.
    #[cfg(feature = "tracing")]
    pub(crate) fn without_format(&self) -> Query {
        Query {
            format: None,
            ..self.clone()
        }
    }

    /// The flags of a selected callsite after this query.
    pub(crate) fn apply(&self, old: Flags) -> Flags {
        let FlagsChange { op, flags } = self.change;
        match op {
            FlagOp::Add => old | flags,
            FlagOp::Remove => old & !flags,
            FlagOp::Set => flags,
        }
    }
}

/// Parses a whole batch: queries split by `;` or newlines before
/// tokenizing, empty and `#` comment pieces skipped. The batch is validated
/// whole: the first query that fails to parse is the error.
pub(crate) fn parse_batch(input: &str) -> Result<Vec<Query>, QueryError> {
    lexer::split_batch(input)
        .enumerate()
        .map(|(index, piece)| {
            lexer::tokenize(piece)
                .and_then(|words| parser::parse_query(&words))
                .map_err(|fault| QueryError::new(fault, index + 1, piece.text))
        })
        .collect()
}

#[cfg(test)]
mod tests;
