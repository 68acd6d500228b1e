//! A tiny depot cap: stacks that do not fit get the FAILURE handle, are
//! still counted, and the program goes on.
#![allow(clippy::vec_box)] // each box is one tracked allocation
use allocowner::StackHandle;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn nest(n: usize, out: &mut Vec<Box<[u8; 24]>>) {
    if n == 0 {
        out.push(black_box(Box::new([0; 24])));
    } else {
        nest(n - 1, out);
    }
    black_box(n);
}

#[test]
fn tiny_cap_gives_failure_and_goes_on() {
    // One 16 KiB pool; 64-frame stacks are 528 bytes: about 31 fit.
    allocowner::enable_with("depot_cap=16K,depth=64").unwrap();
    let mut out = Vec::with_capacity(200);
    for depth in 0..100 {
        nest(depth, &mut out);
    }
    let stats = allocowner::stats();
    assert!(stats.depot_failures > 0, "{stats:?}");
    assert_eq!(stats.depot_pool_bytes, 16 << 10);
    let snap = allocowner::snapshot();
    let failed = snap
        .allocations
        .iter()
        .filter(|a| a.stack == StackHandle::FAILURE && a.size == 24)
        .count();
    assert!(failed > 0);
    let f = &snap.stacks[&StackHandle::FAILURE];
    assert!(f.live_count >= failed as u64);
    // The program goes on: allocate and free freely afterwards.
    let more: Vec<Vec<u8>> = (0..10_000).map(|i| vec![0; i % 100]).collect();
    assert_eq!(more.len(), 10_000);
    drop(more);
    // Frees of FAILURE-owned blocks come off FAILURE's live totals.
    let snap = allocowner::snapshot();
    let mut mine: Vec<usize> = out.iter().map(|b| b.as_ptr() as usize).collect();
    mine.push(out.as_ptr() as usize);
    let (fc, fb) = snap
        .allocations
        .iter()
        .filter(|a| a.stack == StackHandle::FAILURE && mine.contains(&a.addr))
        .fold((0u64, 0u64), |(c, b), a| (c + 1, b + a.size as u64));
    assert!(fc > 0);
    drop(snap);
    drop(mine);
    let before = allocowner::live_totals(StackHandle::FAILURE);
    drop(out);
    let after = allocowner::live_totals(StackHandle::FAILURE);
    assert_eq!((before.0 - after.0, before.1 - after.1), (fc, fb));
}
