//! The side table's page index, page_ext for heap pages: each 4 KiB page of
//! the heap that holds the start of a small allocation gets a leaf of 128
//! four-byte slots, one per 32-byte granule, reached through a three-level
//! radix directory over the address. A record is found by index, never
//! searched for: no hashing, no probing, no record ever moved, and the
//! records of neighbouring allocations share cache lines (a line of slots
//! covers 512 bytes of heap).
//!
//! A slot holds a whole record in 32 bits because most of it is implied:
//! the address by the slot's position (and one bit for the 16-byte half of
//! the granule), the size in 8 bits, the alignment in 3, the stack handle
//! in 20. A record that does not fit (bigger than [`MAX_SMALL`] bytes,
//! aligned to more than 16, a handle beyond 20 bits, or a granule already
//! taken: two live allocations 16 bytes apart, which glibc's 32-byte
//! chunks never make) goes to the hashed rows instead.
//!
//! Memory: a leaf is 512 bytes, which pays only on a page that holds many
//! small records: against the hashed rows' 18-27 bytes a record, from about
//! two dozen. So a page's level-3 directory entry counts its small records
//! (wherever they are), and the page gets a leaf only once it holds
//! [`PROMOTE`] of them; until then they go to the rows. Those already in
//! the rows stay there (a free looks in the slot, then in the rows), new
//! ones take slots. A page whose count falls to [`DEMOTE`] moves its few
//! slot records to the rows and gives its leaf back to a free list: with
//! the gap between the two, a page at either threshold does not flap.
//! A leaf thus costs at most 512 / ([`DEMOTE`] + 1) bytes per record.
//! Leaves and directory nodes come from two arenas of mappings; a stop
//! gives the leaves' pages back to the OS and starts their arena afresh,
//! and keeps the directory (with every count zeroed), so a later enable
//! does not make it all again. The bytes counted are those populated:
//! every byte the arenas made resident, handed out or not yet (an
//! untouched mapping tail costs no memory).
//!
//! Locking: every slot and leaf pointer of a page is only touched with the
//! lock of the page's shard held (a page lies in one 64 KiB shard region);
//! directory nodes, shared by several shards, are made under the arenas'
//! lock and read with Acquire.

use core::ptr::null_mut;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

use core::ptr::with_exposed_provenance_mut;

use super::record::{HANDLE_MASK, SPECIAL_FLOOR};
use crate::spin::SpinLock;
use crate::sys;

/// The biggest allocation kept in a slot.
pub(crate) const MAX_SMALL: usize = 256;
/// The biggest alignment kept in a slot.
const MAX_ALIGN: usize = 16;

/// Address bits the index covers (x86_64 and aarch64 user space).
const ADDR_BITS: u32 = 47;
const PAGE_SHIFT: u32 = 12;
const GRANULE_SHIFT: u32 = 5;
const SLOTS: usize = 1 << (PAGE_SHIFT - GRANULE_SHIFT);
/// Leaf directories (level 3) cover 2 MiB, level-2 nodes 16 GiB.
const L3_BITS: u32 = 9;
const L2_BITS: u32 = 13;
const L1_BITS: u32 = ADDR_BITS - PAGE_SHIFT - L3_BITS - L2_BITS;
const L3_SHIFT: u32 = PAGE_SHIFT;
const L2_SHIFT: u32 = L3_SHIFT + L3_BITS;
const L1_SHIFT: u32 = L2_SHIFT + L2_BITS;

/// A page gets a leaf when it holds this many small records.
pub(super) const PROMOTE: usize = 24;
/// A page with a leaf gives it back when its count falls to this.
pub(super) const DEMOTE: usize = 8;
const _: () = assert!(DEMOTE + 1 < PROMOTE);

/// One page's slots.
type Leaf = [AtomicU32; SLOTS];
/// The entries of the pages of 2 MiB of address space (see [`Entry`]).
type L3 = [AtomicUsize; 1 << L3_BITS];

/// A page's level-3 directory entry: the address of its leaf (or 0) above
/// [`COUNT_BITS`], and below, the number of its small records (those with
/// a slot value, [`encode`]), in its slots and in the rows. Only touched
/// with the page's shard lock held.
const COUNT_BITS: u32 = 16;
const COUNT_MASK: usize = (1 << COUNT_BITS) - 1;

/// The leaf an entry names, if any.
#[inline(always)]
fn leaf_of<'a>(e: usize) -> Option<&'a Leaf> {
    let p = e >> COUNT_BITS;
    // SAFETY: a non-zero leaf address in an entry is a leaf of the leaf
    // arena (exposed by `Pages::new_leaf`), whose memory is never unmapped.
    (p != 0).then(|| unsafe { &*with_exposed_provenance_mut::<Leaf>(p) })
}

/// The records an entry counts.
#[inline(always)]
pub(super) fn count_of(e: usize) -> usize {
    e & COUNT_MASK
}
/// The leaf directories of 16 GiB of address space.
type L2 = [AtomicPtr<L3>; 1 << L2_BITS];

// A slot, as 32 bits:
//   bits 0..20   stack handle code (0: the slot is empty; see `code_of`)
//   bits 20..28  size - 1
//   bits 28..31  log2 of the alignment
//   bit  31      the address's bit 4 (which 16-byte half of the granule)
const CODE_BITS: u32 = 20;
const CODE_MASK: u32 = (1 << CODE_BITS) - 1;
/// A handle's code is its 24-bit packing plus this, wrapped to 20 bits:
/// the 16 special handles (the top of the packing) wrap around to codes
/// 1..=16, 0 stays the empty slot, and the stack handles up to
/// `LAST_CODED` follow. Both ways are an add and a mask, no branch.
const CODE_BIAS: u32 = 17;
/// The last stack handle (24-bit packed) that has a code.
#[cfg(test)]
const LAST_CODED: u32 = CODE_MASK - CODE_BIAS;
const _: () = assert!(SPECIAL_FLOOR.wrapping_add(CODE_BIAS) & HANDLE_MASK == 1);
const SIZE_SHIFT: u32 = CODE_BITS;
const ALIGN_SHIFT: u32 = 28;
const HALF_SHIFT: u32 = 31;

/// A slot's code for a 24-bit packed handle (see `record::pack_handle`),
/// or `None` if it has no room for it.
#[inline(always)]
fn code_of(h24: u32) -> Option<u32> {
    let code = h24.wrapping_add(CODE_BIAS) & HANDLE_MASK;
    // 1..=CODE_MASK: not beyond 20 bits, and never the empty slot's 0.
    (code.wrapping_sub(1) < CODE_MASK).then_some(code)
}

#[inline(always)]
fn h24_of(code: u32) -> u32 {
    code.wrapping_sub(CODE_BIAS) & HANDLE_MASK
}

/// A small record, decoded: its packed 24-bit handle, size and alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Small {
    pub(super) h24: u32,
    pub(super) size: usize,
    pub(super) align: usize,
}

/// Whether `addr` has a slot at all: 16-byte aligned, inside the index.
#[inline(always)]
pub(super) fn indexed(addr: u64) -> bool {
    addr.trailing_zeros() >= 4 && addr >> ADDR_BITS == 0 && addr != 0
}

/// The slot value of a record, if it fits one (`addr` is [`indexed`]).
#[inline(always)]
pub(super) fn encode(addr: u64, r: Small) -> Option<u32> {
    if r.size == 0 || r.size > MAX_SMALL || r.align > MAX_ALIGN {
        return None;
    }
    let code = code_of(r.h24)?;
    let align_log2 = r.align.max(1).trailing_zeros();
    Some(
        code | ((r.size as u32 - 1) << SIZE_SHIFT)
            | (align_log2 << ALIGN_SHIFT)
            | (half(addr) << HALF_SHIFT),
    )
}

#[inline(always)]
pub(super) fn decode(v: u32) -> Small {
    Small {
        h24: h24_of(v & CODE_MASK),
        size: ((v >> SIZE_SHIFT) & 0xff) as usize + 1,
        align: 1 << ((v >> ALIGN_SHIFT) & 7),
    }
}

/// The slot value with its size replaced, if the new size fits.
#[inline(always)]
pub(super) fn with_size(v: u32, size: usize) -> Option<u32> {
    (size != 0 && size <= MAX_SMALL)
        .then(|| (v & !(0xff << SIZE_SHIFT)) | ((size as u32 - 1) << SIZE_SHIFT))
}

#[inline(always)]
fn half(addr: u64) -> u32 {
    ((addr >> 4) & 1) as u32
}

/// Whether slot value `v` (non-zero) is the record of `addr`.
#[inline(always)]
fn holds(v: u32, addr: u64) -> bool {
    v != 0 && v >> HALF_SHIFT == half(addr)
}

/// Where `addr` (inside the index) lies in each level of the directory.
#[inline(always)]
fn indices(addr: u64) -> (usize, usize, usize) {
    let a = addr as usize;
    (
        a >> L1_SHIFT,
        (a >> L2_SHIFT) & ((1 << L2_BITS) - 1),
        (a >> L3_SHIFT) & ((1 << L3_BITS) - 1),
    )
}

#[inline(always)]
fn slot_index(addr: u64) -> usize {
    (addr >> GRANULE_SHIFT) as usize & (SLOTS - 1)
}

/// An arena of mappings of 1 MiB, doubling every second one up to
/// 256 MiB, handed out in order, never given back. Only touched with
/// `Pages::grow` held (or every shard lock, which excludes its holders).
///
/// Pages are populated for writing ([`sys::populate`]) [`POPULATE_STEP`]
/// at a time ahead of what is handed out, and again on the next enable
/// after [`Arena::zero`], so that a slot's first read never maps the zero
/// page.
struct Arena {
    chunks: [AtomicPtr<u8>; MAX_CHUNKS],
    /// The chunk being handed out, and the offset in it.
    cur: AtomicUsize,
    offset: AtomicUsize,
    /// Bytes of the current chunk populated.
    populated: AtomicUsize,
    /// Bytes populated (resident), handed out or not.
    resident: AtomicU64,
}

const MAX_CHUNKS: usize = 40;
/// Bytes populated at a time: 128 leaves, or one L2 node.
const POPULATE_STEP: usize = 64 << 10;

fn chunk_len(i: usize) -> usize {
    (1 << 20) << (i / 2).min(8)
}

impl Arena {
    const fn new() -> Self {
        Arena {
            chunks: [const { AtomicPtr::new(null_mut()) }; MAX_CHUNKS],
            cur: AtomicUsize::new(0),
            offset: AtomicUsize::new(0),
            populated: AtomicUsize::new(0),
            resident: AtomicU64::new(0),
        }
    }

    /// `n` zeroed bytes (a multiple of 512, at most 1 MiB), or null when
    /// the OS refuses a mapping.
    fn take(&self, n: usize) -> *mut u8 {
        loop {
            let cur = self.cur.load(Relaxed);
            if cur == MAX_CHUNKS {
                return null_mut();
            }
            let mut base = self.chunks[cur].load(Relaxed);
            if base.is_null() {
                base = sys::map(chunk_len(cur));
                if base.is_null() {
                    return null_mut();
                }
                self.chunks[cur].store(base, Relaxed);
            }
            let off = self.offset.load(Relaxed);
            if off + n <= chunk_len(cur) {
                self.offset.store(off + n, Relaxed);
                let done = self.populated.load(Relaxed);
                if off + n > done {
                    let end = (off + n)
                        .next_multiple_of(POPULATE_STEP)
                        .min(chunk_len(cur));
                    // SAFETY: `done..end` lies within the chunk's mapping.
                    unsafe { sys::populate(base.add(done), end - done) };
                    self.populated.store(end, Relaxed);
                    self.resident.fetch_add((end - done) as u64, Relaxed);
                }
                // SAFETY: `off + n` lies within the chunk's mapping.
                return unsafe { base.add(off) };
            }
            self.cur.store(cur + 1, Relaxed);
            self.offset.store(0, Relaxed);
            self.populated.store(0, Relaxed);
        }
    }

    /// Gives every chunk's pages back to the OS and starts handing out
    /// from the first chunk again (the mappings stay; what is handed out
    /// next reads as zeros, populated by `take`). Only with every shard
    /// lock and `Pages::grow` held, and nothing handed out still in use.
    fn reset(&self) {
        for (i, c) in self.chunks.iter().enumerate() {
            let p = c.load(Relaxed);
            if !p.is_null() {
                // SAFETY: a whole mapping made by `take` with this length;
                // its contents (leaves) are given up under every lock, and
                // nothing points into them any more.
                unsafe { sys::discard(p, chunk_len(i)) };
            }
        }
        self.cur.store(0, Relaxed);
        self.offset.store(0, Relaxed);
        self.populated.store(0, Relaxed);
        self.resident.store(0, Relaxed);
    }
}

pub(super) struct Pages {
    l1: [AtomicPtr<L2>; 1 << L1_BITS],
    /// Taken to make a leaf or a directory node, and for the free list.
    grow: SpinLock,
    nodes: Arena,
    leaves: Arena,
    /// Leaves given back by [`DEMOTE`], each holding the next one's
    /// address in its first eight bytes (the rest zero). Under `grow`.
    free: AtomicUsize,
}

/// A record found in its slot ([`Pages::find`]).
pub(super) struct Found<'a> {
    /// Its page's entry, and the entry's value.
    pub(super) cell: &'a AtomicUsize,
    pub(super) e: usize,
    /// Its slot, and the slot's value.
    pub(super) slot: &'a AtomicU32,
    pub(super) v: u32,
}

/// Where [`Pages::insert`] put a record.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Placed {
    /// In its slot, replacing the record of the same address (`Some`).
    Slot(Option<u32>),
    /// Nowhere: it is counted in its page, and goes to the rows (the page
    /// has no leaf, or its granule is another address's).
    Rows,
}

impl Pages {
    pub(super) const fn new() -> Self {
        Pages {
            l1: [const { AtomicPtr::new(null_mut()) }; 1 << L1_BITS],
            grow: SpinLock::new(),
            nodes: Arena::new(),
            leaves: Arena::new(),
            free: AtomicUsize::new(0),
        }
    }

    /// The directory entry of `addr`'s page, if its nodes exist (`addr` is
    /// [`indexed`]). Only with the page's shard lock held.
    #[inline(always)]
    pub(super) fn entry(&self, addr: u64) -> Option<&AtomicUsize> {
        let (i1, i2, i3) = indices(addr);
        // Acquire: pairs with the Release that published each node.
        let l2 = self.l1[i1].load(Acquire);
        if l2.is_null() {
            return None;
        }
        // SAFETY: non-null level-1 entries point at zeroed-or-written L2
        // nodes in an arena, whose memory is never unmapped.
        let l3 = unsafe { &*l2 }[i2].load(Acquire);
        // SAFETY: as above, for level-2 entries and L3 nodes.
        (!l3.is_null()).then(|| &unsafe { &*l3 }[i3])
    }

    /// The entry of `addr`'s page, its nodes made if missing; `None` if
    /// the OS refused memory. Only with the page's shard lock held.
    #[inline(always)]
    fn entry_or_make(&self, addr: u64) -> Option<&AtomicUsize> {
        match self.entry(addr) {
            Some(e) => Some(e),
            None => self.make_entry(addr),
        }
    }

    #[cold]
    #[inline(never)]
    fn make_entry(&self, addr: u64) -> Option<&AtomicUsize> {
        let (i1, i2, i3) = indices(addr);
        let _g = self.grow.lock_guarded();
        let l2 = self.node(&self.l1[i1]);
        if l2.is_null() {
            return None;
        }
        // SAFETY: a zeroed-or-written L2 node in an arena, whose memory is
        // never unmapped.
        let l3 = self.node(unsafe { &(*l2)[i2] });
        // SAFETY: as above, for an L3 node.
        (!l3.is_null()).then(|| &unsafe { &*l3 }[i3])
    }

    /// The node `entry` points at, made (zeroed) if missing; null if the
    /// OS refused memory. Only with `grow` held.
    fn node<T>(&self, entry: &AtomicPtr<T>) -> *mut T {
        let p = entry.load(Acquire);
        if !p.is_null() {
            return p;
        }
        let p = self.nodes.take(size_of::<T>()).cast::<T>();
        if !p.is_null() {
            // Release: the node's zeroes are seen before its pointer.
            entry.store(p, Release);
        }
        p
    }

    /// An empty leaf, from the free list or the arena, as an entry's
    /// upper bits; `None` if the OS refused memory.
    #[cold]
    #[inline(never)]
    fn new_leaf(&self) -> Option<usize> {
        let _g = self.grow.lock_guarded();
        // Relaxed: the list is only touched under `grow`.
        let head = self.free.load(Relaxed);
        if let Some(leaf) = leaf_of(head << COUNT_BITS) {
            let next = u64::from(leaf[0].load(Relaxed)) | u64::from(leaf[1].load(Relaxed)) << 32;
            leaf[0].store(0, Relaxed);
            leaf[1].store(0, Relaxed);
            self.free.store(next as usize, Relaxed);
            return Some(head << COUNT_BITS);
        }
        let p = self.leaves.take(size_of::<Leaf>());
        // The leaf's address goes in an integer entry: exposed, so that
        // `leaf_of` may turn it back into a pointer.
        (!p.is_null()).then(|| p.expose_provenance() << COUNT_BITS)
    }

    /// Puts empty `leaf` (an entry's upper bits) on the free list.
    #[cold]
    fn free_leaf(&self, leaf: &Leaf) {
        let _g = self.grow.lock_guarded();
        let next = self.free.load(Relaxed) as u64;
        leaf[0].store(next as u32, Relaxed);
        leaf[1].store((next >> 32) as u32, Relaxed);
        self.free.store(core::ptr::from_ref(leaf).addr(), Relaxed);
    }

    /// Counts small record `v` of `addr` in its page and puts it in its
    /// slot, if the page has a leaf (made when the record is the page's
    /// [`PROMOTE`]th). `Err(())` if the OS refused memory for the
    /// directory: the record is not counted, and cannot be kept. Only
    /// with the page's shard lock held.
    #[inline(always)]
    pub(super) fn insert(&self, addr: u64, v: u32) -> Result<Placed, ()> {
        let cell = self.entry_or_make(addr).ok_or(())?;
        let mut e = cell.load(Relaxed);
        let leaf = match leaf_of(e) {
            Some(leaf) => leaf,
            None => {
                if count_of(e) + 1 < PROMOTE {
                    cell.store(e + 1, Relaxed);
                    return Ok(Placed::Rows);
                }
                e |= self.new_leaf().unwrap_or(0);
                match leaf_of(e) {
                    Some(leaf) => leaf,
                    None => {
                        cell.store(e + 1, Relaxed);
                        return Ok(Placed::Rows);
                    }
                }
            }
        };
        let slot = &leaf[slot_index(addr)];
        let old = slot.load(Relaxed);
        if old != 0 && !holds(old, addr) {
            cell.store(e + 1, Relaxed);
            return Ok(Placed::Rows);
        }
        slot.store(v, Relaxed);
        if old == 0 {
            e += 1;
        }
        cell.store(e, Relaxed);
        Ok(Placed::Slot((old != 0).then_some(old)))
    }

    /// The slot holding `addr`'s record, if there is one. Only with the
    /// page's shard lock held, for as long as the references are used.
    #[inline(always)]
    pub(super) fn find(&self, addr: u64) -> Option<Found<'_>> {
        let cell = self.entry(addr)?;
        let e = cell.load(Relaxed);
        let slot = &leaf_of(e)?[slot_index(addr)];
        let v = slot.load(Relaxed);
        holds(v, addr).then_some(Found { cell, e, slot, v })
    }

    /// Removes `addr`'s record from its slot, returning the slot value,
    /// and whether its page is now due to give its leaf back
    /// ([`Pages::demote`]). Only with the page's shard lock held.
    #[inline(always)]
    pub(super) fn remove(&self, addr: u64) -> Option<(u32, bool)> {
        let f = self.find(addr)?;
        f.slot.store(0, Relaxed);
        Some((f.v, uncount(f.cell)))
    }

    /// Takes a small record of `addr` that was in the rows off its page's
    /// count; whether the page is now due to give its leaf back. Only with
    /// the page's shard lock held.
    pub(super) fn uncount(&self, addr: u64) -> bool {
        self.entry(addr).is_some_and(uncount)
    }

    /// Empties the leaf of `addr`'s page, if it has one, calling `to_rows`
    /// with each record's address and slot value (the records stay
    /// counted in the page), and puts it on the free list. `room(n)` is
    /// asked first whether the rows can take `n` records; if not, nothing
    /// changes. Returns the number of records moved. Only with the page's
    /// shard lock held.
    #[cold]
    pub(super) fn demote(
        &self,
        addr: u64,
        room: impl FnOnce(usize) -> bool,
        mut to_rows: impl FnMut(u64, u32),
    ) -> usize {
        let Some(cell) = self.entry(addr) else {
            return 0;
        };
        let e = cell.load(Relaxed);
        let Some(leaf) = leaf_of(e) else {
            return 0;
        };
        let n = leaf.iter().filter(|s| s.load(Relaxed) != 0).count();
        if !room(n) {
            return 0;
        }
        let page = addr & !((1 << PAGE_SHIFT) - 1);
        for (s, slot) in leaf.iter().enumerate() {
            let v = slot.load(Relaxed);
            if v != 0 {
                slot.store(0, Relaxed);
                to_rows(slot_addr(page, s, v), v);
            }
        }
        // Re-read: `to_rows` may have taken a stale duplicate off the count.
        cell.store(count_of(cell.load(Relaxed)), Relaxed);
        self.free_leaf(leaf);
        n
    }

    /// Calls `f` with every record's address and slot value. Only with
    /// every shard lock held.
    pub(super) fn for_each_locked(&self, mut f: impl FnMut(u64, u32)) {
        self.for_each_entry_locked(|page, cell| {
            if let Some(leaf) = leaf_of(cell.load(Relaxed)) {
                for (s, slot) in leaf.iter().enumerate() {
                    let v = slot.load(Relaxed);
                    if v != 0 {
                        f(slot_addr(page, s, v), v);
                    }
                }
            }
        });
    }

    /// Calls `f` with every page's address and entry. Only with every
    /// shard lock held.
    fn for_each_entry_locked(&self, mut f: impl FnMut(u64, &AtomicUsize)) {
        for (i1, e1) in self.l1.iter().enumerate() {
            let l2 = e1.load(Acquire);
            if l2.is_null() {
                continue;
            }
            // SAFETY: see `entry`.
            for (i2, e2) in unsafe { &*l2 }.iter().enumerate() {
                let l3 = e2.load(Acquire);
                if l3.is_null() {
                    continue;
                }
                // SAFETY: see `entry`.
                for (i3, e3) in unsafe { &*l3 }.iter().enumerate() {
                    if e3.load(Relaxed) != 0 {
                        let page = (((i1 << L2_BITS | i2) << L3_BITS) | i3) << PAGE_SHIFT;
                        f(page as u64, e3);
                    }
                }
            }
        }
    }

    /// Drops every record: every count goes to zero and every leaf back
    /// to its arena, whose pages go back to the OS; the directory stays.
    /// Only with every shard lock held.
    pub(super) fn clear_locked(&self) {
        self.for_each_entry_locked(|_, cell| cell.store(0, Relaxed));
        let _g = self.grow.lock_guarded();
        self.free.store(0, Relaxed);
        self.leaves.reset();
    }

    /// Takes the growth lock without a guard object (fork prepare).
    pub(super) fn raw_lock_grow(&self) {
        self.grow.raw_lock();
    }

    /// Releases [`Pages::raw_lock_grow`].
    pub(super) fn raw_unlock_grow(&self) {
        self.grow.raw_unlock();
    }

    /// Leaves handed out by the arena (within its first chunk).
    #[cfg(test)]
    pub(super) fn leaves_made(&self) -> usize {
        self.leaves.offset.load(Relaxed) / size_of::<Leaf>()
    }

    /// Bytes of leaves and nodes populated.
    pub(super) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.nodes.resident.load(Relaxed) + self.leaves.resident.load(Relaxed)
    }
}

/// Takes one record off the count of entry `cell`; whether the page now
/// has a leaf and [`DEMOTE`] records or fewer.
#[inline(always)]
pub(super) fn uncount(cell: &AtomicUsize) -> bool {
    let e = cell.load(Relaxed) - 1;
    cell.store(e, Relaxed);
    count_of(e) <= DEMOTE && e >> COUNT_BITS != 0
}

/// The address of the record in slot `s` of `page`, of value `v`.
#[inline]
fn slot_addr(page: u64, s: usize, v: u32) -> u64 {
    page | (s << GRANULE_SHIFT) as u64 | u64::from(v >> HALF_SHIFT) << 4
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40-byte record of handle 5, as the page tests store it.
    const SMALL: Small = Small {
        h24: 5,
        size: 40,
        align: 8,
    };

    #[test]
    fn slots_round_trip() {
        for (addr, size, align, h24) in [
            (0x5555_0000_0010_u64, 1, 1, 0),
            (0x5555_0000_0020, 256, 16, LAST_CODED - 1),
            (0x7fff_ffff_fff0, 24, 8, SPECIAL_FLOOR),
            (0x10, 100, 2, SPECIAL_FLOOR + 15),
        ] {
            let r = Small { h24, size, align };
            let v = encode(addr, r).unwrap();
            assert_ne!(v, 0);
            assert!(holds(v, addr) && !holds(v, addr ^ 16));
            assert_eq!(decode(v), r);
            assert_eq!(decode(with_size(v, 7).unwrap()).size, 7);
        }
        let fits = |size, align, h24| encode(0x1000, Small { h24, size, align }).is_some();
        assert!(!fits(257, 8, 0), "too big");
        assert!(!fits(0, 8, 0), "empty");
        assert!(!fits(8, 32, 0), "over-aligned");
        assert!(fits(8, 8, LAST_CODED), "the last handle of 20 bits");
        assert!(!fits(8, 8, LAST_CODED + 1), "a handle beyond 20 bits");
        assert!(
            !fits(8, 8, SPECIAL_FLOOR - 1),
            "the last before the specials"
        );
        let eight = Small {
            h24: 0,
            size: 8,
            align: 8,
        };
        assert!(
            with_size(encode(0x1000, eight).unwrap(), 257).is_none(),
            "too big"
        );
        assert!(indexed(0x1000) && !indexed(0x1008) && !indexed(1 << 47) && !indexed(0));
    }

    /// The count of the page of `addr`.
    fn count(p: &Pages, addr: u64) -> usize {
        p.entry(addr).map_or(0, |c| count_of(c.load(Relaxed)))
    }

    /// Fills the page at `page` with `n` records 32 bytes apart; their
    /// addresses.
    fn fill(p: &Pages, page: u64, n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let a = page + i * 32;
                let want = if i + 1 < PROMOTE as u64 {
                    Placed::Rows
                } else {
                    Placed::Slot(None)
                };
                assert_eq!(p.insert(a, encode(a, SMALL).unwrap()), Ok(want), "{i}");
                a
            })
            .collect()
    }

    /// A page's records are counted and go to the rows until the page
    /// holds [`PROMOTE`]; from then on they take slots, are found, listed
    /// with their addresses, and removed; a granule's other half and a
    /// lone record far away go to the rows.
    #[test]
    fn pages_count_promote_find_list_and_remove() {
        let p = Pages::new();
        let dense = fill(&p, 0x5555_0000_1000, 128);
        assert_eq!(count(&p, dense[0]), 128);
        let far = 0x7f12_3456_7890;
        assert_eq!(p.insert(far, encode(far, SMALL).unwrap()), Ok(Placed::Rows));
        assert_eq!(count(&p, far), 1);
        assert!(
            p.find(far).is_none() && p.find(dense[0]).is_none(),
            "in the rows"
        );
        // The other half of a taken granule belongs in the rows too.
        let twin = dense[30] + 16;
        assert_eq!(
            p.insert(twin, encode(twin, SMALL).unwrap()),
            Ok(Placed::Rows)
        );
        assert!(p.find(twin).is_none());
        assert_eq!(count(&p, twin), 129);
        // Replacing the same address hands back the old record.
        let at = dense[40];
        let bigger = encode(at, Small { size: 200, ..SMALL }).unwrap();
        let old = encode(at, SMALL).unwrap();
        assert_eq!(p.insert(at, bigger), Ok(Placed::Slot(Some(old))));
        assert_eq!(count(&p, at), 129, "a replacement is not a new record");
        let mut seen = vec![];
        p.for_each_locked(|a, v| seen.push((a, decode(v).size)));
        let want: Vec<_> = dense[PROMOTE - 1..]
            .iter()
            .map(|&a| (a, if a == at { 200 } else { 40 }))
            .collect();
        assert_eq!(seen, want);
        assert_eq!(p.remove(dense[50]).map(|(v, _)| decode(v)), Some(SMALL));
        assert_eq!(p.remove(dense[50]), None);
        assert_eq!(p.remove(0x6000_0000_0000), None, "no node there");
        assert_eq!(count(&p, at), 128);
        assert!(p.bytes() >= (size_of::<L2>() * 2 + size_of::<L3>() * 2 + 512) as u64);
    }

    /// A page whose count falls to [`DEMOTE`] is due to give its leaf
    /// back; demoting hands each slot record out, keeps the count, and the
    /// leaf is the next one made (no new memory). A page at [`PROMOTE`]
    /// going down and up by one does not flap.
    #[test]
    fn pages_demote_with_hysteresis() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        let recs = fill(&p, page, PROMOTE as u64);
        // Down one, up one, at the threshold: the leaf stays.
        assert_eq!(p.remove(recs[PROMOTE - 1]).map(|(_, due)| due), Some(false));
        assert_eq!(
            p.insert(recs[PROMOTE - 1], encode(recs[PROMOTE - 1], SMALL).unwrap()),
            Ok(Placed::Slot(None))
        );
        // The rows' records go: due once the count is down to DEMOTE.
        for (i, &a) in recs[..PROMOTE - 1].iter().enumerate() {
            assert_eq!(p.uncount(a), PROMOTE - 1 - i <= DEMOTE, "{i}");
        }
        assert_eq!(count(&p, page), 1);
        let bytes = p.bytes();
        assert_eq!(p.demote(page, |_| false, |_, _| {}), 0, "no room: kept");
        assert!(p.find(recs[PROMOTE - 1]).is_some());
        let mut out = vec![];
        let moved = p.demote(page, |n| n == 1, |a, v| out.push((a, decode(v))));
        assert_eq!((moved, out), (1, vec![(recs[PROMOTE - 1], SMALL)]));
        assert_eq!(count(&p, page), 1, "still counted, now in the rows");
        assert!(p.find(recs[PROMOTE - 1]).is_none());
        // Another page's leaf is the one given back.
        let other = fill(&p, 0x5555_0000_3000, PROMOTE as u64);
        assert!(p.find(other[PROMOTE - 1]).is_some());
        assert_eq!(p.bytes(), bytes);
        // Due only with a leaf, at DEMOTE.
        let mut due = vec![];
        for &a in other.iter().rev().take(PROMOTE - DEMOTE) {
            due.push(if p.find(a).is_some() {
                p.remove(a).unwrap().1
            } else {
                p.uncount(a)
            });
        }
        assert_eq!(due.iter().filter(|&&d| d).count(), 1);
        assert_eq!(due.last(), Some(&true));
        assert_eq!(count(&p, other[0]), DEMOTE);
    }

    /// A stop zeroes every count and hands leaves out afresh.
    #[test]
    fn clear_zeroes_counts() {
        let p = Pages::new();
        let recs = fill(&p, 0x5555_0000_1000, PROMOTE as u64 + 3);
        p.clear_locked();
        assert_eq!(count(&p, recs[0]), 0);
        assert!(p.find(recs[PROMOTE]).is_none());
        let mut n = 0;
        p.for_each_locked(|_, _| n += 1);
        assert_eq!(n, 0);
        assert_eq!(fill(&p, 0x5555_0000_1000, PROMOTE as u64).len(), PROMOTE);
    }

    /// Whether the page holding `at` is in memory.
    fn resident(at: *const u8) -> bool {
        let page = (at as usize) & !4095;
        let mut v = 0u8;
        // SAFETY: one page of a live mapping of ours; `v` receives one byte.
        let rc = unsafe { libc::mincore(page as *mut libc::c_void, 4096, &raw mut v) };
        assert_eq!(rc, 0, "mincore");
        v & 1 == 1
    }

    /// Leaves' pages are in memory before a slot is first read (so the
    /// read does not map the zero page, to be copied at the first write),
    /// given back by a stop, and populated again when handed out anew.
    #[test]
    fn leaves_are_populated_before_use() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        assert!(p.find(page).is_none());
        let recs = fill(&p, page, PROMOTE as u64);
        let chunk = p.leaves.chunks[0].load(Relaxed);
        // Untouched leaves ahead of the first are ready too.
        for off in [0, 4096, POPULATE_STEP - 4096] {
            // SAFETY: inside the first chunk, of 1 MiB.
            assert!(resident(unsafe { chunk.add(off) }), "offset {off}");
        }
        // SAFETY: as above.
        assert!(!resident(unsafe { chunk.add(POPULATE_STEP) }), "bounded");
        assert_eq!(p.leaves.resident.load(Relaxed), POPULATE_STEP as u64);
        p.clear_locked();
        assert!(!resident(chunk), "a stop gives the pages back");
        assert_eq!(p.leaves.resident.load(Relaxed), 0);
        assert!(p.find(recs[PROMOTE - 1]).is_none());
        fill(&p, page + 4096, PROMOTE as u64);
        assert!(resident(chunk), "handed out again, populated first");
        assert_eq!(p.leaves.chunks[0].load(Relaxed), chunk, "the same mapping");
    }
}
