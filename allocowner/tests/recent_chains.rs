//! A capture that reuses a remembered frame chain still sees a change deep
//! in the stack: two callers that differ only several frames up, at the same
//! stack depth, own their allocations apart however they interleave; and a
//! new depth is honoured at once.
use std::hint::black_box;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

type Out = Vec<Box<[u8; 24]>>;

#[inline(never)]
fn leaf(out: &mut Out) {
    out.push(black_box(Box::new([7u8; 24])));
}

#[inline(never)]
fn mid(out: &mut Out) {
    leaf(out);
    black_box(());
}

#[inline(never)]
fn upper(out: &mut Out) {
    mid(out);
    black_box(());
}

#[inline(never)]
fn caller_one(out: &mut Out) {
    upper(out);
    black_box(1);
}

#[inline(never)]
fn caller_two(out: &mut Out) {
    upper(out);
    black_box(2);
}

#[test]
fn deep_changes_are_seen_and_depth_is_honoured() {
    allocowner::enable().unwrap();
    let (mut one, mut two) = (Vec::with_capacity(1000), Vec::with_capacity(1000));
    for i in 0..1000 {
        if i % 3 == 0 {
            caller_two(&mut two);
        } else {
            caller_one(&mut one);
        }
    }
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "caller_one"), (666, 666 * 24));
    assert_eq!(common::owned_by(&snap, "caller_two"), (334, 334 * 24));
    drop(snap);
    drop((one, two));

    allocowner::stop();
    allocowner::enable_with("depth=3").unwrap();
    let mut three = Vec::with_capacity(100);
    for _ in 0..50 {
        caller_one(&mut three);
        caller_two(&mut three);
    }
    let snap = allocowner::snapshot();
    let handles = common::stacks_of(&snap, "leaf");
    let (count, bytes): (u64, u64) = handles
        .iter()
        .map(|h| (snap.stacks[h].live_count, snap.stacks[h].live_bytes))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((count, bytes), (100, 2400));
    for h in &handles {
        assert!(snap.stacks[h].frames.len() <= 3, "depth=3 keeps 3 frames");
    }
    assert_eq!(
        common::owned_by(&snap, "caller_one"),
        (0, 0),
        "beyond depth 3"
    );
}
