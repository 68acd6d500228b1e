//! The side table's bytes per live record, as `stats()` reports them, on
//! the heap shapes of issue 16: a `BTreeMap<String, Vec<u8>>` with 16-512
//! byte values (at most 24 bytes a record), the same with values of mixed
//! sizes and a third of the entries removed (at most 24), and one small
//! block per 4 KiB page (the sparse worst case: at most 64). Each shape
//! is built in a child process of its own, tracking on from the start, so
//! that the table holds its records alone.
//!
//! The shapes are big enough (100,000 entries, 50,000 pages) that the
//! table's fixed floor (a page of rows per shard that has any) is a small
//! part of the figure, as it is in a real heap.

use std::hint::black_box;

mod common;
#[path = "support/heap_shapes.rs"]
mod heap_shapes;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// The child side: builds the shape, checks its figure.
fn child_side(name: &str) {
    allocowner::enable().expect("allocowner");
    let kept = heap_shapes::shape(name, 100_000);
    let s = allocowner::stats();
    let per = s.bytes_per_record();
    println!(
        "{name}: {} records, {} bytes, {per:.1} B each",
        s.live_records, s.table_bytes
    );
    let goal = if name == "sparse" { 64.0 } else { 24.0 };
    assert!(s.live_records >= 50_000, "{s:?}");
    assert!(
        per > 0.0 && per <= goal,
        "{name}: {per:.1} B a record, goal {goal}: {s:?}"
    );
    // Bit for bit: the same division.
    assert_eq!(
        per.to_bits(),
        (s.table_bytes as f64 / s.live_records as f64).to_bits(),
        "bytes_per_record is table_bytes / live_records"
    );
    drop(black_box(kept));
}

#[test]
fn side_table_bytes_per_record_meet_the_goals() {
    if let Ok(name) = std::env::var("SIDE_TABLE_SHAPE") {
        child_side(&name);
        return;
    }
    let none = allocowner::Stats::default().bytes_per_record();
    assert_eq!(none.to_bits(), 0.0f64.to_bits(), "no records: {none}");
    let mut failed = vec![];
    for name in ["btree", "mixed", "sparse"] {
        let out = common::output_within(
            &mut common::rerun(
                "side_table_bytes_per_record_meet_the_goals",
                &[("SIDE_TABLE_SHAPE", name)],
            ),
            600,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        eprint!("{text}");
        if !out.status.success() {
            failed.push(format!(
                "{name}: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
