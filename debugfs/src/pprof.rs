//! `heap.pprof` and `/debug/pprof/heap`: allocowner's pprof profile.

use std::io;

/// The heap profile as gzip'd profile.proto, from allocowner's handler.
pub(crate) fn heap() -> io::Result<Vec<u8>> {
    allocowner::debugfs::heap_pprof()
}
