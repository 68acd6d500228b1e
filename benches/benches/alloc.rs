//! `OwnerAlloc` against `System` and dhat's heap profiler on allocation-heavy
//! work a Rust user recognises, the four variants interleaved in one run:
//! building and dropping a `BTreeMap<String, Vec<u8>>`, parsing a JSON
//! document into `serde_json::Value`s, and random-size churn, on 1 and on 8
//! threads. First, allocowner's own memory: side-table bytes per live
//! allocation and depot bytes per unique stack.
//!
//! `cargo bench -p benches --bench alloc` (`BENCH_NO_CALLGRIND=1` skips the
//! instruction counts).
//!
//! One `#[global_allocator]` dispatches every call by a mode atomic to
//! `System`, to `OwnerAlloc` (never enabled, or enabled), or to
//! `dhat::Alloc` with a running profiler. Each round of a case switches the
//! mode, runs its work (which frees all it allocates) and switches back to
//! `System`, so no block crosses variants. The switching (for `OwnerAlloc`
//! on, `enable()` before and `stop()` after) is outside the timed part, as
//! tracking in a program is on for long stretches; what it costs is printed
//! apart, with the memory figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use benches::alloc_work::{btree, churn, json, json_doc};
use benches::{Case, compare};

const SYSTEM: u8 = 0;
const OWNER: u8 = 1;
const DHAT: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(SYSTEM);
static OWNER_ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();
static DHAT_ALLOC: dhat::Alloc = dhat::Alloc;

struct Dispatch;

// SAFETY: every call is forwarded unchanged to one of three allocators that
// all end in the system allocator, so a block may be freed by any of them.
unsafe impl GlobalAlloc for Dispatch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded (GlobalAlloc contract).
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                OWNER => OWNER_ALLOC.alloc(layout),
                DHAT => DHAT_ALLOC.alloc(layout),
                _ => System.alloc(layout),
            }
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded (GlobalAlloc contract).
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                OWNER => OWNER_ALLOC.alloc_zeroed(layout),
                DHAT => DHAT_ALLOC.alloc_zeroed(layout),
                _ => System.alloc_zeroed(layout),
            }
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded (GlobalAlloc contract).
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                OWNER => OWNER_ALLOC.dealloc(ptr, layout),
                DHAT => DHAT_ALLOC.dealloc(ptr, layout),
                _ => System.dealloc(ptr, layout),
            }
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded (GlobalAlloc contract).
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                OWNER => OWNER_ALLOC.realloc(ptr, layout, new_size),
                DHAT => DHAT_ALLOC.realloc(ptr, layout, new_size),
                _ => System.realloc(ptr, layout, new_size),
            }
        }
    }
}

#[global_allocator]
static ALLOC: Dispatch = Dispatch;

/// The four variants.
#[derive(Clone, Copy)]
enum Variant {
    System,
    OwnerOff,
    OwnerOn,
    Dhat,
}

/// Switches the allocator to `variant` (before a round, untimed).
fn enter(variant: Variant) {
    match variant {
        Variant::System => MODE.store(SYSTEM, Ordering::SeqCst),
        Variant::OwnerOff => MODE.store(OWNER, Ordering::SeqCst),
        Variant::OwnerOn => {
            MODE.store(OWNER, Ordering::SeqCst);
            allocowner::enable().expect("allocowner");
        }
        Variant::Dhat => MODE.store(DHAT, Ordering::SeqCst),
    }
}

/// Back to `System` after a round of `variant` (untimed).
fn leave(variant: Variant) {
    if let Variant::OwnerOn = variant {
        allocowner::stop();
    }
    MODE.store(SYSTEM, Ordering::SeqCst);
}

fn on_threads(threads: usize, work: impl Fn(u64) -> usize + Sync) -> usize {
    if threads == 1 {
        return work(1);
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads as u64)
            .map(|t| {
                s.spawn({
                    let w = &work;
                    move || w(t + 1)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

fn table(title: &str, threads: usize, work: &(dyn Fn(u64) -> usize + Sync)) {
    let variants = [
        ("System", Variant::System),
        ("OwnerAlloc off", Variant::OwnerOff),
        ("OwnerAlloc on", Variant::OwnerOn),
        ("dhat::Alloc + Profiler", Variant::Dhat),
    ];
    let mut cases: Vec<Case<'_>> = variants
        .iter()
        .map(|&(name, v)| {
            Case::new(name, move |iters: u64| {
                for _ in 0..iters {
                    black_box(on_threads(threads, work));
                }
            })
            .around(move || enter(v), move || leave(v))
        })
        .collect();
    compare(&format!("{title}, {threads} thread(s)"), &mut cases);
}

/// Side-table bytes per live allocation and depot bytes per unique stack,
/// at the peak of the BTreeMap workload (200,000 entries).
fn footprint() {
    MODE.store(OWNER, Ordering::SeqCst);
    allocowner::enable().expect("allocowner");
    let mut m = BTreeMap::new();
    for i in 0..200_000usize {
        m.insert(format!("key-{i:08}"), vec![i as u8; 16 + i % 64]);
    }
    let s = allocowner::stats();
    drop(black_box(m));
    let t = Instant::now();
    allocowner::stop();
    let stop = t.elapsed();
    let t = Instant::now();
    allocowner::enable().expect("allocowner");
    let enable = t.elapsed();
    allocowner::stop();
    MODE.store(SYSTEM, Ordering::SeqCst);
    println!("\n## allocowner's own memory (BTreeMap of 200,000 entries, at its peak)\n");
    println!("| figure | value |");
    println!("|---|---|");
    println!("| live records | {} |", s.live_records);
    println!("| record bytes (core client) | {} |", s.record_bytes);
    println!("| side-table bytes mapped | {} |", s.table_bytes);
    println!(
        "| side-table bytes per live allocation | {:.1} |",
        s.table_bytes as f64 / s.live_records.max(1) as f64
    );
    println!("| unique stacks in the depot | {} |", s.depot_stacks);
    println!(
        "| depot record bytes per unique stack | {:.1} (16 + 8 x {:.1} frames) |",
        s.depot_record_bytes as f64 / s.depot_stacks.max(1) as f64,
        (s.depot_record_bytes as f64 / s.depot_stacks.max(1) as f64 - 16.0) / 8.0
    );
    println!(
        "| depot pools + index mapped | {} + {} bytes |",
        s.depot_pool_bytes, s.depot_index_bytes
    );
    println!("| all bytes allocowner mapped | {} |", s.own_mapped_bytes);
    println!(
        "| stop(), then enable() again, with the table at that size | {} us, {} us |",
        stop.as_micros(),
        enable.as_micros()
    );
}

fn main() {
    let child = std::env::var_os("BENCH_CALLGRIND_CASE").is_some();
    if !child {
        // First, on a fresh side table (stop() keeps a table's size).
        footprint();
    }
    let _profiler = dhat::Profiler::builder().testing().build();
    let doc = json_doc();
    for threads in [1, 8] {
        table(
            "BTreeMap<String, Vec<u8>>: build and drop 20,000 entries",
            threads,
            &|_| btree(20_000),
        );
        table(
            "serde_json: parse a 0.8 MB document into Values",
            threads,
            &|_| json(&doc),
        );
        table(
            "random-size churn: 50,000 replacements in 1,024 slots",
            threads,
            &|seed| churn(50_000, seed),
        );
    }
}
