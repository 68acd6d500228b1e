//! The live heap as a DHAT file: the JSON that dhat-rs writes
//! (`dhatFileVersion` 2, mode `rust-heap`), read by Valgrind's DHAT viewer
//! (`dh_view.html`) and the Firefox Profiler.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Frame, Owner, Report};
use crate::StackHandle;

/// Per owner stack: `(hot bytes, cold bytes)` from an access recording.
type Heat = HashMap<StackHandle, (u64, u64)>;

/// `s` as a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One program point being built: the figures dh_view reads.
#[derive(Default)]
struct Point {
    /// Live bytes and blocks (tb/mb/gb/eb, tbk/mbk/gbk/ebk).
    bytes: u64,
    blocks: u64,
    /// Sum of the blocks' ages at the snapshot, in µs (tl).
    lifetimes_us: u64,
    /// Hot and cold bytes from the access recording.
    hot: u64,
    cold: u64,
}

impl Report<'_> {
    /// The live heap in DHAT's JSON format as dhat-rs writes it, written to
    /// `w`: open it in Valgrind's DHAT viewer (`dh_view.html`, shipped with
    /// Valgrind: Debian's valgrind package has it in /usr/libexec/valgrind)
    /// with its "Load…" button, or in the Firefox Profiler.
    ///
    /// A DHAT file describes a whole run; a snapshot knows the live heap at
    /// one moment, so every program point (owner group) has
    /// - `tb`, `mb`, `gb`, `eb` (total, max, at the global peak, at the end)
    ///   = its live bytes, and the `…bk` fields its live blocks: the
    ///   snapshot is the end and the peak of what the file describes;
    /// - `tl` (total lifetimes): the blocks' ages at the snapshot, measured
    ///   from the newest allocation of the snapshot (0 without the thread
    ///   client, which records the timestamps), `te` = `tg` = that moment
    ///   in µs since tracking was first enabled (without the thread client:
    ///   the moment the file is written; 0 for a saved dump without
    ///   timestamps).
    ///
    /// In a sampled snapshot the figures are the scaled estimates of the
    /// whole heap. Frames are dhat-rs's `0xADDR: function (file:line:0)`,
    /// innermost first; special owners are one frame (`[early
    /// (estimated)]`: its block count is unknown, 0). Every frame sequence
    /// is unique, as dh_view requires (dhat-rs#29): program points with the
    /// same frames are merged. allocowner's own allocations are left out.
    ///
    /// ```no_run
    /// let snapshot = allocowner::snapshot();
    /// let report = allocowner::report::Report::new(&snapshot);
    /// let file = std::fs::File::create("dhat-heap.json")?;
    /// report.write_dhat(std::io::BufWriter::new(file))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_dhat(&self, w: impl Write) -> io::Result<()> {
        let json = crate::guard::inside(|| self.dhat_json(None));
        let mut w = w;
        w.write_all(json.as_bytes())?;
        w.flush()
    }

    /// [`Report::write_dhat`] with the access sampler's figures per owner
    /// from `heat` (an [`attribute`](crate::access::attribute) of a
    /// recording and this report's snapshot).
    ///
    /// DHAT's access fields are read and written bytes, which a sampler
    /// of page accesses cannot tell apart; so the file says `bkacc: true`
    /// and puts each owner's **hot bytes** (bytes in regions found accessed
    /// in at least half the sampling intervals, averaged over the
    /// aggregations) in `rb`, which dh_view shows and sorts as "reads",
    /// and 0 in `wb`. Each program point also carries `hb` (hot bytes) and
    /// `cb` (cold bytes: in regions never found accessed), fields dh_view
    /// ignores, for other readers of the JSON.
    #[cfg(feature = "access")]
    pub fn write_dhat_with_access(
        &self,
        heat: &crate::access::Attribution,
        w: impl Write,
    ) -> io::Result<()> {
        let json = crate::guard::inside(|| {
            let by: Heat = heat
                .owners
                .iter()
                .map(|o| (o.stack, (o.hot_bytes, o.cold_bytes)))
                .collect();
            self.dhat_json(Some(&by))
        });
        let mut w = w;
        w.write_all(json.as_bytes())?;
        w.flush()
    }

    /// The frame of `f` as dhat-rs writes it.
    fn dhat_frame(&self, f: &Frame) -> String {
        let name = match &f.function {
            Some(name) => name.clone(),
            None => "???".to_owned(),
        };
        let file = match (&f.file, f.line) {
            (Some(file), line) => format!("{file}:{}", line.unwrap_or(0)),
            (None, _) => match self.render.module_map().and_then(|m| m.lookup(f.addr)) {
                Some((m, a)) => format!("{}+{a:#x}:0", m.path.display()),
                None => "???:0".to_owned(),
            },
        };
        format!("{:#x}: {name} ({file}:0)", f.addr)
    }

    /// The sum of the ages of the allocations of each handle at the newest
    /// allocation of the snapshot, in µs, and that moment. Without
    /// timestamps (no thread client), the moment is now, from when the
    /// table was set up, for a snapshot of this process (dh_view divides
    /// by it: 0 shows infinite rates), else 0.
    fn ages_us(&self) -> (HashMap<StackHandle, u64>, u64) {
        let snap = self.snapshot;
        let newest = snap.allocations.iter().filter_map(|a| a.timestamp_ns).max();
        // Relaxed: set once, before any record this snapshot holds.
        let epoch = crate::table::EPOCH_NS.load(core::sync::atomic::Ordering::Relaxed);
        let end = match newest {
            Some(ts) => ts,
            None if self.live && epoch != 0 => crate::sys::now_ns().saturating_sub(epoch),
            None => 0,
        };
        let mut ages: HashMap<StackHandle, u64> = HashMap::new();
        for a in &snap.allocations {
            if let Some(ts) = a.timestamp_ns {
                *ages.entry(a.stack).or_default() += end.saturating_sub(ts) / 1000;
            }
        }
        (ages, end / 1000)
    }

    /// The DHAT JSON text, with access figures from `heat` if given.
    fn dhat_json(&self, heat: Option<&Heat>) -> String {
        let (ages, end_us) = self.ages_us();
        let mut ftbl: Vec<String> = vec!["[root]".to_owned()];
        let mut index: HashMap<String, usize> = HashMap::new();
        // Program points by frame sequence: equal sequences merge.
        let mut points: BTreeMap<Vec<usize>, Point> = BTreeMap::new();
        for (g, fig) in self.profile_groups() {
            let mut names: Vec<String> = g.frames.iter().map(|f| self.dhat_frame(f)).collect();
            if g.owner != Owner::Stack {
                names = vec![g.owner.name().to_owned()];
            } else if names.is_empty() {
                names.push("[no frames]".to_owned());
            }
            let fs: Vec<usize> = names
                .into_iter()
                .map(|s| {
                    *index.entry(s.clone()).or_insert_with(|| {
                        ftbl.push(s);
                        ftbl.len() - 1
                    })
                })
                .collect();
            let (blocks, bytes) = fig.estimate.unwrap_or((fig.count, fig.bytes));
            let p = points.entry(fs).or_default();
            // Estimates can add up past u64 (saturated: a DHAT reader
            // sees the largest figure).
            p.bytes = p.bytes.saturating_add(bytes);
            p.blocks = p.blocks.saturating_add(blocks);
            for h in &g.handles {
                p.lifetimes_us = p
                    .lifetimes_us
                    .saturating_add(ages.get(h).copied().unwrap_or(0));
                if let Some((hot, cold)) = heat.and_then(|m| m.get(h)) {
                    p.hot = p.hot.saturating_add(*hot);
                    p.cold = p.cold.saturating_add(*cold);
                }
            }
        }
        // A saved dump's process is the one it names; its command line is
        // not kept.
        let pid = self.pid.unwrap_or(0);
        let cmd = if self.live {
            std::env::args().collect::<Vec<_>>().join(" ")
        } else {
            String::new()
        };
        let mut out = String::new();
        out.push_str("{\"dhatFileVersion\":2,\"mode\":\"rust-heap\",\"verb\":\"Allocated\",");
        let _ = write!(
            out,
            "\"bklt\":true,\"bkacc\":{},\"tu\":\"µs\",\"Mtu\":\"s\",\"tuth\":10,\"cmd\":",
            heat.is_some()
        );
        json_str(&mut out, &cmd);
        let _ = write!(
            out,
            ",\"pid\":{pid},\"tg\":{end_us},\"te\":{end_us},\n\"pps\":["
        );
        for (i, (fs, p)) in points.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let (b, k) = (p.bytes, p.blocks);
            let _ = write!(
                out,
                "\n{{\"tb\":{b},\"tbk\":{k},\"tl\":{},\"mb\":{b},\"mbk\":{k},\"gb\":{b},\"gbk\":{k},\"eb\":{b},\"ebk\":{k},",
                p.lifetimes_us
            );
            if heat.is_some() {
                let _ = write!(
                    out,
                    "\"rb\":{},\"wb\":0,\"hb\":{},\"cb\":{},",
                    p.hot, p.hot, p.cold
                );
            }
            let fs: Vec<String> = fs.iter().map(ToString::to_string).collect();
            let _ = write!(out, "\"fs\":[{}]}}", fs.join(","));
        }
        out.push_str("\n],\n\"ftbl\":[");
        for (i, f) in ftbl.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            json_str(&mut out, f);
        }
        out.push_str("\n]\n}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Symbolizer;
    use crate::report::tests::alloc;
    use crate::{CaptureMode, Snapshot, Stack};

    fn named(addr: usize, function: &str) -> Frame {
        Frame {
            addr,
            function: Some(function.to_owned()),
            file: Some("src/a \"b\".rs".to_owned()),
            line: Some(3),
            inlined: false,
        }
    }

    #[test]
    fn a_sampled_snapshot_gives_the_estimates() {
        let h = StackHandle::from_raw((1 << 31) | 1);
        let snapshot = Snapshot {
            mode: CaptureMode::FramePointers,
            allocations: vec![alloc(0x10, 100, h), alloc(0x20, 10, h)],
            stacks: HashMap::from([(
                h,
                Stack {
                    handle: h,
                    frames: vec![],
                    live_count: 2,
                    live_bytes: 110,
                },
            )]),
            early_bytes: 0,
            own_mapped_bytes: 0,
            sample_bytes: Some(64),
        };
        let e = snapshot.estimates()[&h];
        assert!(e.bytes > 110 && e.count > 2, "{e:?}");
        let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
        report.stacks.insert(h, vec![named(0x1000, "f")]);
        let json = report.dhat_json(None);
        assert!(
            json.contains(&format!("{{\"tb\":{},\"tbk\":{},", e.bytes, e.count)),
            "{json}"
        );
    }

    #[test]
    fn without_timestamps_the_end_is_now_for_a_live_snapshot_only() {
        use core::sync::atomic::Ordering::Relaxed;
        let h = StackHandle::from_raw(1);
        let snapshot = Snapshot {
            mode: CaptureMode::FramePointers,
            allocations: vec![crate::Allocation {
                thread: None,
                timestamp_ns: None,
                ..alloc(0x10, 100, h)
            }],
            stacks: HashMap::from([(
                h,
                Stack {
                    handle: h,
                    frames: vec![],
                    live_count: 1,
                    live_bytes: 100,
                },
            )]),
            early_bytes: 0,
            own_mapped_bytes: 0,
            sample_bytes: None,
        };
        // The table's epoch, as its setup stores it (at least 5 ms ago).
        let now = crate::sys::now_ns();
        let _ = crate::table::EPOCH_NS.compare_exchange(0, now - 5_000_000, Relaxed, Relaxed);
        let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
        let json = report.dhat_json(None);
        let te = |json: &str| -> u64 {
            let at = json.find("\"te\":").expect("te") + 5;
            json[at..]
                .split([',', '\n'])
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(te(&json) >= 5_000, "{json}");
        // A saved dump's snapshot is not of this process: no moment known.
        report.live = false;
        assert_eq!(te(&report.dhat_json(None)), 0);
    }

    #[test]
    fn equal_frame_sequences_are_one_program_point() {
        // Two groups for the report (`[inlined]` marks h2's frame in the
        // text reports) with the same DHAT frames: one program point.
        let (h1, h2) = (StackHandle::from_raw(1), StackHandle::from_raw(2));
        let stack = |h, n, b| Stack {
            handle: h,
            frames: vec![],
            live_count: n,
            live_bytes: b,
        };
        let snapshot = Snapshot {
            mode: CaptureMode::FramePointers,
            allocations: vec![alloc(0x10, 100, h1), alloc(0x20, 200, h2)],
            stacks: HashMap::from([(h1, stack(h1, 1, 100)), (h2, stack(h2, 2, 200))]),
            early_bytes: 50,
            own_mapped_bytes: 0,
            sample_bytes: None,
        };
        let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
        report.stacks.insert(h1, vec![named(0x1000, "f")]);
        let inlined = Frame {
            inlined: true,
            ..named(0x1000, "f")
        };
        report.stacks.insert(h2, vec![inlined]);
        assert_eq!(report.groups(crate::report::SortBy::Bytes).len(), 3);
        let json = report.dhat_json(None);
        assert!(json.starts_with("{\"dhatFileVersion\":2,\"mode\":\"rust-heap\""));
        assert!(json.contains("\"bkacc\":false"), "{json}");
        // One point for f with both handles' figures, one for early.
        assert_eq!(json.matches("\"fs\":").count(), 2, "{json}");
        assert!(
            json.contains("{\"tb\":300,\"tbk\":3,\"tl\":0,\"mb\":300,"),
            "{json}"
        );
        assert!(json.contains("{\"tb\":50,\"tbk\":0,"), "{json}");
        // The file name's quotes are escaped.
        assert!(
            json.contains(r#""0x1000: f (src/a \"b\".rs:3:0)""#),
            "{json}"
        );
        assert!(json.contains("\"[early (estimated)]\""), "{json}");

        let heat = Heat::from([(h1, (64, 4)), (h2, (16, 100))]);
        let json = report.dhat_json(Some(&heat));
        assert!(json.contains("\"bkacc\":true"), "{json}");
        assert!(
            json.contains("\"rb\":80,\"wb\":0,\"hb\":80,\"cb\":104,"),
            "{json}"
        );
    }
}
