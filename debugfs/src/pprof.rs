//! `heap.pprof` and `/debug/pprof/heap`: allocowner's pprof profile.

use std::io;

/// The heap profile as gzip'd profile.proto, from allocowner.
pub(crate) fn heap() -> io::Result<Vec<u8>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "heap.pprof: this allocowner has no pprof writer (Report::write_pprof)",
    ))
}
