//! allocowner's side-table bytes per live allocation (`stats()`), on the
//! heap shapes of issue 16: a `BTreeMap<String, Vec<u8>>` of 200,000
//! entries with 16-512 B values; the same with values of mixed sizes and
//! a third of the entries removed; one small block per 4 KiB page (the
//! sparse worst case). Each shape in a fresh process (this program again).
//!
//! ```text
//! cargo run --release -p benches --example side_table
//! ```

use std::hint::black_box;

#[path = "../../allocowner/tests/support/heap_shapes.rs"]
mod heap_shapes;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

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
    let kept = heap_shapes::shape(&name, 200_000);
    let s = allocowner::stats();
    println!(
        "| {name} | {} | {} | {:.1} |",
        s.live_records,
        s.table_bytes,
        s.bytes_per_record()
    );
    drop(black_box(kept));
}
