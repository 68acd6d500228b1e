//! The live heap as a pprof profile: profile.proto, gzip-compressed, read
//! by `go tool pprof`, Pyroscope, Parca and speedscope.
//!
//! The protobuf is written by hand (a varint and a length-delimited field
//! are all profile.proto needs): `prost` would need a build-time code
//! generator and `protobuf` a runtime of its own, for one message tree that
//! takes a hundred lines. The tests decode what is written with an
//! independent decoder (a round trip) and with `go tool pprof` itself.
//!
//! gzip is a header, a deflate stream and a CRC: the deflate is
//! miniz_oxide's, which `backtrace` already links (for compressed debug
//! sections), so the writer adds no crate to a program; `flate2` stays
//! behind the `access` feature.

use std::collections::HashMap;
use std::io::{self, Write};

use super::{Frame, Owner, Report, capture_line};

/// profile.proto's field numbers (github.com/google/pprof, proto/profile.proto).
mod field {
    pub(super) const PROFILE_SAMPLE_TYPE: u32 = 1;
    pub(super) const PROFILE_SAMPLE: u32 = 2;
    pub(super) const PROFILE_MAPPING: u32 = 3;
    pub(super) const PROFILE_LOCATION: u32 = 4;
    pub(super) const PROFILE_FUNCTION: u32 = 5;
    pub(super) const PROFILE_STRING_TABLE: u32 = 6;
    pub(super) const PROFILE_TIME_NANOS: u32 = 9;
    pub(super) const PROFILE_PERIOD_TYPE: u32 = 11;
    pub(super) const PROFILE_PERIOD: u32 = 12;
    pub(super) const PROFILE_COMMENT: u32 = 13;
    pub(super) const PROFILE_DEFAULT_SAMPLE_TYPE: u32 = 14;
    pub(super) const VALUE_TYPE_TYPE: u32 = 1;
    pub(super) const VALUE_TYPE_UNIT: u32 = 2;
    pub(super) const SAMPLE_LOCATION_ID: u32 = 1;
    pub(super) const SAMPLE_VALUE: u32 = 2;
    pub(super) const SAMPLE_LABEL: u32 = 3;
    pub(super) const LABEL_KEY: u32 = 1;
    pub(super) const LABEL_STR: u32 = 2;
    pub(super) const MAPPING_ID: u32 = 1;
    pub(super) const MAPPING_MEMORY_START: u32 = 2;
    pub(super) const MAPPING_MEMORY_LIMIT: u32 = 3;
    pub(super) const MAPPING_FILE_OFFSET: u32 = 4;
    pub(super) const MAPPING_FILENAME: u32 = 5;
    pub(super) const MAPPING_BUILD_ID: u32 = 6;
    pub(super) const MAPPING_HAS_FUNCTIONS: u32 = 7;
    pub(super) const MAPPING_HAS_FILENAMES: u32 = 8;
    pub(super) const MAPPING_HAS_LINE_NUMBERS: u32 = 9;
    pub(super) const MAPPING_HAS_INLINE_FRAMES: u32 = 10;
    pub(super) const LOCATION_ID: u32 = 1;
    pub(super) const LOCATION_MAPPING_ID: u32 = 2;
    pub(super) const LOCATION_ADDRESS: u32 = 3;
    pub(super) const LOCATION_LINE: u32 = 4;
    pub(super) const LINE_FUNCTION_ID: u32 = 1;
    pub(super) const LINE_LINE: u32 = 2;
    pub(super) const FUNCTION_ID: u32 = 1;
    pub(super) const FUNCTION_NAME: u32 = 2;
    pub(super) const FUNCTION_SYSTEM_NAME: u32 = 3;
    pub(super) const FUNCTION_FILENAME: u32 = 4;
}

/// One protobuf message being written: fields appended in order.
#[derive(Default)]
pub(super) struct Message {
    buf: Vec<u8>,
}

/// Appends `v` as a base-128 varint.
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl Message {
    fn key(&mut self, field: u32, wire_type: u8) {
        put_varint(
            &mut self.buf,
            (u64::from(field) << 3) | u64::from(wire_type),
        );
    }

    /// A varint field (uint64, int64 as two's complement, bool); zero is
    /// proto3's default and is left out.
    pub(super) fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            put_varint(&mut self.buf, v);
        }
    }

    /// A length-delimited field (string, bytes, embedded message), always
    /// written (the string table's first entry is the empty string).
    pub(super) fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        put_varint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// An embedded message.
    pub(super) fn message(&mut self, field: u32, m: &Message) {
        self.bytes(field, &m.buf);
    }

    /// A packed repeated varint field (left out when empty).
    pub(super) fn packed(&mut self, field: u32, vals: impl IntoIterator<Item = u64>) {
        let mut inner = Vec::new();
        for v in vals {
            put_varint(&mut inner, v);
        }
        if !inner.is_empty() {
            self.bytes(field, &inner);
        }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// The profile's string table: index 0 is the empty string.
struct Strings {
    index: HashMap<String, u64>,
    list: Vec<String>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            index: HashMap::from([(String::new(), 0)]),
            list: vec![String::new()],
        }
    }

    fn id(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u64;
        self.list.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// A `ValueType` message: `type` and `unit`.
fn value_type(strings: &mut Strings, ty: &str, unit: &str) -> Message {
    let mut m = Message::default();
    m.uint(field::VALUE_TYPE_TYPE, strings.id(ty));
    m.uint(field::VALUE_TYPE_UNIT, strings.id(unit));
    m
}

/// One pprof mapping: a mapped range of a module's file.
struct MappingRow {
    start: u64,
    limit: u64,
    offset: u64,
    file: String,
    build_id: String,
    /// Some location in it has a function name / a file / an inlined line.
    functions: bool,
    filenames: bool,
    inline: bool,
}

/// One location: its mapping (an index in `Builder::mappings`), address
/// and lines as (function id, line).
struct LocationRow {
    mapping: Option<usize>,
    addr: u64,
    lines: Vec<(u64, u64)>,
}

/// The ids of functions, locations and mappings, given out as the
/// profile is built.
struct Builder {
    strings: Strings,
    /// (name, file) -> function id.
    functions: HashMap<(String, String), u64>,
    function_msgs: Vec<Message>,
    /// (address, lines as (function id, line)) -> location id.
    locations: HashMap<(u64, Vec<(u64, u64)>), u64>,
    /// By id - 1; encoded last, once the mappings in use are known.
    location_rows: Vec<LocationRow>,
    mappings: Vec<MappingRow>,
}

impl Builder {
    /// Appends the mappings, locations and functions to `profile`. Only
    /// the mappings that hold a location are written (the executable ones,
    /// as Go's own profiles have), in the order of the module map, so the
    /// program's own file comes first: pprof takes the first mapping for
    /// the main binary.
    fn write_tables(&mut self, profile: &mut Message) {
        let mut ids = vec![0u64; self.mappings.len()];
        for i in self.location_rows.iter().filter_map(|l| l.mapping) {
            ids[i] = 1;
        }
        let mut next = 0;
        for id in &mut ids {
            if *id != 0 {
                next += 1;
                *id = next;
            }
        }
        for (r, &id) in self.mappings.iter().zip(&ids) {
            if id == 0 {
                continue;
            }
            let mut m = Message::default();
            m.uint(field::MAPPING_ID, id);
            m.uint(field::MAPPING_MEMORY_START, r.start);
            m.uint(field::MAPPING_MEMORY_LIMIT, r.limit);
            m.uint(field::MAPPING_FILE_OFFSET, r.offset);
            m.uint(field::MAPPING_FILENAME, self.strings.id(&r.file));
            m.uint(field::MAPPING_BUILD_ID, self.strings.id(&r.build_id));
            m.uint(field::MAPPING_HAS_FUNCTIONS, u64::from(r.functions));
            m.uint(field::MAPPING_HAS_FILENAMES, u64::from(r.filenames));
            m.uint(field::MAPPING_HAS_LINE_NUMBERS, u64::from(r.filenames));
            m.uint(field::MAPPING_HAS_INLINE_FRAMES, u64::from(r.inline));
            profile.message(field::PROFILE_MAPPING, &m);
        }
        for (n, l) in self.location_rows.iter().enumerate() {
            let mut m = Message::default();
            m.uint(field::LOCATION_ID, n as u64 + 1);
            if let Some(i) = l.mapping {
                m.uint(field::LOCATION_MAPPING_ID, ids[i]);
            }
            m.uint(field::LOCATION_ADDRESS, l.addr);
            for &(function, line) in &l.lines {
                let mut l = Message::default();
                l.uint(field::LINE_FUNCTION_ID, function);
                l.uint(field::LINE_LINE, line);
                m.message(field::LOCATION_LINE, &l);
            }
            profile.message(field::PROFILE_LOCATION, &m);
        }
        for m in &self.function_msgs {
            profile.message(field::PROFILE_FUNCTION, m);
        }
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let key = (name.to_owned(), file.to_owned());
        if let Some(&id) = self.functions.get(&key) {
            return id;
        }
        let id = self.function_msgs.len() as u64 + 1;
        let mut m = Message::default();
        m.uint(field::FUNCTION_ID, id);
        let short = short_name(name);
        let short_id = self.strings.id(&short);
        m.uint(field::FUNCTION_NAME, short_id);
        // The full name as system_name only when it differs: pprof takes
        // a function whose name equals its system name for not yet
        // demangled, and strips `<...>` and `(...)` from what looks like
        // C++ (`<T as Trait>::f` showed as `::f`).
        if short != name {
            let name_id = self.strings.id(name);
            m.uint(field::FUNCTION_SYSTEM_NAME, name_id);
        }
        let file_id = self.strings.id(file);
        m.uint(field::FUNCTION_FILENAME, file_id);
        self.function_msgs.push(m);
        self.functions.insert(key, id);
        id
    }

    /// The location of one return address with the frames inlined there
    /// (`frames`: innermost first, the last one not inlined), or of a
    /// special owner's pseudo-frame (address 0).
    fn location(&mut self, addr: u64, frames: &[Frame]) -> u64 {
        let mut lines = Vec::new();
        for f in frames {
            if let Some(name) = &f.function {
                let function = self.function(name, f.file.as_deref().unwrap_or(""));
                lines.push((function, u64::from(f.line.unwrap_or(0))));
            }
        }
        let key = (addr, lines);
        if let Some(&id) = self.locations.get(&key) {
            return id;
        }
        let (addr, lines) = key;
        let id = self.location_rows.len() as u64 + 1;
        let mapping = self
            .mappings
            .iter()
            .position(|r| addr != 0 && (r.start..r.limit).contains(&addr));
        if let Some(i) = mapping {
            let row = &mut self.mappings[i];
            row.functions |= !lines.is_empty();
            row.filenames |= frames.iter().any(|f| f.file.is_some());
            row.inline |= lines.len() > 1;
        }
        self.locations.insert((addr, lines.clone()), id);
        self.location_rows.push(LocationRow {
            mapping,
            addr,
            lines,
        });
        id
    }

    /// The location ids of a stack (innermost first), one per return
    /// address: frames inlined at an address join the frame they were
    /// inlined into.
    fn stack(&mut self, frames: &[Frame]) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut start = 0;
        for (i, f) in frames.iter().enumerate() {
            if !f.inlined || i + 1 == frames.len() {
                ids.push(self.location(f.addr as u64, &frames[start..=i]));
                start = i + 1;
            }
        }
        ids
    }
}

/// The loadable segments of module `m`'s file, if it is a file still
/// holding what was mapped (a file replaced since has another build-id).
fn mapped_segments(m: &super::Module) -> Option<super::elf::ElfInfo> {
    if !m.is_file() {
        return None;
    }
    let info = super::elf::read(&m.path).ok()?;
    let same = |want: &String| {
        info.build_id.as_ref().is_some_and(|have| {
            have.len() * 2 == want.len()
                && have.iter().zip(want.as_bytes().chunks(2)).all(|(b, h)| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        == Some(*b)
                })
        })
    };
    m.build_id.as_ref().is_none_or(same).then_some(info)
}

/// A mapping `(start, end, file offset)` as `/proc/self/maps` gives it
/// (page-aligned), moved to the start of the loadable segment it maps:
/// `load + p_vaddr`, file offset `p_offset`, as pprof readers expect.
/// `go tool pprof` (Go's cmd/pprof) ignores a mapping's offset: it takes
/// the mapping's start for the address of the file's executable segment,
/// so a page-aligned start misplaces every address by the segment's
/// offset in its page (files linked by lld start their text mid-page).
/// google/pprof reads the offset, which moves with the start, so it finds
/// the same file offsets either way. A mapping no segment fits is kept.
fn at_segment(
    (start, end, offset): (usize, usize, u64),
    load: usize,
    segments: &[super::elf::Segment],
) -> (usize, usize, u64) {
    const PAGE: u64 = 4096;
    let len = (end - start) as u64;
    // The segment this mapping was made for: of those starting in the
    // mapping's first page or after, within it, the one starting last
    // (lld puts a read-only segment and the text in one page).
    let seg = segments
        .iter()
        .filter(|s| s.filesz > 0 && s.offset & !(PAGE - 1) <= offset && s.offset < offset + len)
        .max_by_key(|s| s.offset);
    let Some(seg) = seg else {
        return (start, end, offset);
    };
    let Some(seg_start) = usize::try_from(seg.vaddr)
        .ok()
        .and_then(|v| load.checked_add(v))
    else {
        return (start, end, offset);
    };
    // The same file offsets: start - offset is kept.
    let shift = seg_start.wrapping_sub(start) as u64;
    if seg_start < start || seg_start >= end || seg.offset != offset + shift {
        return (start, end, offset);
    }
    (seg_start, end, seg.offset)
}

/// The CRC-32 (IEEE, reflected, as gzip's trailer has it) of `data`.
pub(super) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// `data` as a gzip member (RFC 1952): header without name or time,
/// deflate stream (miniz_oxide, level 6), CRC-32 and length.
pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2, CM = deflate, no flags, MTIME 0, XFL 0, OS = Unix.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// `name` without the generic arguments the debug info gives inlined
/// functions (`collect<core::iter::Map<..>, Vec<u8>>` is `collect`), which
/// pprof would mangle with its C++ rules; a qualified path in angle
/// brackets (`<T as Trait>::f`) is kept, without its own arguments. The
/// full name stays the function's `system_name` (unset when the same).
pub(super) fn short_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // Depth inside removed argument lists.
    let mut skip = 0usize;
    let mut prev = ' ';
    for c in name.chars() {
        if skip > 0 {
            match c {
                '<' => skip += 1,
                '>' if prev != '-' => skip -= 1,
                _ => {}
            }
        } else if c == '<' && (prev.is_alphanumeric() || matches!(prev, '_' | '}' | ']')) {
            skip = 1;
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// The pseudo-frame of a special owner: its name in folded stacks, without
/// parentheses (pprof drops a parenthesised part of a function name as Go
/// arguments: `[early (estimated)]` would show as `[early ]`).
fn pprof_name(owner: Owner) -> &'static str {
    match owner {
        Owner::Stack => "[no frames]",
        Owner::Early => "[early, estimated]",
        other => other.name(),
    }
}

impl Report<'_> {
    /// The live heap as a pprof profile (profile.proto, gzip-compressed),
    /// written to `w`: what `go tool pprof`, Pyroscope, Parca and
    /// speedscope read.
    ///
    /// - Sample types `inuse_objects`/`count` and `inuse_space`/`bytes`
    ///   (the default), one sample per owner group of [`Report::groups`]
    ///   (allocowner's own allocations left out), so the profile's totals
    ///   are the grouped report's. When the snapshot was sampled, two more
    ///   sample types carry the estimates of the whole heap:
    ///   `inuse_objects_estimate`/`count` and `inuse_space_estimate`/`bytes`.
    /// - The period: `space`/`bytes`, the mean bytes between two sampled
    ///   allocations, 1 when every allocation is recorded.
    /// - Locations are return addresses, in the mapping of the module
    ///   holding them; functions inlined at an address are lines of one
    ///   location, innermost first. A mapping starts where its loadable
    ///   segment does (load address + `p_vaddr`, file offset `p_offset`),
    ///   which `go tool pprof` takes for the executable segment's address
    ///   when it symbolizes. Functions carry names, files and
    ///   lines when the report was symbolized; a report made with
    ///   [`Symbolizer::raw`](super::Symbolizer::raw) leaves them out, and
    ///   `go tool pprof` symbolizes the addresses from the mapped files
    ///   (named with their build ids) on the machine where it runs.
    /// - Special owners (early, failure, unsampled) are one location each,
    ///   address 0, named as in folded stacks but for parentheses
    ///   (`[early, estimated]`, `[depot failure]`, `[unsampled]`), with
    ///   the label `owner`; the early owner's object count is unknown: 0.
    /// - The comments say the capture mode.
    ///
    /// ```no_run
    /// let snapshot = allocowner::snapshot();
    /// let report = allocowner::report::Report::new(&snapshot);
    /// let file = std::fs::File::create("heap.pb.gz")?;
    /// report.write_pprof(std::io::BufWriter::new(file))?;
    /// // then: go tool pprof -top heap.pb.gz
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_pprof(&self, w: impl Write) -> io::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let gz = crate::guard::inside(|| gzip(&self.pprof_message(now)));
        let mut w = w;
        w.write_all(&gz)?;
        w.flush()
    }

    /// The profile message, not compressed, taken at `time_nanos` (since
    /// the Unix epoch).
    pub(super) fn pprof_message(&self, time_nanos: u64) -> Vec<u8> {
        let groups = self.profile_groups();
        let sampled = groups.iter().any(|(_, f)| f.estimate.is_some());
        let mut b = Builder {
            strings: Strings::new(),
            functions: HashMap::new(),
            function_msgs: Vec::new(),
            locations: HashMap::new(),
            location_rows: Vec::new(),
            mappings: Vec::new(),
        };
        if let Some(map) = self.profile_modules() {
            for m in map.modules() {
                let mut ranges = m.mappings.clone();
                ranges.sort_unstable();
                let segments = mapped_segments(m);
                for range in ranges {
                    let (start, end, offset) = match &segments {
                        Some(info) => at_segment(range, m.load_address, &info.segments),
                        None => range,
                    };
                    b.mappings.push(MappingRow {
                        start: start as u64,
                        limit: end as u64,
                        offset,
                        file: m.path.display().to_string(),
                        build_id: m.build_id.clone().unwrap_or_default(),
                        functions: false,
                        filenames: false,
                        inline: false,
                    });
                }
            }
        }
        let mut profile = Message::default();
        let mut types = vec![("inuse_objects", "count"), ("inuse_space", "bytes")];
        if sampled {
            types.push(("inuse_objects_estimate", "count"));
            types.push(("inuse_space_estimate", "bytes"));
        }
        for (ty, unit) in &types {
            let m = value_type(&mut b.strings, ty, unit);
            profile.message(field::PROFILE_SAMPLE_TYPE, &m);
        }
        let owner_key = b.strings.id("owner");
        for (g, fig) in &groups {
            let mut ids = b.stack(&g.frames);
            if g.owner != Owner::Stack || ids.is_empty() {
                let name = pprof_name(g.owner);
                let pseudo = Frame {
                    function: Some(name.to_owned()),
                    ..Frame::unresolved(0)
                };
                ids.push(b.location(0, &[pseudo]));
            }
            let mut s = Message::default();
            s.packed(field::SAMPLE_LOCATION_ID, ids);
            let mut values = vec![fig.count, fig.bytes];
            if sampled {
                let (c, by) = fig.estimate.unwrap_or((fig.count, fig.bytes));
                values.extend([c, by]);
            }
            // profile.proto's values are int64: a saturated estimate
            // stops at i64::MAX rather than reading as negative.
            s.packed(
                field::SAMPLE_VALUE,
                values.into_iter().map(|v| v.min(i64::MAX as u64)),
            );
            if g.owner != Owner::Stack {
                let mut l = Message::default();
                l.uint(field::LABEL_KEY, owner_key);
                let v = b.strings.id(pprof_name(g.owner));
                l.uint(field::LABEL_STR, v);
                s.message(field::SAMPLE_LABEL, &l);
            }
            profile.message(field::PROFILE_SAMPLE, &s);
        }
        b.write_tables(&mut profile);
        profile.uint(field::PROFILE_TIME_NANOS, time_nanos);
        let period_type = value_type(&mut b.strings, "space", "bytes");
        profile.message(field::PROFILE_PERIOD_TYPE, &period_type);
        profile.uint(field::PROFILE_PERIOD, self.sample_period());
        let comment = b.strings.id(&format!(
            "allocowner live heap, capture: {}",
            capture_line(self.snapshot.mode)
        ));
        profile.uint(field::PROFILE_COMMENT, comment);
        let default_type = b.strings.id("inuse_space");
        profile.uint(field::PROFILE_DEFAULT_SAMPLE_TYPE, default_type);
        // The string table last: every id above is in it by now.
        for s in &b.strings.list {
            profile.bytes(field::PROFILE_STRING_TABLE, s.as_bytes());
        }
        profile.into_bytes()
    }
}

#[cfg(test)]
mod tests;
