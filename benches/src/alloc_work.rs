//! The allocation-heavy work of the alloc bench, shared by
//! `benches/alloc.rs` and `examples/alloc_one.rs`: building and dropping a
//! `BTreeMap<String, Vec<u8>>`, parsing a JSON document into
//! `serde_json::Value`s, and random-size churn. Each frees all it
//! allocates; each is `#[inline(never)]`, so allocations have a caller of
//! that name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;

/// Builds a map of `n` entries (a formatted key, a vector of 16 to 79
/// bytes), then drops it; returns its length.
#[inline(never)]
pub fn btree(n: usize) -> usize {
    let mut m = BTreeMap::new();
    for i in 0..n {
        m.insert(format!("key-{i:08}"), vec![i as u8; 16 + i % 64]);
    }
    let len = m.len();
    drop(black_box(m));
    len
}

/// Parses `doc` into `Value`s, then drops them; returns the top array's
/// length.
///
/// # Panics
/// If `doc` is not JSON (the bench's own [`json_doc`] is).
#[inline(never)]
pub fn json(doc: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    let n = v.as_array().map_or(0, Vec::len);
    drop(black_box(v));
    n
}

/// Replaces a vector of 1 to 4096 bytes in one of 1,024 slots `ops`
/// times, xorshift-chosen from `seed`; returns the bytes allocated.
#[inline(never)]
pub fn churn(ops: usize, seed: u64) -> usize {
    let mut state = seed | 1;
    let mut slots: Vec<Vec<u8>> = (0..1024).map(|_| Vec::new()).collect();
    let mut total = 0;
    for _ in 0..ops {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state as usize) % slots.len();
        let size = 1 + ((state >> 32) as usize % 4096);
        slots[i] = vec![0u8; size];
        total += slots[i].len();
    }
    drop(black_box(slots));
    total
}

/// The 0.8 MB document [`json`] parses: 5,000 small nested objects.
#[must_use]
pub fn json_doc() -> String {
    let mut s = String::from("[");
    for i in 0..5000 {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"{{"id":{i},"name":"user-{i}","tags":["a","bb","ccc"],"score":{}.5,"nested":{{"x":[1,2,3],"y":"{}"}}}}"#,
            i % 97,
            "z".repeat(i % 40)
        );
    }
    s.push(']');
    s
}
