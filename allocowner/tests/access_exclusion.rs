//! Issue #14, item 7: the access monitor's exclusion table holds every
//! mapping allocowner registers, far beyond its first 1024 slots (the stack
//! depot alone may make up to 8191 mappings), and every registered range is
//! left out of the target; forgetting them gives the memory back to the
//! target.

use allocowner::access::{
    PAGE, exclude_mapping, excluded_ranges, exclusion_blocks, forget_mapping, target,
};

const N: usize = 9000;
const GUARD: usize = 2 << 20;

#[test]
fn thousands_of_exclusions_are_all_left_out() {
    let len = 2 * N * PAGE;
    // A read-write mapping between two inaccessible 2 MiB reservations, so
    // that the target's heuristics (thread stack guard, .bss after a file)
    // cannot mistake it for something else.
    // SAFETY: a fresh reservation, no address hint.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len + 2 * GUARD,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED);
    let addr = base as usize + GUARD;
    // SAFETY: the middle of the reservation just made.
    let r = unsafe {
        libc::mprotect(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
    assert_eq!(r, 0);
    let page = |i: usize| addr + 2 * i * PAGE;
    for i in 0..N {
        assert!(exclude_mapping(page(i), PAGE), "exclusion {i} refused");
    }
    assert!(
        exclusion_blocks() >= N / 1024,
        "{} blocks",
        exclusion_blocks()
    );
    let mut listed = excluded_ranges();
    listed.sort_by_key(|r| r.start);
    for i in 0..N {
        assert!(
            listed.binary_search_by_key(&page(i), |r| r.start).is_ok(),
            "exclusion {i} lost"
        );
    }
    let t = target().unwrap();
    for r in &t {
        let lo = r.start.max(addr);
        let hi = r.end.min(addr + len);
        if lo >= hi {
            continue;
        }
        // Only the odd pages of the mapping may be watched.
        for p in (lo..hi).step_by(PAGE) {
            assert_eq!(
                (p - addr) / PAGE % 2,
                1,
                "excluded page {p:#x} in target {r:?}"
            );
        }
    }
    let watched: usize = t
        .iter()
        .map(|r| r.end.min(addr + len).saturating_sub(r.start.max(addr)))
        .sum();
    assert_eq!(watched, N * PAGE, "the pages between stay watched");
    for i in 0..N {
        forget_mapping(page(i));
    }
    let listed = excluded_ranges();
    assert!(
        listed
            .iter()
            .all(|r| r.start < addr || r.start >= addr + len)
    );
    let watched: usize = target()
        .unwrap()
        .iter()
        .map(|r| r.end.min(addr + len).saturating_sub(r.start.max(addr)))
        .sum();
    assert_eq!(watched, len, "forgotten exclusions are watched again");
    // SAFETY: the reservation made above, no longer used.
    unsafe { libc::munmap(base, len + 2 * GUARD) };
}
