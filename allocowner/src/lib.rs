//! `OwnerAlloc`: a global allocator wrapper that knows which call stack owns
//! every live allocation, after the kernel's page_owner on the stack depot
//! (seeds 003 and 004), and `access`, a DAMON-style sampler of heap access
//! regions (seed 001).
//!
//! Not built yet.

#[cfg(target_os = "linux")]
pub mod access;
mod snapshot;
pub use snapshot::{Allocation, CaptureMode, Snapshot, Stack, StackHandle};
