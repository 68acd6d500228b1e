//! Long-form documentation, kept out of the API pages.
//!
//! - [`performance`]: what a site costs disarmed and armed, measured
//!   beside `tracing`.
//! - [`internals`]: how the crate is built: the modules, in layers.

pub mod internals;
pub mod performance;
