//! Every mapping allocowner made for itself: the side table's and the
//! stack depot's (all that [`crate::sys::map`] makes), added and removed
//! as they are mapped and unmapped, the list's own blocks, and what a
//! program adds through `allocowner::access::exclude_mapping`.
//!
//! A low layer: it names nothing above it. [`crate::sys`] writes the list
//! from inside the allocator's own mapping code, so it is lock-free and
//! never uses the Rust allocator; the access sampler (feature `access`)
//! reads it to leave allocowner's own memory out of what it watches.
//!
//! The list is a chain of blocks of 1024 slots. The first block is a
//! static; the others are mapped with `mmap` directly when every slot
//! before them is taken, chained lock-free, never freed (a block that
//! empties is reused), and each lists itself.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Slots of one block.
const BLOCK_SLOTS: usize = 1024;

/// One block of the list: start and length per slot (0 when free), and
/// the next block.
struct Block {
    slots: [(AtomicUsize, AtomicUsize); BLOCK_SLOTS],
    next: AtomicPtr<Block>,
}

static FIRST: Block = Block {
    slots: [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; BLOCK_SLOTS],
    next: AtomicPtr::new(core::ptr::null_mut()),
};

/// Blocks mapped beyond the first (a statistic for tests and reports).
static EXTRA_BLOCKS: AtomicUsize = AtomicUsize::new(0);

/// Iterates the chain of blocks.
fn blocks() -> impl Iterator<Item = &'static Block> {
    core::iter::successors(Some(&FIRST), |b| {
        // Acquire: pairs with the Release CAS that linked the block, so its
        // (zeroed) slots are visible.
        let n = b.next.load(Ordering::Acquire);
        // SAFETY: a linked block is a live mapping that is never unmapped.
        unsafe { n.as_ref() }
    })
}

/// Maps a new, zeroed block (all atomics zero: all slots free), or null.
fn map_block() -> *mut Block {
    let len = core::mem::size_of::<Block>();
    // SAFETY: a fresh private anonymous mapping, no address hint.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return core::ptr::null_mut();
    }
    p.cast()
}

/// Claims a free slot of `b` for `[addr, addr + len)`.
fn claim_in(b: &Block, addr: usize, len: usize) -> bool {
    for (s, l) in &b.slots {
        // AcqRel: claim the slot, then publish the length; readers take a
        // slot only once its length is non-zero.
        if s.compare_exchange(0, addr, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            l.store(len, Ordering::Release);
            return true;
        }
    }
    false
}

/// Adds `[addr, addr + len)` to the list. Lock-free and free of the Rust
/// allocator, so the allocator may call it. Returns `false`, after saying
/// so once on stderr, only if the OS refuses a new block.
pub(crate) fn add(addr: usize, len: usize) -> bool {
    if len == 0 {
        return true;
    }
    let mut b: &'static Block = &FIRST;
    loop {
        if claim_in(b, addr, len) {
            return true;
        }
        // Acquire: see `blocks`.
        let mut next = b.next.load(Ordering::Acquire);
        if next.is_null() {
            let fresh = map_block();
            if fresh.is_null() {
                report_full();
                return false;
            }
            // AcqRel: publish the zeroed block (Release); on failure see the
            // winner's block (Acquire).
            match b.next.compare_exchange(
                core::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Relaxed: a statistic.
                    EXTRA_BLOCKS.fetch_add(1, Ordering::Relaxed);
                    // The block is allocowner's own memory too.
                    // SAFETY: just linked, live forever.
                    let blk = unsafe { &*fresh };
                    claim_in(blk, fresh as usize, core::mem::size_of::<Block>());
                    next = fresh;
                }
                Err(winner) => {
                    // SAFETY: our block, never published.
                    unsafe { libc::munmap(fresh.cast(), core::mem::size_of::<Block>()) };
                    next = winner;
                }
            }
        }
        // SAFETY: a linked block is a live mapping that is never unmapped.
        b = unsafe { &*next };
    }
}

/// Says once on stderr that the list could not grow (no allocation).
fn report_full() {
    static SAID: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    // Relaxed: only deduplicates a message.
    if !SAID.swap(true, Ordering::Relaxed) {
        let msg = b"allocowner::access: the exclusion table cannot grow (mmap failed): some of allocowner's own mappings may be sampled\n";
        // SAFETY: a write of a static buffer to stderr (not through
        // `sys::write_stderr`: `sys` calls this module, not the reverse).
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    }
}

/// Removes the mapping starting at `addr` from the list (when it is
/// unmapped). Lock-free and free of the Rust allocator.
pub(crate) fn remove(addr: usize) {
    for b in blocks() {
        for (s, l) in &b.slots {
            if s.load(Ordering::Acquire) == addr && l.load(Ordering::Acquire) != 0 {
                l.store(0, Ordering::Release);
                s.store(0, Ordering::Release);
                return;
            }
        }
    }
}

/// The ranges listed now: allocowner's own side table and stack depot,
/// when tracking is on, whatever else was added, and the list's own
/// blocks. Allocates the result (never called from the allocator).
#[cfg(feature = "access")]
pub(crate) fn ranges() -> Vec<core::ops::Range<usize>> {
    blocks()
        .flat_map(|b| b.slots.iter())
        .filter_map(|(s, l)| {
            let start = s.load(Ordering::Acquire);
            let len = l.load(Ordering::Acquire);
            (start != 0 && len != 0).then(|| start..start + len)
        })
        .collect()
}

/// How many blocks of 1024 entries the list has mapped beyond its first,
/// static one.
#[cfg(feature = "access")]
pub(crate) fn extra_blocks() -> usize {
    // Relaxed: a statistic.
    EXTRA_BLOCKS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `[addr, addr + len)` is in the list (without allocating,
    /// so it works with the feature off too).
    fn listed(addr: usize, len: usize) -> bool {
        blocks()
            .flat_map(|b| b.slots.iter())
            .any(|(s, l)| s.load(Ordering::Acquire) == addr && l.load(Ordering::Acquire) == len)
    }

    #[test]
    fn add_and_remove_round_trip() {
        assert!(add(0x1234_5000, 0x2000));
        assert!(listed(0x1234_5000, 0x2000));
        remove(0x1234_5000);
        assert!(!listed(0x1234_5000, 0x2000));
    }

    #[test]
    fn sys_map_lists_its_mapping_and_unmap_removes_it() {
        let len = 3 * 4096;
        let p = crate::sys::map(len);
        assert!(!p.is_null());
        assert!(listed(p as usize, len));
        // SAFETY: the mapping just made, unused.
        unsafe { crate::sys::unmap(p, len) };
        assert!(!listed(p as usize, len));
    }
}
