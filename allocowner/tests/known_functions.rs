//! Allocations from known functions appear under those functions with
//! exact byte totals, and frees leave no record.
use std::hint::black_box;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn alpha_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..100 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn beta_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..50 {
        out.push(black_box(vec![2u8; 3000]).into_boxed_slice());
    }
}

#[test]
fn known_functions_own_exact_bytes() {
    allocowner::enable_with("depth=32").unwrap();
    assert!(allocowner::is_enabled());
    assert_eq!(
        allocowner::capture_mode(),
        allocowner::CaptureMode::FramePointers
    );
    let mut a = Vec::with_capacity(100);
    let mut b = Vec::with_capacity(50);
    alpha_allocates(&mut a);
    beta_allocates(&mut b);

    let snap = allocowner::snapshot();
    if std::env::var_os("SHOW").is_some() {
        allocowner::write_report(std::path::Path::new("/tmp/ao_known.txt")).unwrap();
    }
    assert_eq!(common::owned_by(&snap, "alpha_allocates"), (100, 100_000));
    assert_eq!(common::owned_by(&snap, "beta_allocates"), (50, 150_000));
    // O(1) totals agree with the snapshot.
    for h in common::stacks_of(&snap, "alpha_allocates") {
        assert_eq!(
            allocowner::live_totals(h),
            (snap.stacks[&h].live_count, snap.stacks[&h].live_bytes)
        );
    }
    // Every allocation of alpha is a record with its exact address and size.
    for bx in &a {
        let rec = snap
            .allocations
            .iter()
            .filter(|r| r.addr == bx.as_ptr() as usize)
            .collect::<Vec<_>>();
        assert_eq!(rec.len(), 1);
        assert_eq!((rec[0].size, rec[0].align), (1000, 1));
    }
    let b_addrs: Vec<usize> = b.iter().map(|x| x.as_ptr() as usize).collect();
    let beta_handles = common::stacks_of(&snap, "beta_allocates");
    drop(snap);

    drop(b);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "alpha_allocates"), (100, 100_000));
    assert_eq!(common::owned_by(&snap, "beta_allocates"), (0, 0));
    for h in beta_handles {
        assert_eq!(allocowner::live_totals(h), (0, 0));
    }
    // No record is left at a freed address, unless reused by a new allocation
    // that is not beta's.
    for r in &snap.allocations {
        if b_addrs.contains(&r.addr) {
            assert!(!common::mentions(
                &snap.stacks[&r.stack].frames,
                "beta_allocates"
            ));
        }
    }
    drop(a);
}
