//! Attribution: the recording joined with `OwnerAlloc`'s live allocations,
//! to say which owner stacks hold the hottest and the coldest bytes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::record::Recording;
use crate::snapshot::{Snapshot, StackHandle};

/// The access figures of one owner stack.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnerHeat {
    /// The owner.
    pub stack: StackHandle,
    /// Its return addresses, innermost first.
    pub frames: Vec<usize>,
    /// Live allocations of this owner in the snapshot.
    pub allocations: u64,
    /// Their bytes.
    pub live_bytes: u64,
    /// Bytes in hot regions, averaged over the aggregations looked at.
    pub hot_bytes: u64,
    /// Bytes in regions never found accessed, averaged likewise.
    pub cold_bytes: u64,
    /// Byte-weighted mean `nr_accesses` per aggregation.
    pub mean_accesses: f64,
}

/// The join of a recording and a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    /// Per owner, in no particular order.
    pub owners: Vec<OwnerHeat>,
    /// The aggregations looked at (the last ones of the recording).
    pub aggregations: usize,
    /// The largest possible `nr_accesses` (aggregation / sampling).
    pub max_accesses: u32,
    /// Hot bytes of the recording that no live allocation covers (freed
    /// since, allocator metadata, other mappings), averaged.
    pub unowned_hot_bytes: u64,
}

/// Joins the last `last` aggregations of `rec` with the live allocations
/// of `snap`. A byte is hot in an aggregation when its region was found
/// accessed in at least half the sampling intervals, cold when never.
pub fn attribute(rec: &Recording, snap: &Snapshot, last: usize) -> Attribution {
    let n = rec.aggregations.len();
    let k = last.clamp(1, n.max(1)).min(n);
    let aggs = &rec.aggregations[n - k..];
    let max_accesses = rec.intervals.map_or_else(
        || {
            aggs.iter()
                .flat_map(|a| a.regions.iter().map(|r| r.nr_accesses))
                .max()
                .unwrap_or(1)
                .max(1)
        },
        |iv| (iv.aggr.as_nanos() / iv.sample.as_nanos().max(1)).max(1) as u32,
    );
    let mut allocs: Vec<(u64, u64, StackHandle)> = snap
        .allocations
        .iter()
        .map(|a| (a.addr as u64, (a.addr + a.size) as u64, a.stack))
        .collect();
    allocs.sort_unstable_by_key(|a| a.0);
    // Per allocation sums over the aggregations: weighted accesses, hot,
    // cold.
    let mut heat = vec![(0f64, 0u64, 0u64); allocs.len()];
    let mut hot_total = 0u64;
    let mut owned_hot_total = 0u64;
    for a in aggs {
        let mut regions: Vec<_> = a.regions.iter().collect();
        regions.sort_unstable_by_key(|r| r.start);
        let mut j = 0;
        for r in regions {
            let hot = 2 * r.nr_accesses >= max_accesses;
            if hot {
                hot_total += r.end - r.start;
            }
            while j < allocs.len() && allocs[j].1 <= r.start {
                j += 1;
            }
            let mut i = j;
            while i < allocs.len() && allocs[i].0 < r.end {
                let ov = allocs[i]
                    .1
                    .min(r.end)
                    .saturating_sub(allocs[i].0.max(r.start));
                heat[i].0 += ov as f64 * f64::from(r.nr_accesses);
                if hot {
                    heat[i].1 += ov;
                    owned_hot_total += ov;
                }
                if r.nr_accesses == 0 {
                    heat[i].2 += ov;
                }
                i += 1;
            }
        }
    }
    let mut by: HashMap<StackHandle, OwnerHeat> = HashMap::new();
    for (a, h) in allocs.iter().zip(&heat) {
        let o = by.entry(a.2).or_insert_with(|| OwnerHeat {
            stack: a.2,
            frames: snap
                .stacks
                .get(&a.2)
                .map(|s| s.frames.clone())
                .unwrap_or_default(),
            allocations: 0,
            live_bytes: 0,
            hot_bytes: 0,
            cold_bytes: 0,
            mean_accesses: 0.0,
        });
        o.allocations += 1;
        o.live_bytes += a.1 - a.0;
        o.hot_bytes += h.1;
        o.cold_bytes += h.2;
        o.mean_accesses += h.0;
    }
    let k64 = k.max(1) as u64;
    let owners = by
        .into_values()
        .map(|mut o| {
            o.hot_bytes /= k64;
            o.cold_bytes /= k64;
            o.mean_accesses /= (k64 * o.live_bytes.max(1)) as f64;
            o
        })
        .collect();
    Attribution {
        owners,
        aggregations: k,
        max_accesses,
        unowned_hot_bytes: hot_total.saturating_sub(owned_hot_total) / k64,
    }
}

impl Attribution {
    /// Owners by hot bytes, most first (ties: higher mean accesses).
    pub fn hottest(&self, n: usize) -> Vec<&OwnerHeat> {
        let mut v: Vec<&OwnerHeat> = self.owners.iter().filter(|o| o.hot_bytes > 0).collect();
        v.sort_by(|a, b| {
            b.hot_bytes
                .cmp(&a.hot_bytes)
                .then(b.mean_accesses.total_cmp(&a.mean_accesses))
        });
        v.truncate(n);
        v
    }

    /// Owners by cold bytes, most first.
    pub fn coldest(&self, n: usize) -> Vec<&OwnerHeat> {
        let mut v: Vec<&OwnerHeat> = self.owners.iter().filter(|o| o.cold_bytes > 0).collect();
        v.sort_by(|a, b| {
            b.cold_bytes
                .cmp(&a.cold_bytes)
                .then(a.mean_accesses.total_cmp(&b.mean_accesses))
        });
        v.truncate(n);
        v
    }

    /// Writes the report: the `n` hottest and `n` coldest owners with their
    /// stacks, symbolized now.
    pub fn write_report(&self, n: usize, out: &mut dyn Write) -> io::Result<()> {
        let text = crate::guard::inside(|| self.report(n));
        out.write_all(text.as_bytes())
    }

    fn report(&self, n: usize) -> String {
        let mut s = String::new();
        let mut symbolizer = crate::report::Symbolizer::new();
        let _ = writeln!(
            s,
            "allocowner::access: owners of hot and cold bytes over the last {} aggregations\n\
             (hot: found accessed in at least half of the {} samples of an aggregation; cold: never)",
            self.aggregations, self.max_accesses
        );
        let _ = writeln!(
            s,
            "hot bytes owned by no live allocation: {}\n",
            self.unowned_hot_bytes
        );
        for (title, list, hot) in [
            ("hottest owners", self.hottest(n), true),
            ("coldest owners", self.coldest(n), false),
        ] {
            let _ = writeln!(s, "== {title} ==");
            for o in list {
                let _ = writeln!(
                    s,
                    "{} {} bytes of {} live in {} allocations (mean {:.1}/{} samples), handle {}{}:",
                    if hot { o.hot_bytes } else { o.cold_bytes },
                    if hot { "hot" } else { "cold" },
                    o.live_bytes,
                    o.allocations,
                    o.mean_accesses,
                    self.max_accesses,
                    o.stack.raw(),
                    special(o.stack)
                );
                // The same symbolizing and trimming as the heap reports:
                // the first frame is the user's, the runtime's start is cut.
                for frame in crate::report::trim(symbolizer.stack(&o.frames)) {
                    let _ = writeln!(s, "    {}", frame_text(&frame));
                }
            }
            s.push('\n');
        }
        s
    }
}

fn special(h: StackHandle) -> &'static str {
    match h {
        StackHandle::DUMMY => " (allocowner itself)",
        StackHandle::FAILURE => " (stack not stored: depot full)",
        StackHandle::EARLY => " (allocated before tracking)",
        StackHandle::UNSAMPLED => " (not sampled)",
        _ => "",
    }
}

/// `function (file:line)`, as much of it as is known.
fn frame_text(f: &crate::report::Frame) -> String {
    match (&f.function, &f.file, f.line) {
        (Some(func), Some(file), Some(line)) => format!("{func} ({file}:{line})"),
        (Some(func), _, _) => func.clone(),
        _ => format!("{:#x}", f.addr),
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{Aggregation, Format, RecordedRegion};
    use super::*;
    use crate::snapshot::{Allocation, CaptureMode, Stack};

    #[test]
    fn joins_regions_with_allocations() {
        let reg = |s, e, n| RecordedRegion {
            start: s,
            end: e,
            nr_accesses: n,
            age: None,
        };
        let rec = Recording {
            format: Format::V2,
            intervals: None,
            aggregations: vec![
                Aggregation {
                    end_ns: 1,
                    start_ns: None,
                    target_id: 1,
                    regions: vec![
                        reg(0, 0x1000, 20),
                        reg(0x1000, 0x4000, 0),
                        reg(0x4000, 0x5000, 20),
                    ],
                },
                Aggregation {
                    end_ns: 2,
                    start_ns: None,
                    target_id: 1,
                    regions: vec![reg(0, 0x2000, 20), reg(0x2000, 0x5000, 0)],
                },
            ],
        };
        let alloc = |addr, size, h| Allocation {
            addr,
            size,
            align: 8,
            stack: StackHandle(h),
            thread: None,
            timestamp_ns: None,
        };
        let stack = |h, f: usize| {
            (
                StackHandle(h),
                Stack {
                    handle: StackHandle(h),
                    frames: vec![f],
                    live_count: 1,
                    live_bytes: 0,
                },
            )
        };
        let snap = Snapshot {
            mode: CaptureMode::FramePointers,
            allocations: vec![
                alloc(0x0, 0x1000, 1),
                alloc(0x1000, 0x2000, 2),
                alloc(0x3000, 0x1000, 2),
            ],
            stacks: [stack(1, 0x10), stack(2, 0x20)].into_iter().collect(),
            early_bytes: 0,
            own_mapped_bytes: 0,
            sample_bytes: None,
        };
        let a = attribute(&rec, &snap, 2);
        assert_eq!(a.max_accesses, 20);
        let hot = a.hottest(5);
        assert_eq!(hot[0].stack, StackHandle(1));
        assert_eq!(hot[0].hot_bytes, 0x1000);
        assert!((hot[0].mean_accesses - 20.0).abs() < 1e-9);
        // owner 2: [0x1000,0x3000) + [0x3000,0x4000); hot 0x1000 in agg 2 only
        let cold = a.coldest(5);
        assert_eq!(cold[0].stack, StackHandle(2));
        assert_eq!(cold[0].live_bytes, 0x3000);
        assert_eq!(cold[0].cold_bytes, 0x2800);
        assert_eq!(cold[0].hot_bytes, 0x1000 / 2);
        // [0x4000,0x5000) hot in agg 1, owned by nobody
        assert_eq!(a.unowned_hot_bytes, 0x1000 / 2);
        let mut out = Vec::new();
        a.write_report(3, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("== hottest owners ==\n4096 hot bytes of 4096 live in 1 allocations"),
            "{text}"
        );
    }
}
