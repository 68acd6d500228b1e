//! allocowner's side-table bytes per live allocation (`stats()`), on the
//! heap shapes of issue 16: a `BTreeMap<String, Vec<u8>>` of 200,000
//! entries with 16-512 B values; the same with values of mixed sizes and
//! a third of the entries removed; one small block per 4 KiB page (the
//! sparse worst case). Each shape in a fresh process (this program again).
//!
//! ```text
//! cargo run --release -p benches --example side_table
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn shape(name: &str) -> Box<dyn std::any::Any> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    match name {
        "btree" => {
            let m: BTreeMap<String, Vec<u8>> = (0..200_000)
                .map(|i| (format!("key-{i:08}"), vec![1u8; 16 + rng(497)]))
                .collect();
            Box::new(m)
        }
        "mixed" => {
            let mut m: BTreeMap<String, Vec<u8>> = (0..200_000)
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
            // One 32-byte block per 4 KiB page: each after a 4,000-byte
            // block allocated while tracking is paused (no record), all
            // kept live.
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
        other => panic!("SHAPE={other}: expected btree, mixed or sparse"),
    }
}

fn main() {
    let Ok(name) = std::env::var("SHAPE") else {
        println!("| shape | live records | side-table bytes | bytes per live record |");
        println!("|---|---|---|---|");
        for s in ["btree", "mixed", "sparse"] {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .env("SHAPE", s)
                .output()
                .expect("run a shape");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
        return;
    };
    allocowner::enable().expect("allocowner");
    let kept = shape(&name);
    let s = allocowner::stats();
    println!(
        "| {name} | {} | {} | {:.1} |",
        s.live_records,
        s.table_bytes,
        s.bytes_per_record()
    );
    drop(black_box(kept));
}
