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
//! Memory: a leaf is 512 bytes per 4 KiB page with small allocations (8
//! bytes per record when 64 records start in a page, the alloc bench's
//! BTreeMap; a page with a single small record pays the whole 512). Leaves
//! and directory nodes come from two arenas of mappings and stay where
//! they are for the life of the process: a stop gives the leaves' pages
//! back to the OS (they read as empty slots when next touched) and keeps
//! the directory, so a later enable does not make them all again under
//! the arenas' lock. Only the bytes handed out are counted (an untouched
//! mapping tail costs no memory).
//!
//! Locking: every slot and leaf pointer of a page is only touched with the
//! lock of the page's shard held (a page lies in one 64 KiB shard region);
//! directory nodes, shared by several shards, are made under the arenas'
//! lock and read with Acquire.

use core::ptr::null_mut;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

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

/// One page's slots.
type Leaf = [AtomicU32; SLOTS];
/// The leaves of 2 MiB of address space.
type L3 = [AtomicPtr<Leaf>; 1 << L3_BITS];
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
    /// Bytes handed out.
    used: AtomicU64,
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
            used: AtomicU64::new(0),
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
                self.used.fetch_add(n as u64, Relaxed);
                let done = self.populated.load(Relaxed);
                if off + n > done {
                    let end = (off + n)
                        .next_multiple_of(POPULATE_STEP)
                        .min(chunk_len(cur));
                    // SAFETY: `done..end` lies within the chunk's mapping.
                    unsafe { sys::populate(base.add(done), end - done) };
                    self.populated.store(end, Relaxed);
                }
                // SAFETY: `off + n` lies within the chunk's mapping.
                return unsafe { base.add(off) };
            }
            self.cur.store(cur + 1, Relaxed);
            self.offset.store(0, Relaxed);
            self.populated.store(0, Relaxed);
        }
    }

    /// Populates again what [`Arena::zero`] gave back: every chunk handed
    /// out from, as far as it was populated. Only with `Pages::grow` held.
    fn refill(&self) {
        let cur = self.cur.load(Relaxed);
        for (i, c) in self.chunks.iter().enumerate().take(cur + 1) {
            let p = c.load(Relaxed);
            let len = if i < cur {
                chunk_len(i)
            } else {
                self.populated.load(Relaxed)
            };
            if !p.is_null() && len > 0 {
                // SAFETY: the first `len` bytes of a mapping made by `take`.
                unsafe { sys::populate(p, len) };
            }
        }
    }

    /// Gives every chunk's pages back to the OS: what was handed out stays
    /// handed out, and reads as zeros when next touched (or populated by
    /// [`Arena::refill`]). Only with every shard lock held.
    fn zero(&self) {
        for (i, c) in self.chunks.iter().enumerate() {
            let p = c.load(Relaxed);
            if !p.is_null() {
                // SAFETY: a whole mapping made by `take` with this length;
                // its contents (leaves) are given up under every shard lock,
                // and zeros are what an empty leaf holds.
                unsafe { sys::discard(p, chunk_len(i)) };
            }
        }
    }
}

pub(super) struct Pages {
    l1: [AtomicPtr<L2>; 1 << L1_BITS],
    /// Taken to make a leaf or a directory node.
    grow: SpinLock,
    nodes: Arena,
    leaves: Arena,
}

impl Pages {
    pub(super) const fn new() -> Self {
        Pages {
            l1: [const { AtomicPtr::new(null_mut()) }; 1 << L1_BITS],
            grow: SpinLock::new(),
            nodes: Arena::new(),
            leaves: Arena::new(),
        }
    }

    /// The leaf of `addr`'s page, if it has one (`addr` is [`indexed`]).
    /// Only with the page's shard lock held.
    #[inline(always)]
    fn leaf(&self, addr: u64) -> Option<&Leaf> {
        let (i1, i2, i3) = indices(addr);
        // Acquire: pairs with the Release that published each node.
        let l2 = self.l1[i1].load(Acquire);
        if l2.is_null() {
            return None;
        }
        // SAFETY: non-null level-1 entries point at zeroed-or-written L2
        // nodes in an arena, whose memory is never unmapped.
        let l3 = unsafe { &*l2 }[i2].load(Acquire);
        if l3.is_null() {
            return None;
        }
        // SAFETY: as above, for level-2 entries and L3 nodes.
        let leaf = unsafe { &*l3 }[i3].load(Acquire);
        // SAFETY: as above, for level-3 entries and leaves.
        (!leaf.is_null()).then(|| unsafe { &*leaf })
    }

    /// The leaf of `addr`'s page, made if missing; `None` if the OS
    /// refused memory. Only with the page's shard lock held.
    #[inline(always)]
    fn leaf_or_make(&self, addr: u64) -> Option<&Leaf> {
        match self.leaf(addr) {
            Some(l) => Some(l),
            None => self.make_leaf(addr),
        }
    }

    #[cold]
    #[inline(never)]
    fn make_leaf(&self, addr: u64) -> Option<&Leaf> {
        let (i1, i2, i3) = indices(addr);
        let _g = self.grow.lock_guarded();
        let l2 = self.node(&self.l1[i1], &self.nodes);
        if l2.is_null() {
            return None;
        }
        // SAFETY: a zeroed-or-written L2 node in an arena, whose memory is
        // never unmapped.
        let l3 = self.node(unsafe { &(*l2)[i2] }, &self.nodes);
        if l3.is_null() {
            return None;
        }
        // SAFETY: as above, for an L3 node.
        let leaf = self.node(unsafe { &(*l3)[i3] }, &self.leaves);
        // SAFETY: as above, for a leaf.
        (!leaf.is_null()).then(|| unsafe { &*leaf })
    }

    /// The node `entry` points at, made (zeroed) from `arena` if missing;
    /// null if the OS refused memory. Only with `grow` held.
    fn node<T>(&self, entry: &AtomicPtr<T>, arena: &Arena) -> *mut T {
        let p = entry.load(Acquire);
        if !p.is_null() {
            return p;
        }
        let p = arena.take(size_of::<T>()).cast::<T>();
        if !p.is_null() {
            // Release: the node's zeroes are seen before its pointer.
            entry.store(p, Release);
        }
        p
    }

    /// Puts slot value `v` (from [`encode`]) for `addr`. `Ok(Some(old))`
    /// if it replaced `addr`'s earlier record, `Ok(None)` if the slot was
    /// empty, `Err(())` if the slot is another address's (or no memory):
    /// the record goes elsewhere. Only with the page's shard lock held.
    #[inline(always)]
    pub(super) fn insert(&self, addr: u64, v: u32) -> Result<Option<u32>, ()> {
        let slot = &self.leaf_or_make(addr).ok_or(())?[slot_index(addr)];
        let old = slot.load(Relaxed);
        if old != 0 && !holds(old, addr) {
            return Err(());
        }
        slot.store(v, Relaxed);
        Ok((old != 0).then_some(old))
    }

    /// The slot holding `addr`'s record, if there is one. Only with the
    /// page's shard lock held, for as long as the reference is used.
    #[inline(always)]
    pub(super) fn find(&self, addr: u64) -> Option<&AtomicU32> {
        let slot = &self.leaf(addr)?[slot_index(addr)];
        holds(slot.load(Relaxed), addr).then_some(slot)
    }

    /// Removes `addr`'s record, returning its slot value. Only with the
    /// page's shard lock held.
    #[inline(always)]
    pub(super) fn remove(&self, addr: u64) -> Option<u32> {
        let slot = self.find(addr)?;
        let v = slot.load(Relaxed);
        slot.store(0, Relaxed);
        Some(v)
    }

    /// Calls `f` with every record's address and slot value. Only with
    /// every shard lock held.
    pub(super) fn for_each_locked(&self, mut f: impl FnMut(u64, u32)) {
        for (i1, e1) in self.l1.iter().enumerate() {
            let l2 = e1.load(Acquire);
            if l2.is_null() {
                continue;
            }
            // SAFETY: see `leaf`.
            for (i2, e2) in unsafe { &*l2 }.iter().enumerate() {
                let l3 = e2.load(Acquire);
                if l3.is_null() {
                    continue;
                }
                // SAFETY: see `leaf`.
                for (i3, e3) in unsafe { &*l3 }.iter().enumerate() {
                    let leaf = e3.load(Acquire);
                    if leaf.is_null() {
                        continue;
                    }
                    let page = (((i1 << L2_BITS | i2) << L3_BITS) | i3) << PAGE_SHIFT;
                    // SAFETY: see `leaf`.
                    for (s, slot) in unsafe { &*leaf }.iter().enumerate() {
                        let v = slot.load(Relaxed);
                        if v != 0 {
                            let addr =
                                page | s << GRANULE_SHIFT | ((v >> HALF_SHIFT) as usize) << 4;
                            f(addr as u64, v);
                        }
                    }
                }
            }
        }
    }

    /// Drops every record: the leaves' pages go back to the OS (until
    /// [`Pages::refill`]), and read as empty slots; leaves and directory
    /// stay where they are. Only with every shard lock held.
    pub(super) fn clear_locked(&self) {
        self.leaves.zero();
    }

    /// Populates the leaves' pages again after [`Pages::clear_locked`]
    /// (at the next enable), so that the first use of a slot does not
    /// fault twice.
    pub(super) fn refill(&self) {
        let _g = self.grow.lock();
        self.leaves.refill();
    }

    /// Takes the growth lock without a guard object (fork prepare).
    pub(super) fn raw_lock_grow(&self) {
        self.grow.raw_lock();
    }

    /// Releases [`Pages::raw_lock_grow`].
    pub(super) fn raw_unlock_grow(&self) {
        self.grow.raw_unlock();
    }

    /// Bytes of leaves and nodes handed out.
    pub(super) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        self.nodes.used.load(Relaxed) + self.leaves.used.load(Relaxed)
    }
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

    /// Records in a dense page, a page far away and both halves of a
    /// granule, found, listed with their addresses, removed.
    #[test]
    fn pages_find_list_and_remove() {
        let p = Pages::new();
        let small = SMALL;
        let dense: Vec<u64> = (0..128).map(|i| 0x5555_0000_1000 + i * 32).collect();
        for &a in &dense {
            assert_eq!(p.insert(a, encode(a, small).unwrap()), Ok(None));
        }
        let far = 0x7f12_3456_7890;
        assert_eq!(p.insert(far, encode(far, small).unwrap()), Ok(None));
        // The other half of a taken granule belongs elsewhere.
        let twin = dense[3] + 16;
        assert_eq!(p.insert(twin, encode(twin, small).unwrap()), Err(()));
        assert!(p.find(twin).is_none());
        // Replacing the same address hands back the old record.
        let bigger = encode(far, Small { size: 200, ..small }).unwrap();
        assert!(p.insert(far, bigger).unwrap().is_some());
        let mut seen = vec![];
        p.for_each_locked(|a, v| seen.push((a, decode(v).size)));
        seen.sort_unstable();
        let mut want: Vec<_> = dense.iter().map(|&a| (a, 40)).collect();
        want.push((far, 200));
        assert_eq!(seen, want);
        assert_eq!(p.remove(dense[0]).map(decode), Some(small));
        assert_eq!(p.remove(dense[0]), None);
        assert_eq!(p.remove(0x6000_0000_0000), None, "no leaf there");
        assert!(p.bytes() >= (size_of::<L2>() * 2 + size_of::<L3>() * 2 + 512 * 2) as u64);
        // A stop empties the leaves and keeps them: records go, memory and
        // directory stay, and a record comes back without a new leaf.
        let bytes = p.bytes();
        p.clear_locked();
        assert!(p.find(far).is_none() && p.find(dense[5]).is_none());
        assert_eq!(p.insert(far, encode(far, small).unwrap()), Ok(None));
        assert_eq!(p.bytes(), bytes);
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
    /// given back by a stop, and populated again at the next enable.
    #[test]
    fn leaves_are_populated_before_use() {
        let p = Pages::new();
        let small = SMALL;
        let a = 0x5555_0000_1000;
        assert!(p.find(a).is_none());
        assert_eq!(p.insert(a, encode(a, small).unwrap()), Ok(None));
        let chunk = p.leaves.chunks[0].load(Relaxed);
        // Untouched leaves ahead of the first are ready too.
        for off in [0, 4096, POPULATE_STEP - 4096] {
            // SAFETY: inside the first chunk, of 1 MiB.
            assert!(resident(unsafe { chunk.add(off) }), "offset {off}");
        }
        // SAFETY: as above.
        assert!(!resident(unsafe { chunk.add(POPULATE_STEP) }), "bounded");
        p.clear_locked();
        assert!(!resident(chunk), "a stop gives the pages back");
        p.refill();
        assert!(resident(chunk), "the next enable takes them again");
        assert!(p.find(a).is_none(), "and they hold no record");
    }
}
