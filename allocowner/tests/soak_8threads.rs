//! 8 threads x 1,000,000 mixed alloc/realloc/free: at the end every live
//! allocation has exactly one record, with its size, and no freed block
//! left one behind.
use std::alloc::{Layout, alloc, dealloc, realloc};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// Alignment no other allocation of the test harness uses, to tell the
/// workers' records apart.
const ALIGN: usize = 128;

fn worker(seed: u64) -> Vec<(usize, usize)> {
    let mut state = seed | 1;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut live: Vec<(*mut u8, usize)> = Vec::with_capacity(4096);
    for _ in 0..1_000_000 {
        let roll = rnd();
        let size = 1 + (roll >> 40) as usize % 2048;
        match roll % 4 {
            0 | 1 if live.len() < 4000 => {
                let l = Layout::from_size_align(size, ALIGN).unwrap();
                // SAFETY: non-zero size, valid alignment.
                let p = unsafe { alloc(l) };
                assert!(!p.is_null());
                live.push((p, size));
            }
            2 if !live.is_empty() => {
                let i = (roll >> 20) as usize % live.len();
                let (p, old) = live[i];
                let l = Layout::from_size_align(old, ALIGN).unwrap();
                // SAFETY: p was allocated with l; size is non-zero.
                let q = unsafe { realloc(p, l, size) };
                assert!(!q.is_null());
                live[i] = (q, size);
            }
            _ if !live.is_empty() => {
                let i = (roll >> 20) as usize % live.len();
                let (p, size) = live.swap_remove(i);
                // SAFETY: p was allocated with this layout.
                unsafe { dealloc(p, Layout::from_size_align(size, ALIGN).unwrap()) };
            }
            _ => {}
        }
    }
    live.into_iter().map(|(p, s)| (p as usize, s)).collect()
}

#[test]
fn every_live_allocation_has_one_record() {
    allocowner::enable().unwrap();
    let threads: Vec<_> = (0..8u64)
        .map(|i| std::thread::spawn(move || worker(0x9e37_79b9 * (i + 1))))
        .collect();
    let mut live: Vec<(usize, usize)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    live.sort_unstable();
    let snap = allocowner::snapshot();
    let mut recs: Vec<(usize, usize)> = snap
        .allocations
        .iter()
        .filter(|a| a.align == ALIGN)
        .map(|a| (a.addr, a.size))
        .collect();
    recs.sort_unstable();
    assert!(live.len() > 8 * 1000, "{} live", live.len());
    assert_eq!(
        recs.len(),
        live.len(),
        "one record per live allocation, none for freed blocks"
    );
    assert_eq!(recs, live);
    // Addresses are unique across the whole table.
    let mut addrs: Vec<usize> = snap.allocations.iter().map(|a| a.addr).collect();
    addrs.sort_unstable();
    let n = addrs.len();
    addrs.dedup();
    assert_eq!(addrs.len(), n);
    // The depot's counters agree with the records for every stack.
    for s in snap.stacks.values() {
        let (c, b) = snap
            .allocations
            .iter()
            .filter(|a| a.stack == s.handle)
            .fold((0u64, 0u64), |(c, b), a| (c + 1, b + a.size as u64));
        assert_eq!((s.live_count, s.live_bytes), (c, b), "stack {:?}", s.handle);
    }
    for (p, size) in live {
        // SAFETY: allocated by a worker with this layout, not yet freed.
        unsafe { dealloc(p as *mut u8, Layout::from_size_align(size, ALIGN).unwrap()) };
    }
}
