//! A real program from crates.io (jaq or syn, see
//! `benches::real_programs`) with `OwnerAlloc` in the global allocator
//! slot. Off unless `ALLOCOWNER` says otherwise: `ALLOCOWNER=on` (exact),
//! `ALLOCOWNER=on,sample_bytes` (sampled). `benches/real_programs.sh`
//! runs it beside `real_program_system`.
//!
//! ```text
//! cargo build --release -p benches --example real_program
//! PROGRAM=jaq SIZE=4000000 ALLOCOWNER=on target/release/examples/real_program
//! ```

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn main() {
    benches::real_programs::main_of_example();
    if std::env::var_os("STATS").is_some() {
        eprintln!("{:#?}", allocowner::stats());
    }
}
