//! The side table (the kernel's page_ext): one record per live allocation,
//! kept outside the allocation, in memory mapped straight from the OS.
//!
//! Heap addresses have no page frame number, so the table is a hash map
//! keyed by address, split into [`SHARDS`] shards, each behind its own spin
//! lock: two threads only contend when their pointers hash to the same
//! shard. Each shard is a Robin Hood open-addressing table with
//! backward-shift deletion (no tombstones), grown by 1.5× at 7/8 load, so a
//! core record of 16 bytes costs 18–27 bytes of table per live allocation.
//!
//! Clients declare what they need, as page_ext's `need()`/`init()` do: the
//! record's layout is the core client's 16 bytes plus every needed client's
//! bytes, fixed when tracking is first enabled. When no client needs the
//! table (tracking never enabled), nothing is mapped.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::config::Config;
use crate::depot::DEPOT;
use crate::snapshot::StackHandle;
use crate::spin::SpinLock;
use crate::sys;

/// Number of shards (each with its own lock).
pub(crate) const SHARDS: usize = 256;
/// Smallest shard capacity, in records.
const MIN_CAP: usize = 256;
/// Largest record stride the table supports, in 8-byte words.
const MAX_WORDS: usize = 4;
const ADDR_BITS: u32 = 48;
const ADDR_MASK: u64 = (1 << ADDR_BITS) - 1;

/// One client of the side table (page_ext's `page_ext_operations`).
pub(crate) struct Client {
    /// Its name, for statistics.
    pub(crate) name: &'static str,
    /// Bytes it keeps per record (a multiple of 8).
    pub(crate) size: usize,
    /// Whether it needs its bytes under this configuration.
    pub(crate) need: fn(&Config) -> bool,
    /// Runs once after the table layout is fixed, if needed.
    pub(crate) init: fn(&Config),
    /// Where its bytes start in a record, once fixed (`usize::MAX`: unused).
    pub(crate) offset: &'static AtomicUsize,
}

static CORE_OFFSET: AtomicUsize = AtomicUsize::new(usize::MAX);
static THREAD_OFFSET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The monotonic clock at the thread client's init: timestamps count from it.
pub(crate) static EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// The clients, in record order. The core client keeps the address (with
/// alignment and the high bits of the size), the low size bits and the
/// depot handle; the thread client keeps the OS thread id and a timestamp.
pub(crate) static CLIENTS: [Client; 2] = [
    Client {
        name: "core",
        size: 16,
        need: |_| true,
        init: |_| {},
        offset: &CORE_OFFSET,
    },
    Client {
        name: "thread",
        size: 16,
        need: |c| c.thread,
        init: |_| EPOCH_NS.store(sys::now_ns(), Ordering::Relaxed),
        offset: &THREAD_OFFSET,
    },
];

/// One live allocation's record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) addr: usize,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) handle: StackHandle,
    /// OS thread id and nanoseconds since the epoch (thread client), or 0.
    pub(crate) tid: u64,
    pub(crate) ts: u64,
}

#[repr(align(64))]
struct Shard {
    lock: SpinLock,
    // All three are only touched with `lock` held (or every lock held);
    // Relaxed atomics keep that sound without an `unsafe impl Sync`.
    rows: AtomicPtr<u8>,
    cap: AtomicUsize,
    len: AtomicUsize,
}

pub(crate) struct Table {
    shards: [Shard; SHARDS],
    stride: AtomicUsize,
    bytes: AtomicU64,
}

pub(crate) static TABLE: Table = Table::new();

/// Records are placed by 1 KiB block of address space: the block picks the
/// shard and a group of [`GROUP`] slots at random (a multiplicative hash),
/// and the address's offset inside the block picks the slot in the group.
/// Blocks allocated together are freed together, and their records then
/// sit in the same few cache lines instead of one line per record.
const BLOCK_SHIFT: u32 = 10;
/// Slots per group: one per 16 bytes of a block.
const GROUP: usize = 1 << (BLOCK_SHIFT - 4);

#[inline]
fn hash(addr: usize) -> u64 {
    ((addr >> BLOCK_SHIFT) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline]
fn shard_of(h: u64) -> usize {
    (h >> 56) as usize
}

/// The home slot of `addr` in a shard of `cap` slots (a multiple of GROUP).
#[inline]
fn home(addr: usize, cap: usize) -> usize {
    let groups = cap / GROUP;
    let g = ((u128::from(hash(addr).rotate_left(8)) * groups as u128) >> 64) as usize;
    g * GROUP + ((addr >> 4) & (GROUP - 1))
}

/// Slots from `home` to `i`, wrapping around (no division).
#[inline]
fn distance(i: usize, home: usize, cap: usize) -> usize {
    if i >= home { i - home } else { i + cap - home }
}

#[inline]
fn next(i: usize, cap: usize) -> usize {
    if i + 1 == cap { 0 } else { i + 1 }
}

fn mapping_len(cap: usize, stride: usize) -> usize {
    (cap * stride).next_multiple_of(4096)
}

impl Table {
    const fn new() -> Self {
        Table {
            shards: [const {
                Shard {
                    lock: SpinLock::new(),
                    rows: AtomicPtr::new(null_mut()),
                    cap: AtomicUsize::new(0),
                    len: AtomicUsize::new(0),
                }
            }; SHARDS],
            stride: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Fixes the record layout from the clients' needs and runs their
    /// `init`, the first time. Later calls return whether `config` asks for
    /// a client that the fixed layout lacks (then it cannot be honoured).
    pub(crate) fn setup(&self, config: &Config) -> Result<(), &'static str> {
        // Relaxed: setup runs under the tracker's enable lock.
        if self.stride.load(Ordering::Relaxed) != 0 {
            for c in &CLIENTS {
                if (c.need)(config) && c.offset.load(Ordering::Relaxed) == usize::MAX {
                    return Err(c.name);
                }
            }
            return Ok(());
        }
        let mut stride = 0;
        for c in &CLIENTS {
            if (c.need)(config) {
                c.offset.store(stride, Ordering::Relaxed);
                stride += c.size;
            }
        }
        debug_assert!(stride == 16 || stride == MAX_WORDS * 8);
        for c in &CLIENTS {
            if (c.need)(config) {
                (c.init)(config);
            }
        }
        self.stride.store(stride, Ordering::Release);
        Ok(())
    }

    /// Bytes per record, 0 before setup.
    pub(crate) fn stride(&self) -> usize {
        // Relaxed: fixed once before tracking turns on.
        self.stride.load(Ordering::Relaxed)
    }

    /// Whether records carry the thread client's fields.
    pub(crate) fn has_thread(&self) -> bool {
        THREAD_OFFSET.load(Ordering::Relaxed) != usize::MAX
    }

    fn encode(&self, r: &Record, out: &mut [u64; MAX_WORDS]) {
        let align_log2 = u64::from(r.align.max(1).trailing_zeros()).min(63);
        let size_hi = ((r.size as u64) >> 32).min(1023);
        out[0] = (r.addr as u64) | (align_log2 << 48) | (size_hi << 54);
        out[1] = u64::from(r.size as u32) | (u64::from(r.handle.0) << 32);
        // Relaxed: fixed at setup.
        let t = THREAD_OFFSET.load(Ordering::Relaxed);
        if t != usize::MAX {
            out[t / 8] = r.tid;
            out[t / 8 + 1] = r.ts;
        }
    }

    fn decode(&self, w: &[u64; MAX_WORDS]) -> Record {
        let t = THREAD_OFFSET.load(Ordering::Relaxed);
        let (tid, ts) = if t == usize::MAX {
            (0, 0)
        } else {
            (w[t / 8], w[t / 8 + 1])
        };
        Record {
            addr: (w[0] & ADDR_MASK) as usize,
            size: (((w[0] >> 54) << 32) | (w[1] & 0xffff_ffff)) as usize,
            align: 1usize << ((w[0] >> 48) & 63),
            handle: StackHandle((w[1] >> 32) as u32),
            tid,
            ts,
        }
    }

    /// Inserts (or replaces) the record of `r.addr` and adds it to its
    /// stack's live totals. Returns false if it could not be stored (no
    /// memory from the OS, or an address beyond 48 bits).
    pub(crate) fn insert(&self, r: &Record) -> bool {
        if r.addr as u64 > ADDR_MASK || r.addr == 0 {
            return false;
        }
        let stride = self.stride();
        if stride == 0 {
            return false;
        }
        let h = hash(r.addr);
        let shard = &self.shards[shard_of(h)];
        let _g = shard.lock.lock();
        let mut words = [0u64; MAX_WORDS];
        self.encode(r, &mut words);
        // Relaxed: shard fields are guarded by its lock.
        let cap = shard.cap.load(Ordering::Relaxed);
        let len = shard.len.load(Ordering::Relaxed);
        if (len + 1) * 8 > cap * 7 {
            // Growing may be needed; replacing an existing key is not an
            // insert, so look first (rare: only near the load limit).
            if let Some(i) = self.find_in(shard, r.addr, stride) {
                self.replace_at(shard, i, stride, &words, r);
                return true;
            }
            if !self.grow(shard, stride) {
                return false;
            }
        }
        // One Robin Hood pass: stop at the key (replace), or at the first
        // slot whose entry is closer to its home than we are to ours (the
        // key cannot be further on), and insert there.
        let cap = shard.cap.load(Ordering::Relaxed);
        let mut i = home(r.addr, cap);
        let mut dist = 0;
        loop {
            let k = Self::key_at(shard, i, stride);
            if k == 0 {
                self.write_row(shard, i, stride, &words);
                break;
            }
            if k == r.addr as u64 {
                self.replace_at(shard, i, stride, &words, r);
                return true;
            }
            let kdist = distance(i, home(k as usize, cap), cap);
            if kdist < dist {
                let theirs = Self::read_words(shard, i, stride);
                self.write_row(shard, i, stride, &words);
                self.place_from(shard, theirs, stride, next(i, cap), kdist + 1);
                break;
            }
            i = next(i, cap);
            dist += 1;
        }
        shard
            .len
            .store(shard.len.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        DEPOT.inc(r.handle, r.size);
        true
    }

    fn replace_at(
        &self,
        shard: &Shard,
        i: usize,
        stride: usize,
        words: &[u64; MAX_WORDS],
        r: &Record,
    ) {
        let old = self.read_row(shard, i, stride);
        DEPOT.dec(old.handle, old.size);
        self.write_row(shard, i, stride, words);
        DEPOT.inc(r.handle, r.size);
    }

    /// Removes the record of `addr`, taking it off its stack's totals.
    pub(crate) fn remove(&self, addr: usize) -> Option<Record> {
        let stride = self.stride();
        if stride == 0 || addr as u64 > ADDR_MASK {
            return None;
        }
        let h = hash(addr);
        let shard = &self.shards[shard_of(h)];
        let _g = shard.lock.lock();
        let i = self.find_in(shard, addr, stride)?;
        let old = self.read_row(shard, i, stride);
        self.delete_at(shard, i, stride);
        DEPOT.dec(old.handle, old.size);
        Some(old)
    }

    fn row_ptr(shard: &Shard, i: usize, stride: usize) -> *mut u64 {
        // Relaxed: guarded by the shard lock.
        shard
            .rows
            .load(Ordering::Relaxed)
            .wrapping_add(i * stride)
            .cast()
    }

    fn read_words(shard: &Shard, i: usize, stride: usize) -> [u64; MAX_WORDS] {
        let p = Self::row_ptr(shard, i, stride);
        let mut w = [0u64; MAX_WORDS];
        // Word by word, not a loop over `stride` (which becomes a memcpy
        // call on the hottest path): a stride is 16 or 32 bytes.
        // SAFETY: row `i` < cap lies inside the shard's mapping, 8-byte
        // aligned (strides are multiples of 8); we hold the lock.
        unsafe {
            w[0] = p.read();
            w[1] = p.add(1).read();
            if stride > 16 {
                w[2] = p.add(2).read();
                w[3] = p.add(3).read();
            }
        }
        w
    }

    fn read_row(&self, shard: &Shard, i: usize, stride: usize) -> Record {
        self.decode(&Self::read_words(shard, i, stride))
    }

    fn write_row(&self, shard: &Shard, i: usize, stride: usize, w: &[u64; MAX_WORDS]) {
        let p = Self::row_ptr(shard, i, stride);
        // SAFETY: as in `read_words`.
        unsafe {
            p.write(w[0]);
            p.add(1).write(w[1]);
            if stride > 16 {
                p.add(2).write(w[2]);
                p.add(3).write(w[3]);
            }
        }
    }

    fn key_at(shard: &Shard, i: usize, stride: usize) -> u64 {
        // SAFETY: as in `read_words`.
        let w = unsafe { Self::row_ptr(shard, i, stride).read() };
        w & ADDR_MASK
    }

    fn find_in(&self, shard: &Shard, addr: usize, stride: usize) -> Option<usize> {
        // Relaxed: guarded by the shard lock.
        let cap = shard.cap.load(Ordering::Relaxed);
        if cap == 0 {
            return None;
        }
        let mut i = home(addr, cap);
        let mut dist = 0;
        loop {
            let k = Self::key_at(shard, i, stride);
            if k == 0 {
                return None;
            }
            if k == addr as u64 {
                return Some(i);
            }
            let kdist = distance(i, home(k as usize, cap), cap);
            if kdist < dist {
                return None; // Robin Hood: ours would have displaced this one
            }
            i = next(i, cap);
            dist += 1;
        }
    }

    fn place(&self, shard: &Shard, words: [u64; MAX_WORDS], stride: usize) {
        let cap = shard.cap.load(Ordering::Relaxed);
        let i = home((words[0] & ADDR_MASK) as usize, cap);
        self.place_from(shard, words, stride, i, 0);
    }

    /// Robin Hood placement of a key known to be absent, from slot `i` at
    /// distance `dist` from its home.
    fn place_from(
        &self,
        shard: &Shard,
        mut words: [u64; MAX_WORDS],
        stride: usize,
        mut i: usize,
        mut dist: usize,
    ) {
        let cap = shard.cap.load(Ordering::Relaxed);
        loop {
            let k = Self::key_at(shard, i, stride);
            if k == 0 {
                self.write_row(shard, i, stride, &words);
                return;
            }
            let kdist = distance(i, home(k as usize, cap), cap);
            if kdist < dist {
                let theirs = Self::read_words(shard, i, stride);
                self.write_row(shard, i, stride, &words);
                words = theirs;
                dist = kdist;
            }
            i = next(i, cap);
            dist += 1;
        }
    }

    fn delete_at(&self, shard: &Shard, mut i: usize, stride: usize) {
        let cap = shard.cap.load(Ordering::Relaxed);
        loop {
            let j = next(i, cap);
            let k = Self::key_at(shard, j, stride);
            if k == 0 || home(k as usize, cap) == j {
                self.write_row(shard, i, stride, &[0; MAX_WORDS]);
                break;
            }
            let w = Self::read_words(shard, j, stride);
            self.write_row(shard, i, stride, &w);
            i = j;
        }
        let len = shard.len.load(Ordering::Relaxed);
        shard.len.store(len - 1, Ordering::Relaxed);
    }

    /// Moves the shard into a 1.5× bigger mapping. False if the OS refused.
    fn grow(&self, shard: &Shard, stride: usize) -> bool {
        let old_cap = shard.cap.load(Ordering::Relaxed);
        let old_rows = shard.rows.load(Ordering::Relaxed);
        let new_cap = if old_cap == 0 {
            MIN_CAP
        } else {
            old_cap + old_cap / 2
        };
        // Use the whole last page.
        let new_len = mapping_len(new_cap, stride);
        let new_cap = new_len / stride;
        let p = sys::map(new_len);
        if p.is_null() {
            return false;
        }
        shard.rows.store(p, Ordering::Relaxed);
        shard.cap.store(new_cap, Ordering::Relaxed);
        for i in 0..old_cap {
            let q = old_rows.wrapping_add(i * stride).cast::<u64>();
            let mut w = [0u64; MAX_WORDS];
            for (k, slot) in w.iter_mut().enumerate().take(stride / 8) {
                // SAFETY: row `i` of the old mapping, still mapped, lock held.
                *slot = unsafe { q.add(k).read() };
            }
            if w[0] & ADDR_MASK != 0 {
                self.place(shard, w, stride);
            }
        }
        let new_bytes = new_len as u64;
        if old_cap > 0 {
            let old_len = mapping_len(old_cap, stride);
            // SAFETY: the old mapping was made by `sys::map` with this
            // length (capacities are derived from whole mappings), and no
            // pointer into it survives: every reader holds the shard lock.
            unsafe { sys::unmap(old_rows, old_len) };
            self.bytes.fetch_sub(old_len as u64, Ordering::Relaxed);
        }
        self.bytes.fetch_add(new_bytes, Ordering::Relaxed);
        true
    }

    /// Takes every shard lock, in order (fork prepare, snapshot).
    pub(crate) fn lock_all(&self) {
        for s in &self.shards {
            s.lock.raw_lock();
        }
    }

    /// Releases what [`Table::lock_all`] took.
    pub(crate) fn unlock_all(&self) {
        for s in self.shards.iter().rev() {
            s.lock.raw_unlock();
        }
    }

    /// Drops every record, keeping the shards' mappings (and their size)
    /// for a later enable, so it does not grow them all over again. Only
    /// with every lock held.
    pub(crate) fn clear_locked(&self) {
        let stride = self.stride();
        for s in &self.shards {
            let cap = s.cap.load(Ordering::Relaxed);
            if cap == 0 || s.len.load(Ordering::Relaxed) == 0 {
                continue;
            }
            // SAFETY: the shard's mapping holds `cap * stride` bytes; every
            // lock is held, so nobody else reads or writes it.
            unsafe { core::ptr::write_bytes(s.rows.load(Ordering::Relaxed), 0, cap * stride) };
            s.len.store(0, Ordering::Relaxed);
        }
    }

    /// Number of live records. Exact only with every lock held.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a count; exact under `lock_all`.
        self.shards
            .iter()
            .map(|s| s.len.load(Ordering::Relaxed))
            .sum()
    }

    /// Calls `f` on every record. Only with every lock held.
    pub(crate) fn for_each_locked(&self, mut f: impl FnMut(Record)) {
        let stride = self.stride();
        if stride == 0 {
            return;
        }
        for s in &self.shards {
            let cap = s.cap.load(Ordering::Relaxed);
            for i in 0..cap {
                if Self::key_at(s, i, stride) != 0 {
                    f(self.read_row(s, i, stride));
                }
            }
        }
    }

    /// Bytes mapped for the table.
    pub(crate) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.bytes.load(Ordering::Relaxed)
    }
}
