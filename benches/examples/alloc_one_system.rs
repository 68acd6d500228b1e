//! `alloc_one` with `System` as the global allocator: the baseline of the
//! same instruction counts (`benches/alloc_one.sh` runs both).

use std::hint::black_box;

use benches::alloc_work::{btree, churn, json, json_doc};

fn main() {
    let work = std::env::var("WORK").unwrap_or_else(|_| "json".to_owned());
    let doc = json_doc();
    let run = || match work.as_str() {
        "btree" => black_box(btree(20_000)),
        "json" => black_box(json(&doc)),
        "churn" => black_box(churn(50_000, 7)),
        other => panic!("WORK={other}: expected btree, json or churn"),
    };
    run();
    if std::env::var_os("ZERO").is_none() {
        run();
    }
}
