//! One workload of the alloc bench, once tracked or not, for Callgrind: the
//! instruction counts behind allocowner's tuning, without the bench's
//! harness and its other allocators around it.
//!
//! ```text
//! cargo build --release -p benches --example alloc_one
//! B=target/release/examples/alloc_one
//! WORK=json        valgrind --tool=callgrind $B   # warm-up + measured run
//! WORK=json ZERO=1 valgrind --tool=callgrind $B   # warm-up only
//! ```
//!
//! The difference of the two totals is one steady-state run of `WORK`
//! (`btree`, `json` or `churn`, as in `benches/alloc.rs`) with tracking on;
//! add `OFF=1` to both for the pass-through. `OPTIONS` is given to
//! `allocowner::enable_with` (for example `depth=4`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn btree(n: usize) -> usize {
    let mut m = BTreeMap::new();
    for i in 0..n {
        m.insert(format!("key-{i:08}"), vec![i as u8; 16 + i % 64]);
    }
    let len = m.len();
    drop(black_box(m));
    len
}

#[inline(never)]
fn json(doc: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    let n = v.as_array().map_or(0, Vec::len);
    drop(black_box(v));
    n
}

#[inline(never)]
fn churn(ops: usize, seed: u64) -> usize {
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

fn json_doc() -> String {
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

fn main() {
    let work = std::env::var("WORK").unwrap_or_else(|_| "json".to_owned());
    let doc = json_doc();
    let run = || match work.as_str() {
        "btree" => black_box(btree(20_000)),
        "json" => black_box(json(&doc)),
        "churn" => black_box(churn(50_000, 7)),
        other => panic!("WORK={other}: expected btree, json or churn"),
    };
    if std::env::var_os("OFF").is_none() {
        let options = std::env::var("OPTIONS").unwrap_or_default();
        allocowner::enable_with(&options).expect("OPTIONS");
    }
    run();
    if std::env::var_os("ZERO").is_none() {
        run();
    }
}
