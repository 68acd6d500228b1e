//! 1,000,000 allocations from 3 stacks add exactly 3 depot entries.
//!
//! No libtest harness: its main thread may allocate while the test runs (a
//! slow-test warning under load does), which would add stacks of its own.
#![allow(clippy::unnecessary_box_returns)] // each box is one tracked allocation
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn site_a() -> Box<u32> {
    black_box(Box::new(1))
}
#[inline(never)]
fn site_b() -> Box<[u8; 100]> {
    black_box(Box::new([0; 100]))
}
#[inline(never)]
fn site_c() -> Box<u64> {
    black_box(Box::new(3))
}

#[inline(never)]
fn churn() -> u64 {
    let mut sum = 0u64;
    for i in 0..1_000_000u32 {
        sum += match i % 3 {
            0 => u64::from(*site_a()),
            1 => u64::from(site_b()[0]),
            _ => *site_c(),
        };
    }
    sum
}

fn main() {
    allocowner::enable().unwrap();
    let before = allocowner::stats();
    black_box(churn());
    let after = allocowner::stats();
    assert_eq!(after.depot_stacks - before.depot_stacks, 3);
    assert_eq!(after.depot_failures, 0);
    // Each unique stack costs 16 + 8 x frames bytes of records.
    let added = after.depot_record_bytes - before.depot_record_bytes;
    assert_eq!((added - 3 * 16) % 8, 0);
    println!("depot_dedup: 1 passed, 0 failed");
}
