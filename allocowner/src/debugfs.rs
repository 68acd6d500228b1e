//! The handlers of allocowner's files in the process's debugfs (served by
//! a server crate that only routes; allocowner names none): `page_owner`
//! (the dump), `page_owner_sort` (the grouped report), `heap.folded`,
//! `heap.svg` (the flame graph), `heap.pprof`, `damon/record` (with the `access`
//! feature) and allocowner's part of `stats`, plus the figures a metrics
//! exporter reads ([`heap_totals`], [`top_owners`], [`last_recording_heat`]).
//!
//! Each report takes a [`snapshot`](crate::snapshot): allocating threads
//! wait while the records are copied, as for any snapshot; symbols are
//! resolved afterwards, with no lock held. The handlers' own allocations
//! are recorded against [`StackHandle::DUMMY`](crate::StackHandle::DUMMY).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::guard;
use crate::report::{Owner, Report, SortBy};

/// Reading `page_owner`: the dump of every live allocation.
pub fn page_owner() -> String {
    guard::inside(|| Report::new(&crate::snapshot()).dump())
}

/// Reading `page_owner_sort`: the grouped report, biggest owners first.
pub fn page_owner_sort() -> String {
    guard::inside(|| Report::new(&crate::snapshot()).grouped(SortBy::Bytes, usize::MAX))
}

/// Reading `heap.folded`: folded stacks (`a;b;c bytes`), for flamegraph.pl,
/// inferno or speedscope.
pub fn heap_folded() -> String {
    guard::inside(|| Report::new(&crate::snapshot()).folded())
}

/// Reading `heap.svg`: the flame graph of live bytes.
pub fn heap_svg() -> String {
    guard::inside(|| Report::new(&crate::snapshot()).flamegraph_svg())
}

/// Reading `heap.pprof` (and `/debug/pprof/heap`): the live heap as a
/// gzip'd pprof profile ([`Report::write_pprof`]), for `go tool pprof`,
/// Pyroscope, Parca.
pub fn heap_pprof() -> std::io::Result<Vec<u8>> {
    guard::inside(|| {
        let mut out = Vec::new();
        Report::new(&crate::snapshot()).write_pprof(&mut out)?;
        Ok(out)
    })
}

/// Live heap of the program (allocowner's own allocations left out):
/// `(allocations, bytes)`. The early owner's bytes are in the bytes, its
/// unknown count is not.
pub fn heap_totals() -> (u64, u64) {
    guard::inside(|| {
        let snap = crate::snapshot();
        let mut count = 0;
        let mut bytes = snap.early_bytes;
        for s in snap.stacks.values() {
            if s.handle != crate::StackHandle::DUMMY {
                count += s.live_count;
                bytes += s.live_bytes;
            }
        }
        (count, bytes)
    })
}

/// One line of [`top_owners`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerLine {
    /// A short name: the function of the innermost frame of the owner
    /// stack that is not in Rust's standard library, preferring one named
    /// with its path (else the innermost frame), or the special owner's
    /// name (`[early (estimated)]`, ...).
    pub label: String,
    /// Live allocations (0 for the early owner, whose count is unknown).
    pub count: u64,
    /// Live bytes.
    pub bytes: u64,
}

/// The `n` owners with the most live bytes, stacks with the same short
/// name added together (so each label appears once), allocowner's own
/// left out.
pub fn top_owners(n: usize) -> Vec<OwnerLine> {
    guard::inside(|| {
        let snap = crate::snapshot();
        let report = Report::new(&snap);
        let mut by_label: HashMap<String, (u64, u64)> = HashMap::new();
        for g in report.groups(SortBy::Bytes) {
            if !g.is_program() {
                continue;
            }
            let label = if g.owner == Owner::Stack && !g.frames.is_empty() {
                // Inlined frames carry DWARF's short names (`{closure#0}`,
                // `default`): prefer one with a path.
                let own = || g.frames.iter().filter(|f| !is_std_frame(f));
                let frame = own()
                    .find(|f| f.function.as_deref().is_some_and(|n| n.contains("::")))
                    .or_else(|| own().next())
                    .unwrap_or(&g.frames[0]);
                report.frame_label(frame)
            } else {
                g.owner.name().to_owned()
            };
            let e = by_label.entry(label).or_default();
            e.0 += g.count.unwrap_or(0);
            e.1 += g.bytes;
        }
        let mut lines: Vec<OwnerLine> = by_label
            .into_iter()
            .map(|(label, (count, bytes))| OwnerLine {
                label,
                count,
                bytes,
            })
            .collect();
        lines.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.label.cmp(&b.label)));
        lines.truncate(n);
        lines
    })
}

/// A frame of the Rust standard library (its sources are under
/// `/rustc/<hash>/library/`, or its name under `alloc::`, `core::`,
/// `std::`): not what a reader means by "who allocated".
fn is_std_frame(f: &crate::report::Frame) -> bool {
    let std_name = f.function.as_deref().is_some_and(|n| {
        [
            "alloc::", "core::", "std::", "<alloc::", "<core::", "<std::",
        ]
        .iter()
        .any(|p| n.starts_with(p))
    });
    let std_file = f
        .file
        .as_deref()
        .is_some_and(|p| p.contains("/rustc/") || p.starts_with("library/"));
    std_name || std_file
}

/// Runs `f` with its allocations owned by allocowner's own owner
/// ([`StackHandle::DUMMY`](crate::StackHandle::DUMMY)), never among the
/// program's owners: for an observer such as the debugfs server, whose
/// buffers and answers would otherwise show in the reports it serves.
pub fn observer<R>(f: impl FnOnce() -> R) -> R {
    guard::inside(f)
}

/// allocowner's lines of the `stats` file, `allocowner.<name> <value>`.
pub fn stats() -> String {
    let s = crate::stats();
    let mut out = String::new();
    for (name, value) in [
        ("enabled", u64::from(s.enabled)),
        ("live_records", s.live_records),
        ("record_bytes", s.record_bytes),
        ("table_bytes", s.table_bytes),
        ("depot_stacks", s.depot_stacks),
        ("depot_record_bytes", s.depot_record_bytes),
        ("depot_pool_bytes", s.depot_pool_bytes),
        ("depot_index_bytes", s.depot_index_bytes),
        ("depot_failures", s.depot_failures),
        ("unrecorded", s.unrecorded),
        ("own_mapped_bytes", s.own_mapped_bytes),
    ] {
        let _ = writeln!(out, "allocowner.{name} {value}");
    }
    out
}

pub use record::{last_recording_heat, read_record, write_record};

#[cfg(all(target_os = "linux", feature = "access"))]
mod record {
    use std::io;
    use std::sync::{Mutex, PoisonError};

    use crate::access::{AccessError, Attrs, Monitor, Recording, attribute};
    use crate::guard;

    /// The monitor started through `damon/record`, and the hot and cold
    /// bytes of the last recording it stopped.
    static MONITOR: Mutex<Option<Monitor>> = Mutex::new(None);
    static LAST_HEAT: Mutex<Option<(u64, u64)>> = Mutex::new(None);

    fn lock<T>(m: &'static Mutex<T>) -> std::sync::MutexGuard<'static, T> {
        // Held only by these handlers; a panic leaves a valid value.
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn from_access(e: &AccessError) -> io::Error {
        let kind = match e.errno() {
            libc::EBUSY => io::ErrorKind::ResourceBusy,
            libc::EINVAL | libc::ELOOP => io::ErrorKind::InvalidInput,
            libc::ENOTSUP => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    }

    /// Reading `damon/record`: the recorder setting, as DAMON's `record`
    /// file reads (`"<buffer_len> <path>"`, `"0 none"` when no recording
    /// was started through the file).
    pub fn read_record() -> io::Result<String> {
        let m = lock(&MONITOR);
        Ok(match m.as_ref() {
            Some(m) if m.is_running() => format!("{}\n", m.recording()),
            _ => "0 none\n".to_owned(),
        })
    }

    /// Writing `damon/record`: `"<buffer_len> <path>"` starts a monitor
    /// recording to `path` (DAMON's bounds: buffer 1024..=4 MiB, path
    /// shorter than 256 bytes; a bad value is `EINVAL`,
    /// [`io::ErrorKind::InvalidInput`]); refused with `EBUSY`
    /// ([`io::ErrorKind::ResourceBusy`]) while one runs. `off` stops it and
    /// flushes the file, and answers with what was recorded (an error
    /// when none runs). A buffer length of 0 (`0 <path>`) disables
    /// recording as in DAMON: accepted while none runs, `EBUSY` while one
    /// does, as every setting. A recording
    /// started by `ALLOCOWNER_ACCESS` is not this file's: `off` does not
    /// stop it, and starting one on the same file is refused (`EBUSY`,
    /// the file's lock).
    pub fn write_record(body: &str) -> io::Result<String> {
        let text = body.trim();
        let zero = text
            .split_whitespace()
            .next()
            .is_some_and(|w| w.parse::<u64>() == Ok(0));
        let mut slot = lock(&MONITOR);
        if zero {
            // DAMON's `0 <path>`: recording disabled, a setting like any
            // other, refused while the monitor runs (EBUSY); `off` stops.
            if slot.as_ref().is_some_and(Monitor::is_running) {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    "a recording runs: write `off` to stop it (EBUSY)",
                ));
            }
            let words: Vec<&str> = text.split_whitespace().collect();
            let [_, path] = words.as_slice() else {
                return Err(from_access(&AccessError::InvalidControl(text.to_owned())));
            };
            // The path's bound holds whatever the length (seed 001).
            if path.len() >= 256 {
                return Err(from_access(&AccessError::PathTooLong(path.len())));
            }
            return Ok("recording disabled (0 none)\n".to_owned());
        }
        if text == "off" {
            let Some(mut m) = slot.take().filter(Monitor::is_running) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no recording runs (nothing to stop)",
                ));
            };
            let path = m.recording();
            drop(slot);
            let summary = m.stop().map_err(|e| from_access(&e))?;
            let path = path.split_once(' ').map_or("", |(_, p)| p).to_owned();
            remember_heat(&path);
            return Ok(format!(
                "stopped: {} aggregations, {} bytes recorded to {path}\n",
                summary.aggregations, summary.write.bytes
            ));
        }
        if slot.as_ref().is_some_and(Monitor::is_running) {
            return Err(from_access(&AccessError::Busy));
        }
        let mut m = Monitor::new(Attrs::default()).map_err(|e| from_access(&e))?;
        m.set_recording(text).map_err(|e| from_access(&e))?;
        m.start().map_err(|e| from_access(&e))?;
        let setting = m.recording();
        *slot = Some(m);
        Ok(format!("recording {setting}\n"))
    }

    /// Joins the recording just stopped with the live heap: the average
    /// hot and cold bytes of its owners, kept for the metrics.
    fn remember_heat(path: &str) {
        let heat = guard::inside(|| {
            let rec = Recording::read(path).ok()?;
            let snap = crate::snapshot();
            let a = attribute(&rec, &snap, rec.aggregations.len());
            Some(
                a.owners
                    .iter()
                    .fold((0, 0), |(h, c), o| (h + o.hot_bytes, c + o.cold_bytes)),
            )
        });
        *lock(&LAST_HEAT) = heat;
    }

    /// `(hot, cold)` bytes of the owners in the last recording stopped
    /// through `damon/record` (averaged over its aggregations, joined with
    /// the live heap when it stopped); `None` before the first.
    pub fn last_recording_heat() -> Option<(u64, u64)> {
        *lock(&LAST_HEAT)
    }
}

#[cfg(not(all(target_os = "linux", feature = "access")))]
mod record {
    use std::io;

    fn absent() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "damon/record needs allocowner's `access` feature (Linux)",
        )
    }

    /// Without the `access` feature: an [`io::ErrorKind::Unsupported`] error.
    pub fn read_record() -> io::Result<String> {
        Err(absent())
    }

    /// Without the `access` feature: an [`io::ErrorKind::Unsupported`] error.
    pub fn write_record(_body: &str) -> io::Result<String> {
        Err(absent())
    }

    /// Without the `access` feature: always `None`.
    pub fn last_recording_heat() -> Option<(u64, u64)> {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_lines_name_every_figure() {
        let s = super::stats();
        assert!(s.starts_with("allocowner.enabled "), "{s}");
        assert_eq!(s.lines().count(), 11, "{s}");
    }

    #[test]
    fn std_frames_are_known_by_path_or_by_name() {
        use crate::report::Frame;
        let frame = |function: &str, file: &str| Frame {
            function: Some(function.into()),
            file: Some(file.into()),
            ..Frame::unresolved(1)
        };
        let std = [
            frame(
                "do_alloc<alloc::alloc::Global>",
                "/rustc/59807616e1fa/library/alloc/src/raw_vec.rs",
            ),
            frame("alloc::vec::Vec<T>::push", "src/app.rs"),
            frame("<std::io::Stdin>::lock", "x.rs"),
        ];
        assert!(std.iter().all(super::is_std_frame));
        assert!(!super::is_std_frame(&frame(
            "demo::main",
            "examples/demo/main.rs"
        )));
        assert!(!super::is_std_frame(&Frame::unresolved(7)));
    }

    #[cfg(all(target_os = "linux", feature = "access"))]
    #[test]
    fn record_bad_values_are_refused_and_off_needs_a_recording() {
        use std::io::ErrorKind;
        let e = super::write_record("12 /tmp/x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = super::write_record("off").unwrap_err();
        assert!(e.to_string().contains("no recording runs"), "{e}");
        assert_eq!(super::read_record().unwrap(), "0 none\n");
        // DAMON's `0 <path>` disables recording: fine while none runs.
        assert_eq!(
            super::write_record("0 /tmp/x").unwrap(),
            "recording disabled (0 none)\n"
        );
        assert_eq!(
            super::write_record("0").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}
