//! The recorder of seed 001: a control string `"<buffer_len> <path>"`, an
//! in-memory buffer flushed to the file in batches and at stop, and two
//! formats: DAMON's binary record format version 2 and damo's
//! `json_compressed` (zlib-compressed JSON). Readers for both.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::str::FromStr;
use std::time::Duration;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use super::error::AccessError;
use super::json::{self, Value};

/// `MIN_RECORD_BUFFER_LEN`.
pub const MIN_BUFFER_LEN: u32 = 1024;
/// `MAX_RECORD_BUFFER_LEN`: 4 MiB.
pub const MAX_BUFFER_LEN: u32 = 4 * 1024 * 1024;
/// `MAX_RFILE_PATH_LEN`: paths must be shorter.
pub const MAX_PATH_LEN: usize = 256;
/// The magic that opens a v2 record file.
pub const MAGIC: &[u8; 16] = b"damon_recfmt_ver";

/// The recorder setting, as written to and read from DAMON's `record` file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordControl {
    buffer_len: u32,
    path: String,
}

impl Default for RecordControl {
    /// Recording off: `"0 none"`, as `dbgfs_new_ctx`.
    fn default() -> Self {
        RecordControl {
            buffer_len: 0,
            path: "none".to_owned(),
        }
    }
}

impl RecordControl {
    /// A validated setting.
    pub fn new(buffer_len: u32, path: &str) -> Result<RecordControl, AccessError> {
        if buffer_len != 0 && !(MIN_BUFFER_LEN..=MAX_BUFFER_LEN).contains(&buffer_len) {
            return Err(AccessError::BufferLen(u64::from(buffer_len)));
        }
        if path.len() >= MAX_PATH_LEN {
            return Err(AccessError::PathTooLong(path.len()));
        }
        if path.is_empty() || path.contains(char::is_whitespace) || path.contains('\0') {
            return Err(AccessError::InvalidControl(format!("{buffer_len} {path}")));
        }
        Ok(RecordControl {
            buffer_len,
            path: path.to_owned(),
        })
    }

    /// The buffer length; 0 when recording is off.
    pub fn buffer_len(&self) -> u32 {
        self.buffer_len
    }

    /// The result file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether recording is on.
    pub fn enabled(&self) -> bool {
        self.buffer_len != 0
    }

    /// The format chosen by the path: `.json.z` gives damo's
    /// `json_compressed`, anything else the v2 binary.
    pub fn format(&self) -> Format {
        if self.path.ends_with(".json.z") {
            Format::JsonCompressed
        } else {
            Format::V2
        }
    }
}

impl FromStr for RecordControl {
    type Err = AccessError;

    /// Parses `"<buffer_len> <path>"` (what `sscanf("%u %s")` accepts, a
    /// trailing newline included; anything after the path is refused).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AccessError::InvalidControl(s.to_owned());
        let mut it = s.split_ascii_whitespace();
        let len = it.next().ok_or_else(bad)?;
        let path = it.next().ok_or_else(bad)?;
        if it.next().is_some() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let len: u64 = len.parse().map_err(|_| bad())?;
        let len = u32::try_from(len).map_err(|_| AccessError::BufferLen(len))?;
        RecordControl::new(len, path)
    }
}

impl fmt::Display for RecordControl {
    /// `"%u %s"`: reading the `record` file back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.buffer_len, self.path)
    }
}

/// A record file format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// DAMON's binary record format, version 2 (read by damo up to 2.0.1).
    V2,
    /// damo's `json_compressed`: zlib-compressed JSON (damo 3.x).
    JsonCompressed,
}

/// The monitoring intervals, recorded in `json_compressed`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Intervals {
    /// Sampling interval.
    pub sample: Duration,
    /// Aggregation interval.
    pub aggr: Duration,
    /// Regions update interval.
    pub update: Duration,
}

/// One region of a recorded aggregation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecordedRegion {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Sampling intervals in which the region was found accessed.
    pub nr_accesses: u32,
    /// Age in aggregation intervals (`json_compressed` only).
    pub age: Option<u32>,
}

/// One aggregation of one target.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Aggregation {
    /// When the aggregation ended, in nanoseconds of `CLOCK_MONOTONIC`.
    pub end_ns: u64,
    /// When it started, when the format records it (`json_compressed`).
    pub start_ns: Option<u64>,
    /// The target id (our process id).
    pub target_id: u64,
    /// Its regions, by address.
    pub regions: Vec<RecordedRegion>,
}

/// A record file read back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Recording {
    /// The format it was read from.
    pub format: Format,
    /// The intervals, when the format records them.
    pub intervals: Option<Intervals>,
    /// The aggregations in file order.
    pub aggregations: Vec<Aggregation>,
}

fn fmt_err(s: impl Into<String>) -> AccessError {
    AccessError::Format(s.into())
}

impl Recording {
    /// Reads a record file, choosing the parser from its first bytes (the v2
    /// magic or a zlib header).
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Recording, AccessError> {
        let p = path.as_ref();
        let bytes = std::fs::read(p).map_err(|source| AccessError::Io {
            path: p.display().to_string(),
            source,
        })?;
        Recording::parse(&bytes)
    }

    /// Parses the bytes of a record file of either format.
    pub fn parse(bytes: &[u8]) -> Result<Recording, AccessError> {
        if bytes.starts_with(MAGIC) {
            Recording::parse_v2(bytes)
        } else if bytes.first() == Some(&0x78) {
            let mut text = String::new();
            let mut d = flate2::read::ZlibDecoder::new(bytes);
            io::Read::read_to_string(&mut d, &mut text)
                .map_err(|e| fmt_err(format!("zlib stream: {e}")))?;
            Recording::parse_json(&text)
        } else {
            Err(fmt_err(
                "neither the v2 magic 'damon_recfmt_ver' nor a zlib header",
            ))
        }
    }

    /// Parses DAMON's binary record format version 2. A second header in
    /// the middle (DAMON appends on restart) is skipped.
    pub fn parse_v2(bytes: &[u8]) -> Result<Recording, AccessError> {
        let mut r = Cursor { b: bytes, i: 0 };
        let mut aggregations = Vec::new();
        while r.i < bytes.len() {
            if bytes[r.i..].starts_with(MAGIC) {
                r.i += 16;
                let ver = r.u32("version")?;
                if ver != 2 {
                    return Err(fmt_err(format!(
                        "record format version {ver}, only 2 is read"
                    )));
                }
                continue;
            }
            if aggregations.is_empty() && r.i == 0 {
                return Err(fmt_err("missing the 'damon_recfmt_ver' magic"));
            }
            let sec = r.u64("tv_sec")?;
            let nsec = r.u64("tv_nsec")?;
            let end_ns = sec
                .checked_mul(1_000_000_000)
                .and_then(|s| s.checked_add(nsec))
                .ok_or_else(|| {
                    fmt_err(format!("timestamp {sec}.{nsec} overflows at byte {}", r.i))
                })?;
            let nr_targets = r.u32("nr_targets")?;
            for _ in 0..nr_targets {
                let target_id = r.u64("target id")?;
                let nr_regions = r.u32("nr_regions")?;
                let mut regions = Vec::with_capacity((nr_regions as usize).min(bytes.len() / 20));
                for _ in 0..nr_regions {
                    let start = r.u64("region start")?;
                    let end = r.u64("region end")?;
                    let nr_accesses = r.u32("nr_accesses")?;
                    if end < start {
                        return Err(fmt_err(format!(
                            "region {start:#x}-{end:#x} ends before it starts"
                        )));
                    }
                    regions.push(RecordedRegion {
                        start,
                        end,
                        nr_accesses,
                        age: None,
                    });
                }
                aggregations.push(Aggregation {
                    end_ns,
                    start_ns: None,
                    target_id,
                    regions,
                });
            }
        }
        Ok(Recording {
            format: Format::V2,
            intervals: None,
            aggregations,
        })
    }

    /// Parses the JSON text of damo's `json_compressed` (after zlib).
    pub fn parse_json(text: &str) -> Result<Recording, AccessError> {
        let v = json::parse(text)
            .map_err(|e| fmt_err(format!("JSON at byte {}: {}", e.offset, e.what)))?;
        let records = v
            .as_array()
            .ok_or_else(|| fmt_err("top level is not a list of records"))?;
        let mut intervals = None;
        let mut aggregations = Vec::new();
        let need = |v: Option<&Value>, what: &str| -> Result<u64, AccessError> {
            v.and_then(Value::as_u64)
                .ok_or_else(|| fmt_err(format!("missing or bad '{what}'")))
        };
        for rec in records {
            if let Some(iv) = rec.get("intervals").filter(|v| **v != Value::Null) {
                let us = |k: &str| need(iv.get(k), k).map(Duration::from_micros);
                intervals = Some(Intervals {
                    sample: us("sample_us")?,
                    aggr: us("aggr_us")?,
                    update: us("ops_update_us")?,
                });
            }
            let target_id = need(rec.get("target_id"), "target_id")?;
            let snaps = rec
                .get("snapshots")
                .and_then(Value::as_array)
                .ok_or_else(|| fmt_err("missing 'snapshots'"))?;
            for s in snaps {
                let mut regions = Vec::new();
                for r in s
                    .get("regions")
                    .and_then(Value::as_array)
                    .ok_or_else(|| fmt_err("missing 'regions'"))?
                {
                    let nr = r
                        .get("nr_accesses")
                        .and_then(|n| n.get("samples"))
                        .and_then(Value::as_u64)
                        .ok_or_else(|| fmt_err("missing 'nr_accesses.samples'"))?;
                    regions.push(RecordedRegion {
                        start: need(r.get("start"), "start")?,
                        end: need(r.get("end"), "end")?,
                        nr_accesses: u32::try_from(nr)
                            .map_err(|_| fmt_err("nr_accesses too big"))?,
                        age: r
                            .get("age")
                            .and_then(|a| a.get("aggr_intervals"))
                            .and_then(Value::as_u64)
                            .map(|a| a as u32),
                    });
                }
                aggregations.push(Aggregation {
                    end_ns: need(s.get("end_time"), "end_time")?,
                    start_ns: Some(need(s.get("start_time"), "start_time")?),
                    target_id,
                    regions,
                });
            }
        }
        Ok(Recording {
            format: Format::JsonCompressed,
            intervals,
            aggregations,
        })
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], AccessError> {
        let s = self
            .b
            .get(self.i..self.i + N)
            .ok_or_else(|| fmt_err(format!("truncated at byte {} reading {what}", self.i)))?;
        self.i += N;
        Ok(s.try_into().expect("length checked"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, AccessError> {
        self.take::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, AccessError> {
        self.take::<8>(what).map(u64::from_le_bytes)
    }
}

// === impl Writer ===

/// What a path that is not a regular file is, for the refusal.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_symlink() {
        "a symbolic link (refused: the recording is never written through a link)"
    } else if t.is_fifo() {
        "a FIFO, not a regular file"
    } else if t.is_char_device() || t.is_block_device() {
        "a device, not a regular file"
    } else if t.is_dir() {
        "a directory, not a regular file"
    } else {
        "not a regular file"
    }
}

/// Opens the recording for writing, the way every file allocowner writes
/// is opened: `O_NOFOLLOW | O_CLOEXEC`, created with mode 0600, never
/// truncated through a symbolic link.
///
/// - A link, FIFO, device or directory at `path` is refused before it is
///   opened (no open(2) that could block or have a device's side effects),
///   and checked again on the open descriptor (`O_NONBLOCK`, so a FIFO
///   that appeared meanwhile is not waited on).
/// - The file is locked with `flock(LOCK_EX | LOCK_NB)` for as long as the
///   recording is open: a second monitor (another process, or a second
///   copy of allocowner in this one) recording to the same file is refused
///   with `EBUSY`, and the file is left as it was.
/// - Only then is it truncated, so one file holds one header.
fn open_record_file(path: &str) -> Result<File, AccessError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let refused = |reason, errno| AccessError::RecordPath {
        path: path.to_owned(),
        reason,
        errno,
    };
    let io_err = |source| AccessError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refused(kind_of(m.file_type()), libc::ELOOP));
        }
        Ok(m) if !m.file_type().is_file() => {
            return Err(refused(kind_of(m.file_type()), libc::EINVAL));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    // std adds O_CLOEXEC to every open.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refused(
                "a symbolic link (refused: the recording is never written through a link)",
                libc::ELOOP,
            ),
            // O_WRONLY | O_NONBLOCK on a FIFO with no reader.
            Some(libc::ENXIO) => refused("a FIFO, not a regular file", libc::EINVAL),
            _ => io_err(e),
        })?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.file_type().is_file() {
        return Err(refused(kind_of(meta.file_type()), libc::EINVAL));
    }
    // SAFETY: flock on a descriptor this function owns; no pointers.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            refused(
                "another monitor is recording to this file (its flock is held)",
                libc::EBUSY,
            )
        } else {
            io_err(e)
        });
    }
    file.set_len(0).map_err(io_err)?;
    // Writes block again as on any regular file.
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: fcntl F_GETFL/F_SETFL on a descriptor this function owns.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

enum Sink {
    Plain(File),
    Zlib(ZlibEncoder<File>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(buf),
            Sink::Zlib(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Zlib(z) => z.flush(),
        }
    }
}

/// What the writer did, for the monitor's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Aggregations recorded.
    pub aggregations: u64,
    /// Times the buffer was flushed to the file.
    pub flushes: u64,
    /// Bytes that went through the buffer (before compression).
    pub bytes: u64,
    /// Bytes lost to failed writes.
    pub dropped_bytes: u64,
    /// Failed writes.
    pub write_errors: u64,
}

/// Writes one recording session through the bounded buffer.
pub(crate) struct Writer {
    ctl: RecordControl,
    sink: Option<Sink>,
    buf: Vec<u8>,
    target_id: u64,
    first: bool,
    pub(crate) stats: WriteStats,
    last_error: Option<io::Error>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("ctl", &self.ctl)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Creates (truncating) the file with [`open_record_file`] and writes
    /// the header into the buffer. DAMON appended to an existing file;
    /// truncating keeps one header per file.
    pub(crate) fn begin(
        ctl: &RecordControl,
        target_id: u64,
        iv: Intervals,
    ) -> Result<Writer, AccessError> {
        let file = open_record_file(ctl.path())?;
        Ok(Writer::begin_on(ctl, file, target_id, iv))
    }

    /// [`Writer::begin`] on an open file.
    fn begin_on(ctl: &RecordControl, file: File, target_id: u64, iv: Intervals) -> Writer {
        let sink = match ctl.format() {
            Format::V2 => Sink::Plain(file),
            Format::JsonCompressed => Sink::Zlib(ZlibEncoder::new(file, Compression::default())),
        };
        let mut w = Writer {
            ctl: ctl.clone(),
            sink: Some(sink),
            buf: Vec::with_capacity(ctl.buffer_len() as usize),
            target_id,
            first: true,
            stats: WriteStats::default(),
            last_error: None,
        };
        match ctl.format() {
            Format::V2 => {
                w.put(MAGIC);
                w.put(&2i32.to_le_bytes());
            }
            Format::JsonCompressed => {
                let head = format!(
                    "[{{\"kdamond_idx\": 0, \"context_idx\": 0, \"intervals\": {{\"sample_us\": {}, \"aggr_us\": {}, \"ops_update_us\": {}, \"intervals_goal\": {{\"access_bp\": 0, \"aggrs\": 0, \"min_sample_us\": 0, \"max_sample_us\": 0}}}}, \"scheme_idx\": null, \"target_id\": {target_id}, \"scheme_filters\": [], \"snapshots\": [",
                    iv.sample.as_micros(),
                    iv.aggr.as_micros(),
                    iv.update.as_micros()
                );
                w.put(head.as_bytes());
            }
        }
        w
    }

    /// `dbgfs_write_rbuf`: flush first when the data would not fit; data
    /// larger than the whole buffer goes to the file directly (DAMON dropped
    /// it with a warning).
    fn put(&mut self, data: &[u8]) {
        self.stats.bytes += data.len() as u64;
        let cap = self.ctl.buffer_len() as usize;
        if self.buf.len() + data.len() > cap {
            self.flush();
        }
        if data.len() > cap {
            let r = self.sink.as_mut().map_or(Ok(()), |s| s.write_all(data));
            self.note(r, data.len());
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    fn note(&mut self, r: io::Result<()>, len: usize) {
        if let Err(e) = r {
            if self.stats.write_errors == 0 {
                eprintln!(
                    "allocowner::access: writing the record file {} failed: {e} ({len} bytes dropped; later failures are counted, not printed)",
                    self.ctl.path()
                );
            }
            self.stats.write_errors += 1;
            self.stats.dropped_bytes += len as u64;
            self.last_error = Some(e);
        }
    }

    /// `dbgfs_flush_rbuffer`.
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let r = self.sink.as_mut().map_or(Ok(()), |s| s.write_all(&buf));
        self.stats.flushes += 1;
        self.note(r, buf.len());
        self.buf = buf;
        self.buf.clear();
    }

    /// `dbgfs_after_aggregation`: one record per aggregation.
    pub(crate) fn aggregation(
        &mut self,
        start_ns: u64,
        end_ns: u64,
        regions: &[super::regions::Region],
    ) {
        self.stats.aggregations += 1;
        match self.ctl.format() {
            Format::V2 => {
                let mut b = Vec::with_capacity(32 + regions.len() * 20);
                b.extend_from_slice(&(end_ns / 1_000_000_000).to_le_bytes());
                b.extend_from_slice(&(end_ns % 1_000_000_000).to_le_bytes());
                b.extend_from_slice(&1u32.to_le_bytes());
                b.extend_from_slice(&self.target_id.to_le_bytes());
                b.extend_from_slice(&(regions.len() as u32).to_le_bytes());
                for r in regions {
                    b.extend_from_slice(&(r.start as u64).to_le_bytes());
                    b.extend_from_slice(&(r.end as u64).to_le_bytes());
                    b.extend_from_slice(&r.nr_accesses.to_le_bytes());
                }
                self.put(&b);
            }
            Format::JsonCompressed => {
                use fmt::Write as _;
                let mut s = String::with_capacity(64 + regions.len() * 160);
                if !self.first {
                    s.push_str(", ");
                }
                self.first = false;
                let total: usize = regions.iter().map(|r| r.end - r.start).sum();
                let _ = write!(
                    s,
                    "{{\"start_time\": {start_ns}, \"end_time\": {end_ns}, \"regions\": ["
                );
                for (i, r) in regions.iter().enumerate() {
                    let _ = write!(
                        s,
                        "{}{{\"start\": {}, \"end\": {}, \"nr_accesses\": {{\"samples\": {}, \"percent\": null}}, \"age\": {{\"usec\": null, \"aggr_intervals\": {}}}, \"probe_hits\": [], \"sz_filter_passed\": 0}}",
                        if i == 0 { "" } else { ", " },
                        r.start,
                        r.end,
                        r.nr_accesses,
                        r.age
                    );
                }
                let _ = write!(
                    s,
                    "], \"total_bytes\": {total}, \"damos_stats\": null, \"sample_interval_us\": null}}"
                );
                self.put(s.as_bytes());
            }
        }
    }

    /// `dbgfs_before_terminate`: flush, close, and say whether every write
    /// succeeded.
    pub(crate) fn finish(mut self) -> Result<WriteStats, AccessError> {
        if self.ctl.format() == Format::JsonCompressed {
            self.put(b"]}]");
        }
        self.flush();
        let end = match self.sink.take() {
            Some(Sink::Zlib(z)) => z.finish().and_then(|mut f| f.flush()),
            Some(Sink::Plain(mut f)) => f.flush(),
            None => Ok(()),
        };
        self.note(end, 0);
        match self.last_error.take() {
            None => Ok(self.stats.clone()),
            Some(source) => Err(AccessError::Write {
                path: self.ctl.path().to_owned(),
                failures: self.stats.write_errors,
                dropped_bytes: self.stats.dropped_bytes,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::regions::Region;
    use super::*;

    #[test]
    fn control_string_bounds_as_dbgfs() {
        let c: RecordControl = "4096 /damon.data\n".parse().unwrap();
        assert_eq!(c.to_string(), "4096 /damon.data");
        assert_eq!(RecordControl::default().to_string(), "0 none");
        assert!("0 /x".parse::<RecordControl>().is_ok());
        assert!(matches!(
            "1023 /x".parse::<RecordControl>(),
            Err(AccessError::BufferLen(1023))
        ));
        assert!("1024 /x".parse::<RecordControl>().is_ok());
        assert!("4194304 /x".parse::<RecordControl>().is_ok());
        assert!(matches!(
            "4194305 /x".parse::<RecordControl>(),
            Err(AccessError::BufferLen(4_194_305))
        ));
        assert!(matches!(
            "99999999999 /x".parse::<RecordControl>(),
            Err(AccessError::BufferLen(_))
        ));
        let long = format!("4096 /{}", "a".repeat(254));
        assert!(long.parse::<RecordControl>().is_ok(), "255 bytes is fine");
        let too_long = format!("4096 /{}", "a".repeat(255));
        let e = too_long.parse::<RecordControl>().unwrap_err();
        assert!(matches!(e, AccessError::PathTooLong(256)), "{e}");
        assert_eq!(e.errno(), libc::EINVAL);
        for bad in ["", "4096", "x /p", "-1 /p", "4096 /a /b"] {
            let e = bad.parse::<RecordControl>().unwrap_err();
            assert!(matches!(e, AccessError::InvalidControl(_)), "{bad:?}: {e}");
        }
        assert_eq!(c.format(), Format::V2);
        assert_eq!(
            "1024 /a.json.z".parse::<RecordControl>().unwrap().format(),
            Format::JsonCompressed
        );
    }

    fn region(s: usize, e: usize, n: u32, age: u32) -> Region {
        let mut r = Region::new(s, e);
        r.nr_accesses = n;
        r.age = age;
        r
    }

    fn iv() -> Intervals {
        Intervals {
            sample: Duration::from_millis(5),
            aggr: Duration::from_millis(100),
            update: Duration::from_secs(1),
        }
    }

    #[test]
    fn v2_layout_size_and_round_trip_with_small_buffer() {
        let dir = std::env::temp_dir().join(format!("access-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.data");
        let ctl = RecordControl::new(1024, path.to_str().unwrap()).unwrap();
        let mut w = Writer::begin(&ctl, 4242, iv()).unwrap();
        let regs: Vec<Region> = (0..60)
            .map(|i| region(i * 4096, (i + 1) * 4096, (i % 21) as u32, 1))
            .collect();
        for k in 0..20u64 {
            w.aggregation(0, 1_000_000_000_000 + k * 100_000_000, &regs[..3]);
        }
        w.aggregation(0, 5_000_000_000_001, &regs); // 1212 bytes: larger than the buffer
        let st = w.finish().unwrap();
        assert!(st.flushes >= 2, "{st:?}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 20 + 20 * (20 + 12 + 60) + (20 + 12 + 60 * 20));
        assert_eq!(&bytes[..16], MAGIC);
        assert_eq!(&bytes[16..20], &[2, 0, 0, 0]);
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.aggregations.len(), 21);
        assert_eq!(rec.aggregations[1].end_ns, 1_000_100_000_000);
        assert_eq!(rec.aggregations[0].target_id, 4242);
        assert_eq!(rec.aggregations[20].regions.len(), 60);
        assert_eq!(rec.aggregations[20].regions[20].nr_accesses, 20);
        assert_eq!(rec.aggregations[20].end_ns, 5_000_000_000_001);
        // truncated files are named
        let e = Recording::parse(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_compressed_round_trip() {
        let dir = std::env::temp_dir().join(format!("access-recj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.json.z");
        let ctl = RecordControl::new(2048, path.to_str().unwrap()).unwrap();
        let mut w = Writer::begin(&ctl, 7, iv()).unwrap();
        for k in 0..30u64 {
            w.aggregation(
                k * 100,
                k * 100 + 100,
                &[region(4096, 8192, 3, 2), region(8192, 65536, 0, 9)],
            );
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..2], &[0x78, 0x9c], "zlib header, no gzip wrapper");
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.format, Format::JsonCompressed);
        assert_eq!(rec.intervals, Some(iv()));
        assert_eq!(rec.aggregations.len(), 30);
        assert_eq!(rec.aggregations[29].start_ns, Some(2900));
        assert_eq!(
            rec.aggregations[3].regions[1],
            RecordedRegion {
                start: 8192,
                end: 65536,
                nr_accesses: 0,
                age: Some(9)
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_writes_are_reported_not_silent() {
        // /dev/full fails every write with ENOSPC. It is a device, which
        // `begin` refuses, so the writer is given the open file.
        let ctl = RecordControl::new(1024, "/dev/full").unwrap();
        let e = Writer::begin(&ctl, 1, iv()).unwrap_err();
        assert!(e.to_string().contains("/dev/full: a device"), "{e}");
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut w = Writer::begin_on(&ctl, full, 1, iv());
        for k in 0..100 {
            w.aggregation(0, k, &[region(0, 4096, 1, 0)]);
        }
        let e = w.finish().unwrap_err();
        assert_eq!(e.errno(), libc::ENOSPC, "{e}");
        assert!(e.to_string().contains("dropped"), "{e}");
        let e = Writer::begin(
            &RecordControl::new(1024, "/nonexistent-dir/x").unwrap(),
            1,
            iv(),
        )
        .unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
    }
}
