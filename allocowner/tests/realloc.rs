//! realloc moves the record to the new address and size and keeps the
//! stack of the original allocation, for small blocks (resized under the
//! shard lock) and big ones.
use std::hint::black_box;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn first_owner() -> Vec<u8> {
    black_box(Vec::with_capacity(16))
}

#[inline(never)]
fn grower(v: &mut Vec<u8>, n: usize) {
    v.reserve_exact(n);
    black_box(&v);
}

#[inline(never)]
fn shrinker(v: &mut Vec<u8>) {
    v.shrink_to(100);
    black_box(&v);
}

#[test]
fn realloc_moves_the_record() {
    allocowner::enable().unwrap();
    let mut v = first_owner();
    // A small growth (in place or not) resizes under the shard lock.
    grower(&mut v, 40);
    let snap = allocowner::snapshot();
    assert_eq!(
        common::owned_by(&snap, "first_owner"),
        (1, v.capacity() as u64)
    );
    assert_eq!(common::owned_by(&snap, "grower"), (0, 0));
    drop(snap);
    let old = v.as_ptr() as usize;
    grower(&mut v, 1 << 20);
    assert_ne!(v.as_ptr() as usize, old, "a 1 MiB growth moves the block");
    let snap = allocowner::snapshot();
    let new: Vec<_> = snap
        .allocations
        .iter()
        .filter(|a| a.addr == v.as_ptr() as usize)
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].size, v.capacity());
    assert!(common::mentions(
        &snap.stacks[&new[0].stack].frames,
        "first_owner"
    ));
    assert!(!common::mentions(
        &snap.stacks[&new[0].stack].frames,
        "grower"
    ));
    assert_eq!(
        common::owned_by(&snap, "first_owner"),
        (1, v.capacity() as u64)
    );
    assert_eq!(common::owned_by(&snap, "grower"), (0, 0));
    drop(snap);

    shrinker(&mut v);
    let snap = allocowner::snapshot();
    assert_eq!(
        common::owned_by(&snap, "first_owner"),
        (1, v.capacity() as u64)
    );
    drop(snap);
    drop(v);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "first_owner"), (0, 0));
}
