//! Without the `pool` feature there is no pool: [`Pool`] has no values,
//! so the store is always the raw records, and every place that handles a
//! pool (`Store::Pool`) is unreachable by construction rather than by a
//! runtime check. The crate then does not depend on `zstd` at all (no
//! `zstd-sys` 2.x claiming the native `zstd` library: see the crate docs,
//! "Features").

use super::BodyView;

/// No pool can exist: dyndbg was built without its `pool` feature.
#[derive(Debug)]
pub(crate) enum Pool {}

impl Pool {
    pub(crate) fn raw_body_bytes(&self) -> usize {
        match *self {}
    }

    pub(crate) fn bytes(&self) -> usize {
        match *self {}
    }

    pub(crate) fn blocks(&self) -> usize {
        match *self {}
    }

    pub(crate) fn for_each(&self, _f: impl FnMut(usize, &BodyView<'_>)) {
        match *self {}
    }
}
