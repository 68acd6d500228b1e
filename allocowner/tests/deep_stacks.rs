//! Captures see a change deep in the stack: two callers that differ only
//! several frames up, at the same stack depth, own their allocations apart
//! however they interleave (each thread's cache of recent stacks is keyed
//! by the whole stack's hash); and a new depth is honoured at once.
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
    // How many frames down `leaf` is found depends on the profile: in
    // release `Box::new` and the allocation shims are inlined into it, in
    // debug each is a frame of its own. A depth that ends exactly at
    // `leaf` keeps it and drops its callers in both.
    let depth = leaf_depth(&snap);
    drop(snap);
    drop((one, two));

    allocowner::stop();
    allocowner::enable_with(&format!("depth={depth}")).unwrap();
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
    assert_eq!((count, bytes), (100, 2400), "depth={depth}");
    for h in &handles {
        assert!(
            snap.stacks[h].frames.len() <= depth,
            "depth={depth} keeps {depth} frames"
        );
    }
    for name in ["mid", "caller_one", "caller_two"] {
        assert_eq!(
            common::owned_by(&snap, name),
            (0, 0),
            "{name} is beyond depth {depth}"
        );
    }
}

/// The number of frames a stack must keep to reach `leaf`: one more than
/// its index in the stacks that go through it (the same in all of them).
fn leaf_depth(snap: &allocowner::Snapshot) -> usize {
    let handles = common::stacks_of(snap, "leaf");
    assert!(!handles.is_empty(), "no stack goes through leaf");
    let depths: Vec<usize> = handles
        .iter()
        .map(|h| {
            let frames = &snap.stacks[h].frames;
            1 + frames.iter().position(|&ip| is_leaf(ip)).unwrap()
        })
        .collect();
    assert!(
        depths.iter().all(|&d| d == depths[0]),
        "leaf at different depths: {depths:?}"
    );
    assert!(
        (1..=61).contains(&depths[0]),
        "leaf at depth {}: its three callers must fit in 64 frames",
        depths[0]
    );
    depths[0]
}

/// Whether return address `ip` is in `leaf` (debug info names it `leaf`,
/// the symbol table `deep_stacks::leaf`).
fn is_leaf(ip: usize) -> bool {
    let mut hit = false;
    backtrace::resolve((ip - 1) as *mut core::ffi::c_void, |sym| {
        if let Some(n) = sym.name() {
            let n = format!("{n:#}");
            hit |= n == "leaf" || n.ends_with("::leaf");
        }
    });
    hit
}
