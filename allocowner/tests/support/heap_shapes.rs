//! The heap shapes of issue 16 that the side table's bytes per record are
//! measured on: shared by `tests/side_table_bytes.rs` (which checks the
//! goals) and `benches/examples/side_table.rs` (which prints the figures),
//! included with `#[path]`.

use std::collections::BTreeMap;
use std::hint::black_box;

/// Builds shape `name` with `entries` map entries (`btree`, `mixed`) or
/// 50,000 pages (`sparse`), tracking on, and returns what keeps it alive:
/// - `btree`: a `BTreeMap<String, Vec<u8>>` with 16-512 byte values;
/// - `mixed`: the same with values of 8 B to 8 KiB, a third removed;
/// - `sparse`: one 32-byte block per 4 KiB page, each after a 4,000-byte
///   block allocated while tracking is paused (no record).
pub(crate) fn shape(name: &str, entries: usize) -> Box<dyn std::any::Any> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    match name {
        "btree" => {
            let m: BTreeMap<String, Vec<u8>> = (0..entries)
                .map(|i| (format!("key-{i:08}"), vec![1u8; 16 + rng(497)]))
                .collect();
            Box::new(m)
        }
        "mixed" => {
            let mut m: BTreeMap<String, Vec<u8>> = (0..entries)
                .map(|i| {
                    let size = match rng(10) {
                        0..=5 => 8 + rng(120),
                        6..=8 => 128 + rng(896),
                        _ => 1024 + rng(7168),
                    };
                    (format!("key-{i:08}"), vec![2u8; size])
                })
                .collect();
            let mut n = 0;
            m.retain(|_, _| {
                n += 1;
                n % 3 != 0
            });
            Box::new(m)
        }
        "sparse" => {
            let mut blocks = Vec::with_capacity(50_000);
            let mut small = Vec::with_capacity(50_000);
            for _ in 0..50_000 {
                allocowner::disable();
                blocks.push(black_box(vec![0u8; 4000]));
                allocowner::enable().expect("allocowner");
                small.push(black_box(vec![3u8; 32]));
            }
            Box::new((blocks, small))
        }
        other => panic!("heap shape {other}: expected btree, mixed or sparse"),
    }
}
