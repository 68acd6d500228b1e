//! Every report format on hand-built snapshots whose stacks are the
//! addresses of real functions of this test binary, so symbolization is
//! really exercised.

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;

use allocowner::report::{Owner, Report, SortBy, Symbolizer, diff};
use allocowner::{Allocation, CaptureMode, Snapshot, Stack, StackHandle};

const KNOWN_A_LINE: u32 = line!() + 2;
#[inline(never)]
fn known_a(x: u64) -> u64 {
    black_box(x).wrapping_mul(3) ^ 0xa
}

const KNOWN_B_LINE: u32 = line!() + 2;
#[inline(never)]
fn known_b(x: u64) -> u64 {
    black_box(x).rotate_left(7) + 0xb
}

#[inline(never)]
fn known_c(x: u64) -> u64 {
    black_box(x).wrapping_sub(0x00c0_ffee) >> 2
}

#[inline(never)]
fn outer(x: u64) -> u64 {
    known_a(x) + known_b(x) + known_c(black_box(x))
}

/// An address inside `f`: its entry plus one, which the symbolizer (looking
/// up `addr - 1`, as for a return address) attributes to `f`'s first line.
fn addr_in(f: fn(u64) -> u64) -> usize {
    f as *const () as usize + 1
}

const A: StackHandle = StackHandle::from_raw(1);
const B: StackHandle = StackHandle::from_raw(2);
const C: StackHandle = StackHandle::from_raw(3);

fn stack(handle: StackHandle, inner: fn(u64) -> u64, sizes: &[usize]) -> Stack {
    Stack {
        handle,
        frames: vec![addr_in(inner), addr_in(outer)],
        live_count: sizes.len() as u64,
        live_bytes: sizes.iter().sum::<usize>() as u64,
    }
}

fn snapshot(mode: CaptureMode, owners: &[(StackHandle, &[usize])]) -> Snapshot {
    let mut allocations = Vec::new();
    let mut stacks = HashMap::new();
    for (i, &(h, sizes)) in owners.iter().enumerate() {
        for (j, &size) in sizes.iter().enumerate() {
            allocations.push(Allocation {
                addr: 0x10_0000 * (i + 1) + 0x100 * j,
                size,
                align: 8,
                stack: h,
                thread: Some(7),
                timestamp_ns: Some(1000 + j as u64),
            });
        }
        let inner = match h {
            A => known_a,
            B => known_b,
            C => known_c,
            _ => continue,
        };
        stacks.insert(h, stack(h, inner, sizes));
    }
    Snapshot {
        mode,
        allocations,
        stacks,
        early_bytes: 4096,
        own_mapped_bytes: 1 << 20,
        sample_bytes: None,
    }
}

/// A: 3 allocations, 600 bytes; B: 5, 250; failure: 2, 30; dummy: 1, 999;
/// early: 4096 estimated. Program: 4976 bytes in 10 allocations.
fn base() -> Snapshot {
    snapshot(
        CaptureMode::FramePointers,
        &[
            (A, &[100, 200, 300]),
            (B, &[50; 5]),
            (StackHandle::FAILURE, &[10, 20]),
            (StackHandle::DUMMY, &[999]),
        ],
    )
}

fn heads(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.ends_with(':'))
        .collect()
}

#[test]
fn grouped_symbolizes_sorts_and_totals_exactly() {
    let _ = outer(black_box(1));
    let snap = base();
    let report = Report::new(&snap);
    let text = report.grouped(SortBy::Bytes, usize::MAX);
    assert!(
        text.starts_with(
            "# allocowner grouped report: live heap by owner stack, sorted by bytes, top 4 of 4 groups\n\
             # capture: frame pointers (every allocation)\n"
        ),
        "{text}"
    );
    let h = heads(&text);
    // allocowner's own allocations (dummy) are ranked nowhere: the footer
    // states them.
    assert_eq!(h.len(), 4, "{text}");
    assert!(
        h[0].starts_with("? times, 4096 bytes, early (estimated"),
        "{text}"
    );
    assert_eq!(h[1], "3 times, 600 bytes:");
    assert_eq!(h[2], "5 times, 250 bytes:");
    assert!(h[3].starts_with("2 times, 30 bytes, failure"), "{text}");
    // The stack of the 600-byte group: known_a, then its caller, with lines.
    let block: Vec<&str> = text
        .split("\n\n")
        .find(|b| b.starts_with("3 times, 600 bytes:"))
        .unwrap()
        .lines()
        .collect();
    let file = file!().rsplit('/').next().unwrap();
    assert!(
        block[1].starts_with(" report_formats::known_a (")
            && block[1].ends_with(&format!("{file}:{KNOWN_A_LINE})")),
        "{block:?}"
    );
    assert!(
        block[2].starts_with(" report_formats::outer ("),
        "{block:?}"
    );
    assert!(
        text.contains(
            "# total: 4976 bytes live in 10 allocations (early estimate included); 4 groups, 4 shown\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "# allocowner's own (not in the totals above): 1048576 bytes mapped from the OS \
             (side table, stack depot), 999 bytes in 1 heap allocations (dummy owner)\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains("# module map"),
        "all frames have debug info: {text}"
    );

    // By count, top 2: totals still cover everything.
    let text = report.grouped(SortBy::Count, 2);
    let h = heads(&text);
    assert_eq!(h, ["5 times, 250 bytes:", "3 times, 600 bytes:"], "{text}");
    assert!(text.contains("top 2 of 4 groups"), "{text}");
    assert!(
        text.contains("# total: 4976 bytes live in 10 allocations"),
        "{text}"
    );

    // The structured groups agree.
    let groups = report.groups(SortBy::Count);
    let counts: Vec<_> = groups.iter().map(|g| (g.owner, g.count, g.bytes)).collect();
    assert_eq!(
        counts,
        [
            (Owner::Stack, Some(5), 250),
            (Owner::Stack, Some(3), 600),
            (Owner::Failure, Some(2), 30),
            (Owner::Dummy, Some(1), 999),
            (Owner::Early, None, 4096),
        ]
    );
    assert_eq!(groups[0].handles, [B]);
    assert_eq!(
        groups[0].frames[0].function.as_deref(),
        Some("report_formats::known_b")
    );
    assert_eq!(groups[0].frames[0].line, Some(KNOWN_B_LINE));
}

#[test]
fn stacks_equal_after_trimming_are_merged() {
    // Two handles, the same frames: one group with the sum.
    let mut snap = snapshot(CaptureMode::FramePointers, &[(A, &[1, 2]), (C, &[4])]);
    let c = snap.stacks.get_mut(&C).unwrap();
    c.frames = vec![addr_in(known_a), addr_in(outer)];
    snap.early_bytes = 0;
    let groups = Report::new(&snap).groups(SortBy::Bytes);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!((groups[0].count, groups[0].bytes), (Some(3), 7));
    assert_eq!(groups[0].handles, [A, C]);
}

#[test]
fn dump_has_one_block_per_allocation_in_address_order() {
    let snap = base();
    let text = Report::new(&snap).dump();
    assert!(
        text.contains(
            "\n\n# allocowner dump: live allocations, one block each\n\
             # capture: frame pointers (every allocation)\n\
             # 11 live allocations, 1879 bytes (program: 10 allocations, 880 bytes)\n\
             # plus about 4096 bytes allocated before tracking was enabled"
        ),
        "{text}"
    );
    let blocks: Vec<&str> = text
        .split("\n\n")
        .filter(|b| b.starts_with("Allocation of"))
        .collect();
    assert_eq!(blocks.len(), 11);
    let addrs: Vec<usize> = blocks
        .iter()
        .map(|b| {
            let line = b.lines().nth(1).unwrap();
            let hex = line.split_once(" address 0x").unwrap().1;
            usize::from_str_radix(hex, 16).unwrap()
        })
        .collect();
    assert!(addrs.is_sorted(), "{addrs:x?}");
    assert_eq!(
        blocks[1].lines().next().unwrap(),
        format!(
            "Allocation of 200 bytes (align 8), order 0, pid 7, tgid {} (?), ts 1001 ns, handle 1",
            std::process::id()
        )
    );
    assert!(
        blocks[1].contains("\n report_formats::known_a ("),
        "{}",
        blocks[1]
    );
    assert!(
        blocks[1].contains("\n report_formats::outer ("),
        "{}",
        blocks[1]
    );
    assert!(
        blocks[10].ends_with("handle dummy\nPFN 0x400 address 0x400000"),
        "{}",
        blocks[10]
    );
    assert!(blocks[8].contains("handle failure"), "{}", blocks[8]);
    assert!(text.contains("999 bytes in 1 heap allocations (dummy owner)"));
}

/// Parses folded stacks back: stack -> bytes.
fn parse_folded(text: &str) -> HashMap<Vec<String>, u64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        // Every line ends with a number, the header included (weight 0).
        let (stack, n) = line.rsplit_once(' ').expect("`stack bytes`");
        if line.starts_with('#') {
            assert_eq!(n, "0", "{line}");
            continue;
        }
        let frames = stack.split(';').map(str::to_owned).collect();
        assert!(out.insert(frames, n.parse::<u64>().unwrap()).is_none());
    }
    out
}

#[test]
fn folded_parses_back_to_the_program_bytes() {
    let snap = base();
    let text = Report::new(&snap).folded();
    assert!(
        text.starts_with(
            "# allocowner folded stacks of live bytes, capture: frame pointers (every allocation) 0\n"
        ),
        "{text}"
    );
    let stacks = parse_folded(&text);
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let want = HashMap::from([
        (
            s(&["report_formats::outer", "report_formats::known_a"]),
            600,
        ),
        (
            s(&["report_formats::outer", "report_formats::known_b"]),
            250,
        ),
        (s(&["[early (estimated)]"]), 4096),
        (s(&["[depot failure]"]), 30),
    ]);
    assert_eq!(stacks, want, "{text}");
    assert_eq!(stacks.values().sum::<u64>(), 4976);
}

/// A strict little XML checker: balanced tags, quoted attributes, known
/// entities, one root. Returns the element names in document order.
fn check_xml(doc: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut rest = doc.trim_start();
    if let Some(r) = rest.strip_prefix("<?xml") {
        rest = &r[r.find("?>").expect("unterminated declaration") + 2..];
    }
    let mut roots = 0;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').expect("unterminated end tag");
            let name = r[..end].trim();
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').expect("unterminated tag");
            let mut tag = &r[..end];
            let empty = tag.ends_with('/');
            if empty {
                tag = &tag[..tag.len() - 1];
            }
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "bad tag {tag:?}"
            );
            let mut attrs = tag[name_end..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find("=\"")
                    .unwrap_or_else(|| panic!("bad attribute in {tag:?}"));
                let after = &attrs[eq + 2..];
                let close = after.find('"').expect("unterminated attribute");
                check_text(&after[..close]);
                attrs = after[close + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            elements.push(name.to_owned());
            if !empty {
                stack.push(name.to_owned());
            }
            rest = &r[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            check_text(&rest[..end]);
            assert!(
                !stack.is_empty() || rest[..end].trim().is_empty(),
                "text outside the root"
            );
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1);
    elements
}

fn check_text(t: &str) {
    assert!(!t.contains('<') && !t.contains('"'), "raw markup in {t:?}");
    let mut parts = t.split('&');
    parts.next();
    for p in parts {
        assert!(
            ["amp;", "lt;", "gt;", "quot;", "apos;"]
                .iter()
                .any(|e| p.starts_with(e)),
            "bad entity in {t:?}"
        );
    }
}

#[test]
fn flamegraph_is_well_formed_with_one_rectangle_per_frame() {
    let snap = base();
    let svg = Report::new(&snap).flamegraph_svg();
    let elements = check_xml(&svg);
    assert_eq!(elements[0], "svg");
    // all, [early], [depot failure], outer, known_a, known_b.
    assert_eq!(svg.matches("<g class=\"frame\">").count(), 6, "{svg}");
    // Plus the background.
    assert_eq!(elements.iter().filter(|e| *e == "rect").count(), 7);
    assert!(
        svg.contains("<title>all (4976 bytes, 100.00%)</title>"),
        "{svg}"
    );
    assert!(svg.contains("<title>report_formats::known_a (600 bytes, 12.06%)</title>"));
    assert!(svg.contains("<title>report_formats::outer (850 bytes, 17.08%)</title>"));
    assert!(svg.contains("capture: frame pointers (every allocation)"));
    assert!(svg.contains("allocowner&apos;s own 1048576 bytes"));
    // Widths are proportional to bytes: all = 1180 px.
    assert!(svg.contains("width=\"1180.00\""), "{svg}");
    // known_a: 600 / 4976 of 1180.
    let w = 600.0 * 1180.0 / 4976.0;
    assert!(svg.contains(&format!("width=\"{w:.2}\"")), "{svg}");
}

#[test]
fn diff_shows_exactly_the_growth() {
    let before = base();
    let after = snapshot(
        CaptureMode::FramePointers,
        &[
            (A, &[100, 200, 300, 1000, 1000]),
            (B, &[50; 4]),
            (C, &[64]),
            (StackHandle::FAILURE, &[10, 20]),
            (StackHandle::DUMMY, &[999, 1]),
        ],
    );
    let d = diff(&before, &after);
    let rows: Vec<_> = d
        .entries
        .iter()
        .map(|e| {
            (
                e.owner,
                e.frames.first().and_then(|f| f.function.clone()),
                e.bytes_growth(),
                e.count_growth(),
            )
        })
        .collect();
    let name = |s: &str| Some(format!("report_formats::{s}"));
    assert_eq!(
        rows,
        [
            (Owner::Stack, name("known_a"), 2000, 2),
            (Owner::Stack, name("known_c"), 64, 1),
            (Owner::Dummy, None, 1, 1),
            (Owner::Stack, name("known_b"), -50, -1),
        ]
    );
    assert_eq!(d.bytes_growth(), 2014);
    assert_eq!(d.count_growth(), 2);
    let text = d.to_string();
    assert!(
        text.contains(
            "+2000 bytes, +2 allocations (before 600 bytes in 3, after 2600 bytes in 5):\n \
             report_formats::known_a ("
        ),
        "{text}"
    );
    assert!(
        text.contains("-50 bytes, -1 allocations (before 250 bytes in 5, after 200 bytes in 4):")
    );
    assert!(
        text.contains(
            "# capture: before: frame pointers (every allocation); after: frame pointers"
        )
    );
    assert!(
        text.contains("# total growth: +2014 bytes, +2 allocations (program); 4 owners changed")
    );
    assert!(
        !text.contains("failure"),
        "unchanged owners are left out: {text}"
    );
}

#[test]
fn every_report_names_the_sampling_mode() {
    let snap = snapshot(
        CaptureMode::Sampling { every: 128 },
        &[(A, &[8]), (StackHandle::UNSAMPLED, &[16, 16])],
    );
    let r = Report::new(&snap);
    let mode = "sampling 1 in 128 allocations with the unwinder";
    for (name, text) in [
        ("dump", r.dump()),
        ("grouped", r.grouped(SortBy::Bytes, 10)),
        ("folded", r.folded()),
        ("svg", r.flamegraph_svg()),
        ("diff", diff(&snap, &snap).to_string()),
    ] {
        assert!(text.contains(mode), "{name}: {text}");
    }
    let grouped = r.grouped(SortBy::Bytes, 10);
    assert!(grouped.contains("2 times, 32 bytes, unsampled (sampling mode: stack not captured):"));
    assert!(r.folded().contains("\n[unsampled] 32\n"));
}

#[test]
fn without_debug_info_raw_addresses_and_the_module_map_symbolize_offline() {
    let snap = base();
    let report = Report::with_symbolizer(&snap, &mut Symbolizer::raw());
    let text = report.grouped(SortBy::Bytes, usize::MAX);
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    // The frame line: raw address, then the file and the address inside it.
    let block = text
        .split("\n\n")
        .find(|b| b.starts_with("3 times, 600 bytes:"))
        .unwrap();
    let frame = block.lines().nth(1).unwrap();
    let want_addr = addr_in(known_a);
    assert!(
        frame.starts_with(&format!(" {want_addr:#x} ({exe}+0x")),
        "{frame}"
    );
    let file_addr = frame.rsplit_once("+0x").unwrap().1.trim_end_matches(')');
    // The module map: path, build-id, load address and the addr2line hint.
    let map_line = text
        .lines()
        .find(|l| l.starts_with(&format!("# {exe} build-id ")))
        .unwrap_or_else(|| panic!("no module line: {text}"));
    let build_id = map_line.split(' ').nth(3).unwrap();
    assert_eq!(build_id, readelf_build_id(exe), "{map_line}");
    let load = map_line.rsplit_once("load address 0x").unwrap().1;
    let load = usize::from_str_radix(load, 16).unwrap();
    assert_eq!(
        usize::from_str_radix(file_addr, 16).unwrap(),
        want_addr - load,
        "ADDR-LOAD is the address inside the file"
    );
    assert!(
        text.contains(&format!(
            "#   symbolize offline: addr2line -C -f -i -e {exe} ADDR-{load:#x}\n"
        )),
        "{text}"
    );
    // And the hint works: addr2line names the function.
    let out = Command::new("addr2line")
        .args(["-C", "-f", "-e", exe, &format!("0x{file_addr}")])
        .output()
        .expect("addr2line (binutils) must be installed for this test");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.lines().next().unwrap_or("").contains("known_a"),
        "addr2line said {out:?}"
    );
    // Folded stacks use `file+0xADDR` labels.
    let exe_name = exe.rsplit('/').next().unwrap();
    assert!(
        report
            .folded()
            .contains(&format!("{exe_name}+0x{file_addr}")),
        "{}",
        report.folded()
    );
}

fn readelf_build_id(exe: &str) -> String {
    let out = Command::new("readelf")
        .args(["-n", exe])
        .output()
        .expect("readelf (binutils) must be installed for this test");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("the test binary has a GNU build-id")
        .to_owned()
}

#[test]
fn garbage_addresses_and_empty_snapshots_give_valid_reports() {
    let h = StackHandle::from_raw(9);
    let snap = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![Allocation {
            addr: 0x10,
            size: 5,
            align: 1,
            stack: h,
            thread: None,
            timestamp_ns: None,
        }],
        stacks: HashMap::from([(
            h,
            Stack {
                handle: h,
                frames: vec![1, 0x10, usize::MAX],
                live_count: 1,
                live_bytes: 5,
            },
        )]),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    let r = Report::new(&snap);
    let text = r.grouped(SortBy::Bytes, 5);
    assert!(
        text.contains("1 times, 5 bytes:\n 0x1\n 0x10\n 0xffffffffffffffff\n"),
        "{text}"
    );
    let dump = r.dump();
    assert!(
        dump.contains(
            &format!(
                "Allocation of 5 bytes (align 1), order 0, pid ?, tgid {} (?), ts ?, handle 9\nPFN 0x0 address 0x10\n 0x1\n",
                std::process::id()
            )
        ),
        "{dump}"
    );
    assert!(
        r.folded().ends_with("\n0xffffffffffffffff;0x10;0x1 5\n"),
        "{}",
        r.folded()
    );
    check_xml(&r.flamegraph_svg());

    let empty = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![],
        stacks: HashMap::new(),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    let r = Report::new(&empty);
    assert!(
        r.grouped(SortBy::Bytes, 5)
            .contains("# total: 0 bytes live in 0 allocations; 0 groups, 0 shown")
    );
    let svg = r.flamegraph_svg();
    check_xml(&svg);
    assert_eq!(svg.matches("class=\"frame\"").count(), 0);
    assert_eq!(r.folded().lines().count(), 1);
    assert!(diff(&empty, &empty).entries.is_empty());
}
