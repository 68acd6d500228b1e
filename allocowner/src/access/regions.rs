//! DAMON's adaptive regions for a virtual address space: the "three regions"
//! initialisation, the even split to the minimum count, the refit at every
//! update interval, and merge, split and age at every aggregation interval
//! (after `mm/damon/core.c` and `mm/damon/vaddr.c`).

use std::ops::Range;

/// The smallest region and the alignment of every bound: one page, as
/// `DAMON_MIN_REGION`.
pub const MIN_REGION: usize = 4096;

/// One region: adjacent pages assumed to share one access frequency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    /// First address (page aligned).
    pub start: usize,
    /// One past the last address (page aligned).
    pub end: usize,
    /// Sampling intervals of the current aggregation in which the sampled
    /// page was found accessed.
    pub nr_accesses: u32,
    /// `nr_accesses` of the previous aggregation.
    pub last_nr_accesses: u32,
    /// Aggregation intervals since the access frequency last changed.
    pub age: u32,
    /// The page sampled in the current sampling interval.
    pub sampling_addr: usize,
}

impl Region {
    /// A fresh region over `[start, end)`.
    pub fn new(start: usize, end: usize) -> Region {
        Region {
            start,
            end,
            nr_accesses: 0,
            last_nr_accesses: 0,
            age: 0,
            sampling_addr: start,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.end - self.start
    }
}

/// A small, seedable random number generator (xorshift64*): DAMON's
/// `damon_rand` needs no more, and tests need determinism.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `[lo, hi)`, as `damon_rand(lo, hi)`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }
}

const fn align_down(x: usize) -> usize {
    x & !(MIN_REGION - 1)
}

const fn align_up(x: usize) -> usize {
    (x + MIN_REGION - 1) & !(MIN_REGION - 1)
}

/// DAMON's "three regions" of a virtual address space: the span of the
/// mappings cut at the two biggest gaps between consecutive mappings. With
/// fewer than two gaps, the mappings' spans are returned as they are (one or
/// two ranges). `mappings` need not be sorted.
pub(crate) fn three_regions(mappings: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut m: Vec<Range<usize>> = mappings
        .iter()
        .filter(|r| r.start < r.end)
        .cloned()
        .collect();
    m.sort_by_key(|r| r.start);
    if m.is_empty() {
        return Vec::new();
    }
    // The two biggest gaps, as (start, end).
    let mut first: Option<Range<usize>> = None;
    let mut second: Option<Range<usize>> = None;
    let mut prev_end = m[0].end;
    for r in &m[1..] {
        if r.start > prev_end {
            let gap = prev_end..r.start;
            let len = gap.end - gap.start;
            if first.as_ref().is_none_or(|f| len > f.end - f.start) {
                second = first.take();
                first = Some(gap);
            } else if second.as_ref().is_none_or(|s| len > s.end - s.start) {
                second = Some(gap);
            }
        }
        prev_end = prev_end.max(r.end);
    }
    let lo = align_down(m[0].start);
    let hi = align_up(prev_end);
    let mut gaps: Vec<Range<usize>> = [first, second].into_iter().flatten().collect();
    gaps.sort_by_key(|g| g.start);
    let mut out = Vec::new();
    let mut cur = lo;
    for g in gaps {
        out.push(cur..align_up(g.start));
        cur = align_down(g.end);
    }
    out.push(cur..hi);
    out
}

/// Splits `[start, end)` into `nr` pieces of equal page-aligned size, the
/// last one taking the rest, as `damon_va_evenly_split_region`.
pub(crate) fn evenly_split(start: usize, end: usize, nr: usize) -> Vec<Region> {
    let sz = align_down((end - start) / nr.max(1));
    if nr <= 1 || sz == 0 {
        return vec![Region::new(start, end)];
    }
    let mut out = Vec::with_capacity(nr);
    let mut s = start;
    while s + sz < end && out.len() + 1 < nr {
        out.push(Region::new(s, s + sz));
        s += sz;
    }
    out.push(Region::new(s, end));
    out
}

/// The initial regions: the three regions, each split evenly so the total
/// reaches `min_nr_regions`, as `__damon_va_init_regions`.
pub(crate) fn init_regions(three: &[Range<usize>], min_nr_regions: usize) -> Vec<Region> {
    let total: usize = three.iter().map(|r| r.end - r.start).sum();
    let sz = align_down(total / min_nr_regions.max(1)).max(MIN_REGION);
    let mut out = Vec::new();
    for r in three {
        let nr = ((r.end - r.start) / sz).max(1);
        out.extend(evenly_split(r.start, r.end, nr));
    }
    out
}

/// Fits the regions to new ranges, as `damon_set_regions`: regions outside
/// every range go, the first and last regions inside a range are stretched to
/// its bounds, holes between regions inside a range are filled with new
/// regions, and a range with no region gets one.
pub(crate) fn apply_ranges(regions: &mut Vec<Region>, ranges: &[Range<usize>]) {
    let inside = |r: &Region| ranges.iter().any(|x| r.start < x.end && x.start < r.end);
    regions.retain(inside);
    let mut out: Vec<Region> = Vec::with_capacity(regions.len() + ranges.len());
    let mut sorted: Vec<Range<usize>> = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    let old = std::mem::take(regions);
    let mut rest = old.into_iter().peekable();
    for x in sorted {
        let start = align_down(x.start);
        let end = align_up(x.end);
        // Regions before this range that intersect no later range cannot
        // exist (they were retained only if they intersect some range and
        // ranges are sorted), but one may straddle two ranges: it then goes
        // to the first.
        let mut mine: Vec<Region> = Vec::new();
        while let Some(r) = rest.peek() {
            if r.start < x.end {
                mine.push(rest.next().expect("peeked"));
            } else {
                break;
            }
        }
        if mine.is_empty() {
            out.push(Region::new(start, end));
            continue;
        }
        mine[0].start = start;
        let last = mine.len() - 1;
        mine[last].end = end;
        for (i, r) in mine.iter().enumerate() {
            if i > 0 {
                let prev_end = out.last().map_or(start, |p: &Region| p.end);
                if r.start > prev_end {
                    out.push(Region::new(prev_end, r.start));
                }
            }
            let mut r = *r;
            if let Some(p) = out.last()
                && r.start < p.end
            {
                r.start = p.end;
            }
            if r.start < r.end {
                out.push(r);
            }
        }
    }
    *regions = out;
}

/// `damon_region_sz_limit`: the largest size a merge may produce.
pub(crate) fn sz_limit(regions: &[Region], min_nr_regions: usize) -> usize {
    let total: usize = regions.iter().map(Region::size).sum();
    (total / min_nr_regions.max(1)).max(MIN_REGION)
}

/// One merge pass with `threshold`, updating ages, as
/// `damon_merge_regions_of`. The merged region's `nr_accesses` and `age` are
/// size-weighted averages.
fn merge_pass(regions: &mut Vec<Region>, threshold: u32, sz_limit: usize, update_age: bool) {
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for mut r in regions.drain(..) {
        if update_age {
            let changed = r.nr_accesses.abs_diff(r.last_nr_accesses) > threshold
                || ((r.nr_accesses == 0) != (r.last_nr_accesses == 0));
            if changed {
                r.age = 0;
            } else {
                r.age = r.age.saturating_add(1);
            }
        }
        if let Some(l) = out.last_mut()
            && l.end == r.start
            && l.nr_accesses.abs_diff(r.nr_accesses) <= threshold
            && l.size() + r.size() <= sz_limit
        {
            let (ls, rs) = (l.size() as u128, r.size() as u128);
            let tot = ls + rs;
            l.nr_accesses =
                ((u128::from(l.nr_accesses) * ls + u128::from(r.nr_accesses) * rs) / tot) as u32;
            l.last_nr_accesses = ((u128::from(l.last_nr_accesses) * ls
                + u128::from(r.last_nr_accesses) * rs)
                / tot) as u32;
            l.age = ((u128::from(l.age) * ls + u128::from(r.age) * rs) / tot) as u32;
            l.end = r.end;
            continue;
        }
        out.push(r);
    }
    *regions = out;
}

/// `kdamond_merge_regions`: merge with `threshold` (DAMON passes a tenth of
/// the largest `nr_accesses`), repeating with a doubled threshold while there
/// are more than `max_nr_regions` regions and the threshold stays below
/// `max_threshold` (aggregation / sampling). Ages are updated on the first
/// pass only.
pub(crate) fn merge(
    regions: &mut Vec<Region>,
    threshold: u32,
    sz_limit: usize,
    max_nr_regions: usize,
    max_threshold: u32,
) {
    let mut thres = threshold;
    let mut first = true;
    loop {
        merge_pass(regions, thres, sz_limit, first);
        first = false;
        let below = thres < max_threshold;
        thres = (thres * 2).max(1);
        if regions.len() <= max_nr_regions || !below {
            break;
        }
    }
}

/// `kdamond_reset_aggregated`: remember and clear the counts.
pub(crate) fn reset_aggregated(regions: &mut [Region]) {
    for r in regions {
        r.last_nr_accesses = r.nr_accesses;
        r.nr_accesses = 0;
    }
}

/// `damon_split_regions_of`: split each region into `nr_subs` pieces, each
/// cut at a random point between 10% and 90% of what remains, page aligned.
fn split_regions_of(regions: &mut Vec<Region>, nr_subs: usize, rng: &mut Rng) {
    let mut out = Vec::with_capacity(regions.len() * nr_subs);
    let mut rights: Vec<Region> = Vec::with_capacity(nr_subs);
    for mut r in regions.drain(..) {
        let mut sz = r.size();
        let mut i = 0;
        while i + 1 < nr_subs && sz > 2 * MIN_REGION {
            i += 1;
            let sub = align_down(rng.range(1, 10) * sz / 10);
            if sub == 0 || sub >= sz {
                continue;
            }
            // damon_split_region_at: the right piece is new, the left one
            // (`r`) is cut again, as DAMON does.
            let mut right = r;
            right.start = r.start + sub;
            r.end = right.start;
            rights.push(right);
            sz = sub;
        }
        out.push(r);
        out.extend(rights.drain(..).rev());
    }
    *regions = out;
}

/// `kdamond_split_regions`: while at most half the maximum number of regions
/// exist, split each in two, or in three when the count did not change since
/// the last split and stays below a third of the maximum. Returns the count
/// to pass as `last_nr_regions` next time.
pub(crate) fn split(
    regions: &mut Vec<Region>,
    max_nr_regions: usize,
    last_nr_regions: usize,
    rng: &mut Rng,
) -> usize {
    let nr = regions.len();
    if nr > max_nr_regions / 2 {
        return last_nr_regions;
    }
    let subs = if last_nr_regions == nr && nr < max_nr_regions / 3 {
        3
    } else {
        2
    };
    split_regions_of(regions, subs, rng);
    nr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_regions_as_damon_kunit() {
        // damon_test_three_regions_in_vmas: 10-20-25, 200-210-220, 300-305, 307-330
        let p = MIN_REGION;
        let m = [
            10 * p..20 * p,
            20 * p..25 * p,
            200 * p..210 * p,
            210 * p..220 * p,
            300 * p..305 * p,
            307 * p..330 * p,
        ];
        assert_eq!(
            three_regions(&m),
            vec![10 * p..25 * p, 200 * p..220 * p, 300 * p..330 * p]
        );
        let single = std::iter::once(p..2 * p).collect::<Vec<_>>();
        assert_eq!(three_regions(&single), single);
        assert!(three_regions(&[]).is_empty());
    }

    #[test]
    fn init_splits_evenly_to_the_minimum() {
        let p = MIN_REGION;
        let regs = init_regions(&[0..100 * p, 1000 * p..1100 * p], 10);
        assert_eq!(regs.len(), 10);
        assert!(regs.iter().all(|r| r.size() == 20 * p));
        assert_eq!(regs[5].start, 1000 * p);
        // evenly split: last takes the rest
        let e = evenly_split(0, 10 * p + 100, 3);
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].end, 10 * p + 100);
        assert_eq!(e[0].size(), 3 * p);
    }

    fn regs(v: &[(usize, usize, u32)]) -> Vec<Region> {
        v.iter()
            .map(|&(s, e, n)| {
                let mut r = Region::new(s * MIN_REGION, e * MIN_REGION);
                r.nr_accesses = n;
                r
            })
            .collect()
    }

    #[test]
    fn apply_ranges_as_damon_kunit() {
        // damon_test_apply_three_regions1: 10-20-30, 50-55-57-59, 70-80-90-100
        // regions 5-27, 45-55, 73-104 => 5-20-27, 45-55, 73-80-90-104
        let p = MIN_REGION;
        let mut r = regs(&[
            (10, 20, 0),
            (20, 30, 0),
            (50, 55, 0),
            (55, 57, 0),
            (57, 59, 0),
            (70, 80, 0),
            (80, 90, 0),
            (90, 100, 0),
        ]);
        apply_ranges(&mut r, &[5 * p..27 * p, 45 * p..55 * p, 73 * p..104 * p]);
        let got: Vec<(usize, usize)> = r.iter().map(|r| (r.start / p, r.end / p)).collect();
        assert_eq!(
            got,
            vec![(5, 20), (20, 27), (45, 55), (73, 80), (80, 90), (90, 104)]
        );
        // A range with no region gets one; holes are filled.
        let mut r = regs(&[(10, 20, 0), (30, 40, 0)]);
        apply_ranges(&mut r, &[10 * p..40 * p, 100 * p..110 * p]);
        let got: Vec<(usize, usize)> = r.iter().map(|r| (r.start / p, r.end / p)).collect();
        assert_eq!(got, vec![(10, 20), (20, 30), (30, 40), (100, 110)]);
    }

    #[test]
    fn merge_weights_and_respects_threshold_and_limit() {
        let p = MIN_REGION;
        let mut r = regs(&[(0, 10, 10), (10, 30, 13), (30, 40, 20), (40, 50, 19)]);
        merge(&mut r, 3, 100 * p, 1000, 20);
        let got: Vec<(usize, usize, u32)> = r
            .iter()
            .map(|r| (r.start / p, r.end / p, r.nr_accesses))
            .collect();
        // (10*10 + 13*20)/30 = 12; (20*10+19*10)/20 = 19
        assert_eq!(got, vec![(0, 30, 12), (30, 50, 19)]);
        let mut r = regs(&[(0, 10, 1), (10, 20, 1)]);
        merge(&mut r, 0, 15 * p, 1000, 20);
        assert_eq!(r.len(), 2, "size limit respected");
    }

    #[test]
    fn merge_repeats_above_the_maximum() {
        let mut r = regs(&[(0, 1, 0), (1, 2, 5), (2, 3, 10), (3, 4, 15)]);
        merge(&mut r, 1, usize::MAX, 2, 20);
        assert!(r.len() <= 2, "{r:?}");
    }

    #[test]
    fn age_counts_stable_aggregations() {
        let mut r = regs(&[(0, 10, 5)]);
        r[0].last_nr_accesses = 5;
        r[0].age = 3;
        merge(&mut r, 1, usize::MAX, 1000, 20);
        assert_eq!(r[0].age, 4);
        r[0].last_nr_accesses = 0;
        merge(&mut r, 1, usize::MAX, 1000, 20);
        assert_eq!(r[0].age, 0, "zero to non-zero resets age");
    }

    #[test]
    fn split_keeps_coverage_and_alignment() {
        let p = MIN_REGION;
        let mut r = regs(&[(0, 100, 3), (200, 300, 4)]);
        let mut rng = Rng::new(7);
        let last = split(&mut r, 1000, 0, &mut rng);
        assert_eq!(last, 2);
        assert_eq!(r.len(), 4);
        let last = split(&mut r, 1000, 4, &mut rng);
        assert_eq!(last, 4);
        assert_eq!(r.len(), 12, "three pieces when the count did not change");
        let covered: usize = r.iter().map(Region::size).sum();
        assert_eq!(covered, 200 * p);
        for w in r.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        assert!(
            r.iter()
                .all(|x| x.start % p == 0 && x.end % p == 0 && x.size() > 0)
        );
        assert!(
            r.iter()
                .filter(|x| x.start < 100 * p)
                .all(|x| x.nr_accesses == 3)
        );
        // No split above half the maximum.
        let before = r.len();
        split(&mut r, 20, 0, &mut rng);
        assert_eq!(r.len(), before);
    }
}
