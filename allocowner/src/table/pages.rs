//! The side table's page index, page_ext for heap pages: each 4 KiB page of
//! the heap that holds the start of a small allocation keeps its records
//! in storage of its own, reached through a three-level radix directory
//! over the address: a *leaf* of 128 four-byte slots, one per 32-byte
//! granule, where a record is found by index (no hashing, no probing, and
//! the records of neighbouring allocations share cache lines), or, while
//! the page holds few, a *mini*: its records packed without order, a byte
//! of slot index each (searched eight at a time) and the slot value.
//!
//! A slot value holds a whole record in 32 bits because most of it is
//! implied: the address by the slot's position (and one bit for the
//! 16-byte half of the granule), the size in 8 bits, the alignment in 3,
//! the stack handle in 20. A record that does not fit (bigger than
//! [`MAX_SMALL`] bytes, aligned to more than 16, a handle beyond 20 bits)
//! goes to the hashed rows instead, as does, in a leaf, the second of two
//! live allocations 16 bytes apart (one granule; glibc's 32-byte chunks
//! never make them).
//!
//! Memory: a leaf is 512 bytes, 4 a record on a full page but the whole
//! 512 for a page with one small block; the hashed rows cost 18-27 bytes
//! a record. A mini costs 5 bytes a record plus its spare room: 24, 40,
//! 80 or 120 bytes for 4, 8, 16 or 24 records (grown when full, shrunk to
//! a quarter full when an eighth full). So a page starts with a mini
//! and gets a leaf at its 25th record; it gets one at once, at its first
//! record, if it had one before (a heap filled again after its blocks were
//! freed: one bit in its entry, until a stop, or until that leaf empties
//! without getting past [`DEMOTE`] records), or when its first mini is
//! full, if a page beside it has a leaf of [`DENSE`] records (the heap
//! fills densely there). A leaf left with [`DEMOTE`] records becomes a
//! mini again (with the gap between 25 and 2, a page does not flap), so it
//! costs at most 512 / 3 bytes a record; the smallest mini stays, empty,
//! for the page's next record. The page's directory entry holds where its
//! storage is, its kind and its number of records: no header, no lookup.
//!
//! Storage and directory nodes come from two arenas of mappings, storage
//! given back goes to a free list of its size and shard; a stop gives the storage's
//! pages back to the OS and starts its arena afresh, and keeps the
//! directory (every entry zeroed), so a later enable does not make it all
//! again. The bytes counted ([`Pages::bytes`]) are those populated: every
//! byte the arenas made resident, handed out, free or not yet handed out
//! (an untouched mapping tail costs no memory).
//!
//! Locking: a page's entry and storage are only touched with the lock of
//! the page's shard held (a page lies in one 64 KiB shard region);
//! directory nodes, shared by several shards, are made under the arenas'
//! lock (`grow`) and read with Acquire. Storage given back goes to a free
//! list of its shard (under the shard's lock); only a shard with none of
//! a kind to reuse takes `grow` to carve storage from the arena.

use core::ptr::null_mut;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};

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

/// A page whose leaf is left with this many records takes a mini again.
pub(super) const DEMOTE: usize = 2;
/// A page beside a leaf with this many records takes a leaf early: the
/// heap fills densely there. (At [`MINI_MAX`] + 1, leaves spread page by
/// page over heaps that minis serve better: the mixed heap of the
/// `side_table` example went from 19 to 26 bytes a record.)
const DENSE: usize = 48;

/// One page's slots (a leaf).
type Leaf = [AtomicU32; SLOTS];
/// The entries of the pages of 2 MiB of address space (see `COUNT_BITS`).
type L3 = [AtomicUsize; 1 << L3_BITS];

/// A page's level-3 directory entry: the address of its storage (or 0)
/// from [`ADDR_SHIFT`] up, its kind (none, a mini of 4 to 24 entries, a
/// leaf) in three bits from [`KIND_SHIFT`], and in the low bits the
/// number of records it holds. Only touched with the page's shard lock
/// held.
const COUNT_BITS: u32 = 9;
const COUNT_MASK: usize = (1 << COUNT_BITS) - 1;
const KIND_SHIFT: u32 = COUNT_BITS;
const KIND_MASK: usize = 7 << KIND_SHIFT;
const ADDR_SHIFT: u32 = 16;
/// Set on a page that had a leaf of more than [`DEMOTE`] records, until a
/// stop or until a leaf it takes this way empties without getting past
/// [`DEMOTE`]: when it fills again (a heap reused after a phase of frees),
/// it takes a leaf at once.
const HAD_LEAF: usize = 1 << 12;
/// The kind of a leaf; kinds 1 to [`MINI_KINDS`] are minis of
/// [`MINI_CAPS`]`[kind]` entries.
const LEAF: usize = 5;
const MINI_KINDS: usize = 4;
const LEAF_BITS: usize = LEAF << KIND_SHIFT;
/// The biggest mini's entries.
const MINI_MAX: usize = MINI_CAPS[MINI_KINDS];
/// Records a mini of each kind holds.
const MINI_CAPS: [usize; MINI_KINDS + 1] = [0, 4, 8, 16, 24];
/// A full mini of this many records or more becomes a leaf (not a bigger
/// mini) when a page beside it is dense.
const EARLY: usize = 4;
const _: () = assert!(DEMOTE * 2 <= MINI_MAX && MINI_MAX < DENSE && DENSE <= SLOTS);

/// Whether an entry has a leaf holding [`DENSE`] records or more.
fn is_dense(cell: &AtomicUsize) -> bool {
    let e = cell.load(Relaxed);
    e & KIND_MASK == LEAF_BITS && count_of(e) >= DENSE
}

/// The records an entry counts.
#[inline(always)]
pub(super) fn count_of(e: usize) -> usize {
    e & COUNT_MASK
}

#[inline(always)]
fn kind_of(e: usize) -> usize {
    (e & KIND_MASK) >> KIND_SHIFT
}

/// Words of slot-index bytes of a mini of `cap` records.
const fn key_words(cap: usize) -> usize {
    cap.div_ceil(8)
}

/// Bytes of storage of `kind`.
const fn block_len(kind: usize) -> usize {
    if kind == LEAF {
        size_of::<Leaf>()
    } else {
        let cap = MINI_CAPS[kind];
        key_words(cap) * 8 + cap * 4
    }
}

/// The smallest mini with room for twice `n` records.
fn mini_kind_for(n: usize) -> usize {
    let mut k = 1;
    while k < MINI_KINDS && MINI_CAPS[k] < 2 * n {
        k += 1;
    }
    k
}

/// The leaf an entry names, if it names one.
#[inline(always)]
fn leaf_of<'a>(e: usize) -> Option<&'a Leaf> {
    // SAFETY: an entry of kind LEAF holds the address of a leaf of the
    // arena (exposed by `Pages::take_block`), never unmapped.
    (e & KIND_MASK == LEAF_BITS)
        .then(|| unsafe { &*with_exposed_provenance_mut::<Leaf>(e >> ADDR_SHIFT) })
}

/// A page's records packed without order: the slot index of each in a
/// byte (searched eight at a time), then the slot values. Its entry says
/// how many there are.
struct Mini<'a> {
    /// The slot-index bytes, by word (to search them) and by byte (to
    /// read and write one): the same memory, only touched under the
    /// page's shard lock, so that these accesses of two sizes never race.
    keys: &'a [AtomicU64],
    key_bytes: &'a [AtomicU8],
    values: &'a [AtomicU32],
}

/// The mini an entry names (of a mini kind).
#[inline(always)]
fn mini_of<'a>(e: usize) -> Mini<'a> {
    let cap = MINI_CAPS[kind_of(e)];
    let a = e >> ADDR_SHIFT;
    let words = key_words(cap);
    // SAFETY: an entry of a mini kind holds the address of a block of
    // `block_len(kind)` bytes from the arena (exposed by
    // `Pages::take_block`, 8-aligned), never unmapped, only touched under
    // the page's shard lock: `words` words of keys (also seen as bytes:
    // atomics of two sizes over the same memory, never racing since all
    // are under that lock), then `cap` values.
    unsafe {
        Mini {
            keys: core::slice::from_raw_parts(with_exposed_provenance_mut(a), words),
            key_bytes: core::slice::from_raw_parts(with_exposed_provenance_mut(a), words * 8),
            values: core::slice::from_raw_parts(with_exposed_provenance_mut(a + words * 8), cap),
        }
    }
}

impl Mini<'_> {
    #[inline(always)]
    fn cap(&self) -> usize {
        self.values.len()
    }

    #[inline(always)]
    fn key(&self, i: usize) -> u32 {
        u32::from(self.key_bytes[i].load(Relaxed))
    }

    #[inline(always)]
    fn value(&self, i: usize) -> u32 {
        self.values[i].load(Relaxed)
    }

    #[inline(always)]
    fn set(&self, i: usize, key: u32, v: u32) {
        self.key_bytes[i].store(key as u8, Relaxed);
        self.values[i].store(v, Relaxed);
    }

    /// Copies the first `n` records to `to` (a word of keys at a time).
    fn copy_to(&self, to: &Mini<'_>, n: usize) {
        for (t, k) in to.keys.iter().zip(&self.keys[..n.div_ceil(8)]) {
            t.store(k.load(Relaxed), Relaxed);
        }
        for (t, v) in to.values.iter().zip(&self.values[..n]) {
            t.store(v.load(Relaxed), Relaxed);
        }
    }

    /// Where the record of `addr` (slot index `key`) is among the first
    /// `n`, if it is there.
    #[inline(always)]
    fn find(&self, n: usize, key: u32, addr: u64) -> Option<usize> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let pattern = ONES * u64::from(key);
        for (w, word) in self.keys[..n.div_ceil(8)].iter().enumerate() {
            // Byte k of the word is key 8w + k (little-endian order).
            let x = u64::from_le(word.load(Relaxed)) ^ pattern;
            // The bytes of `x` that are zero (and maybe a few above one).
            let mut zeros = x.wrapping_sub(ONES) & !x & (ONES << 7);
            while zeros != 0 {
                let i = w * 8 + zeros.trailing_zeros() as usize / 8;
                if i >= n {
                    break;
                }
                if self.key(i) == key && holds(self.value(i), addr) {
                    return Some(i);
                }
                zeros &= zeros - 1;
            }
        }
        None
    }
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
/// 256 MiB, handed out in order, never unmapped ([`Arena::reset`] gives
/// their pages back and starts over). Only touched with `Pages::grow`
/// held (or every shard lock, which excludes its holders).
///
/// Pages are populated for writing ([`sys::populate`]) [`POPULATE_STEP`]
/// at a time ahead of what is handed out, so that a slot's first read
/// never maps the zero page.
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

    /// `n` zeroed bytes (a multiple of 8, at most 1 MiB), 8-aligned, or
    /// null when the OS refuses a mapping.
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
    /// Taken to make a directory node, or storage when a shard's free
    /// list of its kind is empty.
    grow: SpinLock,
    nodes: Arena,
    /// Leaves and minis.
    blocks: Arena,
    /// Storage given back, by shard and kind, each block holding the next
    /// one's address in its first eight bytes (a leaf's other bytes are
    /// zero; a mini's may hold stale records, never read: only the first
    /// `count` of a mini are). Under the shard's lock: pages filling and
    /// emptying (storage changing kind) take no lock shared by all
    /// threads once their shard has storage to reuse.
    free: [[AtomicUsize; LEAF + 1]; super::SHARDS],
}

/// Where [`Pages::insert`] put a record.
pub(super) enum Placed<'a> {
    /// In its leaf's slot, replacing the record of the same address if
    /// `Some`.
    Slot(Option<u32>),
    /// Nowhere yet: the page, of this entry and value, has no leaf.
    Mini(&'a AtomicUsize, usize),
    /// Nowhere: it goes to the rows.
    Rows,
}

/// A record found in its page ([`Pages::find`]).
pub(super) struct Found<'a> {
    /// Its page's entry, and the entry's value.
    pub(super) cell: &'a AtomicUsize,
    pub(super) e: usize,
    /// Where its slot value is, and the value.
    pub(super) slot: &'a AtomicU32,
    pub(super) v: u32,
}

impl Found<'_> {
    /// Whether removing the record needs no change of the page's storage
    /// (see [`Pages::remove`]): then [`Pages::take`] removes it.
    #[inline(always)]
    pub(super) fn plain(&self) -> bool {
        let n = count_of(self.e) - 1;
        match kind_of(self.e) {
            LEAF => n > DEMOTE,
            1 => true,
            k => n * 8 > MINI_CAPS[k],
        }
    }
}

impl Pages {
    pub(super) const fn new() -> Self {
        Pages {
            l1: [const { AtomicPtr::new(null_mut()) }; 1 << L1_BITS],
            grow: SpinLock::new(),
            nodes: Arena::new(),
            blocks: Arena::new(),
            free: [const { [const { AtomicUsize::new(0) }; LEAF + 1] }; super::SHARDS],
        }
    }

    /// The directory entry of `addr`'s page, if its nodes exist (`addr` is
    /// [`indexed`]). Only with the page's shard lock held.
    #[inline(always)]
    fn entry(&self, addr: u64) -> Option<&AtomicUsize> {
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

    /// Storage of `kind` for a page of `shard` from the shard's free list
    /// or the arena, as an entry's address bits and kind (count 0); `None`
    /// if the OS refused memory. A leaf is all zero; a mini from the free
    /// list may hold stale records past its count (never read). Only with
    /// the shard's lock held.
    #[cold]
    #[inline(never)]
    fn take_block(&self, kind: usize, shard: usize) -> Option<usize> {
        let list = &self.free[shard][kind];
        // Relaxed: the list is only touched under the shard's lock.
        let head = list.load(Relaxed);
        let a = if head != 0 {
            // SAFETY: a block of the arena given back by `give_block`,
            // whose first eight bytes link the list; exposed when made.
            let link = unsafe { &*with_exposed_provenance_mut::<AtomicU64>(head) };
            list.store(link.load(Relaxed) as usize, Relaxed);
            link.store(0, Relaxed);
            head
        } else {
            let _g = self.grow.lock_guarded();
            let p = self.blocks.take(block_len(kind));
            if p.is_null() {
                return None;
            }
            // The address goes in an integer entry: exposed, so that
            // `leaf_of` and `mini_of` may turn it back into a pointer.
            p.expose_provenance()
        };
        Some(a << ADDR_SHIFT | kind << KIND_SHIFT)
    }

    /// Puts the storage entry `e` names, of a page of `shard`, on the
    /// shard's free list: a leaf all zero (its count was 0 or its records
    /// moved out), a mini as it is. Only with the shard's lock held.
    #[cold]
    fn give_block(&self, e: usize, shard: usize) {
        let (a, kind) = (e >> ADDR_SHIFT, kind_of(e));
        let list = &self.free[shard][kind];
        // SAFETY: a block of the arena (see `take_block`), now unused.
        let link = unsafe { &*with_exposed_provenance_mut::<AtomicU64>(a) };
        // Relaxed: the list is only touched under the shard's lock.
        link.store(list.load(Relaxed) as u64, Relaxed);
        list.store(a, Relaxed);
    }

    /// Puts small record `v` of `addr` in its page's leaf, if it has one:
    /// [`Placed::Slot`] (with the record of the same address it replaced,
    /// if any); [`Placed::Rows`] if it goes to the rows instead (its
    /// granule is another address's, or no memory); [`Placed::Mini`] if
    /// the page has no leaf: then [`Pages::insert_mini`]. Only with the
    /// page's shard lock held.
    #[inline(always)]
    pub(super) fn insert(&self, addr: u64, v: u32) -> Placed<'_> {
        let Some(cell) = self.entry_or_make(addr) else {
            return Placed::Rows;
        };
        let e = cell.load(Relaxed);
        let Some(leaf) = leaf_of(e) else {
            // A mini with records and room: the record is added (the
            // address has no record: the allocator just handed it out).
            let n = count_of(e);
            if n != 0 && n < MINI_CAPS[kind_of(e)] {
                mini_of(e).set(n, slot_index(addr) as u32, v);
                cell.store(e + 1, Relaxed);
                return Placed::Slot(None);
            }
            return Placed::Mini(cell, e);
        };
        let slot = &leaf[slot_index(addr)];
        let old = slot.load(Relaxed);
        if old != 0 && !holds(old, addr) {
            return Placed::Rows;
        }
        slot.store(v, Relaxed);
        if old == 0 {
            cell.store(e + 1, Relaxed);
        }
        Placed::Slot((old != 0).then_some(old))
    }

    /// [`Pages::insert`] into a page without a leaf, of entry `cell` (of
    /// value `e`): into its mini (made, grown, or turned into a leaf as
    /// needed). The address has no record (the allocator has just handed
    /// it out): the record is added, without a search. `Err(())` if it
    /// goes to the rows instead. Records that turning a full mini into a
    /// leaf leaves without a slot go to `to_rows`, if `room` says the rows
    /// can take that many (else the mini stays full).
    pub(super) fn insert_mini(
        &self,
        cell: &AtomicUsize,
        e: usize,
        addr: u64,
        v: u32,
        room: impl FnOnce(usize) -> bool,
        to_rows: impl FnMut(u64, u32),
    ) -> Result<Option<u32>, ()> {
        let si = slot_index(addr) as u32;
        let shard = super::shard_of(addr);
        if count_of(e) == 0 {
            // A page's first record: a leaf at once if it had one, or if a
            // page beside it is dense; else a mini (the page may have an
            // empty one).
            if e & HAD_LEAF != 0 || self.dense_beside(addr) {
                let leaf = self.take_block(LEAF, shard).ok_or(())?;
                leaf_of(leaf).ok_or(())?[si as usize].store(v, Relaxed);
                if kind_of(e) != 0 {
                    self.give_block(e, shard);
                }
                cell.store(leaf + 1, Relaxed);
                return Ok(None);
            }
            if kind_of(e) == 0 {
                let e = self.take_block(1, shard).ok_or(())?;
                mini_of(e).set(0, si, v);
                cell.store(e + 1, Relaxed);
                return Ok(None);
            }
        }
        let mini = mini_of(e);
        let n = count_of(e);
        if n < mini.cap() {
            mini.set(n, si, v);
            cell.store(e + 1, Relaxed);
            return Ok(None);
        }
        // A full mini grows, or becomes a leaf when it is the biggest, or
        // from [`EARLY`] records beside a dense page.
        if kind_of(e) < MINI_KINDS && !(n >= EARLY && self.dense_beside(addr)) {
            let bigger = self.take_block(kind_of(e) + 1, shard).ok_or(())?;
            let to = mini_of(bigger);
            mini.copy_to(&to, n);
            to.set(n, si, v);
            self.give_block(e, shard);
            cell.store(bigger + (e & HAD_LEAF) + n + 1, Relaxed);
            return Ok(None);
        }
        self.mini_to_leaf(cell, e, addr, room, to_rows)?;
        let e = cell.load(Relaxed);
        let slot = &leaf_of(e).ok_or(())?[si as usize];
        if slot.load(Relaxed) != 0 {
            return Err(());
        }
        slot.store(v, Relaxed);
        cell.store(e + 1, Relaxed);
        Ok(None)
    }

    /// Whether the page below or above `addr`'s (in the same level-3 node)
    /// has a leaf holding [`DENSE`] records or more.
    fn dense_beside(&self, addr: u64) -> bool {
        const LAST: u64 = (1 << L3_BITS) - 1;
        let i3 = (addr >> PAGE_SHIFT) & LAST;
        i3 != 0 && self.entry(addr - (1 << PAGE_SHIFT)).is_some_and(is_dense)
            || i3 != LAST && self.entry(addr + (1 << PAGE_SHIFT)).is_some_and(is_dense)
    }

    /// Turns the full mini of entry `e` into a leaf; records whose slot is
    /// taken (the other half of a granule) go to `to_rows`, if `room` says
    /// the rows can take them. `Err(())` if nothing changed.
    #[cold]
    #[inline(never)]
    fn mini_to_leaf(
        &self,
        cell: &AtomicUsize,
        e: usize,
        addr: u64,
        room: impl FnOnce(usize) -> bool,
        mut to_rows: impl FnMut(u64, u32),
    ) -> Result<(), ()> {
        let mini = mini_of(e);
        let n = count_of(e);
        let mut taken = 0u128;
        let mut clashes = 0;
        for i in 0..n {
            let bit = 1u128 << mini.key(i);
            clashes += usize::from(taken & bit != 0);
            taken |= bit;
        }
        if clashes > 0 && !room(clashes) {
            return Err(());
        }
        let shard = super::shard_of(addr);
        let new = self.take_block(LEAF, shard).ok_or(())?;
        let leaf = leaf_of(new).ok_or(())?;
        let page = addr & !((1 << PAGE_SHIFT) - 1);
        let mut kept = 0;
        for i in 0..n {
            let (s, v) = (mini.key(i) as usize, mini.value(i));
            let slot = &leaf[s];
            if slot.load(Relaxed) == 0 {
                slot.store(v, Relaxed);
                kept += 1;
            } else {
                to_rows(slot_addr(page, s, v), v);
            }
        }
        self.give_block(e, shard);
        cell.store(new + kept, Relaxed);
        Ok(())
    }

    /// The record of `addr` in its page (leaf or mini), if it is there.
    /// Only with the page's shard lock held, for as long as the
    /// references are used.
    #[inline(always)]
    pub(super) fn find(&self, addr: u64) -> Option<Found<'_>> {
        let cell = self.entry(addr)?;
        let e = cell.load(Relaxed);
        if let Some(leaf) = leaf_of(e) {
            let slot = &leaf[slot_index(addr)];
            let v = slot.load(Relaxed);
            return holds(v, addr).then_some(Found { cell, e, slot, v });
        }
        if kind_of(e) == 0 {
            return None;
        }
        let mini = mini_of(e);
        let i = mini.find(count_of(e), slot_index(addr) as u32, addr)?;
        Some(Found {
            cell,
            e,
            slot: &mini.values[i],
            v: mini.value(i),
        })
    }

    /// Removes a record found by [`Pages::find`] whose removal is
    /// [`Found::plain`]: no call, for the free path's fast path. Only with
    /// the page's shard lock held since it was found.
    #[inline(always)]
    pub(super) fn take(&self, f: &Found<'_>) {
        if f.e & KIND_MASK == LEAF_BITS {
            f.slot.store(0, Relaxed);
        } else {
            // Swap-remove: the last record takes the hole.
            let mini = mini_of(f.e);
            let n = count_of(f.e) - 1;
            let i = (core::ptr::from_ref(f.slot).addr() - mini.values.as_ptr().addr()) / 4;
            mini.set(i, mini.key(n), mini.value(n));
        }
        f.cell.store(f.e - 1, Relaxed);
    }

    /// Removes `addr`'s record from its page, returning its slot value.
    /// A leaf left with [`DEMOTE`] records becomes a mini, a mini an eighth
    /// full one a quarter full (each if memory allows); the smallest mini
    /// stays, empty, for the page's next record.
    /// Only with the page's shard lock held.
    #[inline(always)]
    pub(super) fn remove(&self, addr: u64) -> Option<u32> {
        let f = self.find(addr)?;
        if f.e & KIND_MASK == LEAF_BITS {
            f.slot.store(0, Relaxed);
            f.cell.store(f.e - 1, Relaxed);
            if count_of(f.e) - 1 <= DEMOTE {
                self.leaf_to_mini(f.cell, f.e - 1, super::shard_of(addr));
            }
        } else {
            self.remove_from_mini(f.cell, f.e, f.slot, super::shard_of(addr));
        }
        Some(f.v)
    }

    #[inline(never)]
    fn remove_from_mini(&self, cell: &AtomicUsize, e: usize, slot: &AtomicU32, shard: usize) {
        let mini = mini_of(e);
        let n = count_of(e) - 1;
        // Swap-remove: the last record takes the hole.
        let i = core::ptr::from_ref(slot).addr() - mini.values.as_ptr().addr();
        mini.set(i / 4, mini.key(n), mini.value(n));
        if kind_of(e) > 1
            && n * 8 <= mini.cap()
            && let Some(smaller) = self.take_block(mini_kind_for(n), shard)
        {
            mini.copy_to(&mini_of(smaller), n);
            self.give_block(e, shard);
            cell.store(smaller + (e & HAD_LEAF) + n, Relaxed);
            return;
        }
        cell.store(e - 1, Relaxed);
    }

    /// Moves the records of the leaf of entry `e` (at most [`DEMOTE`]) to
    /// a mini and gives the leaf back; if there is no memory for the mini,
    /// the leaf stays.
    #[cold]
    #[inline(never)]
    fn leaf_to_mini(&self, cell: &AtomicUsize, e: usize, shard: usize) {
        let Some(leaf) = leaf_of(e) else {
            return;
        };
        let Some(new) = self.take_block(mini_kind_for(count_of(e)), shard) else {
            return;
        };
        let mini = mini_of(new);
        let n = count_of(e).min(mini.cap());
        // SAFETY: the same 512 bytes as pairs of slots (blocks are
        // 8-aligned); no other access races with these, all made under the
        // page's shard lock.
        let pairs = unsafe { &*core::ptr::from_ref(leaf).cast::<[AtomicU64; SLOTS / 2]>() };
        let mut j = 0;
        // From the top: blocks are mostly freed in the order they were
        // allocated, bottom up, and the last ones are found at once.
        for (w, pair) in pairs.iter().enumerate().rev() {
            if j == n {
                break;
            }
            // Two empty slots at a time, then each of a pair not empty.
            if pair.load(Relaxed) == 0 {
                continue;
            }
            for s in [2 * w, 2 * w + 1] {
                let v = leaf[s].load(Relaxed);
                if v != 0 && j < mini.cap() {
                    leaf[s].store(0, Relaxed);
                    mini.set(j, s as u32, v);
                    j += 1;
                }
            }
        }
        self.give_block(e, shard);
        // Only a leaf that held more than DEMOTE records marks its page: a
        // leaf taken at a marked page's first record that never got past
        // DEMOTE (one block allocated and freed in turn) would otherwise
        // move the page between a leaf and a mini at each record, taking
        // `grow` twice each time.
        let had = if count_of(e) == DEMOTE { HAD_LEAF } else { 0 };
        cell.store(new + had + j, Relaxed);
    }

    /// Calls `f` with every record's address and slot value. Only with
    /// every shard lock held.
    pub(super) fn for_each_locked(&self, mut f: impl FnMut(u64, u32)) {
        self.for_each_entry_locked(|page, cell| {
            let e = cell.load(Relaxed);
            if let Some(leaf) = leaf_of(e) {
                for (s, slot) in leaf.iter().enumerate() {
                    let v = slot.load(Relaxed);
                    if v != 0 {
                        f(slot_addr(page, s, v), v);
                    }
                }
            } else if kind_of(e) != 0 {
                let mini = mini_of(e);
                for i in 0..count_of(e) {
                    let v = mini.value(i);
                    f(slot_addr(page, mini.key(i) as usize, v), v);
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

    /// Drops every record: every entry goes to zero and all storage back
    /// to its arena, whose pages go back to the OS; the directory stays.
    /// Only with every shard lock held.
    pub(super) fn clear_locked(&self) {
        self.for_each_entry_locked(|_, cell| cell.store(0, Relaxed));
        let _g = self.grow.lock_guarded();
        for f in self.free.iter().flatten() {
            f.store(0, Relaxed);
        }
        self.blocks.reset();
    }

    /// Takes the growth lock without a guard object (fork prepare).
    pub(super) fn raw_lock_grow(&self) {
        self.grow.raw_lock();
    }

    /// Releases [`Pages::raw_lock_grow`].
    pub(super) fn raw_unlock_grow(&self) {
        self.grow.raw_unlock();
    }

    /// Bytes of storage handed out by the arena (within its first chunk).
    #[cfg(test)]
    pub(super) fn blocks_made(&self) -> usize {
        self.blocks.offset.load(Relaxed)
    }

    /// Bytes of storage and nodes populated.
    pub(super) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.nodes.resident.load(Relaxed) + self.blocks.resident.load(Relaxed)
    }
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

    /// The kind and count of the entry of the page of `addr`.
    fn state(p: &Pages, addr: u64) -> (usize, usize) {
        p.entry(addr).map_or((0, 0), |c| {
            (kind_of(c.load(Relaxed)), count_of(c.load(Relaxed)))
        })
    }

    /// [`Pages::insert`], then [`Pages::insert_mini`] if the page has no
    /// leaf, as the table does.
    fn ins(
        p: &Pages,
        a: u64,
        v: u32,
        room: impl FnOnce(usize) -> bool,
        to_rows: impl FnMut(u64, u32),
    ) -> Result<Option<u32>, ()> {
        match p.insert(a, v) {
            Placed::Slot(old) => Ok(old),
            Placed::Rows => Err(()),
            Placed::Mini(cell, e) => p.insert_mini(cell, e, a, v, room, to_rows),
        }
    }

    fn put_in(p: &Pages, a: u64) -> Result<Option<u32>, ()> {
        ins(
            p,
            a,
            encode(a, SMALL).unwrap(),
            |_| true,
            |_, _| panic!("no clash"),
        )
    }

    /// Fills the page at `page` with `n` records 32 bytes apart; their
    /// addresses.
    fn fill(p: &Pages, page: u64, n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let a = page + i * 32;
                assert_eq!(put_in(p, a), Ok(None), "{i}");
                a
            })
            .collect()
    }

    fn listed(p: &Pages) -> Vec<(u64, usize)> {
        let mut seen = vec![];
        p.for_each_locked(|a, v| seen.push((a, decode(v).size)));
        seen.sort_unstable();
        seen
    }

    /// A page's records go to a mini of 4 entries, then 8, 16, 24, then
    /// to a leaf; each is found and listed with its address at each step,
    /// and a record of the same address is replaced.
    #[test]
    fn minis_grow_into_a_leaf() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        let mut all = vec![];
        for (n, kind) in [(4, 1), (8, 2), (16, 3), (24, 4), (25, LEAF), (100, LEAF)] {
            all.extend(fill(&p, page + all.len() as u64 * 32, n - all.len() as u64));
            assert_eq!(state(&p, page), (kind, n as usize));
            assert!(
                all.iter()
                    .all(|&a| p.find(a).is_some_and(|f| decode(f.v) == SMALL))
            );
            assert_eq!(listed(&p), all.iter().map(|&a| (a, 40)).collect::<Vec<_>>());
        }
        let bigger = encode(all[7], Small { size: 200, ..SMALL }).unwrap();
        let old = encode(all[7], SMALL).unwrap();
        assert_eq!(ins(&p, all[7], bigger, |_| true, |_, _| {}), Ok(Some(old)));
        assert_eq!(
            state(&p, page),
            (LEAF, 100),
            "a replacement is no new record"
        );
        // In a leaf, the other half of a taken granule goes elsewhere.
        assert_eq!(put_in(&p, all[3] + 16), Err(()));
        assert!(p.find(all[3] + 16).is_none() && p.find(0x6000_0000_0000).is_none());
        let far = 0x7f12_3456_7890;
        assert_eq!(put_in(&p, far), Ok(None));
        assert_eq!(state(&p, far), (1, 1));
        assert!(p.bytes() >= (size_of::<L2>() * 2 + size_of::<L3>() * 2 + 512 + 32) as u64);
    }

    /// Both halves of a granule share a mini; turning it into a leaf hands
    /// the second to the rows, if they have room (else the mini stays full
    /// and the new record goes to the rows).
    #[test]
    fn twins_leave_for_the_rows_with_room() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        let mut all = fill(&p, page, MINI_MAX as u64 - 1);
        let twin = page + 16;
        assert_eq!(put_in(&p, twin), Ok(None));
        all.push(twin);
        assert_eq!(state(&p, page), (MINI_KINDS, MINI_MAX));
        let next = page + (MINI_MAX as u64 - 1) * 32;
        let v = encode(next, SMALL).unwrap();
        assert_eq!(ins(&p, next, v, |_| false, |_, _| panic!()), Err(()));
        assert_eq!(state(&p, page), (MINI_KINDS, MINI_MAX), "unchanged");
        let mut out = vec![];
        assert_eq!(
            ins(&p, next, v, |n| n == 1, |a, v| out.push((a, decode(v)))),
            Ok(None)
        );
        assert_eq!(out, [(twin, SMALL)]);
        assert_eq!(state(&p, page), (LEAF, MINI_MAX));
        assert!(p.find(twin).is_none() && p.find(next).is_some());
    }

    /// Emptying a page: its leaf becomes a mini at DEMOTE records (not
    /// before: a page going down and up by one there does not flap); the
    /// smallest mini stays when empty, and the page's next record takes a
    /// leaf again. A mini an eighth full becomes a smaller one. Storage
    /// given back is handed out again before the arena's.
    #[test]
    fn pages_shrink_and_storage_is_reused() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        let mut recs = fill(&p, page, 40);
        let made = p.blocks_made();
        while recs.len() > DEMOTE + 1 {
            let a = recs.pop().unwrap();
            assert_eq!(p.remove(a).map(decode), Some(SMALL));
            assert_eq!(p.remove(a), None);
        }
        assert_eq!(state(&p, page), (LEAF, DEMOTE + 1));
        let a = recs.pop().unwrap();
        assert!(p.remove(a).is_some());
        assert_eq!(state(&p, page), (mini_kind_for(DEMOTE), DEMOTE));
        assert_eq!(put_in(&p, a), Ok(None));
        assert_eq!(
            state(&p, page),
            (mini_kind_for(DEMOTE), DEMOTE + 1),
            "no flap"
        );
        recs.push(a);
        assert_eq!(
            listed(&p),
            recs.iter().map(|&a| (a, 40)).collect::<Vec<_>>()
        );
        for &a in &recs {
            assert!(p.remove(a).is_some());
        }
        assert_eq!(state(&p, page), (1, 0), "an empty mini stays");
        assert!(listed(&p).is_empty() && p.find(recs[0]).is_none());
        assert_eq!(put_in(&p, recs[0]), Ok(None));
        assert_eq!(state(&p, page), (LEAF, 1), "it had a leaf");
        // The biggest mini, out of order down to none: smaller at an eighth.
        // (A page of the same 64 KiB region: the same shard, whose free
        // lists the storage given back above is on.)
        let other = 0x5555_0000_8000;
        let mut recs = fill(&p, other, MINI_MAX as u64);
        assert_eq!(state(&p, other), (MINI_KINDS, MINI_MAX));
        let mut kinds = vec![];
        while !recs.is_empty() {
            let a = recs.remove(recs.len() / 2);
            assert!(p.remove(a).is_some());
            kinds.push(state(&p, other));
            assert!(recs.iter().all(|&a| p.find(a).is_some()));
        }
        kinds.dedup_by_key(|k| k.0);
        assert_eq!(kinds, [(MINI_KINDS, MINI_MAX - 1), (2, 3), (1, 1)]);
        assert_eq!(p.blocks_made(), made, "all given back and taken again");
    }

    /// A page that had a leaf takes one at its first record again, but a
    /// record or two coming and going there afterwards do not move it
    /// between a leaf and a mini each time (only a leaf that held more
    /// than DEMOTE records marks its page).
    #[test]
    fn a_lone_record_does_not_flap_a_page() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        let recs = fill(&p, page, 40);
        for &a in &recs {
            assert!(p.remove(a).is_some());
        }
        assert_eq!(state(&p, page), (1, 0));
        assert_eq!(put_in(&p, recs[0]), Ok(None));
        assert_eq!(state(&p, page), (LEAF, 1), "the heap fills again");
        assert!(p.remove(recs[0]).is_some());
        assert_eq!(state(&p, page), (1, 0));
        for round in 0..3 {
            for n in [1, 2, 1] {
                let rs = fill(&p, page, n);
                assert_eq!(state(&p, page), (1, n as usize), "round {round}: a mini");
                for &a in &rs {
                    assert!(p.remove(a).is_some());
                }
                assert_eq!(state(&p, page), (1, 0));
            }
        }
        // Filled past DEMOTE and emptied again, it is marked again.
        let recs = fill(&p, page, 30);
        for &a in &recs {
            assert!(p.remove(a).is_some());
        }
        assert_eq!(put_in(&p, recs[0]), Ok(None));
        assert_eq!(state(&p, page), (LEAF, 1));
    }

    /// A page above a dense leaf starts with a leaf; above a sparse one,
    /// with a mini.
    #[test]
    fn pages_above_dense_ones_start_with_a_leaf() {
        let p = Pages::new();
        fill(&p, 0x5555_0000_1000, DENSE as u64);
        fill(&p, 0x5555_0000_2000, 1);
        assert_eq!(state(&p, 0x5555_0000_2000), (LEAF, 1));
        fill(&p, 0x5555_0000_3000, 1);
        assert_eq!(state(&p, 0x5555_0000_3000), (1, 1));
    }

    /// A stop zeroes every entry and hands storage out afresh.
    #[test]
    fn clear_zeroes_entries() {
        let p = Pages::new();
        let recs = fill(&p, 0x5555_0000_1000, 40);
        fill(&p, 0x5555_0000_8000, 3);
        p.clear_locked();
        assert_eq!(state(&p, recs[0]), (0, 0));
        assert!(p.find(recs[39]).is_none() && listed(&p).is_empty());
        assert_eq!(p.blocks_made(), 0);
        assert_eq!(fill(&p, 0x5555_0000_1000, 40).len(), 40);
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

    /// Storage pages are in memory before a slot is first read (so the
    /// read does not map the zero page, to be copied at the first write),
    /// given back by a stop, and populated again when handed out anew.
    #[test]
    fn storage_is_populated_before_use() {
        let p = Pages::new();
        let page = 0x5555_0000_1000;
        assert!(p.find(page).is_none());
        let recs = fill(&p, page, 1);
        let chunk = p.blocks.chunks[0].load(Relaxed);
        // Untouched storage ahead of the first is ready too.
        for off in [0, 4096, POPULATE_STEP - 4096] {
            // SAFETY: inside the first chunk, of 1 MiB.
            assert!(resident(unsafe { chunk.add(off) }), "offset {off}");
        }
        // SAFETY: as above.
        assert!(!resident(unsafe { chunk.add(POPULATE_STEP) }), "bounded");
        assert_eq!(p.blocks.resident.load(Relaxed), POPULATE_STEP as u64);
        p.clear_locked();
        assert!(!resident(chunk), "a stop gives the pages back");
        assert_eq!(p.blocks.resident.load(Relaxed), 0);
        assert!(p.find(recs[0]).is_none());
        fill(&p, page + 4096, 1);
        assert!(resident(chunk), "handed out again, populated first");
        assert_eq!(p.blocks.chunks[0].load(Relaxed), chunk, "the same mapping");
    }
}
