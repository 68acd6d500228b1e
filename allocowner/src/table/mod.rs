//! The side table (the kernel's page_ext): one record per live allocation,
//! kept outside the allocation, in memory mapped straight from the OS.
//!
//! Most records are small allocations, and those (with the core client
//! alone) live in a page index ([`pages`]): storage per heap page that has
//! any, reached through a radix directory over the address, as page_ext
//! reaches a page's data from its frame number; a 4-byte slot per 32-byte
//! granule on a page with many, 5 bytes a record packed on a page with few.
//! The rest (big or over-aligned allocations, handles beyond 20 bits, the
//! thread client's wider records) go to hashed rows ([`rows`]). Measured
//! with `stats()` (`cargo run --release -p benches --example side_table`),
//! that is 13 to 19 bytes per live record on a heap of small and
//! mid-sized blocks, 36 with one small block per page.
//!
//! Both are split into [`SHARDS`] shards by 64 KiB region of the heap,
//! each behind its own spin lock: two threads only contend when their
//! pointers lie in regions that hash to the same shard.
//!
//! Clients declare what they need, as page_ext's `need()`/`init()` do
//! ([`clients`]): the core client's 16-byte rows always exist; every other
//! client that is needed gets its own array of rows beside them, moved in
//! step, fixed when tracking is first enabled. When no client needs the
//! table (tracking never enabled), nothing is mapped.
//!
//! Per-stack live totals change on every insert and remove; the change
//! goes to the shard's [`pending`] totals, published to the table's stack
//! depot when a slot there is needed for another stack, or when totals are
//! read (every shard lock held).
//!
//! The verbs: [`Table::insert`] a record; [`Table::remove`] one and get it
//! back; [`Table::discard`] one (a free: no record wanted), with
//! [`Table::discard_fast_path`] in front for its common case;
//! [`Table::resize`] one under a reallocation.
//!
//! Modules: [`record`] (a record and its encodings), [`clients`] (who
//! keeps what, the layout), [`pending`] (per-shard stack totals),
//! [`rows`] (the hashed rows), [`pages`] (the page index).

use core::ptr::null_mut;
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64};

mod clients;
pub(crate) mod filter;
mod pages;
mod pending;
mod record;
mod rows;

pub(crate) use clients::EPOCH_NS;
pub(crate) use record::{Record, Resized};

use pages::{Pages, Placed};
use pending::PendingTotals;
use record::{ADDR_MASK, signed};
use rows::{Row, mapping_len};

use crate::config::Config;
use crate::depot::{DEPOT, Depot};
use crate::spin::SpinLock;
use crate::sys;

/// Number of shards (each with its own lock).
pub(crate) const SHARDS: usize = 256;

#[repr(align(64))]
struct Shard {
    lock: SpinLock,
    // Everything below is only touched with `lock` held (or every lock
    // held); Relaxed atomics keep that sound without an `unsafe impl Sync`.
    cap: AtomicU32,
    /// Records in the rows.
    len: AtomicU32,
    /// Records in the page index (of this shard's regions).
    paged: AtomicU32,
    /// Core rows, `cap` of them.
    rows: AtomicPtr<Row>,
    /// The thread client's rows, beside the core rows, or null.
    extra: AtomicPtr<Row>,
    /// The sampled mode's [`filter`] is on: record changes count
    /// themselves (a copy per shard, beside the lock).
    filtering: AtomicBool,
    pending: PendingTotals,
}

pub(crate) struct Table {
    shards: [Shard; SHARDS],
    /// Small records of the core-only layout, by page (see `pages`).
    pages: Pages,
    /// Where stack totals go: the process's depot, or a unit test's own.
    /// Passed down by reference, so that only the cold path that
    /// publishes totals loads it (loading it on every insert and remove
    /// cost two instructions each).
    depot: &'static Depot,
    /// Bytes per record over all clients, 0 before setup.
    stride: AtomicU64,
    bytes: AtomicU64,
}

/// The process's side table, over the process's depot.
pub(crate) static TABLE: Table = Table::new(&DEPOT);

/// The shard is picked by 64 KiB region, not by block (see [`rows`]): a
/// run of the heap that a thread fills and empties in turn keeps its
/// records in one shard's few pages, whose lock and rows stay in the cache
/// (in the alloc bench, the median of five runs against four was 5–20%
/// faster in five cases of six, on one thread and on eight; BTreeMap on
/// one thread was the same within noise), while one thread's 64 MiB glibc
/// arena still spreads over every shard.
const SHARD_SHIFT: u32 = 16;

/// A multiplicative (Fibonacci) hash of the `1 << shift`-byte piece of
/// address space that holds `addr`: its high bits are well mixed.
#[inline(always)]
fn hash_of_piece(addr: u64, shift: u32) -> u64 {
    (addr >> shift).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The shard of `addr`: the top byte of its region's hash.
#[inline(always)]
fn shard_of(addr: u64) -> usize {
    (hash_of_piece(addr, SHARD_SHIFT) >> 56) as usize
}

impl Table {
    /// An empty table whose stack totals go to `depot`.
    const fn new(depot: &'static Depot) -> Self {
        Table {
            shards: [const {
                Shard {
                    lock: SpinLock::new(),
                    cap: AtomicU32::new(0),
                    len: AtomicU32::new(0),
                    paged: AtomicU32::new(0),
                    rows: AtomicPtr::new(null_mut()),
                    extra: AtomicPtr::new(null_mut()),
                    filtering: AtomicBool::new(false),
                    pending: PendingTotals::new(),
                }
            }; SHARDS],
            pages: Pages::new(),
            depot,
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
            return clients::missing(config).map_or(Ok(()), Err);
        }
        let stride = clients::activate(config);
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
        clients::has_thread()
    }

    /// Adds a change to the live totals of `handle` (packed as in a row)
    /// in `shard`, for the record of `addr` (counted in or out of the
    /// sampled mode's [`filter`] while it is on). Only with its lock held.
    #[inline(always)]
    fn account(&self, shard: &Shard, addr: u64, handle: u32, count: i32, bytes: i64) {
        if count != 0 && shard.filtering.load(Relaxed) {
            filter::change(addr, count);
        }
        shard.pending.add(&self.depot, handle, count, bytes);
    }

    /// Inserts the record of `r.addr` and adds it to its stack's live
    /// totals. Returns false if it could not be stored (no memory from the
    /// OS, or an address beyond 48 bits). The caller has set the thread's
    /// re-entrancy guard to `Locked`. The address is one the allocator has
    /// just handed out, so it has no record (each free removes its record
    /// before the block goes back); a record of it that is still in the
    /// leaf slot or the row where this one goes is replaced (a mini adds
    /// without a search).
    ///
    /// With the core client alone, a small record goes to its page (a
    /// leaf's slot, inlined into the allocation path, or a mini); the rest
    /// (and every record of the thread client's layout) go to the shard's
    /// rows.
    #[inline(always)]
    pub(crate) fn insert(&self, r: &Record) -> bool {
        if clients::paged()
            && let Some(v) = r.slot()
        {
            let addr = r.addr as u64;
            let shard = &self.shards[shard_of(addr)];
            let g = shard.lock.lock_guarded();
            match self.pages.insert(addr, v) {
                Placed::Slot(old) => {
                    self.account_inserted(shard, r, old);
                    return true;
                }
                Placed::Mini(cell, e) => {
                    if self.insert_mini(shard, cell, e, r, v) {
                        return true;
                    }
                }
                Placed::Rows => {}
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

    /// [`Table::insert`] of small record `r` (slot value `v`) into its
    /// page's mini, of entry `cell` (of value `e`): whether it is in. The
    /// shard lock is held.
    #[inline(never)]
    fn insert_mini(
        &self,
        shard: &Shard,
        cell: &core::sync::atomic::AtomicUsize,
        e: usize,
        r: &Record,
        v: u32,
    ) -> bool {
        let placed = self.pages.insert_mini(
            cell,
            e,
            r.addr as u64,
            v,
            |n| self.rows_room(shard, n),
            |a, v| {
                shard.paged.store(shard.paged.load(Relaxed) - 1, Relaxed);
                self.move_to_rows(shard, &Record::from_slot(a, v));
            },
        );
        placed
            .map(|old| self.account_inserted(shard, r, old))
            .is_ok()
    }

    /// Counts small record `r`, just put in its page (replacing `old` of
    /// the same address, if any), in the shard and its stack's totals.
    #[inline(always)]
    fn account_inserted(&self, shard: &Shard, r: &Record, old: Option<u32>) {
        let addr = r.addr as u64;
        match old {
            None => shard.paged.store(shard.paged.load(Relaxed) + 1, Relaxed),
            Some(old) => {
                let o = pages::decode(old);
                self.account(shard, addr, o.h24, -1, -signed(o.size));
            }
        }
        self.account(
            shard,
            addr,
            record::pack_handle(r.handle) as u32,
            1,
            signed(r.size),
        );
    }

    /// Whether the record of an allocation of `size` bytes at `addr` may
    /// be in a page slot: a record too big for one never is (an in-place
    /// resize past [`pages::MAX_SMALL`] moves it to the rows), and the size
    /// a free or a realloc gives is the one recorded (the `GlobalAlloc`
    /// contract).
    #[inline(always)]
    fn may_be_paged(addr: u64, size: usize) -> bool {
        clients::paged() && size <= pages::MAX_SMALL && pages::indexed(addr)
    }

    /// Removes the record of the `size`-byte allocation at `addr`, taking
    /// it off its stack's totals, and returns it. The caller has set the
    /// thread's re-entrancy guard to `Locked`. Looks in the page first
    /// (where most records are), then in the rows (a record too big for a
    /// slot, or one whose slot was taken).
    pub(crate) fn remove(&self, addr: usize, size: usize) -> Option<Record> {
        let addr = addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return None;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        if let Some(v) = self.remove_slot(shard, addr, size) {
            return Some(Record::from_slot(addr, v));
        }
        self.remove_rows(shard, addr)
    }

    /// [`Table::remove`] for a free, which wants no record back: whether
    /// there was one. Inlined into the free path.
    #[inline(always)]
    pub(crate) fn discard(&self, addr: usize, size: usize) -> bool {
        let addr = addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        self.remove_slot(shard, addr, size).is_some() || self.remove_rows(shard, addr).is_some()
    }

    /// [`Table::discard`]'s common case with no call in it, so that the
    /// free path needs few saved registers: a small block whose record is
    /// in its page (a leaf's slot or a mini) and leaves the page's storage
    /// as it is, the shard lock free, and the stack's totals already
    /// pending in the shard. True if it discarded the record;
    /// false if anything else holds, with nothing changed (then `discard`
    /// goes the whole way). The caller has set the thread's guard to
    /// `Locked`.
    #[inline(always)]
    pub(crate) fn discard_fast_path(&self, addr: usize, size: usize) -> bool {
        let addr = addr as u64;
        if !Self::may_be_paged(addr, size) {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let Some(_g) = shard.lock.try_lock_guarded() else {
            return false;
        };
        let Some(f) = self.pages.find(addr) else {
            return false;
        };
        // The page's storage stays as it is after this one.
        if !f.plain() {
            return false;
        }
        let s = pages::decode(f.v);
        let Some(p) = shard.pending.find(s.h24) else {
            return false;
        };
        self.pages.take(&f);
        shard.paged.store(shard.paged.load(Relaxed) - 1, Relaxed);
        p.add(-1, -signed(s.size));
        if shard.filtering.load(Relaxed) {
            filter::change(addr, -1);
        }
        true
    }

    /// Removes the record of `addr` from its page, if it is there,
    /// taking it off its stack's totals; returns the slot's value. The
    /// shard lock is held.
    #[inline(always)]
    fn remove_slot(&self, shard: &Shard, addr: u64, size: usize) -> Option<u32> {
        if !Self::may_be_paged(addr, size) {
            return None;
        }
        let v = self.pages.remove(addr)?;
        self.account_removed_slot(shard, addr, v);
        Some(v)
    }

    /// Takes page-slot record `v`, just emptied, off the shard's count and
    /// its stack's totals. The shard lock is held.
    #[inline(always)]
    fn account_removed_slot(&self, shard: &Shard, addr: u64, v: u32) {
        shard.paged.store(shard.paged.load(Relaxed) - 1, Relaxed);
        let s = pages::decode(v);
        self.account(shard, addr, s.h24, -1, -signed(s.size));
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
            && let Some(f) = self.pages.find(addr)
        {
            // The record stays put while the lock is held.
            let p = realloc();
            if p.is_null() {
                return (p, Resized::Kept);
            }
            let v = f.v;
            if p as u64 == addr
                && let Some(grown) = pages::with_size(v, new_size)
            {
                f.slot.store(grown, Relaxed);
                let old = pages::decode(v);
                self.account(shard, addr, old.h24, 0, signed(new_size) - signed(old.size));
                return (p, Resized::Kept);
            }
            // Moved, or too big for a slot now: the caller puts the record
            // back at `p` (the block is the caller's until it returns).
            if self.pages.remove(addr).is_some() {
                self.account_removed_slot(shard, addr, v);
            }
            return (p, Resized::Moved(Record::from_slot(addr, v)));
        }
        self.resize_rows_in::<T>(shard, guard, addr, new_size, realloc)
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
            s.pending.publish(self.depot);
        }
    }

    /// Drops every record and pending change, keeping the shards' mappings
    /// (and their size) for a later enable, so it does not grow them all
    /// over again; their pages go back to the OS until [`Table::refill`].
    /// Only with every lock held.
    pub(crate) fn clear_locked(&self) {
        for s in &self.shards {
            s.pending.clear();
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
        if filter::clear_locked() {
            for s in &self.shards {
                s.filtering.store(false, Relaxed);
            }
        }
    }

    /// Turns the sampled mode's [`filter`] on (if it is not), with every
    /// record there is counted in. Only with every lock held.
    pub(crate) fn start_filter_locked(&self) {
        filter::start_locked(|count| {
            for s in &self.shards {
                s.filtering.store(true, Relaxed);
            }
            self.for_each_locked(|r| count(r.addr as u64));
        });
    }

    /// Populates the pages [`Table::clear_locked`] gave back (at the next
    /// enable; see [`sys::populate`]): every shard's rows, under its lock.
    /// (The page index's leaves are populated as they are handed out
    /// again.) The thread's guard is `Locked`.
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
        self.for_each_row_locked(&mut f);
        self.pages
            .for_each_locked(|addr, v| f(Record::from_slot(addr, v)));
    }

    /// Bytes of memory the table holds: the rows' mappings (whole, spare
    /// rows included; every page of them is populated) and every byte the
    /// page index's arenas populated (leaves and directory nodes, handed
    /// out or not yet; free leaves included). The statics (the shards, the
    /// top of the directory) are not counted.
    pub(crate) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.bytes.load(Relaxed) + self.pages.bytes()
    }
}

#[cfg(test)]
mod tests;
