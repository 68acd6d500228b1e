//! The unwinder fallback: with `capture=unwind,sample=N` one allocation in
//! N gets a stack from the `backtrace` crate, the others are owned by
//! UNSAMPLED, and the mode says so.
use std::hint::black_box;

use allocowner::{CaptureMode, StackHandle};

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn delta_allocates(out: &mut Vec<Box<[u8]>>, n: usize) {
    for _ in 0..n {
        out.push(black_box(vec![4u8; 500]).into_boxed_slice());
    }
}

#[test]
fn unwinder_sampling() {
    // Every allocation sampled: the unwinder finds the owner like the walk.
    allocowner::enable_with("capture=unwind,sample=1").unwrap();
    assert_eq!(
        allocowner::capture_mode(),
        CaptureMode::Sampling { every: 1 }
    );
    let mut a = Vec::with_capacity(100);
    delta_allocates(&mut a, 100);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "delta_allocates"), (100, 50_000));
    drop(snap);

    // One in 10 on this thread: exactly 10 of 100 sampled.
    allocowner::enable_with("capture=unwind,sample=10").unwrap();
    let mut b = Vec::with_capacity(100);
    let before = allocowner::live_totals(StackHandle::UNSAMPLED);
    delta_allocates(&mut b, 100);
    let after = allocowner::live_totals(StackHandle::UNSAMPLED);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "delta_allocates"), (110, 55_000));
    assert_eq!((after.0 - before.0, after.1 - before.1), (90, 45_000));
    drop(snap);
    drop((a, b));
}
