//! The kernel's dynamic-debug query language: parsing a batch of queries
//! and matching one query against a callsite.
//!
//! INTERFACE (owned by the query-language work; control.rs relies on it):
//! - `parse_batch(&str) -> Result<Vec<Query>, QueryError>`
//! - `Query::matches(&self, &impl SiteInfo) -> bool`
//! - `Query::apply(&self, Flags) -> Flags`

use std::fmt;

use crate::flags::Flags;

/// What a query can see of a callsite. Implemented by the registry (and,
/// later, by the compressed pool), so matching never cares where bodies live.
pub(crate) trait SiteInfo {
    fn module(&self) -> &str;
    fn file(&self) -> &str;
    /// Qualified within the module: `Client::connect`.
    fn function(&self) -> &str;
    fn line(&self) -> u32;
    fn format(&self) -> &str;
    fn class(&self) -> Option<&str>;
}

/// One parsed query: match-specs ANDed together, and a flags change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {}

impl Query {
    pub(crate) fn matches(&self, _site: &impl SiteInfo) -> bool {
        todo!()
    }

    pub(crate) fn apply(&self, _old: Flags) -> Flags {
        todo!()
    }
}

/// Parses a whole batch (queries split by `;` or newlines, `#` comments).
pub(crate) fn parse_batch(_input: &str) -> Result<Vec<Query>, QueryError> {
    todo!()
}

/// A query that failed to parse: which query, at which byte, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {}

impl fmt::Display for QueryError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl std::error::Error for QueryError {}
