//! The body pool against the raw records, in one run, on the generated
//! 20,000-callsite program (`dyndbg-manysites`): a `func` query and a full
//! listing from each store; the first callsite's latency when `DYNDBG` at
//! startup builds the pool; and the sweep of block and dictionary sizes the
//! pool's parameters were chosen from.
//!
//! `cargo bench -p benches --bench pool`

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use benches::{Case, compare};
use dyndbg::__private::pool_check;

const FIRST_VAR: &str = "BENCH_POOL_FIRST_CALLSITE";
const QUERY: &str = "func *rotate* +p";

/// Child: the first callsite of the process, timed.
fn first_callsite() {
    let start = Instant::now();
    dyndbg_manysites::touch_one();
    let took = start.elapsed();
    println!("FIRST {}", took.as_nanos());
}

fn first_callsite_ns(dyndbg: Option<&str>, pool: &str) -> u128 {
    let mut runs: Vec<u128> = (0..5)
        .map(|_| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.env(FIRST_VAR, "1")
                .env("DYNDBG_POOL", pool)
                .env_remove("DYNDBG")
                .env("BENCH_NO_CALLGRIND", "1");
            if let Some(q) = dyndbg {
                cmd.env("DYNDBG", q);
            }
            let out = cmd.output().unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("FIRST ")?.parse().ok())
                .expect("child prints its time")
        })
        .collect();
    runs.sort_unstable();
    runs[runs.len() / 2]
}

fn main() {
    if std::env::var_os(FIRST_VAR).is_some() {
        first_callsite();
        return;
    }
    dyndbg_manysites::touch_all();
    let sites = dyndbg::callsites().len();
    let stores = pool_check::stores();
    let raw_matched = stores.matched(false, QUERY).unwrap();
    assert_eq!(raw_matched, stores.matched(true, QUERY).unwrap());
    assert_eq!(stores.listing(false), stores.listing(true));
    let in_callgrind_child = std::env::var_os("BENCH_CALLGRIND_CASE").is_some();
    // Builds the process's own pool before any case runs (Callgrind's
    // children too), so no case pays for it.
    let stats = dyndbg::stats();
    if !in_callgrind_child {
        println!(
            "{sites} callsites; `{QUERY}` matches {raw_matched}; raw bodies {} KiB, pool {} KiB ({} blocks) = {:.3} of raw",
            stats.raw_body_bytes / 1024,
            stats.pool_bytes / 1024,
            stats.pool_blocks,
            stats.pool_bytes as f64 / stats.raw_body_bytes as f64
        );
    }

    compare(
        &format!("`{QUERY}` over {sites} callsites"),
        &mut [
            Case::new("raw records (DYNDBG_POOL=off)", |n| {
                for _ in 0..n {
                    black_box(stores.matched(false, black_box(QUERY)).unwrap());
                }
            }),
            Case::new("pool", |n| {
                for _ in 0..n {
                    black_box(stores.matched(true, black_box(QUERY)).unwrap());
                }
            }),
            Case::new("dyndbg::control (pool, flags stored)", |n| {
                for _ in 0..n {
                    black_box(dyndbg::control(black_box(QUERY)).unwrap());
                }
            }),
        ],
    );
    compare(
        &format!("full listing of {sites} callsites"),
        &mut [
            Case::new("raw records (DYNDBG_POOL=off)", |n| {
                for _ in 0..n {
                    black_box(stores.listing(false));
                }
            }),
            Case::new("pool", |n| {
                for _ in 0..n {
                    black_box(stores.listing(true));
                }
            }),
        ],
    );
    if in_callgrind_child {
        return;
    }

    println!("\n## first callsite of the process (median of 5 runs)\n");
    println!("| case | µs |");
    println!("|---|---|");
    for (name, q, pool) in [
        ("no DYNDBG (nothing built)", None, "on"),
        (
            "DYNDBG set, DYNDBG_POOL=off (names computed)",
            Some("func no_such_fn +p"),
            "off",
        ),
        ("DYNDBG set, pool built", Some("func no_such_fn +p"), "on"),
    ] {
        println!(
            "| {name} | {:.0} |",
            first_callsite_ns(q, pool) as f64 / 1e3
        );
    }

    println!("\n## pool parameters (level 3): size and speed\n");
    println!("| block | dictionary | pool / raw | blocks | build ms | read all ms | read one µs |");
    println!("|---|---|---|---|---|---|---|");
    for block in [4096, 16384, 65536] {
        for dict in [0, 16384, 32768] {
            let t = pool_check::trial(block, dict, 3);
            println!(
                "| {} KiB | {} KiB | {:.3} | {} | {:.1} | {:.2} | {:.1} |",
                block / 1024,
                dict / 1024,
                t.pool_bytes as f64 / t.raw_body_bytes as f64,
                t.blocks,
                t.build.as_secs_f64() * 1e3,
                t.read_all.as_secs_f64() * 1e3,
                t.read_one.as_secs_f64() * 1e6,
            );
        }
    }
}
