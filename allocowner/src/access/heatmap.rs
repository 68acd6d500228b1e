//! A heatmap of a recording as SVG: time across, address down, colour for
//! access frequency (black: never accessed, through red and yellow, to
//! white: accessed in every sampling interval).
//!
//! The address axis shows only the address ranges some region covered: the
//! gaps between them (terabytes between the heap and the mmap area) are cut
//! out and each cut is drawn as a thin blue line, labelled with its address.

use std::fmt::Write as _;

use super::record::Recording;

/// Size and resolution of a heatmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeatmapOptions {
    /// Time bins (columns); at most one per aggregation.
    pub columns: usize,
    /// Address bins (rows).
    pub rows: usize,
    /// Pixels per cell, across and down.
    pub cell: (usize, usize),
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            columns: 200,
            rows: 150,
            cell: (4, 4),
        }
    }
}

/// The address space of a recording with its gaps cut out: sorted,
/// disjoint spans and their offsets on the axis.
struct Axis {
    spans: Vec<(u64, u64, u64)>, // start, end, offset
    total: u64,
}

impl Axis {
    fn new(rec: &Recording) -> Axis {
        let mut iv: Vec<(u64, u64)> = rec
            .aggregations
            .iter()
            .flat_map(|a| a.regions.iter().map(|r| (r.start, r.end)))
            .filter(|(s, e)| e > s)
            .collect();
        iv.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in iv {
            match merged.last_mut() {
                Some(l) if s <= l.1 => l.1 = l.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut total = 0;
        let spans = merged
            .into_iter()
            .map(|(s, e)| {
                let off = total;
                total += e - s;
                (s, e, off)
            })
            .collect();
        Axis { spans, total }
    }

    /// Axis position of `addr` (which lies in a span).
    fn pos(&self, addr: u64) -> u64 {
        let i = self.spans.partition_point(|s| s.1 <= addr);
        self.spans
            .get(i)
            .map_or(self.total, |&(s, _, off)| off + addr.saturating_sub(s))
    }
}

/// Access frequency per cell, row-major (`rows` × `columns`), in
/// `nr_accesses` per aggregation (size- and time-weighted means).
pub fn heat_matrix(rec: &Recording, opts: &HeatmapOptions) -> Vec<Vec<f64>> {
    let axis = Axis::new(rec);
    let n = rec.aggregations.len();
    let cols = opts.columns.min(n).max(1);
    let rows = opts.rows.max(1);
    let mut sum = vec![vec![0f64; cols]; rows];
    let mut weight = vec![vec![0f64; cols]; rows];
    if axis.total == 0 {
        return sum;
    }
    let row_len = axis.total as f64 / rows as f64;
    for (k, a) in rec.aggregations.iter().enumerate() {
        let c = k * cols / n.max(1);
        for r in &a.regions {
            if r.end <= r.start {
                continue;
            }
            let p0 = axis.pos(r.start) as f64;
            let p1 = p0 + (r.end - r.start) as f64;
            let first = (p0 / row_len) as usize;
            let last = ((p1 / row_len).ceil() as usize).min(rows);
            for (row, (srow, wrow)) in sum
                .iter_mut()
                .zip(weight.iter_mut())
                .enumerate()
                .take(last)
                .skip(first)
            {
                let lo = p0.max(row as f64 * row_len);
                let hi = p1.min((row + 1) as f64 * row_len);
                if hi > lo {
                    srow[c] += f64::from(r.nr_accesses) * (hi - lo);
                    wrow[c] += hi - lo;
                }
            }
        }
    }
    for (srow, wrow) in sum.iter_mut().zip(&weight) {
        for (s, w) in srow.iter_mut().zip(wrow) {
            if *w > 0.0 {
                *s /= w;
            }
        }
    }
    sum
}

/// Black → red → yellow → white for `t` in 0..=1.
fn colour(t: f64) -> (u8, u8, u8) {
    let t = t.clamp(0.0, 1.0) * 3.0;
    let c = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    (c(t), c(t - 1.0), c(t - 2.0))
}

/// Renders `rec` as an SVG document.
pub fn heatmap_svg(rec: &Recording, opts: &HeatmapOptions) -> String {
    let matrix = heat_matrix(rec, opts);
    let rows = matrix.len();
    let cols = matrix.first().map_or(0, Vec::len);
    let max = rec.intervals.map_or_else(
        || {
            rec.aggregations
                .iter()
                .flat_map(|a| a.regions.iter().map(|r| f64::from(r.nr_accesses)))
                .fold(1.0, f64::max)
        },
        |iv| (iv.aggr.as_nanos() / iv.sample.as_nanos().max(1)) as f64,
    );
    // Stretch narrow recordings to a readable width.
    let cw = opts.cell.0.max(480 / cols.max(1));
    let ch = opts.cell.1;
    let (left, top) = (130, 40);
    let (width, height) = ((left + cols * cw + 20).max(720), top + rows * ch + 60);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    let (t0, t1) = match (rec.aggregations.first(), rec.aggregations.last()) {
        (Some(f), Some(l)) => (f.start_ns.unwrap_or(f.end_ns), l.end_ns),
        _ => (0, 0),
    };
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"16\">access heatmap: {} aggregations over {:.3} s, colour = accesses per aggregation (0..{max})</text>",
        rec.aggregations.len(),
        (t1.saturating_sub(t0)) as f64 / 1e9
    );
    for (r, row) in matrix.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (cr, cg, cb) = colour(v / max);
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{cw}\" height=\"{ch}\" fill=\"#{cr:02x}{cg:02x}{cb:02x}\"/>",
                left + c * cw,
                top + r * ch
            );
        }
    }
    // Cuts between address spans, labelled.
    let axis = Axis::new(rec);
    if axis.total > 0 {
        let mut last_label = f64::MIN;
        for &(start, _, off) in &axis.spans {
            let y = top as f64 + off as f64 / axis.total as f64 * (rows * ch) as f64;
            if y - last_label < 12.0 {
                // Too close to the previous label to print: the line only.
                let _ = writeln!(
                    s,
                    "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"blue\" stroke-width=\"0.5\"/>",
                    left - 4,
                    left + cols * cw
                );
                continue;
            }
            last_label = y;
            let _ = writeln!(
                s,
                "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"blue\" stroke-width=\"0.5\"/><text x=\"2\" y=\"{:.1}\">{start:#x}</text>",
                left - 4,
                left + cols * cw,
                y + 4.0
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\">time → ({} columns; address ↓, {} rows, gaps cut)</text>",
        top + rows * ch + 20,
        cols,
        rows
    );
    for i in 0..=10 {
        let (cr, cg, cb) = colour(i as f64 / 10.0);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"20\" height=\"10\" fill=\"#{cr:02x}{cg:02x}{cb:02x}\" stroke=\"gray\" stroke-width=\"0.3\"/>",
            left + i * 22,
            top + rows * ch + 32
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::record::{Aggregation, Format, RecordedRegion};
    use super::*;

    fn rec() -> Recording {
        let reg = |s, e, n| RecordedRegion {
            start: s,
            end: e,
            nr_accesses: n,
            age: None,
        };
        let aggregations = (0..10)
            .map(|k| Aggregation {
                end_ns: 100 * (k + 1),
                start_ns: None,
                target_id: 1,
                // a hot quarter at the start of a 4-page span, then a far span
                regions: vec![
                    reg(0x1000, 0x2000, 20),
                    reg(0x2000, 0x5000, 0),
                    reg(
                        0x7f00_0000_0000,
                        0x7f00_0000_4000,
                        if k < 5 { 0 } else { 10 },
                    ),
                ],
            })
            .collect();
        Recording {
            format: Format::V2,
            intervals: None,
            aggregations,
        }
    }

    #[test]
    fn matrix_cuts_gaps_and_weights_cells() {
        let m = heat_matrix(
            &rec(),
            &HeatmapOptions {
                columns: 2,
                rows: 8,
                cell: (1, 1),
            },
        );
        assert_eq!(m.len(), 8);
        assert_eq!(m[0], vec![20.0, 20.0], "the hot page fills the first row");
        assert_eq!(m[2], vec![0.0, 0.0]);
        // Second span: rows 4..8, idle for the first half of the time.
        assert_eq!(m[6], vec![0.0, 10.0]);
    }

    #[test]
    fn svg_has_a_cell_per_bin_and_labels() {
        let s = heatmap_svg(
            &rec(),
            &HeatmapOptions {
                columns: 5,
                rows: 8,
                cell: (2, 10),
            },
        );
        assert!(s.starts_with("<svg"));
        assert!(s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<rect x=").count(), 5 * 8 + 11);
        assert!(s.contains(">0x7f0000000000<"), "{s}");
        assert!(s.contains("fill=\"#ffffff\""), "the hottest cell is white");
    }
}
