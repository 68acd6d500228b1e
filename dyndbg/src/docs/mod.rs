//! Long-form documentation, kept out of the API pages.

pub mod kernel_differences;
