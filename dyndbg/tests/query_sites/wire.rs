//! Callsites in a second source file of the `query_control` test binary,
//! reached through a `#[path]` module.

use dyndbg::pr_debug;

pub(crate) struct Codec {
    pub(crate) version: u8,
}

impl Codec {
    pub(crate) fn encode(&self, len: usize) {
        pr_debug!("wire: encoding {len} bytes, v{}", self.version);
    }

    pub(crate) fn decode(&self, len: usize) {
        pr_debug!(
            class = "WIRE",
            "wire: decoded {len} bytes, v{}",
            self.version
        );
    }
}

/// Rust functions may start with `_`: `file F:_checksum` is a function.
pub(crate) fn _checksum() {
    pr_debug!("wire: checksum ok");
}
