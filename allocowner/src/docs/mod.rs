//! Long-form documentation, kept out of the API pages.
//!
//! - [`performance`]: what tracking costs, measured, how the costs were
//!   brought down, and where the instructions go.
//! - [`internals`]: how the side table, the depot, the locks and the fork
//!   handlers are built.

pub mod internals;
pub mod performance;
