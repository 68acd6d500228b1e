//! allocowner's own allocations (a snapshot's buffers) are recorded
//! against the DUMMY handle.
use allocowner::StackHandle;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[test]
fn own_allocations_get_dummy() {
    allocowner::enable().unwrap();
    let first = allocowner::snapshot();
    let buf = first.allocations.as_ptr() as usize;
    let second = allocowner::snapshot();
    let rec: Vec<_> = second
        .allocations
        .iter()
        .filter(|a| a.addr == buf)
        .collect();
    assert_eq!(rec.len(), 1, "the first snapshot's buffer is recorded");
    assert_eq!(rec[0].stack, StackHandle::DUMMY);
    let dummy = &second.stacks[&StackHandle::DUMMY];
    assert!(dummy.frames.is_empty());
    assert!(dummy.live_count >= 2);
    assert!(allocowner::live_totals(StackHandle::DUMMY).0 >= dummy.live_count);
    // A program allocation is not DUMMY.
    let b = Box::new([0u8; 77]);
    let third = allocowner::snapshot();
    let rec = third
        .allocations
        .iter()
        .find(|a| a.addr == &raw const *b as usize)
        .unwrap();
    assert!(rec.stack.is_stack());
    drop(b);
}
