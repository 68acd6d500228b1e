//! In write-protect mode the monitor write-protects, once, every present
//! page of the target it finds (not only the sampled ones), so that the
//! per-interval resets of pages written long ago change no page-table entry
//! and need no TLB shootdown of the program's CPUs; pages never touched get
//! nothing, and the pages the program writes afterwards are seen written.
//! Read through bit 57 of `/proc/self/pagemap` ("pte is uffd-wp
//! write-protected").

use std::os::unix::fs::FileExt;

use allocowner::access::{Attrs, Monitor};

const PAGE: usize = 4096;

/// The uffd-wp bit of each of the `pages` pages from `addr`.
fn protected(addr: usize, pages: usize) -> Vec<bool> {
    let f = std::fs::File::open("/proc/self/pagemap").unwrap();
    let mut buf = vec![0u8; pages * 8];
    f.read_exact_at(&mut buf, (addr / PAGE * 8) as u64).unwrap();
    buf.chunks_exact(8)
        .map(|e| u64::from_le_bytes(e.try_into().unwrap()) & (1 << 57) != 0)
        .collect()
}

/// A private anonymous read-write mapping of `pages` pages (in the target:
/// not next to a file mapping, no guard below).
struct Map(*mut u8, usize);

impl Map {
    fn new(pages: usize) -> Map {
        // SAFETY: a fresh private anonymous mapping, no address hint.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        Map(p.cast(), pages)
    }

    fn write(&self, page: usize) {
        assert!(page < self.1);
        // SAFETY: the page lies inside this live read-write mapping.
        unsafe { std::ptr::write_volatile(self.0.add(page * PAGE), 1) };
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`.
        unsafe { libc::munmap(self.0.cast(), self.1 * PAGE) };
    }
}

#[test]
fn present_pages_of_the_target_are_protected_once_and_untouched_ones_left_alone() {
    const PAGES: usize = 4096; // 16 MiB
    let map = Map::new(PAGES);
    // The first half written (present), the second half never touched.
    for p in 0..PAGES / 2 {
        map.write(p);
    }
    let addr = map.0 as usize;
    assert!(
        allocowner::access::target()
            .unwrap()
            .iter()
            .any(|r| r.start <= addr && addr + PAGES * PAGE <= r.end),
        "the mapping is in the target"
    );
    let before = protected(addr, PAGES).iter().filter(|&&p| p).count();
    assert_eq!(before, 0);
    let mut m = Monitor::new(Attrs::default()).unwrap();
    m.seed(7);
    m.tick().unwrap(); // starts the session: the sampled pages are reset
    let after_start = protected(addr, PAGES / 2).iter().filter(|&&p| p).count();
    assert!(
        after_start < 100,
        "only the sampled pages before the first step: {after_start}"
    );
    m.tick().unwrap(); // one sampling interval: the target's present pages
    let bits = protected(addr, PAGES);
    let present = bits[..PAGES / 2].iter().filter(|&&p| p).count();
    let untouched = bits[PAGES / 2..].iter().filter(|&&p| p).count();
    assert_eq!(present, PAGES / 2, "every written page is protected");
    // Untouched pages: at most the ones sampled this interval (a reset
    // leaves a marker on an untouched page), one per region.
    assert!(
        untouched <= m.attrs().max_nr_regions.min(20),
        "untouched pages protected: {untouched}"
    );
    // A write is still seen: the page is unprotected by its write fault.
    map.write(10);
    assert!(!protected(addr + 10 * PAGE, 1)[0]);
    // Another interval does not protect it again (only new parts of the
    // target are protected in bulk; a page is re-protected only if sampled).
    m.tick().unwrap();
    let again = protected(addr, PAGES / 2).iter().filter(|&&p| !p).count();
    assert!(again <= 1, "pages left unprotected: {again}");
    m.stop().unwrap();
}
