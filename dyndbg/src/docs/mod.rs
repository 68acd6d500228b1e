//! Long-form documentation, kept out of the API pages.
//!
//! - [`kernel_differences`]: every error and quirk of the kernel's query
//!   language, and what dyndbg does.
//! - [`performance`]: the measured costs of callsites and of the body
//!   pool, and how the pool's parameters were chosen.
//! - [`migration`]: from `log::debug!` to `pr_debug!`; `DYNDBG` and
//!   `RUST_LOG`; every `log` and `tracing` form.
//! - [`internals`]: how the crate is built: records, the pool, the layers
//!   of modules.

pub mod internals;
pub mod kernel_differences;
pub mod migration;
pub mod performance;
