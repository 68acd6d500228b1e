//! Round trip of the pprof writer through an independent decoder.

use std::collections::HashMap;

use super::*;
use crate::report::Symbolizer;
use crate::report::tests::alloc;
use crate::{CaptureMode, Snapshot, Stack, StackHandle};

/// One decoded field: a varint or length-delimited bytes.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
        assert!(shift < 64, "varint too long");
    }
}

/// Decodes a message into (field, value) pairs, in order.
fn decode(buf: &[u8]) -> Vec<(u32, Value)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = get_varint(buf, &mut pos);
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => out.push((field, Value::Varint(get_varint(buf, &mut pos)))),
            2 => {
                let len = get_varint(buf, &mut pos) as usize;
                out.push((field, Value::Bytes(buf[pos..pos + len].to_vec())));
                pos += len;
            }
            t => panic!("wire type {t} not written by the encoder"),
        }
    }
    out
}

fn varints(m: &[(u32, Value)], f: u32) -> Vec<u64> {
    let mut out = Vec::new();
    for (k, v) in m {
        if *k != f {
            continue;
        }
        match v {
            Value::Varint(x) => out.push(*x),
            Value::Bytes(b) => {
                let mut pos = 0;
                while pos < b.len() {
                    out.push(get_varint(b, &mut pos));
                }
            }
        }
    }
    out
}

fn one(m: &[(u32, Value)], f: u32) -> u64 {
    varints(m, f).first().copied().unwrap_or(0)
}

fn messages(m: &[(u32, Value)], f: u32) -> Vec<Vec<(u32, Value)>> {
    m.iter()
        .filter(|(k, _)| *k == f)
        .map(|(_, v)| match v {
            Value::Bytes(b) => decode(b),
            Value::Varint(_) => panic!("field {f} is not a message"),
        })
        .collect()
}

/// Reads a gzip member as [`gzip`] writes it, checking CRC and length.
fn gunzip(gz: &[u8]) -> Vec<u8> {
    assert_eq!(gz[..4], [0x1f, 0x8b, 8, 0], "gzip header, no flags");
    let (body, trailer) = gz[10..].split_at(gz.len() - 18);
    let raw = miniz_oxide::inflate::decompress_to_vec(body).unwrap();
    assert_eq!(trailer[..4], crc32(&raw).to_le_bytes());
    assert_eq!(trailer[4..], (raw.len() as u32).to_le_bytes());
    raw
}

#[test]
fn short_names_drop_generic_arguments() {
    for (full, short) in [
        (
            "collect<core::iter::Map<I, F>, alloc::vec::Vec<u8>>",
            "collect",
        ),
        ("call_mut<fn(u32) -> app::Session, (u32)>", "call_mut"),
        ("{closure#0}<u32, app::S>", "{closure#0}"),
        (
            "<alloc::vec::Vec<T> as core::Foo>::from_iter",
            "<alloc::vec::Vec as core::Foo>::from_iter",
        ),
        ("app::main", "app::main"),
    ] {
        assert_eq!(short_name(full), short, "{full}");
    }
}

#[test]
fn crc32_is_gzips() {
    // The check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn gzip_round_trips_through_flate2() {
    use std::io::Read as _;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let gz = gzip(&data);
    assert!(gz.len() < data.len() / 10, "compressed: {}", gz.len());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, data);
    assert_eq!(gunzip(&gz), data);
}

#[test]
fn varints_round_trip_at_their_edges() {
    for v in [
        0,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut m = Message::default();
        m.uint(7, v);
        m.uint(8, u64::MAX);
        m.bytes(9, b"xy");
        m.packed(10, [v, 1, v]);
        let d = decode(&m.into_bytes());
        let mut want = Vec::new();
        if v != 0 {
            want.push((7, Value::Varint(v)));
        }
        want.push((8, Value::Varint(u64::MAX)));
        want.push((9, Value::Bytes(b"xy".to_vec())));
        assert_eq!(&d[..want.len()], &want[..]);
        assert_eq!(varints(&d, 10), [v, 1, v]);
    }
}

fn named(addr: usize, function: &str, line: u32, inlined: bool) -> Frame {
    Frame {
        addr,
        function: Some(function.to_owned()),
        file: Some("src/app.rs".to_owned()),
        line: Some(line),
        inlined,
    }
}

/// A sample as decoded: its locations (address, function names innermost
/// first) and its values.
type Sample<'a> = (Vec<(u64, Vec<&'a str>)>, Vec<u64>);

/// The profile (not compressed) of a report with two stacks, `push`
/// inlined into `load` called from `main`, and `main` alone at the same
/// return address; the early owner; and a dummy allocation. Checks that
/// the gzip stream is that message.
fn two_stack_profile() -> Vec<u8> {
    let h1 = StackHandle::from_raw(1);
    let h2 = StackHandle::from_raw(2);
    let stack = |h, n, b| Stack {
        handle: h,
        frames: vec![],
        live_count: n,
        live_bytes: b,
    };
    let snapshot = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![
            alloc(0x10, 100, h1),
            alloc(0x20, 200, h2),
            alloc(0x30, 64, StackHandle::DUMMY),
        ],
        stacks: HashMap::from([(h1, stack(h1, 3, 300)), (h2, stack(h2, 1, 200))]),
        early_bytes: 4096,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
    // h1: `push` inlined into `load` at one address, called from `main`;
    // h2: `main` alone at the same return address as h1's caller.
    report.stacks.insert(
        h1,
        vec![
            named(0x1000, "push", 5, true),
            named(0x1000, "load", 10, false),
            named(0x2000, "main", 20, false),
        ],
    );
    report
        .stacks
        .insert(h2, vec![named(0x2000, "main", 20, false)]);

    let mut gz = Vec::new();
    report.write_pprof(&mut gz).unwrap();
    let raw = gunzip(&gz);
    let time = one(&decode(&raw), field::PROFILE_TIME_NANOS);
    assert!(time > 0);
    assert_eq!(raw, report.pprof_message(time), "gzip round trip");
    raw
}

#[test]
fn profile_round_trips_with_types_samples_locations_and_functions() {
    let raw = two_stack_profile();
    let p = decode(&raw);
    let strings: Vec<String> = p
        .iter()
        .filter(|(k, _)| *k == field::PROFILE_STRING_TABLE)
        .map(|(_, v)| match v {
            Value::Bytes(b) => String::from_utf8(b.clone()).unwrap(),
            Value::Varint(_) => panic!("string is a varint"),
        })
        .collect();
    assert_eq!(strings[0], "");
    let s = |i: u64| strings[i as usize].as_str();
    let types: Vec<(&str, &str)> = messages(&p, field::PROFILE_SAMPLE_TYPE)
        .iter()
        .map(|m| (s(one(m, 1)), s(one(m, 2))))
        .collect();
    assert_eq!(
        types,
        [("inuse_objects", "count"), ("inuse_space", "bytes")]
    );
    assert_eq!(
        s(one(&p, field::PROFILE_DEFAULT_SAMPLE_TYPE)),
        "inuse_space"
    );
    let period = &messages(&p, field::PROFILE_PERIOD_TYPE)[0];
    assert_eq!((s(one(period, 1)), s(one(period, 2))), ("space", "bytes"));
    assert_eq!(one(&p, field::PROFILE_PERIOD), 1);
    assert!(s(one(&p, field::PROFILE_COMMENT)).contains("frame pointers"));

    let functions: HashMap<u64, &str> = messages(&p, field::PROFILE_FUNCTION)
        .iter()
        .map(|m| (one(m, 1), s(one(m, 2))))
        .collect();
    let locations: HashMap<u64, (u64, Vec<&str>)> = messages(&p, field::PROFILE_LOCATION)
        .iter()
        .map(|m| {
            let lines = messages(m, field::LOCATION_LINE)
                .iter()
                .map(|l| functions[&one(l, 1)])
                .collect();
            (one(m, 1), (one(m, field::LOCATION_ADDRESS), lines))
        })
        .collect();
    // Three locations: 0x1000 (push inlined in load), 0x2000 (main, shared
    // by both stacks), and the early owner's pseudo-location.
    assert_eq!(locations.len(), 3, "{locations:?}");
    let mut samples: Vec<Sample<'_>> = messages(&p, field::PROFILE_SAMPLE)
        .iter()
        .map(|m| {
            let stack = varints(m, field::SAMPLE_LOCATION_ID)
                .iter()
                .map(|id| locations[id].clone())
                .collect();
            (stack, varints(m, field::SAMPLE_VALUE))
        })
        .collect();
    samples.sort_by_key(|(_, v)| v[1]);
    assert_eq!(
        samples,
        [
            (vec![(0x2000, vec!["main"])], vec![1, 200]),
            (
                vec![(0x1000, vec!["push", "load"]), (0x2000, vec!["main"])],
                vec![3, 300]
            ),
            (vec![(0, vec!["[early, estimated]"])], vec![0, 4096]),
        ]
    );
    // The dummy owner's 64 bytes are not in the profile.
    let total: u64 = samples.iter().map(|(_, v)| v[1]).sum();
    assert_eq!(total, 200 + 300 + 4096);
}

#[test]
fn a_mapping_starts_at_its_segment() {
    use super::super::elf::Segment;
    // lld's layout: a read-only segment, then the text mid-page.
    let segments = [
        Segment {
            offset: 0,
            vaddr: 0,
            filesz: 0xb_8574,
        },
        Segment {
            offset: 0xb_8580,
            vaddr: 0xb_9580,
            filesz: 0x1b_ab80,
        },
    ];
    let load = 0x5555_0000_0000;
    // /proc/self/maps: the text's pages.
    let text = (load + 0xb_9000, load + 0x27_4000, 0xb_8000);
    assert_eq!(
        at_segment(text, load, &segments),
        (load + 0xb_9580, load + 0x27_4000, 0xb_8580)
    );
    // The read-only mapping starts at its segment already.
    let ro = (load, load + 0xb_9000, 0);
    assert_eq!(at_segment(ro, load, &segments), ro);
    // A mapping no segment fits is kept.
    let other = (load + 0x100_0000, load + 0x100_1000, 0x80_0000);
    assert_eq!(at_segment(other, load, &segments), other);
}

#[test]
fn segments_of_a_replaced_file_are_not_used() {
    let exe = std::env::current_exe().unwrap();
    let map = super::super::ModuleMap::current().unwrap();
    let me = map.modules().iter().find(|m| m.path == exe).unwrap();
    assert!(mapped_segments(me).is_some());
    let replaced = super::super::Module::saved(
        exe.clone(),
        Some("00".repeat(20)),
        me.load_address,
        me.mappings.clone(),
    );
    assert!(mapped_segments(&replaced).is_none());
}

#[test]
fn huge_estimates_saturate_and_fit_pprofs_int64() {
    // Two sampled records of 1 byte, one period of u64::MAX bytes: each
    // stands for about 2^64 bytes; their group's sum saturates, and pprof
    // reads int64 values, so the values written stop at i64::MAX.
    let (h1, h2) = (
        StackHandle::from_raw((1 << 31) | 1),
        StackHandle::from_raw((1 << 31) | 2),
    );
    let stack = |h| Stack {
        handle: h,
        frames: vec![],
        live_count: 1,
        live_bytes: 1,
    };
    let snapshot = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![alloc(0x10, 1, h1), alloc(0x20, 1, h2)],
        stacks: HashMap::from([(h1, stack(h1)), (h2, stack(h2))]),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: Some(u64::MAX),
    };
    let mut report = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
    report.stacks.insert(h1, vec![named(0x1000, "f", 1, false)]);
    report.stacks.insert(h2, vec![named(0x1000, "f", 1, false)]);
    let p = decode(&report.pprof_message(1));
    let samples = messages(&p, field::PROFILE_SAMPLE);
    assert_eq!(samples.len(), 1);
    let values = varints(&samples[0], field::SAMPLE_VALUE);
    assert_eq!(values[..2], [2, 2]);
    assert_eq!(values[2..], [i64::MAX as u64, i64::MAX as u64]);
    let mut json = Vec::new();
    report.write_dhat(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json.contains(&format!("\"tb\":{}", u64::MAX)), "{json}");
}
