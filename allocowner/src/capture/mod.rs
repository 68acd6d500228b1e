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

mod walk;

use walk::Bounds;

use crate::depot::DEPOT;
use crate::snapshot::{CaptureMode, StackHandle};
use crate::sys;

/// Return addresses skipped at capture: the one into the tracked slow path
/// (`alloc_tracked`, which calls `capture_fp`). The next one is in whatever
/// called the slow path: the allocator shim `__rust_alloc`, or, when the
/// compiler inlined the shim (it does within one crate), the allocating
/// function itself; it is kept, so no program frame is ever lost.
const SKIP: usize = 1;

/// 0: frame pointers on every allocation; N: unwinder every Nth allocation.
static SAMPLE_EVERY: AtomicU64 = AtomicU64::new(0);
/// Frames kept per stack.
static DEPTH: AtomicUsize = AtomicUsize::new(crate::config::DEFAULT_DEPTH);

thread_local! {
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

/// In a forked child: the thread's cached id is its parent's; read it anew.
pub(crate) fn forget_tid() {
    let _ = TID.try_with(|c| c.set(0));
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

/// Walks the frame-pointer chain from the caller, skipping `skip` return
/// addresses, into `buf`; returns how many it stored.
#[inline(never)]
fn walk(buf: &mut [usize], skip: usize) -> usize {
    let Some(bounds) = Bounds::of_thread() else {
        return 0;
    };
    bounds
        .start(frame_pointer(), skip)
        .map_or(0, |fp| bounds.walk(fp, buf).0)
}

#[inline(never)]
fn probe_leaf(out: &mut [usize; 4]) -> usize {
    core::hint::black_box(walk(out, 0))
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
/// thread's guard set to `Locked` from the `#[inline(never)]` tracked path
/// (so that [`SKIP`] is right, this must be inlined there).
#[inline(always)]
pub(crate) fn owner(anchor: usize) -> StackHandle {
    // Relaxed: see `configure`.
    let depth = DEPTH.load(Ordering::Relaxed);
    let every = SAMPLE_EVERY.load(Ordering::Relaxed);
    if every == 0 {
        return capture_fp(depth);
    }
    capture_sampled(depth, every, anchor)
}

/// Sampling mode: the unwinder on every `every`th allocation, from inside
/// the tracked path `anchor` (its frames and those above are dropped).
/// Out of line, so the frame-pointer path keeps a small frame.
#[cold]
#[inline(never)]
fn capture_sampled(depth: usize, every: u64, anchor: usize) -> StackHandle {
    let c = COUNTER.try_with(|c| {
        let v = c.get();
        c.set(v.wrapping_add(1));
        v
    });
    match c {
        Ok(v) if v % every == 0 => {
            let mut buf = [0usize; crate::limits::MAX_DEPTH];
            let buf = &mut buf[..depth];
            // The unwinder may allocate: its allocations are allocowner's
            // own (DUMMY), not passed through.
            crate::guard::set(crate::guard::GuardState::Inside);
            let n = unwind(buf, anchor);
            crate::guard::set(crate::guard::GuardState::Locked);
            save_cached(&buf[..n], crate::depot::hash(&buf[..n]))
        }
        _ => StackHandle::UNSAMPLED,
    }
}

/// Captures with the frame-pointer walk, from the record of the tracked
/// path that called it.
///
/// Every capture walks: a check of a remembered chain against the stack
/// (each thread kept 64 until 2026-12-05) took fewer instructions than a
/// walk when it matched, but on the real programs, whose stacks are deep
/// and varied, it matched a third of the time and its reads and writes of
/// 400-byte entries cost more CPU time than the walks it saved (jaq 12%,
/// syn 11% faster without it; `benches/real_programs.sh`).
#[inline(never)]
fn capture_fp(depth: usize) -> StackHandle {
    let fp = Bounds::of_thread().and_then(|b| Some((b, b.start(frame_pointer(), SKIP)?)));
    let Some((bounds, fp)) = fp else {
        return save_cached(&[], crate::depot::hash(&[]));
    };
    if depth > crate::config::DEFAULT_DEPTH {
        return capture_deep(bounds, fp, depth);
    }
    // The default depth's buffer: a quarter of the deepest's to zero.
    let mut frames = [0usize; crate::config::DEFAULT_DEPTH];
    let (n, hash) = bounds.walk(fp, &mut frames[..depth]);
    save_cached(&frames[..n], hash)
}

/// [`capture_fp`] deeper than the default depth.
#[cold]
#[inline(never)]
fn capture_deep(bounds: Bounds, fp: usize, depth: usize) -> StackHandle {
    let mut frames = [0usize; crate::limits::MAX_DEPTH];
    let (n, hash) = bounds.walk(fp, &mut frames[..depth]);
    save_cached(&frames[..n], hash)
}

/// The sampled twin of stack `handle`: its frames followed by
/// [`crate::depot::SAMPLED_TAG`], stored apart in the depot, so that the
/// records of sampled allocations say by their handle that they were
/// sampled (and are scaled in reports) without a bit in the record.
/// Special handles stay as they are. Called on sampled allocations only.
#[inline(never)]
pub(crate) fn sampled_twin(handle: StackHandle) -> StackHandle {
    if !handle.is_stack() {
        return handle;
    }
    let frames = DEPOT.frames(handle);
    let n = frames.len().min(crate::limits::MAX_DEPTH);
    let mut buf = [0usize; crate::limits::MAX_DEPTH + 1];
    buf[..n].copy_from_slice(&frames[..n]);
    buf[n] = crate::depot::SAMPLED_TAG;
    save_cached(&buf[..=n], crate::depot::hash(&buf[..=n]))
}

/// Entries of the per-thread stack cache: jaq's interpreter comes back to
/// about two thousand stacks (2048 entries: 5% less CPU time than 64).
const CACHE: usize = 2048;

/// A per-thread direct-mapped cache from a stack's 64-bit hash to its
/// handle (24 KiB), so that an allocation from a stack the thread used
/// lately skips the depot's index and its record (two cache misses in a
/// big depot). Two distinct stacks with equal hashes would share a
/// handle: a lookup that finds another stack in its slot (same top 11
/// bits) takes it only if the other 52 compared bits match, odds of
/// 2^-52; over syn's 20 million lookups, about 2^-28. Depot records are
/// never freed, so an entry never goes stale. Destructor-free, so usable
/// during thread teardown.
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
    let slot = (h >> (64 - CACHE.trailing_zeros())) as usize;
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
    const MAX: usize = crate::limits::MAX_DEPTH + 16;
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
