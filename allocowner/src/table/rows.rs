//! A shard's hashed rows: a Robin Hood open-addressing table with
//! backward-shift deletion (no tombstones), grown by 1.5× at 7/8 load, so
//! a record of 16 bytes costs 18–27 bytes of rows. Each row keeps its
//! distance from its home slot, so probing never rehashes the keys it
//! passes. The core client's 16-byte rows always exist; the thread
//! client's rows, when it is needed, lie beside them and move in step.
//!
//! Functions generic over `const T: bool` (named `*_in`) are compiled once
//! per layout: `T` is whether the thread client's rows exist.

use core::ptr::null_mut;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

use super::record::{
    ADDR_MASK, DIST_SHIFT, MAX_SIZE, Record, Resized, SIZE_LO_BITS, SIZE_TOP_SHIFT, key, owner_of,
};
use super::{Shard, Table, clients, shard_of};
use crate::spin::RawGuard;
use crate::sys;

/// Smallest shard capacity, in records (one 4 KiB page of core rows).
const MIN_CAP: usize = 256;
/// Bytes of one row (core or client).
pub(super) const ROW: usize = 16;
/// Distances from home at or beyond this are recomputed from the key.
const DIST_SAT: usize = 255;

/// One row of a shard, as two words. Rows are only touched with their
/// shard's lock held; Relaxed atomics (plain moves) keep that sound
/// without an `unsafe impl Sync`.
pub(super) type Row = [AtomicU64; 2];

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

/// An address's hash, for its group: its block's.
#[inline(always)]
fn hash(addr: u64) -> u64 {
    super::hash_of_piece(addr, BLOCK_SHIFT)
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

/// The distance from home of the record in slot `i` with word 0 `w0`.
#[inline]
pub(super) fn dist_of(w0: u64, i: usize, cap: usize) -> usize {
    let d = ((w0 >> DIST_SHIFT) & 0xff) as usize;
    if d < DIST_SAT {
        return d;
    }
    let k = key(w0);
    distance(i, home(k, hash(k), cap), cap)
}

#[inline]
pub(super) fn with_dist(w0: u64, d: usize) -> u64 {
    (w0 & !(0xff << DIST_SHIFT)) | ((d.min(DIST_SAT) as u64) << DIST_SHIFT)
}

pub(super) fn mapping_len(rows: usize) -> usize {
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
pub(super) struct Rows<'a, const THREAD: bool> {
    core: &'a [Row],
    extra: &'a [Row],
}

impl<const THREAD: bool> Rows<'_, THREAD> {
    #[inline(always)]
    pub(super) fn cap(&self) -> usize {
        self.core.len()
    }

    #[inline(always)]
    pub(super) fn w0(&self, i: usize) -> u64 {
        self.core[i][0].load(Relaxed)
    }

    #[inline(always)]
    pub(super) fn read(&self, i: usize) -> [u64; 4] {
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

    /// The slot of `addr`'s record (of hash `h`), if it has one.
    #[inline(always)]
    fn find(&self, addr: u64, h: u64) -> Option<usize> {
        let cap = self.cap();
        if cap == 0 {
            return None;
        }
        let mut i = home(addr, h, cap);
        let mut dist = 0;
        loop {
            let w0 = self.w0(i);
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
    fn place_from(&self, mut words: [u64; 4], mut i: usize, mut dist: usize) {
        let cap = self.cap();
        loop {
            let w0 = self.w0(i);
            if w0 == 0 {
                words[0] = with_dist(words[0], dist);
                self.write(i, &words);
                return;
            }
            let kdist = dist_of(w0, i, cap);
            if kdist < dist {
                let theirs = self.read(i);
                words[0] = with_dist(words[0], dist);
                self.write(i, &words);
                words = theirs;
                dist = kdist;
            }
            i = next(i, cap);
            dist += 1;
        }
    }

    /// Empties slot `i` by backward-shift deletion: the records after it
    /// that are away from home move back one slot each.
    #[inline(always)]
    fn remove_at(&self, mut i: usize) {
        let cap = self.cap();
        loop {
            let j = next(i, cap);
            let w0 = self.w0(j);
            let d = if w0 == 0 { 0 } else { dist_of(w0, j, cap) };
            if d == 0 {
                self.write(i, &[0; 4]);
                return;
            }
            let mut w = self.read(j);
            w[0] = with_dist(w0, d - 1);
            self.write(i, &w);
            i = j;
        }
    }
}

impl Shard {
    #[inline(always)]
    pub(super) fn cap(&self) -> usize {
        self.cap.load(Relaxed) as usize
    }

    /// The shard's rows. Only with its lock held.
    #[inline(always)]
    pub(super) fn rows<const THREAD: bool>(&self) -> Rows<'_, THREAD> {
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
}

// === impl Table: the rows side of each operation ===

impl Table {
    /// [`Table::insert`] into the shard's rows.
    #[inline(never)]
    pub(super) fn insert_rows(&self, r: &Record) -> bool {
        let addr = r.addr as u64;
        if addr > ADDR_MASK || addr == 0 || self.stride() == 0 {
            return false;
        }
        let shard = &self.shards[shard_of(addr)];
        let _g = shard.lock.lock_guarded();
        if clients::has_thread() {
            self.insert_rows_in::<true>(shard, addr, r.encode())
        } else {
            self.insert_rows_in::<false>(shard, addr, r.encode())
        }
    }

    /// Whether the shard's rows can take `n` more records, growing them if
    /// needed (core layout). The shard lock is held.
    pub(super) fn rows_room(&self, shard: &Shard, n: usize) -> bool {
        while (shard.len.load(Relaxed) as usize + n) * 8 > shard.cap() * 7 {
            if !self.grow::<false>(shard) {
                return false;
            }
        }
        true
    }

    /// Puts small record `r`, leaving its page (see [`super::pages`]), in
    /// the rows (core layout, with room: [`Table::rows_room`]), without
    /// changing any totals: it stays live. The shard lock is held.
    pub(super) fn move_to_rows(&self, shard: &Shard, r: &Record) {
        let addr = r.addr as u64;
        let rows = shard.rows::<false>();
        let h = hash(addr);
        if rows.find(addr, h).is_some() {
            // A record of the address is in the rows already (a stale
            // one: each free removes its record): the page's goes.
            self.account(
                shard,
                addr,
                super::record::pack_handle(r.handle) as u32,
                -1,
                -super::record::signed(r.size),
            );
            return;
        }
        rows.place_from(r.encode(), home(addr, h, rows.cap()), 0);
        shard.len.store(shard.len.load(Relaxed) + 1, Relaxed);
    }

    /// Inserts into the shard's rows. The shard lock is held.
    #[inline(always)]
    fn insert_rows_in<const T: bool>(&self, shard: &Shard, addr: u64, words: [u64; 4]) -> bool {
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
                let (handle, size) = owner_of(words[0], words[1]);
                self.account(shard, addr, handle, 1, size);
                return true;
            }
        }
        self.insert_rows_slow_path::<T>(shard, addr, h, words)
    }

    /// [`Table::insert_rows_in`] past its common case: grow if needed, then
    /// one Robin Hood pass. The shard lock is held.
    #[cold]
    #[inline(never)]
    fn insert_rows_slow_path<const T: bool>(
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
            if let Some(i) = shard.rows::<T>().find(addr, h) {
                self.replace_at(shard, &shard.rows::<T>(), i, &words);
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
                self.replace_at(shard, &rows, i, &words);
                return true;
            }
            let kdist = dist_of(w0, i, cap);
            if kdist < dist {
                let theirs = rows.read(i);
                words[0] = with_dist(words[0], dist);
                rows.write(i, &words);
                rows.place_from(theirs, next(i, cap), kdist + 1);
                break;
            }
            i = next(i, cap);
            dist += 1;
        }
        shard.len.store(len as u32 + 1, Relaxed);
        let (handle, size) = owner_of(words[0], words[1]);
        self.account(shard, addr, handle, 1, size);
        true
    }

    /// Overwrites the record in slot `i` (same key), moving totals.
    fn replace_at<const T: bool>(
        &self,
        shard: &Shard,
        rows: &Rows<'_, T>,
        i: usize,
        words: &[u64; 4],
    ) {
        let old = rows.read(i);
        let addr = key(old[0]);
        let (h, size) = owner_of(old[0], old[1]);
        self.account(shard, addr, h, -1, -size);
        let mut w = *words;
        w[0] = with_dist(w[0], dist_of(old[0], i, rows.cap()));
        rows.write(i, &w);
        let (h, size) = owner_of(w[0], w[1]);
        self.account(shard, addr, h, 1, size);
    }

    /// [`Table::remove`] from the shard's rows, of the table's layout. The
    /// shard lock is held.
    #[inline(always)]
    pub(super) fn remove_rows(&self, shard: &Shard, addr: u64) -> Option<Record> {
        if clients::has_thread() {
            self.remove_rows_in::<true>(shard, addr)
        } else {
            self.remove_rows_in::<false>(shard, addr)
        }
    }

    #[inline(never)]
    fn remove_rows_in<const T: bool>(&self, shard: &Shard, addr: u64) -> Option<Record> {
        let rows = shard.rows::<T>();
        let i = rows.find(addr, hash(addr))?;
        let old = rows.read(i);
        rows.remove_at(i);
        shard.len.store(shard.len.load(Relaxed) - 1, Relaxed);
        let (handle, size) = owner_of(old[0], old[1]);
        self.account(shard, addr, handle, -1, -size);
        Some(Record::decode(&old))
    }

    /// [`Table::resize`] of a record in the shard's rows (or of none): the
    /// shard lock is held, by `guard`, and released before an untracked
    /// block is reallocated.
    #[inline(always)]
    pub(super) fn resize_rows_in<const T: bool>(
        &self,
        shard: &Shard,
        guard: RawGuard<'_>,
        addr: u64,
        new_size: usize,
        realloc: impl FnOnce() -> *mut u8,
    ) -> (*mut u8, Resized) {
        let h = hash(addr);
        // No `grow` can run while the lock is held, so `rows` and `i` stay
        // valid across `realloc`.
        let rows = shard.rows::<T>();
        let Some(i) = rows.find(addr, h) else {
            drop(guard);
            return (realloc(), Resized::Untracked);
        };
        let p = realloc();
        if p.is_null() {
            return (p, Resized::Kept);
        }
        let old = rows.read(i);
        let (handle, size) = owner_of(old[0], old[1]);
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
            self.account(shard, addr, handle, 0, new.cast_signed() - size);
            return (p, Resized::Kept);
        }
        rows.remove_at(i);
        shard.len.store(shard.len.load(Relaxed) - 1, Relaxed);
        self.account(shard, addr, handle, -1, -size);
        (p, Resized::Moved(Record::decode(&old)))
    }

    /// Calls `f` on every record in the rows. Only with every lock held.
    pub(super) fn for_each_row_locked(&self, mut f: impl FnMut(Record)) {
        fn each<const T: bool>(shards: &[Shard], f: &mut impl FnMut(Record)) {
            for s in shards {
                let rows = s.rows::<T>();
                for i in 0..rows.cap() {
                    if rows.w0(i) != 0 {
                        f(Record::decode(&rows.read(i)));
                    }
                }
            }
        }
        if clients::has_thread() {
            each::<true>(&self.shards, &mut f);
        } else {
            each::<false>(&self.shards, &mut f);
        }
    }

    /// Moves the shard into a 1.5× bigger mapping. False if the OS refused.
    #[cold]
    pub(super) fn grow<const T: bool>(&self, shard: &Shard) -> bool {
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
                new.place_from(old.read(i), home(k, hash(k), new_cap), 0);
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
}
