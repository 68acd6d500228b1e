//! [`QueryError`]: which query of a batch failed, at which byte, and why.

use std::fmt;

use super::parser::MAX_WORDS;

/// A query that failed to parse: which query, at which byte, and why.
///
/// Returned by [`control`](fn@crate::control) before anything changes: a batch
/// is validated whole. Its `Display` names the query (its 1-based number in
/// the batch and its text), the byte offset in the whole batch and what was
/// expected:
///
/// ```
/// let err = dyndbg::control("file tcp.rs +p; func foo +x").unwrap_err();
/// assert_eq!(err.query_number(), 2);
/// assert_eq!(err.query(), "func foo +x");
/// assert_eq!(err.offset(), 26);
/// assert_eq!(
///     err.to_string(),
///     "query 2 \"func foo +x\": at byte 26: unknown flag 'x', expected one of p m f s l t _",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    number: usize,
    query: String,
    offset: usize,
    kind: ErrorKind,
}

/// What went wrong, one variant per kernel error message
/// (`lib/dynamic_debug.c`), in the order the kernel checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// `unclosed quote: %s`
    UnclosedQuote { quote: char },
    /// `too many words, legal max <=%d`
    TooManyWords,
    /// `bad flag-op %c, at start of %s`
    BadFlagOp { word: String },
    /// `unknown flag '%c'`
    UnknownFlag { flag: char },
    /// `expecting pairs of match-spec <value>`
    UnpairedWord { word: String },
    /// `unknown keyword "%s"`
    UnknownKeyword { word: String },
    /// `match-spec:%s val:%s overridden by %s`
    Duplicate {
        keyword: &'static str,
        first: String,
        second: String,
    },
    /// `match-spec: line used 2x`
    LineTwice,
    /// `bad line-number: %s`
    BadLineNumber { text: String },
    /// `last-line:%d < 1st-line:%d`
    ReversedRange { first: u32, last: u32 },
}

/// An error located in the batch, before it is tied to its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) kind: ErrorKind,
    /// Byte offset in the whole batch.
    pub(crate) offset: usize,
}

impl Fault {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Fault {
        Fault { kind, offset }
    }
}

// === impl QueryError ===

impl QueryError {
    pub(crate) fn new(fault: Fault, number: usize, query: &str) -> QueryError {
        QueryError {
            number,
            query: query.to_owned(),
            offset: fault.offset,
            kind: fault.kind,
        }
    }

    /// The failing query's number in the batch, counting from 1. Empty
    /// pieces and `#` comment lines are not queries and are not counted.
    pub fn query_number(&self) -> usize {
        self.number
    }

    /// The failing query's text, without the surrounding whitespace.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The byte offset, in the whole batch, of what was wrong.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong and what was expected, without the query and offset:
    /// `unknown flag 'x', expected one of p m f s l t _`.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    #[cfg(test)]
    pub(crate) fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query {} {:?}: at byte {}: {}",
            self.number, self.query, self.offset, self.kind
        )
    }
}

impl std::error::Error for QueryError {}

// === impl ErrorKind ===

const FLAG_LETTERS: &str = "p m f s l t _";
const KEYWORDS: &str = "func file module format line class";

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnclosedQuote { quote } => write!(
                f,
                "unclosed quote {quote}, expected a closing {quote} before the end of \
                 the query (; and newlines end a query even inside quotes)"
            ),
            ErrorKind::TooManyWords => write!(
                f,
                "too many words, expected at most {MAX_WORDS} \
                 ({} keyword/value pairs and the flags)",
                (MAX_WORDS - 1) / 2
            ),
            ErrorKind::BadFlagOp { word } => match word.chars().next() {
                Some(op) => write!(
                    f,
                    "bad flag-op '{op}' at start of {word:?}, expected the last word \
                     to be flags: + - or = then letters from {FLAG_LETTERS}"
                ),
                None => write!(
                    f,
                    "empty flags, expected the last word to be flags: + - or = then \
                     letters from {FLAG_LETTERS}"
                ),
            },
            ErrorKind::UnknownFlag { flag } => {
                write!(f, "unknown flag '{flag}', expected one of {FLAG_LETTERS}")
            }
            ErrorKind::UnpairedWord { word } => write!(
                f,
                "unpaired word {word:?} before the flags, expected pairs of match-spec <value>"
            ),
            ErrorKind::UnknownKeyword { word } => {
                write!(f, "unknown keyword {word:?}, expected one of {KEYWORDS}")
            }
            ErrorKind::Duplicate {
                keyword,
                first,
                second,
            } => write!(
                f,
                "match-spec {keyword} given twice ({first:?} overridden by {second:?}), \
                 expected each keyword at most once"
            ),
            ErrorKind::LineTwice => write!(
                f,
                "match-spec line given twice, expected one line range per query"
            ),
            ErrorKind::BadLineNumber { text } => write!(
                f,
                "bad line-number {text:?}, expected a decimal line number or range \
                 (N, N-M, N-, -M)"
            ),
            ErrorKind::ReversedRange { first, last } => write!(
                f,
                "last-line {last} < 1st-line {first}, expected a range N-M with N <= M"
            ),
        }
    }
}
