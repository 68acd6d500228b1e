//! Owner-stack capture: a bounds-checked frame-pointer walk (tens of
//! nanoseconds) on every tracked allocation, or, in a program without frame
//! pointers, the `backtrace` crate's unwinder on every Nth allocation.
//!
//! The unwinder's risk, documented: it finds unwind tables through
//! `dl_iterate_phdr` (or `_dl_find_object`), which takes the dynamic
//! loader's lock. A thread that holds that lock and then allocates (a
//! `dlopen` running constructors, another unwinder) can deadlock against a
//! thread capturing inside `alloc` (dhat-rs#38, gperftools#1159). Sampling
//! makes it rarer, not impossible; build with frame pointers to avoid it.
//! The frame-pointer walk takes no lock and calls nothing.

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::depot::DEPOT;
use crate::snapshot::{CaptureMode, StackHandle};
use crate::sys;

/// Return addresses skipped at capture: the one into the tracked slow path
/// (`alloc_tracked`, which calls `walk`). The next one is in whatever
/// called the slow path: the allocator shim `__rust_alloc`, or, when the
/// compiler inlined the shim (it does within one crate), the allocating
/// function itself; it is kept, so no program frame is ever lost.
const SKIP: usize = 1;

/// 0: frame pointers on every allocation; N: unwinder every Nth allocation.
static SAMPLE_EVERY: AtomicU64 = AtomicU64::new(0);
/// Frames kept per stack.
static DEPTH: AtomicUsize = AtomicUsize::new(crate::config::DEFAULT_DEPTH);

thread_local! {
    /// The thread's stack `[low, high)`, cached at its first capture.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Allocations seen by this thread in sampling mode.
    static COUNTER: Cell<u64> = const { Cell::new(0) };
    /// The thread's OS id, cached (0: not yet read).
    static TID: Cell<u64> = const { Cell::new(0) };
}

/// Sets the capture mode and depth (under the tracker's enable lock).
pub(crate) fn configure(sample_every: u64, depth: usize) {
    // Relaxed: read on the allocation path; a stale value for one
    // allocation right after a reconfiguration is harmless.
    SAMPLE_EVERY.store(sample_every, Ordering::Relaxed);
    DEPTH.store(depth, Ordering::Relaxed);
}

/// The current capture mode, for reports.
pub(crate) fn mode() -> CaptureMode {
    // Relaxed: see `configure`.
    match SAMPLE_EVERY.load(Ordering::Relaxed) {
        0 => CaptureMode::FramePointers,
        every => CaptureMode::Sampling { every },
    }
}

/// The calling thread's OS id, cached in a destructor-free thread-local.
#[inline]
pub(crate) fn tid() -> u64 {
    let t = TID.try_with(Cell::get).unwrap_or(0);
    if t != 0 {
        return t;
    }
    let t = sys::gettid();
    let _ = TID.try_with(|c| c.set(t));
    t
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register; no memory, stack or flags.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    fp
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register; no memory, stack or flags.
    unsafe {
        core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    fp
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
fn frame_pointer() -> usize {
    0
}

fn stack_bounds() -> (usize, usize) {
    let b = BOUNDS.try_with(Cell::get).unwrap_or((0, 0));
    if b.1 != 0 {
        return b;
    }
    let b = sys::thread_stack_bounds().unwrap_or((0, 0));
    let _ = BOUNDS.try_with(|c| c.set(b));
    b
}

/// Walks the frame-pointer chain from the caller, skipping `skip` return
/// addresses, into `buf`; returns how many it stored and their
/// [`crate::depot::hash`]. Every frame must lie inside the thread's stack,
/// above the previous one, 8-byte aligned: a broken chain (code without
/// frame pointers) ends the walk, never faults.
#[inline(never)]
pub(crate) fn walk(buf: &mut [usize], skip: usize) -> (usize, u64) {
    use crate::depot::{HASH_SEED, hash_finish, hash_step};
    let (lo, hi) = stack_bounds();
    let empty = (0, hash_finish(HASH_SEED, 0));
    // A frame record is the 16 bytes at `fp`: `lo <= fp <= top`.
    let Some(top) = hi.checked_sub(16) else {
        return empty;
    };
    let mut fp = frame_pointer();
    if fp < lo || fp > top || !fp.is_multiple_of(8) {
        return empty;
    }
    // From here `fp` is a valid record, and each step checks that the next
    // one is too: strictly above (so at or above `lo`), at most `top`,
    // aligned.
    let valid_next = |next: usize, fp: usize| next > fp && next <= top && next.is_multiple_of(8);
    for _ in 0..skip {
        // SAFETY: `fp..fp + 16` lies inside this thread's own stack, at or
        // above the current frame, so it is mapped and readable; it is
        // 8-byte aligned.
        let next = unsafe { *(fp as *const usize) };
        if !valid_next(next, fp) {
            return empty;
        }
        fp = next;
    }
    let mut n = 0;
    let mut h = HASH_SEED;
    while n < buf.len() {
        // SAFETY: as above.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if ret == 0 {
            break;
        }
        buf[n] = ret;
        n += 1;
        h = hash_step(h, ret);
        if !valid_next(next, fp) {
            break;
        }
        fp = next;
    }
    (n, hash_finish(h, n))
}

#[inline(never)]
fn probe_leaf(out: &mut [usize; 4]) -> usize {
    core::hint::black_box(walk(out, 0).0)
}

#[inline(never)]
fn probe_mid(out: &mut [usize; 4]) -> usize {
    core::hint::black_box(probe_leaf(core::hint::black_box(out)))
}

/// Whether this program keeps frame pointers: a walk from a known nested
/// call must find, in order, return addresses just inside its two callers.
#[inline(never)]
pub(crate) fn frame_pointers_work() -> bool {
    let mut out = [0usize; 4];
    let n = probe_mid(core::hint::black_box(&mut out));
    let inside = |ret: usize, f: usize| ret > f && ret - f < 4096;
    n >= 3
        && inside(out[0], probe_leaf as *const () as usize)
        && inside(out[1], probe_mid as *const () as usize)
        && inside(out[2], frame_pointers_work as *const () as usize)
}

/// The owner handle of an allocation being tracked now, called with the
/// thread's guard set to `LOCKED`. Must be inlined into the
/// `#[inline(never)]` tracked path so that [`SKIP`] is right.
#[inline(always)]
pub(crate) fn owner(anchor: usize) -> StackHandle {
    // Relaxed: see `configure`.
    let depth = DEPTH.load(Ordering::Relaxed);
    // A buffer just deep enough for the default depth costs four vector
    // stores to clear, against a `memset` of 512 bytes for the deepest.
    if depth <= crate::config::DEFAULT_DEPTH {
        owner_in::<{ crate::config::DEFAULT_DEPTH }>(depth, anchor)
    } else {
        owner_in::<{ crate::config::MAX_DEPTH }>(depth, anchor)
    }
}

#[inline(always)]
fn owner_in<const N: usize>(depth: usize, anchor: usize) -> StackHandle {
    // Relaxed: see `configure`.
    let every = SAMPLE_EVERY.load(Ordering::Relaxed);
    let mut buf = [0usize; N];
    let buf = &mut buf[..depth.min(N)];
    if every == 0 {
        let (n, hash) = walk(buf, SKIP);
        return save_cached(&buf[..n], hash);
    }
    let c = COUNTER.try_with(|c| {
        let v = c.get();
        c.set(v.wrapping_add(1));
        v
    });
    match c {
        Ok(v) if v % every == 0 => {
            // The unwinder may allocate: its allocations are allocowner's
            // own (DUMMY), not passed through.
            crate::guard::set(crate::guard::INSIDE);
            let n = unwind(buf, anchor);
            crate::guard::set(crate::guard::LOCKED);
            save_cached(&buf[..n], crate::depot::hash(&buf[..n]))
        }
        _ => StackHandle::UNSAMPLED,
    }
}

const CACHE: usize = 64;

/// A per-thread direct-mapped cache from a stack's 64-bit hash to its
/// handle, so that a loop allocating from one place skips the depot's hash
/// chain and frame comparison. Two distinct stacks with equal 64-bit hashes
/// would share a handle: with a few thousand stacks the odds are about
/// 2^-40. Depot records are never freed, so an entry never goes stale.
/// Destructor-free, so usable during thread teardown.
struct StackCache {
    hashes: [Cell<u64>; CACHE],
    handles: [Cell<u32>; CACHE],
}

thread_local! {
    static STACK_CACHE: StackCache = const {
        StackCache {
            hashes: [const { Cell::new(0) }; CACHE],
            handles: [const { Cell::new(0) }; CACHE],
        }
    };
}

#[inline]
fn save_cached(frames: &[usize], hash: u64) -> StackHandle {
    let h = hash | 1; // never 0, the empty-slot mark
    let slot = (h >> 58) as usize % CACHE;
    let hit = STACK_CACHE.try_with(|c| (c.hashes[slot].get() == h).then(|| c.handles[slot].get()));
    if let Ok(Some(handle)) = hit {
        return StackHandle(handle);
    }
    let handle = DEPOT.save_hashed(frames, hash);
    if handle.is_stack() {
        let _ = STACK_CACHE.try_with(|c| {
            c.hashes[slot].set(h);
            c.handles[slot].set(handle.0);
        });
    }
    handle
}

/// Captures with the unwinder, dropping frames up to and including the
/// tracked function `anchor` (all frames are kept if the unwinder cannot
/// name `anchor`'s start).
#[inline(never)]
fn unwind(buf: &mut [usize], anchor: usize) -> usize {
    const MAX: usize = crate::config::MAX_DEPTH + 16;
    let mut ips = [0usize; MAX];
    let mut n = 0;
    let mut anchor_at = None;
    // SAFETY: trace_unsynchronized must not race another unsynchronized
    // trace over shared unwinder state; libgcc's `_Unwind_Backtrace` is
    // thread-safe, and the callback neither panics nor allocates.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            if anchor_at.is_none() && frame.symbol_address() as usize == anchor {
                anchor_at = Some(n);
            }
            ips[n] = frame.ip() as usize;
            n += 1;
            n < MAX
        });
    }
    let start = anchor_at.map_or(0, |i| (i + 1).min(n));
    let kept = (n - start).min(buf.len());
    buf[..kept].copy_from_slice(&ips[start..start + kept]);
    kept
}
