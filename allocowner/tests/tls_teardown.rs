//! Threads that allocate and free after their thread-locals are destroyed
//! (in a thread-local's destructor) are still tracked correctly.
#![allow(clippy::unnecessary_box_returns)] // the box is the tracked allocation
use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Mutex;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

static KEPT: Mutex<Vec<usize>> = Mutex::new(Vec::new());

struct Teardown;

#[inline(never)]
fn alloc_in_teardown() -> Box<[u8; 40]> {
    black_box(Box::new([5; 40]))
}

impl Drop for Teardown {
    fn drop(&mut self) {
        // Allocate and free during TLS destruction, and leak one block.
        for _ in 0..100 {
            drop(black_box(vec![0u8; 100]));
        }
        let b = Box::leak(alloc_in_teardown());
        KEPT.lock().unwrap().push(b.as_ptr() as usize);
    }
}

thread_local! {
    static FIRST: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static TEARDOWN: Teardown = const { Teardown };
}

#[test]
fn allocations_during_tls_teardown() {
    allocowner::enable().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                FIRST.with(|f| f.borrow_mut().extend_from_slice(&[1; 1000]));
                TEARDOWN.with(|_| {});
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let kept = KEPT.lock().unwrap().clone();
    assert_eq!(kept.len(), 8);
    let snap = allocowner::snapshot();
    assert_eq!(common::owned_by(&snap, "alloc_in_teardown"), (8, 8 * 40));
    for addr in kept {
        let n = snap.allocations.iter().filter(|a| a.addr == addr).count();
        assert_eq!(n, 1);
    }
    // The 800 freed 100-byte blocks left no record.
    let teardown = common::stacks_of(&snap, "Teardown");
    assert!(!teardown.is_empty());
    let stale = snap
        .allocations
        .iter()
        .filter(|a| a.size == 100 && teardown.contains(&a.stack))
        .count();
    assert_eq!(stale, 0);
}
