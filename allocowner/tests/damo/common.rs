//! The known workload of the access tests (256 MiB of heap, 16 MiB of it
//! accessed continuously, the rest touched once) and the accuracy figures
//! computed from a recording.

#![allow(dead_code, unreachable_pub)]

use std::ops::Range;

use allocowner::access::{Attrs, Mode, Monitor, Recording};

pub const HEAP: usize = 256 << 20;
pub const HOT: usize = 16 << 20;
/// Where the hot set starts inside the heap buffer: deliberately not on a
/// round boundary.
pub const HOT_OFFSET: usize = (97 << 20) + 5 * 4096;
pub const PAGE: usize = 4096;

pub struct Workload {
    buf: Vec<u8>,
}

impl Workload {
    /// Allocates the heap and touches every page once.
    pub fn new() -> Workload {
        let mut buf = vec![0u8; HEAP];
        for i in (0..HEAP).step_by(PAGE) {
            buf[i] = 1;
        }
        Workload { buf }
    }

    pub fn heap(&self) -> Range<usize> {
        let s = self.buf.as_ptr() as usize;
        s..s + HEAP
    }

    pub fn hot(&self) -> Range<usize> {
        let s = self.buf.as_ptr() as usize + HOT_OFFSET;
        s..s + HOT
    }

    /// Writes one byte in every page of the hot set.
    pub fn write_hot(&mut self, round: u8) {
        let p = self.buf.as_mut_ptr();
        for i in (HOT_OFFSET..HOT_OFFSET + HOT).step_by(PAGE) {
            // SAFETY: `i` is inside the buffer.
            unsafe { std::ptr::write_volatile(p.add(i), round) };
        }
    }

    /// Reads one byte in every page of the hot set.
    pub fn read_hot(&self) -> u64 {
        let p = self.buf.as_ptr();
        let mut sum = 0u64;
        for i in (HOT_OFFSET..HOT_OFFSET + HOT).step_by(PAGE) {
            // SAFETY: `i` is inside the buffer.
            sum += u64::from(unsafe { std::ptr::read_volatile(p.add(i)) });
        }
        sum
    }
}

/// Runs `aggregations` aggregation intervals of the monitor in manual mode
/// (DAMON's default attributes), accessing the hot set before every
/// sampling interval, and records to `path`.
pub fn record(
    w: &mut Workload,
    mode: Mode,
    seed: u64,
    path: &str,
    aggregations: u64,
    read_only: bool,
) -> Monitor {
    let mut m = Monitor::with_mode(Attrs::default(), mode).unwrap();
    m.seed(seed);
    m.set_recording(&format!("1048576 {path}")).unwrap();
    m.tick().unwrap();
    let mut done = 0;
    let mut round = 0u8;
    while done < aggregations {
        round = round.wrapping_add(1);
        if read_only {
            std::hint::black_box(w.read_hot());
        } else {
            w.write_hot(round);
        }
        if m.tick().unwrap() {
            done += 1;
        }
    }
    m
}

fn overlap(a: &Range<u64>, b: &Range<u64>) -> u64 {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

/// What a recording says about the workload, over its last `last`
/// aggregations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accuracy {
    /// Hot bytes inside regions classified hot, over the hot bytes.
    pub recall: f64,
    /// Hot bytes among the bytes of the heap classified hot.
    pub precision: f64,
    /// Cold bytes of the heap in regions with any access, over the cold bytes.
    pub cold_accessed: f64,
    /// Distance in pages between the hot set's bounds and those of the hot
    /// regions covering it (the worse of the two ends), median over the
    /// aggregations looked at.
    pub bound_error_pages: u64,
}

/// A region is hot when found accessed in at least half the sampling
/// intervals of its aggregation.
pub fn accuracy(
    rec: &Recording,
    heap: Range<usize>,
    hot: Range<usize>,
    last: usize,
    max_nr: u32,
) -> Accuracy {
    let heap = heap.start as u64..heap.end as u64;
    let hot = hot.start as u64..hot.end as u64;
    let n = rec.aggregations.len();
    assert!(n >= last, "only {n} aggregations");
    let mut acc = Accuracy::default();
    for a in &rec.aggregations[n - last..] {
        let (mut hot_in_hot, mut heap_in_hot, mut cold_accessed) = (0u64, 0u64, 0u64);
        for r in &a.regions {
            let rr = r.start..r.end;
            let in_heap = overlap(&rr, &heap);
            let in_hot = overlap(&rr, &hot);
            if 2 * r.nr_accesses >= max_nr {
                hot_in_hot += in_hot;
                heap_in_hot += in_heap;
            }
            if r.nr_accesses > 0 {
                cold_accessed += in_heap - in_hot;
            }
        }
        acc.recall += hot_in_hot as f64 / HOT as f64;
        acc.precision += if heap_in_hot == 0 {
            0.0
        } else {
            hot_in_hot as f64 / heap_in_hot as f64
        };
        acc.cold_accessed += cold_accessed as f64 / (HEAP - HOT) as f64;
    }
    acc.recall /= last as f64;
    acc.precision /= last as f64;
    acc.cold_accessed /= last as f64;
    // Bounds: per aggregation, the union of the hot regions touching the
    // hot set; the median error over the last aggregations.
    let mut errs: Vec<u64> = rec.aggregations[n - last..]
        .iter()
        .map(|a| {
            let hr: Vec<Range<u64>> = a
                .regions
                .iter()
                .filter(|r| 2 * r.nr_accesses >= max_nr && overlap(&(r.start..r.end), &hot) > 0)
                .map(|r| r.start..r.end)
                .collect();
            match (hr.first(), hr.last()) {
                (Some(f), Some(l)) => {
                    (f.start.abs_diff(hot.start).max(l.end.abs_diff(hot.end))) / PAGE as u64
                }
                _ => u64::MAX,
            }
        })
        .collect();
    errs.sort_unstable();
    acc.bound_error_pages = errs[errs.len() / 2];
    acc
}
