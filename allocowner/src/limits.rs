//! Bounds shared by the option parser ([`crate::config`]), the stack depot
//! ([`crate::depot`]) and the capture: a leaf module, so that neither of
//! the first two imports the other.

/// Deepest accepted `depth=N`: frames kept per stack, and the most a depot
/// record holds.
pub(crate) const MAX_DEPTH: usize = 64;
/// Longest accepted `report=PATH`, in bytes.
pub(crate) const MAX_PATH: usize = 255;
/// Bytes in one depot pool (the kernel's `DEPOT_POOL_ORDER 2`: 4 pages).
pub(crate) const POOL_SIZE: usize = 16 << 10;
/// Most depot pools: 8191 × 16 KiB, one short of the kernel's
/// `DEPOT_POOLS_CAP` (128 MiB), so that every stack handle is below
/// 2^24 - 2^11 and the side table can keep a handle in 24 bits beside the
/// special ones.
pub(crate) const MAX_POOLS: usize = 8191;
/// Smallest accepted `depot_cap=BYTES`: one pool.
pub(crate) const MIN_DEPOT_CAP: usize = POOL_SIZE;
/// Largest accepted `depot_cap=BYTES`: 1 TiB (the depot still maps at
/// most [`MAX_POOLS`] pools).
pub(crate) const MAX_DEPOT_CAP: usize = 1 << 40;
