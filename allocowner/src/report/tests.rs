//! Unit tests on hand-built snapshots (no symbols needed).

use super::*;
use crate::Allocation;

pub(super) fn alloc(addr: usize, size: usize, stack: StackHandle) -> Allocation {
    Allocation {
        addr,
        size,
        align: 8,
        stack,
        thread: Some(1),
        timestamp_ns: Some(10),
    }
}

#[test]
fn totals_use_depot_counters_for_stored_stacks_and_records_otherwise() {
    let h = StackHandle(1);
    let snapshot = Snapshot {
        mode: CaptureMode::Sampling { every: 64 },
        allocations: vec![
            alloc(0x10, 8, h),
            alloc(0x20, 16, StackHandle::UNSAMPLED),
            alloc(0x30, 32, StackHandle::UNSAMPLED),
            alloc(0x40, 64, StackHandle::DUMMY),
        ],
        stacks: HashMap::from([(
            h,
            Stack {
                handle: h,
                frames: vec![],
                live_count: 5,
                live_bytes: 500,
            },
        )]),
        early_bytes: 7,
        own_mapped_bytes: 4096,
        sample_bytes: None,
    };
    let r = Report::with_symbolizer(&snapshot, &mut Symbolizer::raw());
    let mut t = r.totals();
    t.sort();
    assert_eq!(
        t,
        [
            (h, Some(5), 500),
            (StackHandle::UNSAMPLED, Some(2), 48),
            (StackHandle::EARLY, None, 7),
            (StackHandle::DUMMY, Some(1), 64),
        ]
    );
    let text = r.grouped(SortBy::Count, usize::MAX);
    assert!(
        text.contains("# capture: sampling 1 in 64 allocations"),
        "{text}"
    );
    // Program: 500 + 48 + 7 bytes, 5 + 2 allocations; dummy apart.
    assert!(
        text.contains(
            "# total: 555 bytes live in 7 allocations (early estimate included); 3 groups, 3 shown"
        ),
        "{text}"
    );
    assert!(
        text.contains("4096 bytes mapped from the OS (side table, stack depot), 64 bytes in 1 heap allocations (dummy owner)"),
        "{text}"
    );
    // Sorted by count: 5, 2, then the early owner (count unknown); the
    // dummy owner is in the footer only.
    let heads: Vec<&str> = text.lines().filter(|l| l.ends_with(':')).collect();
    assert_eq!(heads.len(), 3, "{text}");
    assert!(heads[0].starts_with("5 times, 500 bytes"));
    assert!(heads[1].starts_with("2 times, 48 bytes, unsampled"));
    assert!(heads[2].starts_with("? times, 7 bytes, early"));
}

/// A symbolized frame: `function (file:line)` at return address `addr`.
fn at(addr: usize, function: &str, line: u32) -> Frame {
    Frame {
        addr,
        function: Some(function.to_owned()),
        file: Some("src/app.rs".to_owned()),
        line: Some(line),
        inlined: false,
    }
}

fn stack(h: StackHandle, count: u64, bytes: u64) -> (StackHandle, Stack) {
    (
        h,
        Stack {
            handle: h,
            frames: vec![h.raw() as usize],
            live_count: count,
            live_bytes: bytes,
        },
    )
}

/// A report whose stacks are the given symbolized frames (as the
/// symbolizer would give them), without reading any debug info.
fn injected<'a>(snapshot: &'a Snapshot, frames: &[(StackHandle, Vec<Frame>)]) -> Report<'a> {
    let stacks: HashMap<StackHandle, Vec<Frame>> = frames.iter().cloned().collect();
    let render = Render::for_frames(stacks.values().flatten());
    Report {
        snapshot,
        stacks,
        render,
        live: false,
        pid: None,
    }
}

/// Two calls on one source line: different return addresses in `main`,
/// the same printed stack.
fn same_line_snapshot(counts: [u64; 3]) -> (Snapshot, Vec<(StackHandle, Vec<Frame>)>) {
    let (h1, h2, h3) = (StackHandle(1), StackHandle(2), StackHandle(3));
    let frames = vec![
        (
            h1,
            vec![at(0x100, "app::make", 3), at(0x200, "app::main", 9)],
        ),
        (
            h2,
            vec![at(0x100, "app::make", 3), at(0x208, "app::main", 9)],
        ),
        // Same functions, another line of main: a group of its own.
        (
            h3,
            vec![at(0x100, "app::make", 3), at(0x300, "app::main", 10)],
        ),
    ];
    let snapshot = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![],
        stacks: HashMap::from([
            stack(h1, counts[0], counts[0] * 64),
            stack(h2, counts[1], counts[1] * 64),
            stack(h3, counts[2], counts[2] * 64),
        ]),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    (snapshot, frames)
}

#[test]
fn stacks_that_print_identically_are_one_group() {
    let (snapshot, frames) = same_line_snapshot([3, 2, 1]);
    let r = injected(&snapshot, &frames);
    let groups = r.groups(SortBy::Bytes);
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert_eq!(groups[0].count, Some(5));
    assert_eq!(groups[0].bytes, 5 * 64);
    assert_eq!(groups[0].handles, [StackHandle(1), StackHandle(2)]);
    // The lowest handle's frames stand for the group.
    assert_eq!(groups[0].frames, frames[0].1);
    assert_eq!(groups[1].handles, [StackHandle(3)]);

    let text = r.grouped(SortBy::Bytes, usize::MAX);
    assert!(
        text.contains(
            "5 times, 320 bytes:\n app::make (src/app.rs:3)\n app::main (src/app.rs:9)\n\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "1 times, 64 bytes:\n app::make (src/app.rs:3)\n app::main (src/app.rs:10)\n"
        ),
        "{text}"
    );
    assert_eq!(text.matches(" times, ").count(), 2, "{text}");
    assert!(text.contains("top 2 of 2 groups"), "{text}");

    // Folded stacks and the flame graph name frames by function only: the
    // three stacks are one line there.
    assert_eq!(
        r.folded_stacks(),
        [(vec!["app::main".to_owned(), "app::make".to_owned()], 6 * 64)]
    );
    let svg = r.flamegraph_svg();
    assert!(svg.contains("<title>app::make (384 bytes"), "{svg}");
    assert_eq!(svg.matches("<title>app::make ").count(), 1, "{svg}");
}

#[test]
fn raw_frames_differing_in_address_stay_apart() {
    // Without debug info the address is what is printed: not merged.
    let (h1, h2) = (StackHandle(1), StackHandle(2));
    let snapshot = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![],
        stacks: HashMap::from([stack(h1, 1, 8), stack(h2, 1, 8)]),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    let frames = [
        (h1, vec![Frame::unresolved(0x10)]),
        (h2, vec![Frame::unresolved(0x18)]),
    ];
    let r = injected(&snapshot, &frames);
    assert_eq!(r.groups(SortBy::Bytes).len(), 2);
}

#[test]
fn diff_matches_owners_by_printed_stack() {
    // Before: the line's first call site owns 3; after: the second owns 2
    // more. One owner grew by 2, whichever return address it was.
    let (before, frames) = same_line_snapshot([3, 0, 1]);
    let (after, _) = same_line_snapshot([3, 2, 1]);
    let d = diff::diff_reports(&injected(&before, &frames), &injected(&after, &frames));
    assert_eq!(d.entries.len(), 1, "{d}");
    let e = &d.entries[0];
    assert_eq!((e.before_count, e.after_count), (Some(3), Some(5)), "{d}");
    assert_eq!((e.bytes_growth(), e.count_growth()), (128, 2));
}
