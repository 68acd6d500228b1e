//! The monitoring target, read from `/proc/self/maps` alone: the brk heap and
//! the anonymous private writable mappings, less thread stacks and the
//! mappings allocowner made for itself.

use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) use crate::maps::Mapping;

/// Whether a mapping is private, readable and writable.
fn is_private_rw(m: &Mapping) -> bool {
    &m.perms == b"rw-p"
}

/// Whether a mapping has no access at all (`---p`: a guard page or
/// reserved address space).
fn is_inaccessible(m: &Mapping) -> bool {
    &m.perms[..3] == b"---"
}

/// The mapping of `maps` (sorted, as the kernel lists them) that holds
/// the whole page at `addr`.
fn mapping_of(maps: &[Mapping], addr: usize) -> Option<&Mapping> {
    let i = maps.partition_point(|m| m.end <= addr);
    maps.get(i)
        .filter(|m| m.start <= addr && addr + super::detect::PAGE <= m.end)
}

/// Whether a mapping is anonymous memory or the brk heap.
fn is_anon_or_heap(m: &Mapping) -> bool {
    m.name.is_empty() || m.name == "[heap]"
}

/// The protection to restore if the page at `addr` may be armed now: only
/// a page of a private read-write anonymous or heap mapping (`rw-p`, no
/// file), checked in `maps` read an instant before arming. `None`
/// otherwise: a read-only, shared or file mapping placed where a target
/// used to be is never touched.
pub(crate) fn armable(maps: &[Mapping], addr: usize) -> Option<i32> {
    mapping_of(maps, addr)
        .filter(|m| is_private_rw(m) && is_anon_or_heap(m))
        .map(|_| libc::PROT_READ | libc::PROT_WRITE)
}

/// Whether the page at `addr`, armed earlier, is still an armed page of
/// ours (`---p`, anonymous or heap) in `maps`: otherwise it was unmapped
/// and something else mapped there, which is left as it is.
pub(crate) fn still_armed(maps: &[Mapping], addr: usize) -> bool {
    mapping_of(maps, addr).is_some_and(|m| &m.perms == b"---p" && is_anon_or_heap(m))
}

/// This process's mappings now, or `None` if `/proc/self/maps` cannot be
/// read.
pub(crate) fn read_maps() -> Option<Vec<Mapping>> {
    crate::maps::read().ok()
}

/// The largest guard that sits below a thread stack: glibc's default is one
/// page, Rust's `thread::Builder` leaves it, users may raise it.
const MAX_STACK_GUARD: usize = 1 << 20;

/// Picks the monitoring target out of `maps`: `[heap]` and anonymous
/// `rw-p` mappings, excluding `[stack]`, thread stacks (an anonymous `rw-p`
/// mapping directly above an inaccessible guard of at most 1 MiB, which is how
/// glibc lays out a pthread stack), the `.bss` of loaded objects (an
/// anonymous mapping right after a file mapping: static data, not heap, and
/// where the monitor's own statics live) and the ranges in `excluded`
/// (in any order, overlapping or not).
pub(crate) fn select(maps: &[Mapping], excluded: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut sorted = excluded.to_vec();
    sorted.sort_by_key(|x| x.start);
    // Merged, so `end` grows along the list and a binary search by end works.
    let mut excluded: Vec<Range<usize>> = Vec::with_capacity(sorted.len());
    for x in sorted.into_iter().filter(|x| x.start < x.end) {
        match excluded.last_mut() {
            Some(last) if x.start <= last.end => last.end = last.end.max(x.end),
            _ => excluded.push(x),
        }
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        if !is_private_rw(m) || !(m.name.is_empty() || m.name == "[heap]") {
            continue;
        }
        if m.name.is_empty() && i > 0 {
            let below = &maps[i - 1];
            if below.end == m.start
                && is_inaccessible(below)
                && below.name.is_empty()
                && below.end - below.start <= MAX_STACK_GUARD
            {
                continue; // a thread stack
            }
            if below.end == m.start && !below.name.is_empty() && !below.name.starts_with('[') {
                // The .bss of the executable or a library: static data, not
                // heap (and it holds the trap's own tables).
                continue;
            }
        }
        // Cut out the excluded ranges (sorted by start, so each mapping
        // looks only at those that may overlap it: thousands of depot
        // mappings stay cheap).
        let first = excluded.partition_point(|x| x.end <= m.start);
        let mut at = m.start;
        for x in excluded[first..].iter().take_while(|x| x.start < m.end) {
            if x.end <= at {
                continue;
            }
            if x.start > at {
                out.push(at..x.start);
            }
            at = at.max(x.end);
        }
        if at < m.end {
            out.push(at..m.end);
        }
    }
    out
}

/// The address ranges the monitor watches right now: read from
/// `/proc/self/maps`, with the heap and anonymous writable mappings kept
/// and thread stacks, `.bss`, the main thread's control block and the ranges
/// registered through [`exclude_mapping`] left out.
pub fn current() -> io::Result<Vec<Range<usize>>> {
    let maps = crate::maps::read()?;
    let mut excluded = excluded_ranges();
    // The main thread's control block (TCB, static TLS, the rseq area the
    // kernel writes at every preemption) lives in an anonymous mapping of
    // the dynamic loader, not on a stack. An armed page there would make
    // the kernel's rseq update fail, which is fatal: leave that mapping
    // out. Other threads keep theirs at the top of their stack mapping.
    // SAFETY: pthread_self has no preconditions.
    let here = unsafe { libc::pthread_self() } as usize;
    for tp in [MAIN_THREAD_POINTER.load(Ordering::Relaxed), here] {
        if let Some(m) = maps.iter().find(|m| m.start <= tp && tp < m.end) {
            excluded.push(m.start..m.end);
        }
    }
    Ok(select(&maps, &excluded))
}

/// The main thread's thread pointer, noted by the start-up constructor.
static MAIN_THREAD_POINTER: AtomicUsize = AtomicUsize::new(0);

/// Notes the calling thread as the main thread (run from `.init_array`).
pub(crate) fn note_main_thread() {
    // SAFETY: pthread_self has no preconditions.
    let tp = unsafe { libc::pthread_self() } as usize;
    // Relaxed: read later by the monitor, after thread creation (which
    // synchronises).
    MAIN_THREAD_POINTER.store(tp, Ordering::Relaxed);
}

/// Leaves `[addr, addr + len)` out of every monitoring target: for
/// memory mapped outside the Rust allocator that should not be watched
/// (allocowner's side table and stack depot are added this way
/// automatically). Lock-free and free of the Rust allocator, so the
/// allocator may call it. The table grows by blocks of 1024 entries mapped
/// with `mmap` (each block is itself left out); it returns `false`, after
/// saying so once on stderr, only if the OS refuses a new block.
///
/// The table is allocowner's list of its own mappings, which its side
/// table and stack depot fill whether or not the sampler is compiled in.
pub fn exclude_mapping(addr: usize, len: usize) -> bool {
    crate::own_mappings::add(addr, len)
}

/// Undoes [`exclude_mapping`] for the mapping starting at `addr` (when it is
/// unmapped).
pub fn forget_mapping(addr: usize) {
    crate::own_mappings::remove(addr);
}

/// The ranges currently left out through [`exclude_mapping`] (allocowner's
/// own side table and stack depot, when tracking is on, and the exclusion
/// table's own blocks).
pub fn excluded_ranges() -> Vec<Range<usize>> {
    crate::own_mappings::ranges()
}

/// How many blocks of 1024 entries the exclusion table has mapped beyond
/// its first, static one.
#[doc(hidden)]
pub fn exclusion_blocks() -> usize {
    crate::own_mappings::extra_blocks()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /usr/bin/prog
55d0c0200000-55d0c0300000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000101000 ---p 00000000 00:00 0
7f0000101000-7f0000301000 rw-p 00000000 00:00 0
7f0000400000-7f0000500000 r-xp 00000000 08:01 77 /usr/lib/libc.so.6
7f0000500000-7f0000510000 rw-p 00000000 08:01 77 /usr/lib/libc.so.6
7f0000510000-7f0000520000 rw-p 00000000 00:00 0
7f0000600000-7f0000700000 rw-s 00000000 00:01 9 /dev/zero (deleted)
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
";

    #[test]
    fn selects_heap_and_anonymous_rw_without_stacks() {
        let maps = crate::maps::parse(MAPS).unwrap();
        assert_eq!(maps.len(), 10);
        assert_eq!(maps[8].name, "/dev/zero (deleted)");
        let t = select(&maps, &[]);
        assert_eq!(
            t,
            vec![
                0x55d0_c020_0000..0x55d0_c030_0000,
                0x7f00_0000_0000..0x7f00_0010_0000
            ]
        );
    }

    #[test]
    fn excluded_ranges_are_cut_out() {
        let maps = crate::maps::parse(MAPS).unwrap();
        let cut = std::iter::once(0x7f00_0001_0000..0x7f00_0002_0000).collect::<Vec<_>>();
        let t = select(&maps, &cut);
        assert_eq!(
            t,
            vec![
                0x55d0_c020_0000..0x55d0_c030_0000,
                0x7f00_0000_0000..0x7f00_0001_0000,
                0x7f00_0002_0000..0x7f00_0010_0000
            ]
        );
    }

    #[test]
    fn unsorted_and_overlapping_exclusions_are_cut_out() {
        let maps = crate::maps::parse(MAPS).unwrap();
        let cut = [
            0x7f00_0008_0000..0x7f00_0009_0000,
            0x7f00_0001_0000..0x7f00_0002_0000,
            0x7f00_0001_8000..0x7f00_0003_0000,
            0x7f00_0000_0000..0x7f00_0000_1000,
            0x7f00_0009_0000..0x7f00_0020_0000,
            0x1000..0x1000,
        ];
        assert_eq!(
            select(&maps, &cut),
            vec![
                0x55d0_c020_0000..0x55d0_c030_0000,
                0x7f00_0000_1000..0x7f00_0001_0000,
                0x7f00_0003_0000..0x7f00_0008_0000,
            ]
        );
    }

    #[test]
    fn armable_and_still_armed_read_the_protection_now() {
        let maps = crate::maps::parse(MAPS).unwrap();
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        assert_eq!(armable(&maps, 0x55d0_c020_0000), Some(rw), "[heap]");
        assert_eq!(armable(&maps, 0x7f00_0000_0000), Some(rw), "anonymous");
        assert_eq!(armable(&maps, 0x7f00_0050_0000), None, "a file's data");
        assert_eq!(armable(&maps, 0x7f00_0060_0000), None, "shared");
        assert_eq!(armable(&maps, 0x7f00_0010_0000), None, "a guard");
        assert_eq!(armable(&maps, 0x7f00_0000_0000 - 0x1000), None, "unmapped");
        assert!(still_armed(&maps, 0x7f00_0010_0000));
        assert!(!still_armed(&maps, 0x7f00_0000_0000));
        assert!(!still_armed(&maps, 0x7f00_0040_0000));
    }

    #[test]
    fn exclusion_table_round_trip() {
        assert!(exclude_mapping(0x1234_5000, 0x2000));
        assert!(excluded_ranges().contains(&(0x1234_5000..0x1234_7000)));
        forget_mapping(0x1234_5000);
        assert!(!excluded_ranges().contains(&(0x1234_5000..0x1234_7000)));
    }

    #[test]
    fn this_process_has_a_target() {
        let t = current().unwrap();
        assert!(!t.is_empty());
    }
}
