//! The stack depot (the kernel's `lib/stackdepot.c`): each distinct stack
//! is stored once, in pools mapped from the OS, behind a 32-bit handle.
//!
//! Lookups are lock-free: a linear probe of an open-addressed index whose
//! slots go from empty to a stack once, published with release stores.
//! Each slot holds the stack's handle and 8 more bits of its hash, so a
//! probe touches a record (one cache miss in a depot of tens of MB) only
//! when those bits match: about once per lookup, where a hash chain
//! touched every record on its way. Inserting a new stack takes one spin
//! lock and re-checks for a duplicate under it, as the kernel does.
//! Memory comes in [`POOL_SIZE`] pools straight from `mmap`, up to a
//! configurable cap; past it (or past the index's load limit) a stack is
//! not stored and the caller gets [`StackHandle::FAILURE`].
//!
//! A record is `16 + 8 × frames` bytes: a 4-byte word with the frame
//! count, the live allocation count (4 bytes), the live bytes (8 bytes),
//! then the frames. The live count and bytes follow every
//! allocation and free (page_owner's `page_owner_stacks`): the side table
//! gathers the changes per shard and adds them here (see `table::pending`),
//! and exact totals are read with its locks held, so reading a stack's
//! totals is O(1). Records are never freed.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::limits::{MAX_DEPTH, MAX_POOLS, POOL_SIZE};
use crate::snapshot::StackHandle;
use crate::spin::SpinLock;
use crate::sys;

const WORDS_PER_POOL_BITS: u32 = 11; // 16 KiB / 8
const HEADER: usize = 16;
const LEN_SHIFT: u32 = 25;
/// Index slots hold `tag << HANDLE_BITS | (handle + 1)`, 0 for empty.
const HANDLE_BITS: u32 = 24;
const HANDLE_MASK: u32 = (1 << HANDLE_BITS) - 1;
const _: () = assert!((MAX_POOLS << WORDS_PER_POOL_BITS) < HANDLE_MASK as usize);
/// The index is full (inserts fail) at this share of its slots, so that a
/// probe stays short.
const MAX_LOAD_PERCENT: usize = 75;

/// Live totals of one owner.
struct Counters {
    count: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    const fn new() -> Self {
        Counters {
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

pub(crate) struct Depot {
    lock: SpinLock,
    pools: [AtomicPtr<u8>; MAX_POOLS],
    pool_used: [AtomicU32; MAX_POOLS],
    npools: AtomicUsize,
    cap_pools: AtomicUsize,
    slots: AtomicPtr<AtomicU32>,
    nslots: AtomicUsize,
    stacks: AtomicU64,
    record_bytes: AtomicU64,
    failures: AtomicU64,
    /// DUMMY, FAILURE, EARLY, UNSAMPLED (index `u32::MAX - handle`).
    special: [Counters; 4],
}

/// Depot figures for [`crate::Stats`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DepotStats {
    pub(crate) stacks: u64,
    pub(crate) record_bytes: u64,
    pub(crate) pool_bytes: u64,
    pub(crate) index_bytes: u64,
    pub(crate) failures: u64,
}

pub(crate) static DEPOT: Depot = Depot::new();

/// The last frame of a sampled stack's twin (see `capture::sampled_twin`):
/// an address no user-space frame has. Snapshots drop it and mark the
/// twin's handle instead ([`StackHandle::is_sampled`]).
pub(crate) const SAMPLED_TAG: usize = usize::MAX;

pub(crate) fn hash(frames: &[usize]) -> u64 {
    hash_finish(
        frames.iter().fold(HASH_SEED, |h, &f| hash_step(h, f)),
        frames.len(),
    )
}

/// The hash of an empty stack before any frame; see [`hash_step`].
pub(crate) const HASH_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Folds one frame into a stack hash, so that a walk can hash as it goes.
#[inline(always)]
pub(crate) fn hash_step(h: u64, frame: usize) -> u64 {
    (h.rotate_left(5) ^ frame as u64).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Ends a stack hash of `len` frames.
#[inline(always)]
pub(crate) fn hash_finish(h: u64, len: usize) -> u64 {
    let h = h ^ len as u64;
    h ^ (h >> 29)
}

impl Depot {
    /// An empty depot: nothing mapped until [`Depot::init`].
    pub(crate) const fn new() -> Self {
        Depot {
            lock: SpinLock::new(),
            pools: [const { AtomicPtr::new(null_mut()) }; MAX_POOLS],
            pool_used: [const { AtomicU32::new(0) }; MAX_POOLS],
            npools: AtomicUsize::new(0),
            cap_pools: AtomicUsize::new(0),
            slots: AtomicPtr::new(null_mut()),
            nslots: AtomicUsize::new(0),
            stacks: AtomicU64::new(0),
            record_bytes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            special: [const { Counters::new() }; 4],
        }
    }

    /// Maps the hash index (once) and sets the cap. Returns false if the
    /// OS refused the mapping.
    pub(crate) fn init(&self, cap_bytes: usize) -> bool {
        self.set_cap(cap_bytes);
        // Acquire: pairs with the Release below (init runs under the
        // tracker's enable lock, but stay correct without it).
        if !self.slots.load(Ordering::Acquire).is_null() {
            return true;
        }
        // One 4-byte slot per 64 bytes of cap: the cap's worth of 16-frame
        // stacks (144 bytes each) fills under half of them. 1M slots (4 MiB,
        // mapped lazily by the OS) for the default 64 MiB.
        let n = (cap_bytes / 64).next_power_of_two().clamp(4096, 1 << 22);
        let p = sys::map(n * 4);
        if p.is_null() {
            return false;
        }
        // Relaxed: published by the Release store of `slots`.
        self.nslots.store(n, Ordering::Relaxed);
        // Release: readers that see the pointer see `nslots`.
        self.slots.store(p.cast(), Ordering::Release);
        true
    }

    /// Changes the cap (never below what is already mapped).
    pub(crate) fn set_cap(&self, cap_bytes: usize) {
        let pools = (cap_bytes / POOL_SIZE).clamp(1, MAX_POOLS);
        // Relaxed: a limit read under the insert lock.
        self.cap_pools.store(pools, Ordering::Relaxed);
    }

    /// The record of `handle` and the bytes of its pool in use from it on,
    /// or None for a handle that points at no stored record (one made up
    /// with [`StackHandle::from_raw`]).
    fn record(&self, handle: u32) -> Option<(*mut u8, usize)> {
        let pool = (handle >> WORDS_PER_POOL_BITS) as usize;
        let offset = (handle & ((1 << WORDS_PER_POOL_BITS) - 1)) as usize * 8;
        // Acquire: pairs with the Release stores in `save`, so that the
        // record's bytes written before it was published are seen.
        if pool >= self.npools.load(Ordering::Acquire) {
            return None;
        }
        let used = self.pool_used[pool].load(Ordering::Acquire) as usize;
        let base = self.pools[pool].load(Ordering::Acquire);
        (offset + HEADER <= used).then(|| (base.wrapping_add(offset), used - offset))
    }

    fn head(rec: *mut u8) -> &'static AtomicU32 {
        // SAFETY: `rec` points at a record header inside a pool that is never
        // unmapped; the header starts 8-byte aligned with an AtomicU32.
        unsafe { &*rec.cast::<AtomicU32>() }
    }

    fn count_of(rec: *mut u8) -> &'static AtomicU32 {
        // SAFETY: as in `head`; bytes 4..8 of the header are the live count.
        unsafe { &*rec.add(4).cast::<AtomicU32>() }
    }

    fn bytes_of(rec: *mut u8) -> &'static AtomicU64 {
        // SAFETY: as in `head`; bytes 8..16 of the header are the live
        // bytes, 8-byte aligned since records are.
        unsafe { &*rec.add(8).cast::<AtomicU64>() }
    }

    /// The frames of a stored stack.
    pub(crate) fn frames(&self, handle: StackHandle) -> &'static [usize] {
        if !handle.is_stack() {
            return &[];
        }
        let Some((rec, room)) = self.record(handle.0) else {
            return &[];
        };
        // Relaxed: the header word never changes after publication.
        let len = (Self::head(rec).load(Ordering::Relaxed) >> LEN_SHIFT) as usize;
        if HEADER + 8 * len > room {
            return &[]; // not the start of a record
        }
        // SAFETY: `len` frames right after the 16-byte header lie inside the
        // pool's used bytes (checked above), in a pool never unmapped.
        unsafe { core::slice::from_raw_parts(rec.add(HEADER).cast::<usize>(), len) }
    }

    /// Probes the index for `frames` from its hash's home slot: `Ok`
    /// with its handle, or `Err` with the empty slot where it would go.
    fn find(
        &self,
        slots: *mut AtomicU32,
        mask: usize,
        hash: u64,
        frames: &[usize],
    ) -> Result<u32, usize> {
        let tag = (hash >> 56) as u32;
        let mut i = (hash as usize) & mask;
        loop {
            // SAFETY: `i` is masked to the index's length and `slots` is the
            // live index mapping.
            let slot = unsafe { &*slots.add(i) };
            // Acquire: pairs with the Release publishing the slot, so the
            // record it names is seen whole.
            let v = slot.load(Ordering::Acquire);
            if v == 0 {
                return Err(i);
            }
            if v >> HANDLE_BITS == tag {
                let handle = (v & HANDLE_MASK) - 1;
                if self.frames(StackHandle(handle)) == frames {
                    return Ok(handle);
                }
            }
            // The index is never full (see MAX_LOAD_PERCENT): an empty slot
            // ends every probe.
            i = (i + 1) & mask;
        }
    }

    /// Stores `frames` (at most 64) once and returns its handle, or
    /// [`StackHandle::FAILURE`] when the depot is full or not set up.
    ///
    /// `hash` is the stack's [`hash`], which the capture computes as it
    /// walks.
    pub(crate) fn save_hashed(&self, frames: &[usize], hash: u64) -> StackHandle {
        // Acquire: pairs with the Release in `init`.
        let slots = self.slots.load(Ordering::Acquire);
        // One more frame than the deepest stack: a sampled twin's tag.
        if slots.is_null() || frames.len() > MAX_DEPTH + 1 {
            return self.fail();
        }
        // Relaxed: fixed before `slots` was published.
        let n = self.nslots.load(Ordering::Relaxed);
        if let Ok(h) = self.find(slots, n - 1, hash, frames) {
            return StackHandle(h);
        }
        let locked = self.lock.lock();
        let empty = match self.find(slots, n - 1, hash, frames) {
            Ok(h) => return StackHandle(h),
            Err(empty) => empty,
        };
        // Relaxed: only changed under `lock`, which we hold.
        if self.stacks.load(Ordering::Relaxed) as usize >= n / 100 * MAX_LOAD_PERCENT {
            drop(locked);
            return self.fail();
        }
        let size = HEADER + 8 * frames.len();
        // Relaxed (all below): only changed under `lock`, which we hold.
        let mut npools = self.npools.load(Ordering::Relaxed);
        let mut pool = npools.wrapping_sub(1);
        let mut used = if npools == 0 {
            POOL_SIZE
        } else {
            self.pool_used[pool].load(Ordering::Relaxed) as usize
        };
        if used + size > POOL_SIZE {
            if npools >= self.cap_pools.load(Ordering::Relaxed) {
                drop(locked);
                return self.fail();
            }
            let p = sys::map(POOL_SIZE);
            if p.is_null() {
                drop(locked);
                return self.fail();
            }
            pool = npools;
            // Release: a reader that finds a handle in this pool sees it mapped.
            self.pools[pool].store(p, Ordering::Release);
            npools += 1;
            self.npools.store(npools, Ordering::Release);
            used = 0;
        }
        let handle = ((pool as u32) << WORDS_PER_POOL_BITS) | (used / 8) as u32;
        let rec = self.pools[pool].load(Ordering::Relaxed).wrapping_add(used);
        Self::head(rec).store((frames.len() as u32) << LEN_SHIFT, Ordering::Relaxed);
        // SAFETY: `rec + 16 .. rec + size` lies inside the pool (checked
        // against POOL_SIZE above) and nobody reads it before publication.
        unsafe {
            core::ptr::copy_nonoverlapping(
                frames.as_ptr(),
                rec.add(HEADER).cast::<usize>(),
                frames.len(),
            );
        }
        // Release: makes the pool_used bump visible to snapshot walkers.
        self.pool_used[pool].store((used + size) as u32, Ordering::Release);
        // SAFETY: `find` returned a slot index below the index's length.
        let slot = unsafe { &*slots.add(empty) };
        // Release: publishes the record (header and frames) to lock-free finders.
        slot.store(
            ((hash >> 56) as u32) << HANDLE_BITS | (handle + 1),
            Ordering::Release,
        );
        self.stacks.fetch_add(1, Ordering::Relaxed);
        self.record_bytes.fetch_add(size as u64, Ordering::Relaxed);
        StackHandle(handle)
    }

    fn fail(&self) -> StackHandle {
        // Relaxed: a statistic.
        self.failures.fetch_add(1, Ordering::Relaxed);
        StackHandle::FAILURE
    }

    /// Adds `count` allocations and `bytes` bytes (either may be negative)
    /// to `handle`'s live totals. The side table calls this with changes
    /// it has gathered per shard; see `table::pending`.
    pub(crate) fn add(&self, handle: StackHandle, count: i32, bytes: i64) {
        // Relaxed (counters): exact totals are read only with every shard
        // lock held, after every pending change is added.
        if handle.is_stack() {
            if let Some((rec, _)) = self.record(handle.0) {
                Self::count_of(rec).fetch_add(count as u32, Ordering::Relaxed);
                Self::bytes_of(rec).fetch_add(bytes as u64, Ordering::Relaxed);
            }
        } else {
            let c = &self.special[(u32::MAX - handle.0) as usize];
            c.count
                .fetch_add(i64::from(count) as u64, Ordering::Relaxed);
            c.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Live count and bytes of `handle`, O(1).
    pub(crate) fn live(&self, handle: StackHandle) -> (u64, u64) {
        // Relaxed: as in `add`.
        if handle.is_stack() {
            self.record(handle.0).map_or((0, 0), |(rec, _)| {
                (
                    u64::from(Self::count_of(rec).load(Ordering::Relaxed)),
                    Self::bytes_of(rec).load(Ordering::Relaxed),
                )
            })
        } else if handle.0 >= StackHandle::UNSAMPLED.0 {
            let c = &self.special[(u32::MAX - handle.0) as usize];
            (
                c.count.load(Ordering::Relaxed),
                c.bytes.load(Ordering::Relaxed),
            )
        } else {
            (0, 0)
        }
    }

    /// Sets every stack's live totals to zero (the stacks stay stored).
    pub(crate) fn zero_counters(&self) {
        // Relaxed: called with every side-table lock held, so no counter
        // moves meanwhile.
        self.for_each(|h| {
            if let Some((rec, _)) = self.record(h.0) {
                Self::count_of(rec).store(0, Ordering::Relaxed);
                Self::bytes_of(rec).store(0, Ordering::Relaxed);
            }
        });
        for c in &self.special {
            c.count.store(0, Ordering::Relaxed);
            c.bytes.store(0, Ordering::Relaxed);
        }
    }

    /// Calls `f` for every stored stack's handle, in insertion order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(StackHandle)) {
        // Acquire: pairs with the Release stores in `save`.
        let npools = self.npools.load(Ordering::Acquire);
        for pool in 0..npools {
            let used = self.pool_used[pool].load(Ordering::Acquire) as usize;
            let mut off = 0;
            while off < used {
                let handle = ((pool as u32) << WORDS_PER_POOL_BITS) | (off / 8) as u32;
                f(StackHandle(handle));
                off += HEADER + 8 * self.frames(StackHandle(handle)).len();
            }
        }
    }

    /// Takes the insert lock without a guard (fork handlers, snapshot).
    pub(crate) fn raw_lock(&self) {
        self.lock.raw_lock();
    }

    /// Releases [`Depot::raw_lock`].
    pub(crate) fn raw_unlock(&self) {
        self.lock.raw_unlock();
    }

    pub(crate) fn stats(&self) -> DepotStats {
        // Relaxed: statistics.
        DepotStats {
            stacks: self.stacks.load(Ordering::Relaxed),
            record_bytes: self.record_bytes.load(Ordering::Relaxed),
            pool_bytes: (self.npools.load(Ordering::Relaxed) * POOL_SIZE) as u64,
            index_bytes: (self.nslots.load(Ordering::Relaxed) * 4) as u64,
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A depot of the tests' own, leaked (the process's is `DEPOT`).
    fn depot(cap: usize) -> &'static Depot {
        let d: &'static Depot = Box::leak(Box::new(Depot::new()));
        assert!(d.init(cap));
        d
    }

    /// Stacks whose hashes all pick the same slot and tag are told apart
    /// by their frames, each stored once and found again.
    #[test]
    fn equal_hashes_probe_on_to_their_own_stack() {
        let d = depot(1 << 20);
        let stacks: Vec<[usize; 2]> = (0..200).map(|i| [0x1000 + i, 0x2000]).collect();
        let handles: Vec<StackHandle> = stacks.iter().map(|f| d.save_hashed(f, 42)).collect();
        assert!(handles.iter().all(|h| h.is_stack()));
        for (f, &h) in stacks.iter().zip(&handles) {
            assert_eq!(d.save_hashed(f, 42), h);
            assert_eq!(d.frames(h), f);
        }
        assert_eq!(d.stats().stacks, 200);
    }

    /// The index fills up before a big cap does: a new stack past its
    /// load limit gets FAILURE, counted; stored ones are still found.
    #[test]
    fn a_full_index_fails_new_stacks_and_keeps_the_old() {
        let d = depot(256 << 10); // 4096 slots: full at 3000 stacks
        let save = |i: usize| {
            let f = [0x5000 + i * 16];
            d.save_hashed(&f, hash(&f))
        };
        let first: Vec<StackHandle> = (0..3000).map(save).collect();
        assert!(first.iter().all(|h| h.is_stack()));
        assert_eq!(save(3000), StackHandle::FAILURE);
        assert_eq!(d.stats().failures, 1);
        assert_eq!(d.stats().stacks, 3000);
        assert!((0..3000).all(|i| save(i) == first[i]));
        assert_eq!(d.stats().index_bytes, 4096 * 4);
    }
}
