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
//! `allocowner::enable_with` (for example `depth=4`). `ITERS=N` repeats
//! the measured run N times, for a wall-clock or `perf` comparison of two
//! builds.

use std::hint::black_box;

use benches::alloc_work::{btree, churn, json, json_doc};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

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
    let iters: usize = std::env::var("ITERS").map_or(1, |v| v.parse().expect("ITERS"));
    if std::env::var_os("ZERO").is_none() {
        for _ in 0..iters {
            run();
        }
    }
}
