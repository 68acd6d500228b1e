//! Threads: allocations from several threads are owned by their stack,
//! with exact totals, and the thread client records each thread's id.
use std::hint::black_box;

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn gamma_in_thread(out: &mut Vec<Box<[u64]>>) {
    for _ in 0..1000 {
        out.push(black_box(vec![7u64; 8]).into_boxed_slice());
    }
}

#[test]
fn threads_own_their_allocations() {
    allocowner::enable_with("thread").unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut v = Vec::with_capacity(1000);
                gamma_in_thread(&mut v);
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() } as u64;
                (v, tid)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let snap = allocowner::snapshot();
    assert_eq!(
        common::owned_by(&snap, "gamma_in_thread"),
        (4000, 4000 * 64)
    );
    for (v, tid) in &results {
        for b in v {
            let recs: Vec<_> = snap
                .allocations
                .iter()
                .filter(|a| a.addr == b.as_ptr() as usize)
                .collect();
            assert_eq!(recs.len(), 1, "one record per live allocation");
            assert_eq!(recs[0].size, 64);
            assert_eq!(
                recs[0].thread,
                Some(*tid),
                "thread client keeps the allocating thread"
            );
            assert!(recs[0].timestamp_ns.is_some());
        }
    }
    // The thread client cannot be added once the table layout is fixed
    // without it: here it is in, so asking again is fine.
    allocowner::enable_with("thread").unwrap();
    drop(results);
}
