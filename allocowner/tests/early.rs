//! The "early" owner: bytes allocated before tracking was enabled are
//! estimated from mallinfo2 at enable time, and frees of those blocks
//! (which have no record) come off the estimate exactly.
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn glibc_live() -> u64 {
    // SAFETY: mallinfo2 only reads malloc's statistics.
    let mi = unsafe { libc::mallinfo2() };
    (mi.uordblks + mi.hblkhd) as u64
}

#[test]
fn early_owner_estimate() {
    const N: usize = 2000;
    const SIZE: usize = 5000; // below the mmap threshold: heap chunks
    let base = glibc_live();
    let mut before: Vec<Box<[u8]>> = Vec::with_capacity(N);
    for _ in 0..N {
        before.push(black_box(vec![3u8; SIZE].into_boxed_slice()));
    }
    let known = (N * SIZE) as u64;
    allocowner::enable().unwrap();
    let snap = allocowner::snapshot();
    let early = snap.early_bytes;
    // At least what the program had live, at most that plus malloc's chunk
    // headers (16 bytes per chunk) and the Vec of boxes.
    assert!(early >= base + known, "early {early} < {base} + {known}");
    assert!(
        early <= base + known + (N as u64) * 32 + (N * 16) as u64 + 4096,
        "early {early} too far above {}",
        base + known
    );
    // Nothing allocated before enabling has a record.
    assert!(!snap.allocations.iter().any(|a| a.size == SIZE));
    drop(snap);
    let e0 = allocowner::snapshot().early_bytes;
    // Free half of them: the estimate drops by exactly their size.
    before.truncate(N / 2);
    let e1 = allocowner::snapshot().early_bytes;
    assert_eq!(e0 - e1, (N / 2 * SIZE) as u64);
}
