//! disable() keeps records and removes them on free; stop() forgets every
//! record and returns to pass-through; enable() afterwards starts afresh.
use std::hint::black_box;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn while_on() -> Vec<Box<[u8]>> {
    (0..10)
        .map(|_| black_box(vec![0u8; 321]).into_boxed_slice())
        .collect()
}

#[inline(never)]
fn while_paused() -> Vec<Box<[u8]>> {
    (0..10)
        .map(|_| black_box(vec![0u8; 123]).into_boxed_slice())
        .collect()
}

#[test]
fn disable_and_stop() {
    allocowner::enable().unwrap();
    let mut on = while_on();
    allocowner::disable();
    assert!(!allocowner::is_enabled());
    let paused = while_paused();
    let snap = allocowner::snapshot();
    // Ten blocks and the Vec holding them (10 fat pointers of 16 bytes).
    assert_eq!(common::owned_by(&snap, "while_on"), (11, 3210 + 160));
    assert_eq!(common::owned_by(&snap, "while_paused"), (0, 0));
    drop(snap);
    // Frees while paused still remove records.
    on.truncate(4);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "while_on"), (5, 4 * 321 + 160));
    drop(snap);

    allocowner::stop();
    let s = allocowner::stats();
    assert!(!s.enabled);
    assert_eq!(s.live_records, 0);
    assert!(
        s.table_bytes > 0,
        "the emptied table stays mapped for a later enable"
    );
    assert!(allocowner::snapshot().allocations.is_empty());
    drop(on);
    drop(paused);

    allocowner::enable().unwrap();
    let again = while_on();
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "while_on"), (11, 3210 + 160));
    drop(again);
}
