//! Unit tests of the side table, each over a table and a depot of its own.

use core::ptr::null_mut;
use core::sync::atomic::Ordering::Relaxed;

use super::*;
use crate::depot::Depot;
use crate::snapshot::StackHandle;

/// A depot of the test's own: the totals a test reads are its table's
/// alone, whatever the other tests (or the process's tracking) do.
fn own_depot() -> &'static Depot {
    Box::leak(Box::new(Depot::new()))
}

#[test]
fn totals_reach_the_depot_through_pending_slots() {
    let depot = own_depot();
    let t = Table::new(depot);
    t.setup(&Config::DEFAULT).unwrap();
    let (early, unsampled) = (StackHandle::EARLY, StackHandle::UNSAMPLED);
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
        assert!(t.discard(record(i, early).addr, 3));
    }
    assert!(!t.discard(0x10_0000 + 2000 * 48, 3), "never inserted");
    t.lock_all();
    t.publish_locked();
    t.unlock_all();
    assert_eq!(t.len(), 1500);
    assert_eq!(depot.live(early), (500, 1500));
    assert_eq!(depot.live(unsampled), (1000, 10_000));
}

/// Far more stacks than a shard's pending sets hold: totals pushed out
/// of a set, and those still pending, add up to exact depot totals.
#[test]
fn pending_sets_keep_totals_exact_with_many_stacks() {
    let depot = own_depot();
    assert!(depot.init(Config::DEFAULT.depot_cap));
    let stacks: Vec<StackHandle> = (0..48usize)
        .map(|i| {
            let frames = [0x7e57_0000 + i * 16, 0x7e57_8000];
            depot.save_hashed(&frames, crate::depot::hash(&frames))
        })
        .collect();
    assert!(stacks.iter().all(|h| h.is_stack()));
    let t = Table::new(depot);
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
            assert!(t.discard(gone.addr, gone.size));
        }
    }
    for r in &live {
        let e = want.entry(r.handle).or_insert((0u64, 0u64));
        e.0 += 1;
        e.1 += r.size as u64;
    }
    let before: Vec<_> = stacks.iter().map(|&h| depot.live(h)).collect();
    t.lock_all();
    t.publish_locked();
    t.unlock_all();
    for (h, (c0, b0)) in stacks.iter().zip(before) {
        let (c, b) = depot.live(*h);
        assert_eq!(
            (c, b),
            want[h],
            "{h:?} (pending held {:?})",
            (c - c0, b - b0)
        );
    }
}

/// A resize in place updates the size and the totals; one that moves
/// hands the record out; a failed one keeps it; an unknown address
/// still reallocates.
#[test]
fn resize_keeps_or_hands_out_the_record() {
    let depot = own_depot();
    let t = Table::new(depot);
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
        depot.live(handle)
    };
    let before = totals();
    assert_eq!(before, (0, 0), "a depot of its own");
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
    let t = Table::new(own_depot());
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
        let (addr, max, align) = match r % 4 {
            // Pages filled with small blocks: each gets a leaf and gives it
            // back, again and again.
            3 => (
                0x5555_1000_0000 + (r >> 16) % 16 * 4096 + (r >> 24) % 128 * 32,
                32,
                8,
            ),
            // A few dense pages.
            0 => (0x5555_0000_0000 + (r >> 16) % 64 * 8192 + off, max, 16),
            // Pages scattered over 8 GiB.
            1 => (
                0x7f00_0000_0000 + (r >> 16) % (1 << 20) * 8192 + off,
                max,
                16,
            ),
            // 32-byte blocks aligned to 64, all in the rows.
            2 => (0x6666_0000_0000 + (r >> 16) % 4096 * 32, 32, 64),
            _ => unreachable!(),
        };
        let addr = addr as usize;
        // The dense pages empty in every other phase (below DEMOTE), and
        // fill in the last.
        let free = if r % 4 == 3 && (step / 20_000) % 2 == 0 {
            r & 0b11_1110 != 0b11_1110
        } else {
            r & 6 == 0
        };
        if free {
            let size = model.get(&addr).map_or(8, |r: &Record| r.size);
            let fast = r & 1 == 1 && t.discard_fast_path(addr, size);
            assert_eq!(
                fast || t.discard(addr, size),
                model.remove(&addr).is_some(),
                "step {step}"
            );
        } else {
            // A live block is freed before its address is handed out.
            if let Some(old) = model.remove(&addr) {
                assert!(t.discard(addr, old.size), "step {step}");
            }
            let rec = Record {
                addr,
                size: ((r >> 40) % max + 1) as usize,
                align,
                // Handles of no depot pool (their totals go nowhere);
                // the second is too wide for a page slot.
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
        in_slots > 500 && in_rows > 5000,
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

/// The free path's fast path takes a small record whose stack's totals
/// are pending in its shard, and leaves everything else (a record in the
/// rows, no record) unchanged for [`Table::discard`].
#[test]
fn discard_fast_path_takes_only_its_common_case() {
    let depot = own_depot();
    let t = Table::new(depot);
    t.setup(&Config::DEFAULT).unwrap();
    let rec = |addr: usize, size| Record {
        addr,
        size,
        align: 8,
        handle: StackHandle::FAILURE,
        tid: 0,
        ts: 0,
    };
    // A page's first records go to a mini; from the 25th on, to a leaf.
    let page = 0x5000_0000_1000;
    let dense: Vec<Record> = (0..40).map(|i| rec(page + i * 32, 40)).collect();
    let big = rec(0x5000_0000_2000, 4000);
    let lone = rec(0x5000_0000_4000, 40);
    assert!(dense.iter().all(|r| t.insert(r)) && t.insert(&big) && t.insert(&lone));
    assert!(!t.discard_fast_path(big.addr, big.size), "in the rows");
    assert!(!t.discard_fast_path(0x5000_0000_3000, 40), "no record");
    assert_eq!(t.len(), dense.len() + 2);
    assert!(t.discard_fast_path(lone.addr, lone.size), "alone in a mini");
    let small = dense[5];
    assert!(t.discard_fast_path(small.addr, small.size));
    assert!(!t.discard_fast_path(small.addr, small.size), "already gone");
    assert!(!t.discard(small.addr, small.size), "already gone");
    assert!(t.discard(big.addr, big.size) && !t.discard(lone.addr, lone.size));
    assert_eq!(t.remove(big.addr, big.size), None);
    // Down to DEMOTE + 1 records, the next free is the slow path's: the
    // page's leaf becomes a mini.
    let mut left: Vec<Record> = dense.iter().filter(|r| **r != small).copied().collect();
    while left.len() > pages::DEMOTE + 1 {
        let r = left.pop().unwrap();
        assert!(t.discard_fast_path(r.addr, r.size));
    }
    let last = left.pop().unwrap();
    assert!(
        !t.discard_fast_path(last.addr, last.size),
        "the slow path's"
    );
    assert!(t.discard(last.addr, last.size));
    assert_eq!(t.len(), left.len());
    // In a mini now, whose records the fast path takes.
    for r in left {
        assert!(t.discard_fast_path(r.addr, r.size), "in a mini");
    }
    t.lock_all();
    t.publish_locked();
    t.unlock_all();
    assert_eq!((t.len(), depot.live(StackHandle::FAILURE)), (0, (0, 0)));
}
