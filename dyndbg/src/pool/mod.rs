//! The cold-body pool of seed 000: every callsite's body serialized and
//! compressed with zstd into independently decompressible blocks, built at
//! first use, read block by block by queries and listings.
//!
//! Layout: each record is `line` (LEB128) then five length-prefixed strings,
//! module, file, function, format, class, in the slice's order. Records are
//! grouped into blocks of about `BLOCK_TARGET` raw bytes; each block is one
//! zstd frame compressed against a dictionary sampled from the program's own
//! records. The index holds, per block, where its frame starts and the first
//! callsite it covers; the callsites of a block run up to the next block's
//! first.
//!
//! The compressed pool (`compressed`, on zstd) exists only with the `pool`
//! feature (on by default); without it `absent` gives a `Pool` type with
//! no values and the store keeps the raw records. What stays here is
//! shared by both: the views of a body, the cache's copy, the parameters.

#[cfg(all(target_os = "linux", feature = "pool"))]
pub(crate) mod resident;

#[cfg(feature = "pool")]
mod compressed;
#[cfg(feature = "pool")]
pub(crate) use compressed::{BLOCKS_READ, Params, Pool, PoolError};
#[cfg(not(feature = "pool"))]
mod absent;
#[cfg(not(feature = "pool"))]
pub(crate) use absent::Pool;

use std::fmt;

use crate::query::SiteInfo;

/// A body as a query or a listing sees it, borrowed from a decompressed
/// block or from the static record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyView<'a> {
    pub(crate) module: &'a str,
    pub(crate) file: &'a str,
    pub(crate) function: &'a str,
    pub(crate) format: &'a str,
    /// "" for none.
    pub(crate) class: &'a str,
    pub(crate) line: u32,
}

impl SiteInfo for BodyView<'_> {
    fn module(&self) -> &str {
        self.module
    }
    fn file(&self) -> &str {
        self.file
    }
    fn function(&self) -> &str {
        self.function
    }
    fn line(&self) -> u32 {
        self.line
    }
    fn format(&self) -> &str {
        self.format
    }
    fn class(&self) -> Option<&str> {
        (!self.class.is_empty()).then_some(self.class)
    }
}

/// A decompressed body kept for an enabled callsite: one allocation for the
/// five strings.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CachedBody {
    /// Module, file, function, format, class: one string each, so a print
    /// reads them with no slicing checks.
    parts: [Box<str>; 5],
    line: u32,
}

impl CachedBody {
    pub(crate) fn new(view: &BodyView<'_>) -> CachedBody {
        CachedBody {
            parts: [
                view.module,
                view.file,
                view.function,
                view.format,
                view.class,
            ]
            .map(Box::from),
            line: view.line,
        }
    }

    pub(crate) fn view(&self) -> BodyView<'_> {
        let [module, file, function, format, class] = &self.parts;
        BodyView {
            module,
            file,
            function,
            format,
            class,
            line: self.line,
        }
    }

    /// Heap bytes plus the record itself.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.parts.iter().map(|p| p.len()).sum::<usize>()
    }
}

impl fmt::Debug for CachedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

/// What the raw records would cost if each carried its own strings: the
/// `Body` struct plus every string it points to, and the function name the
/// runtime computes.
pub(crate) fn raw_bytes(view: &BodyView<'_>) -> usize {
    std::mem::size_of::<crate::callsite::Body>()
        + view.module.len()
        + view.file.len()
        + view.function.len()
        + view.format.len()
        + view.class.len()
}
