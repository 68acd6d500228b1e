//! The side table (the kernel's page_ext): one record per live allocation,
//! kept outside the allocation, in memory mapped straight from the OS.
//!
//! Most records are small allocations, and those (with the core client
//! alone) live in a page index ([`pages`]): a 4-byte slot per 32-byte
//! granule of each heap page that has any, reached through a radix
//! directory over the address, as page_ext reaches a page's data from its
//! frame number. The rest (big or over-aligned allocations, handles beyond
//! 20 bits, the thread client's wider records) go to hashed rows.
//!
//! Both are split into [`SHARDS`] shards by 64 KiB region of the heap,
//! each behind its own spin lock: two threads only contend when their
//! pointers lie in regions that hash to the same shard. A shard's rows
//! are a Robin Hood open-addressing table with backward-shift deletion (no
//! tombstones), grown by 1.5× at 7/8 load, so a record of 16 bytes costs
//! 18–27 bytes of rows. Each row keeps its distance from its home slot, so
//! probing never rehashes the keys it passes.
//!
//! Clients declare what they need, as page_ext's `need()`/`init()` do: the
//! core client's 16-byte rows always exist; every other client that is
//! needed gets its own array of rows beside them, moved in step, fixed when
//! tracking is first enabled. When no client needs the table (tracking
//! never enabled), nothing is mapped.
//!
//! Per-stack live totals change on every insert and remove. Rather than
//! two atomic read-modify-writes on the stack's depot record each time (a
//! cache line that bounces between cores when threads share a stack), the
//! change is added to a small per-shard [`Pending`] slot under the shard
//! lock and published to the depot when the slot is needed for another
//! stack, or when totals are read (every shard lock held).

use core::ptr::null_mut;
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64};

mod pages;

use pages::{Pages, Small};

use crate::config::Config;
use crate::depot::DEPOT;
use crate::snapshot::StackHandle;
use crate::spin::SpinLock;
use crate::sys;

/// Number of shards (each with its own lock).
pub(crate) const SHARDS: usize = 256;
/// Smallest shard capacity, in records (one 4 KiB page of core rows).
const MIN_CAP: usize = 256;
/// Bytes of one row (core or client).
const ROW: usize = 16;
/// Sets of pending stack totals per shard, of [`WAYS`] each. A JSON parse
/// allocates from a few dozen stacks (nesting makes more); with 32 totals
/// direct-mapped, a quarter of all calls pushed one out to the depot,
/// whose counters every thread shares.
const SETS: usize = 16;
const _: () = assert!(SETS.is_power_of_two());
/// Totals per set: one cache line.
const WAYS: usize = 4;

// A core row is two words.
// Word 0: address (48 bits) | distance from home (8, saturating) |
//         log2 of the alignment (6) | size bits 40..42 (2).
// Word 1: size bits 0..40 | stack handle (24 bits, see `pack_handle`).
const ADDR_MASK: u64 = (1 << 48) - 1;
const DIST_SHIFT: u32 = 48;
const DIST_SAT: usize = 255;
const ALIGN_SHIFT: u32 = 56;
const SIZE_TOP_SHIFT: u32 = 62;
const SIZE_LO_BITS: u32 = 40;
/// Largest size a record holds exactly; bigger sizes are kept as this.
pub(crate) const MAX_SIZE: u64 = (1 << 42) - 1;
/// Stack handles are below 2^24 (see `limits::MAX_POOLS`); the special
/// handles at the top of `u32` are kept as the top of 24 bits.
const HANDLE_MASK: u32 = (1 << 24) - 1;
const SPECIAL_FLOOR: u32 = HANDLE_MASK - 15;

/// One row of a shard, as two words. Rows are only touched with their
/// shard's lock held; Relaxed atomics (plain moves) keep that sound
/// without an `unsafe impl Sync`.
type Row = [AtomicU64; 2];

/// One client of the side table (page_ext's `page_ext_operations`).
pub(crate) struct Client {
    /// Its name, for statistics.
    pub(crate) name: &'static str,
    /// Bytes it keeps per record.
    pub(crate) size: usize,
    /// Whether it needs its bytes under this configuration.
    pub(crate) need: fn(&Config) -> bool,
    /// Runs once after the table layout is fixed, if needed.
    pub(crate) init: fn(&Config),
    /// Whether it has rows, once fixed.
    pub(crate) active: &'static AtomicBool,
}

static CORE_ACTIVE: AtomicBool = AtomicBool::new(false);
static THREAD_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether small records go to page slots: set up, core client alone.
static PAGED: AtomicBool = AtomicBool::new(false);
/// The monotonic clock at the thread client's init: timestamps count from it.
pub(crate) static EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// The clients. The core client keeps the address, size, alignment and
/// depot handle; the thread client keeps the OS thread id and a timestamp.
pub(crate) static CLIENTS: [Client; 2] = [
    Client {
        name: "core",
        size: ROW,
        need: |_| true,
        init: |_| {},
        active: &CORE_ACTIVE,
    },
    Client {
        name: "thread",
        size: ROW,
        need: |c| c.thread,
        init: |_| EPOCH_NS.store(sys::now_ns(), Relaxed),
        active: &THREAD_ACTIVE,
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

/// What [`Table::resize`] did with the record of the old address.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resized {
    /// There was none.
    Untracked,
    /// It stays: the block did not move (its size is updated), or the
    /// reallocation failed (unchanged).
    Kept,
    /// The block moved: the record, as it was, is out of the table, for
    /// the caller to insert at the new address.
    Moved(Record),
}

/// A change to one stack's live totals not yet added to the depot.
struct Pending {
    handle: AtomicU32,
    count: AtomicI32,
    bytes: AtomicI64,
}

#[repr(align(64))]
struct Shard {
    lock: SpinLock,
    // Everything below is only touched with `lock` held (or every lock
    // held); Relaxed atomics keep that sound without an `unsafe impl Sync`.
    cap: AtomicU32,
    /// Records in the rows.
    len: AtomicU32,
    /// Records in page slots (of this shard's regions).
    paged: AtomicU32,
    /// Core rows, `cap` of them.
    rows: AtomicPtr<Row>,
    /// The thread client's rows, beside the core rows, or null.
    extra: AtomicPtr<Row>,
    pending: [PendingSet; SETS],
}

/// One set of pending totals, most recently added first.
#[repr(align(64))]
struct PendingSet([Pending; WAYS]);

pub(crate) struct Table {
    shards: [Shard; SHARDS],
    /// Small records of the core-only layout, by page (see `pages`).
    pages: Pages,
    /// Bytes per record over all clients, 0 before setup.
    stride: AtomicU64,
    bytes: AtomicU64,
}

pub(crate) static TABLE: Table = Table::new();

/// Records are placed by 2 KiB block of address space: the block picks a
/// group of [`GROUP`] slots at random (a multiplicative hash), and the
/// address's offset inside the block, in 16-byte granules (malloc's
/// alignment), picks the slot in the group. Blocks allocated together
/// are freed together, and their records then sit in a few cache lines
/// instead of one line each. In a table bigger than the cache that matters
/// more than probe length: placing by address hash alone made the alloc
/// bench's JSON parse slower, despite its shorter probes. As glibc's
/// chunks take 32 bytes or more, a block fills at most half its group,
/// and another block placed in the same group mostly finds its slots
/// free: with 32-byte granules a dense block filled its group, and its
/// neighbours' records overflowed into long Robin Hood runs (Callgrind,
/// `alloc_one`: the JSON parse ran 5% fewer instructions, BTreeMap 1%).
const BLOCK_SHIFT: u32 = 11;
const GRANULE_SHIFT: u32 = 4;
/// Slots per group: one per granule of a block.
const GROUP: usize = 1 << (BLOCK_SHIFT - GRANULE_SHIFT);
/// The shard is picked by 64 KiB region, not by block: a run of the heap
/// that a thread fills and empties in turn keeps its records in one
/// shard's few pages, whose lock and rows stay in the cache (in the alloc
/// bench, the median of five runs against four was 5–20% faster in five
/// cases of six, on one thread and on eight; BTreeMap on one thread was
/// the same within noise), while one thread's 64 MiB glibc arena still
/// spreads over every shard.
const SHARD_SHIFT: u32 = 16;

/// A multiplicative (Fibonacci) hash of the `1 << shift`-byte piece of
/// address space that holds `addr`: its high bits are well mixed.
#[inline(always)]
fn hash_of_piece(addr: u64, shift: u32) -> u64 {
    (addr >> shift).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// An address's hash, for its group: its block's.
#[inline(always)]
fn hash(addr: u64) -> u64 {
    hash_of_piece(addr, BLOCK_SHIFT)
}

/// The shard of `addr`: the top byte of its region's hash.
#[inline(always)]
fn shard_of(addr: u64) -> usize {
    (hash_of_piece(addr, SHARD_SHIFT) >> 56) as usize
}

/// The home slot of `addr`, of hash `h`, in a shard of `cap` slots (a
/// multiple of [`GROUP`]).
#[inline(always)]
fn home(addr: u64, h: u64, cap: usize) -> usize {
    let g = ((u128::from(h << 8) * (cap / GROUP) as u128) >> 64) as usize;
    g * GROUP + ((addr >> GRANULE_SHIFT) as usize & (GROUP - 1))
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

#[inline]
fn key(w0: u64) -> u64 {
    w0 & ADDR_MASK
}

/// The distance from home of the record in slot `i` with word 0 `w0`.
#[inline]
fn dist_of(w0: u64, i: usize, cap: usize) -> usize {
    let d = ((w0 >> DIST_SHIFT) & 0xff) as usize;
    if d < DIST_SAT {
        return d;
    }
    let k = key(w0);
    distance(i, home(k, hash(k), cap), cap)
}

#[inline]
fn with_dist(w0: u64, d: usize) -> u64 {
    (w0 & !(0xff << DIST_SHIFT)) | ((d.min(DIST_SAT) as u64) << DIST_SHIFT)
}

/// A size as a change to live bytes (sizes are below 2^63).
#[inline(always)]
fn signed(size: usize) -> i64 {
    (size as u64).cast_signed()
}

#[inline]
fn pack_handle(h: StackHandle) -> u64 {
    u64::from(h.raw() & HANDLE_MASK)
}

#[inline]
fn unpack_handle(v: u64) -> StackHandle {
    let v = v as u32 & HANDLE_MASK;
    StackHandle::from_raw(if v >= SPECIAL_FLOOR {
        v | !HANDLE_MASK
    } else {
        v
    })
}

fn mapping_len(rows: usize) -> usize {
    (rows * ROW).next_multiple_of(4096)
}

/// The rows of a mapping made by `grow`.
///
/// # Safety
/// `p` must be null (then `cap` is 0) or a live mapping of at least `cap`
/// rows, and the caller must hold the shard lock for as long as the slice
/// is used: the mapping is only replaced (and unmapped) under that lock.
unsafe fn rows<'a>(p: *mut Row, cap: usize) -> &'a [Row] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: per the contract, `cap` zero-initialised-or-written rows of
    // atomics, page-aligned, alive while the lock is held.
    unsafe { core::slice::from_raw_parts(p, cap) }
}

/// The rows of one shard, borrowed while its lock is held. `THREAD`: the
/// thread client's rows exist and move with the core rows (the table's
/// code is compiled once for each layout, so the core-only layout pays
/// nothing for the other).
struct Rows<'a, const THREAD: bool> {
    core: &'a [Row],
    extra: &'a [Row],
}

impl<const THREAD: bool> Rows<'_, THREAD> {
    #[inline(always)]
    fn cap(&self) -> usize {
        self.core.len()
    }

    #[inline(always)]
    fn w0(&self, i: usize) -> u64 {
        self.core[i][0].load(Relaxed)
    }

    #[inline(always)]
    fn read(&self, i: usize) -> [u64; 4] {
        let row = &self.core[i];
        let mut w = [row[0].load(Relaxed), row[1].load(Relaxed), 0, 0];
        if THREAD {
            let e = &self.extra[i];
            w[2] = e[0].load(Relaxed);
            w[3] = e[1].load(Relaxed);
        }
        w
    }

    #[inline(always)]
    fn write(&self, i: usize, w: &[u64; 4]) {
        let row = &self.core[i];
        row[0].store(w[0], Relaxed);
        row[1].store(w[1], Relaxed);
        if THREAD {
            let e = &self.extra[i];
            e[0].store(w[2], Relaxed);
            e[1].store(w[3], Relaxed);
        }
    }
}

impl Shard {
    #[inline(always)]
    fn cap(&self) -> usize {
        self.cap.load(Relaxed) as usize
    }

    /// The shard's rows. Only with its lock held.
    #[inline(always)]
    fn rows<const THREAD: bool>(&self) -> Rows<'_, THREAD> {
        let cap = self.cap();
        // SAFETY: `rows` and `extra` are null or mappings of `cap` rows made
        // by `grow`, replaced only under the lock, which the caller holds
        // while it uses them (no `Rows` is kept across `grow`).
        unsafe {
            Rows {
                core: rows(self.rows.load(Relaxed), cap),
                extra: if THREAD {
                    rows(self.extra.load(Relaxed), cap)
                } else {
                    &[]
                },
            }
        }
    }

    /// Adds a change to the live totals of `handle` (packed as in a row).
    /// Only with the lock held.
    #[inline(always)]
    fn account(&self, handle: u32, count: i32, bytes: i64) {
        let p = match self.pending_of(handle) {
            Some(p) => p,
            None => self.set_of(handle).make_room(handle),
        };
        p.add(count, bytes);
    }

    #[inline(always)]
    fn set_of(&self, handle: u32) -> &PendingSet {
        const SHIFT: u32 = 32 - SETS.trailing_zeros();
        &self.pending[(handle.wrapping_mul(0x9e37_79b9) >> SHIFT) as usize]
    }

    /// The pending totals of `handle`, if it has some in the shard. Only
    /// with the lock held.
    #[inline(always)]
    fn pending_of(&self, handle: u32) -> Option<&Pending> {
        self.set_of(handle)
            .0
            .iter()
            .find(|p| p.handle.load(Relaxed) == handle)
    }
}

impl PendingSet {
    /// Publishes the oldest totals and puts empty ones for `handle` first.
    #[cold]
    #[inline(never)]
    fn make_room(&self, handle: u32) -> &Pending {
        let ways = &self.0;
        ways[WAYS - 1].publish();
        for i in (1..WAYS).rev() {
            let (to, from) = (&ways[i], &ways[i - 1]);
            to.handle.store(from.handle.load(Relaxed), Relaxed);
            to.count.store(from.count.load(Relaxed), Relaxed);
            to.bytes.store(from.bytes.load(Relaxed), Relaxed);
        }
        let p = &ways[0];
        p.handle.store(handle, Relaxed);
        p.count.store(0, Relaxed);
        p.bytes.store(0, Relaxed);
        p
    }
}

impl Pending {
    /// Adds a change. Only with the shard lock held.
    #[inline(always)]
    fn add(&self, count: i32, bytes: i64) {
        self.count
            .store(self.count.load(Relaxed).wrapping_add(count), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    /// Adds the change to the depot's totals and zeroes it.
    #[cold]
    fn publish(&self) {
        let (c, b) = (self.count.load(Relaxed), self.bytes.load(Relaxed));
        if c != 0 || b != 0 {
            self.count.store(0, Relaxed);
            self.bytes.store(0, Relaxed);
            DEPOT.add(unpack_handle(self.handle.load(Relaxed).into()), c, b);
        }
    }
}

impl Table {
    const fn new() -> Self {
        Table {
            shards: [const {
                Shard {
                    lock: SpinLock::new(),
                    cap: AtomicU32::new(0),
                    len: AtomicU32::new(0),
                    paged: AtomicU32::new(0),
                    rows: AtomicPtr::new(null_mut()),
                    extra: AtomicPtr::new(null_mut()),
                    pending: [const {
                        PendingSet(
                            [const {
                                Pending {
                                    handle: AtomicU32::new(0),
                                    count: AtomicI32::new(0),
                                    bytes: AtomicI64::new(0),
                                }
                            }; WAYS],
                        )
                    }; SETS],
                }
            }; SHARDS],
            pages: Pages::new(),
            stride: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Fixes the record layout from the clients' needs and runs their
    /// `init`, the first time. Later calls return whether `config` asks for
    /// a client that the fixed layout lacks (then it cannot be honoured).
    pub(crate) fn setup(&self, config: &Config) -> Result<(), &'static str> {
        // Relaxed: setup runs under the tracker's enable lock.
        if self.stride.load(Relaxed) != 0 {
            for c in &CLIENTS {
                if (c.need)(config) && !c.active.load(Relaxed) {
                    return Err(c.name);
                }
            }
            return Ok(());
        }
        let mut stride = 0;
        for c in &CLIENTS {
            if (c.need)(config) {
                c.active.store(true, Relaxed);
                stride += c.size;
                (c.init)(config);
            }
        }
        PAGED.store(!THREAD_ACTIVE.load(Relaxed), Relaxed);
        // Release: the layout is fixed before anyone sees a stride.
        self.stride
            .store(stride as u64, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Bytes per record over all clients, 0 before setup.
    #[inline]
    pub(crate) fn stride(&self) -> usize {
        // Relaxed: fixed once before tracking turns on.
        self.stride.load(Relaxed) as usize
    }

    /// Whether records carry the thread client's fields.
    #[inline]
    pub(crate) fn has_thread(&self) -> bool {
        // Relaxed: fixed once before tracking turns on.
        THREAD_ACTIVE.load(Relaxed)
    }

    #[inline(always)]
    fn encode(r: &Record) -> [u64; 4] {
        let size = (r.size as u64).min(MAX_SIZE);
        let align_log2 = u64::from(r.align.max(1).trailing_zeros()).min(63);
        [
            (r.addr as u64)
                | (align_log2 << ALIGN_SHIFT)
                | ((size >> SIZE_LO_BITS) << SIZE_TOP_SHIFT),
            (size & ((1 << SIZE_LO_BITS) - 1)) | (pack_handle(r.handle) << SIZE_LO_BITS),
            r.tid,
            r.ts,
        ]
    }

    fn decode(w: &[u64; 4]) -> Record {
        let (handle, size) = Self::owner_of(w[0], w[1]);
        Record {
            addr: key(w[0]) as usize,
            size: size as usize,
            align: 1usize << ((w[0] >> ALIGN_SHIFT) & 63),
            handle: unpack_handle(handle.into()),
            tid: w[2],
            ts: w[3],
        }
    }

    /// The packed handle and the size kept in a row's two words.
    #[inline(always)]
    fn owner_of(w0: u64, w1: u64) -> (u32, i64) {
        let size = ((w0 >> SIZE_TOP_SHIFT) << SIZE_LO_BITS) | (w1 & ((1 << SIZE_LO_BITS) - 1));
        ((w1 >> SIZE_LO_BITS) as u32, size.cast_signed())
    }

    /// The page-slot value of a record, if it is small enough for one.
    #[inline(always)]
    fn slot_of(r: &Record) -> Option<u32> {
        let addr = r.addr as u64;
        let small = Small {
            h24: pack_handle(r.handle) as u32,
            size: r.size,
            align: r.align,
        };
        if pages::indexed(addr) {
            pages::encode(addr, small)
        } else {
            None
        }
    }

    /// The record that page-slot value `v` of `addr` holds.
    fn record_of_slot(addr: u64, v: u32) -> Record {
        let s = pages::decode(v);
        Record {
            addr: addr as usize,
            size: s.size,
            align: s.align,
            handle: unpack_handle(s.h24.into()),
            tid: 0,
            ts: 0,
        }
    }

    /// Inserts the record of `r.addr` and adds it to its stack's live
    /// totals. Returns false if it could not be stored (no memory from the
    /// OS, or an address beyond 48 bits). The caller has set the thread's
    /// re-entrancy guard to `Locked`. The address is one the allocator has
    /// just handed out, so it has no record (each free removes its record
    /// before the block goes back); a record of it that is still where this
    /// one goes is replaced.
    ///
    /// With the core client alone, a small record takes its page slot
    /// (inlined into the allocation path); the rest (and every record of
    /// the thread client's layout) go to the shard's rows.
    #[inline(always)]
    pub(crate) fn insert(&self, r: &Record) -> bool {
        // Relaxed: fixed before tracking turns on.
        if PAGED.load(Relaxed)
            && let Some(v) = Self::slot_of(r)
        {
            let addr = r.addr as u64;
            let shard = &self.shards[shard_of(addr)];
            let g = shard.lock.lock_guarded();
            if let Ok(old) = self.pages.insert(addr, v) {
                match old {
                    None => shard.paged.store(shard.paged.load(Relaxed) + 1, Relaxed),
                    Some(old) => {
                        let o = pages::decode(old);
                        shard.account(o.h24, -1, -signed(o.size));
                    }
                }
                shard.account(pack_handle(r.handle) as u32, 1, signed(r.size));
                return true;
            }
            // The granule is another address's: to the rows (the block is
            // ours, so nobody records this address meanwhile).
            drop(g);
        }
        // A copy made here, on the way out of line: the caller's record
        // then never needs a place in memory on the slot path.
        let r = *r;
        self.insert_rows(&r)
    }

    /// [`Table::insert`] into the shard's rows.
    #[inline(never)]
    fn insert_rows(&self, r: &Record) -> bool {
        let addr = r.addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        if self.has_thread() {
            self.insert_locked::<true>(shard, addr, Self::encode(r))
        } else {
            self.insert_locked::<false>(shard, addr, Self::encode(r))
        }
    }

    /// Inserts into the shard's rows. The shard lock is held.
    #[inline(always)]
    fn insert_locked<const T: bool>(&self, shard: &Shard, addr: u64, words: [u64; 4]) -> bool {
        let h = hash(addr);
        let len = shard.len.load(Relaxed) as usize;
        let rows = shard.rows::<T>();
        let cap = rows.cap();
        // The common case: room, and the home slot free.
        if (len + 1) * 8 <= cap * 7 {
            let i = home(addr, h, cap);
            if rows.w0(i) == 0 {
                rows.write(i, &words);
                shard.len.store(len as u32 + 1, Relaxed);
                let (handle, size) = Self::owner_of(words[0], words[1]);
                shard.account(handle, 1, size);
                return true;
            }
        }
        self.insert_probing::<T>(shard, addr, h, words)
    }

    /// [`Table::insert_in`] past its common case: grow if needed, then one
    /// Robin Hood pass. The shard lock is held.
    #[cold]
    #[inline(never)]
    fn insert_probing<const T: bool>(
        &self,
        shard: &Shard,
        addr: u64,
        h: u64,
        mut words: [u64; 4],
    ) -> bool {
        let len = shard.len.load(Relaxed) as usize;
        if (len + 1) * 8 > shard.cap() * 7 {
            // Growing may be needed; replacing an existing key is not an
            // insert, so look first (rare: only near the load limit).
            if let Some(i) = Self::find_in(&shard.rows::<T>(), addr, h) {
                Self::replace_at(shard, &shard.rows::<T>(), i, &words);
                return true;
            }
            if !self.grow::<T>(shard) {
                return false;
            }
        }
        // Stop at the key (replace), or at the first slot whose entry is
        // closer to its home than we are to ours (the key cannot be further
        // on), and insert there.
        let rows = shard.rows::<T>();
        let cap = rows.cap();
        let mut i = home(addr, h, cap);
        let mut dist = 0;
        loop {
            let w0 = rows.w0(i);
            if w0 == 0 {
                words[0] = with_dist(words[0], dist);
                rows.write(i, &words);
                break;
            }
            if key(w0) == addr {
                Self::replace_at(shard, &rows, i, &words);
                return true;
            }
            let kdist = dist_of(w0, i, cap);
            if kdist < dist {
                let theirs = rows.read(i);
                words[0] = with_dist(words[0], dist);
                rows.write(i, &words);
                Self::place_from(&rows, theirs, next(i, cap), kdist + 1);
                break;
            }
            i = next(i, cap);
            dist += 1;
        }
        shard.len.store(len as u32 + 1, Relaxed);
        let (handle, size) = Self::owner_of(words[0], words[1]);
        shard.account(handle, 1, size);
        true
    }

    /// Overwrites the record in slot `i` (same key), moving totals.
    fn replace_at<const T: bool>(shard: &Shard, rows: &Rows<'_, T>, i: usize, words: &[u64; 4]) {
        let old = rows.read(i);
        let (h, size) = Self::owner_of(old[0], old[1]);
        shard.account(h, -1, -size);
        let mut w = *words;
        w[0] = with_dist(w[0], dist_of(old[0], i, rows.cap()));
        rows.write(i, &w);
        let (h, size) = Self::owner_of(w[0], w[1]);
        shard.account(h, 1, size);
    }

    /// Whether the record of an allocation of `size` bytes at `addr` may
    /// be in a page slot: a record too big for one never is (an in-place
    /// resize past [`pages::MAX_SMALL`] moves it to the rows), and the size
    /// a free or a realloc gives is the one recorded (the `GlobalAlloc`
    /// contract).
    #[inline(always)]
    fn may_be_paged(addr: u64, size: usize) -> bool {
        // Relaxed: fixed before tracking turns on.
        PAGED.load(Relaxed) && size <= pages::MAX_SMALL && pages::indexed(addr)
    }

    /// Removes the record of the `size`-byte allocation at `addr`, taking
    /// it off its stack's totals. The caller has set the thread's
    /// re-entrancy guard to `Locked`. Looks in the page slot first (where
    /// most records are), then in the rows (a record too big for a slot,
    /// or one whose slot was taken).
    pub(crate) fn remove(&self, addr: usize, size: usize) -> Option<Record> {
        let addr = addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return None;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        if let Some(v) = self.take_paged(shard, addr, size) {
            return Some(Self::record_of_slot(addr, v));
        }
        self.remove_rows(shard, addr)
    }

    /// [`Table::remove`] for a free, inlined into it: whether there was a
    /// record.
    #[inline(always)]
    pub(crate) fn forget(&self, addr: usize, size: usize) -> bool {
        let addr = addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        self.take_paged(shard, addr, size).is_some() || self.remove_rows(shard, addr).is_some()
    }

    /// [`Table::forget`]'s common case with no call in it, so that the free
    /// path needs no saved registers: a small block whose record is in its
    /// page slot, the shard lock free, and the stack's totals already
    /// pending in the shard. True if it removed the record; false if
    /// anything else holds, with nothing changed (then `forget` goes the
    /// whole way). The caller has set the thread's guard to `Locked`.
    #[inline(always)]
    pub(crate) fn forget_fast(&self, addr: usize, size: usize) -> bool {
        let addr = addr as u64;
        if !Self::may_be_paged(addr, size) {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let Some(_g) = shard.lock.try_lock_guarded() else {
            return false;
        };
        let Some(slot) = self.pages.find(addr) else {
            return false;
        };
        let v = slot.load(Relaxed);
        let s = pages::decode(v);
        let Some(p) = shard.pending_of(s.h24) else {
            return false;
        };
        slot.store(0, Relaxed);
        shard.paged.store(shard.paged.load(Relaxed) - 1, Relaxed);
        p.add(-1, -signed(s.size));
        true
    }

    /// Takes the record of `addr` out of its page slot, if it is there,
    /// off its stack's totals; returns the slot's value. The shard lock is
    /// held.
    #[inline(always)]
    fn take_paged(&self, shard: &Shard, addr: u64, size: usize) -> Option<u32> {
        if !Self::may_be_paged(addr, size) {
            return None;
        }
        let v = self.pages.remove(addr)?;
        Self::unpaged(shard, v);
        Some(v)
    }

    /// Counts page-slot record `v`, just emptied, out of the shard and its
    /// stack's totals. The shard lock is held.
    #[inline(always)]
    fn unpaged(shard: &Shard, v: u32) {
        shard.paged.store(shard.paged.load(Relaxed) - 1, Relaxed);
        let s = pages::decode(v);
        shard.account(s.h24, -1, -signed(s.size));
    }

    /// [`Table::remove`] from the shard's rows, of the table's layout. The
    /// shard lock is held.
    #[inline(always)]
    fn remove_rows(&self, shard: &Shard, addr: u64) -> Option<Record> {
        if self.has_thread() {
            Self::remove_rows_in::<true>(shard, addr)
        } else {
            Self::remove_rows_in::<false>(shard, addr)
        }
    }

    #[inline(never)]
    fn remove_rows_in<const T: bool>(shard: &Shard, addr: u64) -> Option<Record> {
        let rows = shard.rows::<T>();
        let i = Self::find_in(&rows, addr, hash(addr))?;
        let old = rows.read(i);
        Self::delete_at(&rows, i);
        shard.len.store(shard.len.load(Relaxed) - 1, Relaxed);
        let (handle, size) = Self::owner_of(old[0], old[1]);
        shard.account(handle, -1, -size);
        Some(Self::decode(&old))
    }

    /// Reallocates the block at `addr` by calling `realloc`, with the lock
    /// of the shard that holds its record: if the block moves, the old
    /// address is free inside `realloc`, and another thread that gets it
    /// meanwhile waits here to record it until the old record is gone. In
    /// place, the record only takes the new size, without a remove and an
    /// insert. The caller has set the thread's re-entrancy guard to
    /// `Locked` (allocations inside `realloc` pass through untracked).
    pub(crate) fn resize(
        &self,
        addr: usize,
        size: usize,
        new_size: usize,
        realloc: impl FnOnce() -> *mut u8,
    ) -> (*mut u8, Resized) {
        if self.has_thread() {
            self.resize_in::<true>(addr as u64, size, new_size, realloc)
        } else {
            self.resize_in::<false>(addr as u64, size, new_size, realloc)
        }
    }

    #[inline(always)]
    fn resize_in<const T: bool>(
        &self,
        addr: u64,
        size: usize,
        new_size: usize,
        realloc: impl FnOnce() -> *mut u8,
    ) -> (*mut u8, Resized) {
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return (realloc(), Resized::Untracked);
        }
        let shard = &self.shards[shard_of(addr)];
        let guard = shard.lock.lock_guarded();
        if Self::may_be_paged(addr, size)
            && let Some(slot) = self.pages.find(addr)
        {
            // The slot stays put while the lock is held.
            let p = realloc();
            if p.is_null() {
                return (p, Resized::Kept);
            }
            let v = slot.load(Relaxed);
            if p as u64 == addr
                && let Some(grown) = pages::with_size(v, new_size)
            {
                slot.store(grown, Relaxed);
                let old = pages::decode(v);
                shard.account(old.h24, 0, signed(new_size) - signed(old.size));
                return (p, Resized::Kept);
            }
            // Moved, or too big for a slot now: the caller puts the record
            // back at `p` (the block is the caller's until it returns).
            slot.store(0, Relaxed);
            Self::unpaged(shard, v);
            return (p, Resized::Moved(Self::record_of_slot(addr, v)));
        }
        let h = hash(addr);
        // No `grow` can run while the lock is held, so `rows` and `i` stay
        // valid across `realloc`.
        let rows = shard.rows::<T>();
        let Some(i) = Self::find_in(&rows, addr, h) else {
            drop(guard);
            return (realloc(), Resized::Untracked);
        };
        let p = realloc();
        if p.is_null() {
            return (p, Resized::Kept);
        }
        let old = rows.read(i);
        let (handle, size) = Self::owner_of(old[0], old[1]);
        if p as u64 == addr {
            let new = (new_size as u64).min(MAX_SIZE);
            let top = 3 << SIZE_TOP_SHIFT;
            let lo = (1 << SIZE_LO_BITS) - 1;
            let row = &rows.core[i];
            row[0].store(
                (old[0] & !top) | ((new >> SIZE_LO_BITS) << SIZE_TOP_SHIFT),
                Relaxed,
            );
            row[1].store((old[1] & !lo) | (new & lo), Relaxed);
            shard.account(handle, 0, new.cast_signed() - size);
            return (p, Resized::Kept);
        }
        Self::delete_at(&rows, i);
        shard.len.store(shard.len.load(Relaxed) - 1, Relaxed);
        shard.account(handle, -1, -size);
        (p, Resized::Moved(Self::decode(&old)))
    }

    #[inline(always)]
    fn find_in<const T: bool>(rows: &Rows<'_, T>, addr: u64, h: u64) -> Option<usize> {
        let cap = rows.cap();
        if cap == 0 {
            return None;
        }
        let mut i = home(addr, h, cap);
        let mut dist = 0;
        loop {
            let w0 = rows.w0(i);
            if key(w0) == addr {
                return Some(i);
            }
            // An empty slot reads as distance 0, so `dist > 0` ends there.
            if w0 == 0 || dist_of(w0, i, cap) < dist {
                return None; // Robin Hood: ours would have displaced this one
            }
            i = next(i, cap);
            dist += 1;
        }
    }

    /// Robin Hood placement of a key known to be absent, from slot `i` at
    /// distance `dist` from its home.
    fn place_from<const T: bool>(
        rows: &Rows<'_, T>,
        mut words: [u64; 4],
        mut i: usize,
        mut dist: usize,
    ) {
        let cap = rows.cap();
        loop {
            let w0 = rows.w0(i);
            if w0 == 0 {
                words[0] = with_dist(words[0], dist);
                rows.write(i, &words);
                return;
            }
            let kdist = dist_of(w0, i, cap);
            if kdist < dist {
                let theirs = rows.read(i);
                words[0] = with_dist(words[0], dist);
                rows.write(i, &words);
                words = theirs;
                dist = kdist;
            }
            i = next(i, cap);
            dist += 1;
        }
    }

    /// Backward-shift deletion: the records after `i` that are away from
    /// home move back one slot each.
    #[inline(always)]
    fn delete_at<const T: bool>(rows: &Rows<'_, T>, mut i: usize) {
        let cap = rows.cap();
        loop {
            let j = next(i, cap);
            let w0 = rows.w0(j);
            let d = if w0 == 0 { 0 } else { dist_of(w0, j, cap) };
            if d == 0 {
                rows.write(i, &[0; 4]);
                return;
            }
            let mut w = rows.read(j);
            w[0] = with_dist(w0, d - 1);
            rows.write(i, &w);
            i = j;
        }
    }

    /// Moves the shard into a 1.5× bigger mapping. False if the OS refused.
    #[cold]
    fn grow<const T: bool>(&self, shard: &Shard) -> bool {
        let old = shard.rows::<T>();
        let old_cap = old.cap();
        // Use the whole last page.
        let len = mapping_len((old_cap + old_cap / 2).max(MIN_CAP));
        let new_cap = len / ROW;
        let core = sys::map(len);
        if core.is_null() {
            return false;
        }
        let extra = if T {
            let p = sys::map(len);
            if p.is_null() {
                // SAFETY: mapped just above with this length, never shared.
                unsafe { sys::unmap(core, len) };
                return false;
            }
            p
        } else {
            null_mut()
        };
        for p in [core, extra] {
            if !p.is_null() {
                // SAFETY: mapped just above with this length. The rows are
                // spread over by hash: every page is about to be used.
                unsafe { sys::populate(p, len) };
            }
        }
        let new = Rows::<T> {
            // SAFETY: fresh mappings of `len` bytes = `new_cap` rows, private
            // to this call until published below, under the lock.
            core: unsafe { rows(core.cast(), new_cap) },
            // SAFETY: as above (null when the client is not needed).
            extra: unsafe { rows(extra.cast(), new_cap) },
        };
        for i in 0..old_cap {
            let w0 = old.w0(i);
            if w0 != 0 {
                let k = key(w0);
                Self::place_from(&new, old.read(i), home(k, hash(k), new_cap), 0);
            }
        }
        let old_rows = shard.rows.swap(core.cast(), Relaxed);
        let old_extra = shard.extra.swap(extra.cast(), Relaxed);
        shard.cap.store(new_cap as u32, Relaxed);
        let mut mapped = len as u64 * if T { 2 } else { 1 };
        if old_cap > 0 {
            let old_len = mapping_len(old_cap);
            for p in [old_rows, old_extra] {
                if !p.is_null() {
                    // SAFETY: made by `sys::map` with this length (capacities
                    // are derived from whole mappings); no slice into it
                    // survives: `old` is not used after this point, and every
                    // other reader holds the shard lock.
                    unsafe { sys::unmap(p.cast(), old_len) };
                    mapped = mapped.wrapping_sub(old_len as u64);
                }
            }
        }
        self.bytes.fetch_add(mapped, Relaxed);
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

    /// Takes every lock the table has: every shard's, in order, then the
    /// page index's growth lock, which is taken under a shard's (fork
    /// prepare).
    pub(crate) fn lock_everything(&self) {
        self.lock_all();
        self.pages.raw_lock_grow();
    }

    /// Releases what [`Table::lock_everything`] took.
    pub(crate) fn unlock_everything(&self) {
        self.pages.raw_unlock_grow();
        self.unlock_all();
    }

    /// Adds every shard's pending changes to the depot's totals, so that
    /// they are exact. Only with every lock held.
    pub(crate) fn publish_locked(&self) {
        for s in &self.shards {
            for p in s.pending.iter().flat_map(|set| &set.0) {
                p.publish();
            }
        }
    }

    /// Drops every record and pending change, keeping the shards' mappings
    /// (and their size) for a later enable, so it does not grow them all
    /// over again; their pages go back to the OS until [`Table::refill`].
    /// Only with every lock held.
    pub(crate) fn clear_locked(&self) {
        for s in &self.shards {
            for p in s.pending.iter().flat_map(|set| &set.0) {
                p.count.store(0, Relaxed);
                p.bytes.store(0, Relaxed);
            }
            s.paged.store(0, Relaxed);
            let len = mapping_len(s.cap());
            if s.len.load(Relaxed) == 0 || len == 0 {
                continue;
            }
            for p in [s.rows.load(Relaxed), s.extra.load(Relaxed)] {
                if !p.is_null() {
                    // SAFETY: one of this shard's mappings, made by `grow`
                    // with `len` bytes; every lock is held, and the rows are
                    // being emptied.
                    unsafe { sys::discard(p.cast(), len) };
                }
            }
            s.len.store(0, Relaxed);
        }
        self.pages.clear_locked();
    }

    /// Populates the pages [`Table::clear_locked`] gave back (at the next
    /// enable; see [`sys::populate`]): every shard's rows, under its lock,
    /// and the page index's leaves. The thread's guard is `Locked`.
    pub(crate) fn refill(&self) {
        for s in &self.shards {
            let _g = s.lock.lock_guarded();
            let len = mapping_len(s.cap());
            for p in [s.rows.load(Relaxed), s.extra.load(Relaxed)] {
                if !p.is_null() {
                    // SAFETY: one of this shard's mappings, made by `grow`
                    // with `len` bytes and replaced only under the lock.
                    unsafe { sys::populate(p.cast(), len) };
                }
            }
        }
        self.pages.refill();
    }

    /// Number of live records. Exact only with every lock held.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a count; exact under `lock_all`.
        self.shards
            .iter()
            .map(|s| (s.len.load(Relaxed) + s.paged.load(Relaxed)) as usize)
            .sum()
    }

    /// Calls `f` on every record. Only with every lock held.
    pub(crate) fn for_each_locked(&self, mut f: impl FnMut(Record)) {
        fn each<const T: bool>(shards: &[Shard], f: &mut impl FnMut(Record)) {
            for s in shards {
                let rows = s.rows::<T>();
                for i in 0..rows.cap() {
                    if rows.w0(i) != 0 {
                        f(Table::decode(&rows.read(i)));
                    }
                }
            }
        }
        if self.has_thread() {
            each::<true>(&self.shards, &mut f);
        } else {
            each::<false>(&self.shards, &mut f);
        }
        self.pages
            .for_each_locked(|addr, v| f(Self::record_of_slot(addr, v)));
    }

    /// Bytes of the table: the rows' mappings and the page index's leaves
    /// and nodes.
    pub(crate) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.bytes.load(Relaxed) + self.pages.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_reach_the_depot_through_pending_slots() {
        let t = Table::new();
        t.setup(&Config::DEFAULT).unwrap();
        let (early, unsampled) = (StackHandle::EARLY, StackHandle::UNSAMPLED);
        let before = (DEPOT.live(early), DEPOT.live(unsampled));
        let record = |i: usize, handle| Record {
            addr: 0x10_0000 + i * 48,
            size: if handle == early { 3 } else { 10 },
            align: 8,
            handle,
            tid: 0,
            ts: 0,
        };
        for i in 0..2000 {
            assert!(t.insert(&record(i, if i % 2 == 0 { early } else { unsampled })));
        }
        for i in (0..2000).step_by(4) {
            assert!(t.forget(record(i, early).addr, 3));
        }
        assert!(!t.forget(0x10_0000 + 2000 * 48, 3), "never inserted");
        t.lock_all();
        t.publish_locked();
        t.unlock_all();
        assert_eq!(t.len(), 1500);
        let delta = |(c0, b0): (u64, u64), (c1, b1): (u64, u64)| (c1 - c0, b1 - b0);
        assert_eq!(delta(before.0, DEPOT.live(early)), (500, 1500));
        assert_eq!(delta(before.1, DEPOT.live(unsampled)), (1000, 10_000));
    }

    /// Far more stacks than a shard's pending sets hold: totals pushed out
    /// of a set, and those still pending, add up to exact depot totals.
    #[test]
    fn pending_sets_keep_totals_exact_with_many_stacks() {
        assert!(DEPOT.init(Config::DEFAULT.depot_cap));
        let stacks: Vec<StackHandle> = (0..48usize)
            .map(|i| {
                let frames = [0x7e57_0000 + i * 16, 0x7e57_8000];
                DEPOT.save_hashed(&frames, crate::depot::hash(&frames))
            })
            .collect();
        assert!(stacks.iter().all(|h| h.is_stack()));
        let t = Table::new();
        t.setup(&Config::DEFAULT).unwrap();
        let mut want = std::collections::HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut live = Vec::new();
        for k in 0..20_000usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let handle = stacks[(x >> 8) as usize % stacks.len()];
            // Small blocks to page slots, bigger ones to rows.
            let size = (x >> 20) as usize % 400 + 1;
            let r = Record {
                addr: 0x4444_0000_0000 + k * 512,
                size,
                align: 8,
                handle,
                tid: 0,
                ts: 0,
            };
            assert!(t.insert(&r));
            live.push(r);
            if x.is_multiple_of(4) {
                let gone = live.swap_remove((x >> 40) as usize % live.len());
                assert!(t.forget(gone.addr, gone.size));
            }
        }
        for r in &live {
            let e = want.entry(r.handle).or_insert((0u64, 0u64));
            e.0 += 1;
            e.1 += r.size as u64;
        }
        let before: Vec<_> = stacks.iter().map(|&h| DEPOT.live(h)).collect();
        t.lock_all();
        t.publish_locked();
        t.unlock_all();
        for (h, (c0, b0)) in stacks.iter().zip(before) {
            let (c, b) = DEPOT.live(*h);
            assert_eq!(
                (c, b),
                want[h],
                "{h:?} (pending held {:?})",
                (c - c0, b - b0)
            );
        }
    }

    #[test]
    fn rows_round_trip() {
        for (size, align, handle) in [
            (1usize, 1usize, StackHandle::from_raw(0)),
            (
                MAX_SIZE as usize,
                1 << 29,
                StackHandle::from_raw((8190 << 11) | 2047),
            ),
            (12_345, 16, StackHandle::DUMMY),
            (7, 8, StackHandle::FAILURE),
            (0, 4096, StackHandle::EARLY),
            (1 << 41, 64, StackHandle::UNSAMPLED),
        ] {
            let r = Record {
                addr: 0x7fff_1234_5670,
                size,
                align,
                handle,
                tid: 9,
                ts: 10,
            };
            let mut w = Table::encode(&r);
            w[0] = with_dist(w[0], 200);
            assert_eq!(Table::decode(&w), r);
            assert_eq!(dist_of(w[0], 0, 1024), 200);
            let (packed, bytes) = Table::owner_of(w[0], w[1]);
            assert_eq!(
                (unpack_handle(packed.into()), bytes),
                (handle, i64::try_from(size).unwrap())
            );
        }
    }

    /// A resize in place updates the size and the totals; one that moves
    /// hands the record out; a failed one keeps it; an unknown address
    /// still reallocates.
    #[test]
    fn resize_keeps_or_hands_out_the_record() {
        let t = Table::new();
        t.setup(&Config::DEFAULT).unwrap();
        let handle = StackHandle::FAILURE;
        let addr = 0x30_0000usize;
        let rec = Record {
            addr,
            size: 24,
            align: 8,
            handle,
            tid: 0,
            ts: 0,
        };
        let totals = || {
            t.lock_all();
            t.publish_locked();
            t.unlock_all();
            DEPOT.live(handle)
        };
        let before = totals();
        assert!(t.insert(&rec));
        let (p, r) = t.resize(addr, 24, 40, || addr as *mut u8);
        assert_eq!((p as usize, r), (addr, Resized::Kept));
        let (p, r) = t.resize(addr, 40, 4000, core::ptr::null_mut);
        assert_eq!((p, r), (null_mut(), Resized::Kept));
        t.lock_all();
        let mut all = vec![];
        t.for_each_locked(|r| all.push(r));
        t.unlock_all();
        assert_eq!(all, [Record { size: 40, ..rec }]);
        assert_eq!(totals(), (before.0 + 1, before.1 + 40));
        let (p, r) = t.resize(addr, 40, 64, || 0x40_0000 as *mut u8);
        assert_eq!(
            (p as usize, r),
            (0x40_0000, Resized::Moved(Record { size: 40, ..rec }))
        );
        assert_eq!((t.len(), totals()), (0, before));
        let mut called = false;
        let (p, r) = t.resize(addr, 64, 8, || {
            called = true;
            0x50_0000 as *mut u8
        });
        assert_eq!(
            (p as usize, r, called),
            (0x50_0000, Resized::Untracked, true)
        );
    }

    /// Allocations and frees of blocks that never overlap, as an allocator
    /// makes them, checked against a model: page slots, both halves of a
    /// granule, big blocks, handles too wide for a slot, and over-aligned
    /// blocks packed into full row groups (long Robin Hood runs, backward
    /// shifts, growth).
    #[test]
    fn shards_agree_with_a_model() {
        // Where a block may start in the first of two pages (the second is
        // left to the biggest blocks), and its largest size.
        const SPOTS: [(u64, u64); 6] = [
            (0x20, 16),
            (0x30, 16),
            (0x40, 64),
            (0x80, 1900),
            (0x800, 6000),
            (0xfe0, 32),
        ];
        let t = Table::new();
        t.setup(&Config::DEFAULT).unwrap();
        let mut model = std::collections::HashMap::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..200_000u64 {
            let r = rand();
            let (off, max) = SPOTS[(r >> 3) as usize % SPOTS.len()];
            let (addr, max, align) = match r % 3 {
                // A few dense pages.
                0 => (0x5555_0000_0000 + (r >> 16) % 64 * 8192 + off, max, 16),
                // Pages scattered over 8 GiB.
                1 => (
                    0x7f00_0000_0000 + (r >> 16) % (1 << 20) * 8192 + off,
                    max,
                    16,
                ),
                // 32-byte blocks aligned to 64, all in the rows.
                _ => (0x6666_0000_0000 + (r >> 16) % 4096 * 32, 32, 64),
            };
            let addr = addr as usize;
            if r & 6 == 0 {
                let size = model.get(&addr).map_or(8, |r: &Record| r.size);
                assert_eq!(
                    t.forget(addr, size),
                    model.remove(&addr).is_some(),
                    "step {step}"
                );
            } else {
                // A live block is freed before its address is handed out.
                if let Some(old) = model.remove(&addr) {
                    assert!(t.forget(addr, old.size), "step {step}");
                }
                let rec = Record {
                    addr,
                    size: ((r >> 40) % max + 1) as usize,
                    align,
                    // Handles of no depot pool: their totals go nowhere, so
                    // the tests that read totals run undisturbed beside it.
                    // The second is too wide for a page slot.
                    handle: StackHandle::from_raw(if r & 32 == 0 {
                        (500 << 11) | 5
                    } else {
                        (8190 << 11) | 5
                    }),
                    tid: 0,
                    ts: 0,
                };
                assert!(t.insert(&rec), "step {step}");
                model.insert(addr, rec);
            }
        }
        t.lock_all();
        let in_slots: u32 = t.shards.iter().map(|s| s.paged.load(Relaxed)).sum();
        let in_rows: u32 = t.shards.iter().map(|s| s.len.load(Relaxed)).sum();
        assert!(
            in_slots > 5000 && in_rows > 5000,
            "{in_slots} in slots, {in_rows} in rows"
        );
        assert_eq!(t.len(), model.len());
        let mut seen = 0;
        t.for_each_locked(|r| {
            assert_eq!(model.get(&r.addr), Some(&r));
            seen += 1;
        });
        t.unlock_all();
        assert_eq!(seen, model.len());
        for (&addr, rec) in &model {
            assert_eq!(t.remove(addr, rec.size), Some(*rec));
        }
        assert_eq!(t.len(), 0);
    }
}
