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
