//! # Performance: what tracking costs, measured
//!
//! The crate docs give the short version ("Costs"). This page keeps the
//! measured tables, the history of what was slow and why, and where the
//! instructions of a tracked allocation go. How the structures named here
//! are built: [`docs::internals`](super::internals).
//!
//! # Time
//!
//! Every figure here names the command in this repository that printed
//! it and the day it ran, on this project's 2-core VM (noisy: wall and
//! CPU times move by ±15% between runs; Callgrind's instruction counts
//! do not). Off: one relaxed load and a compare per call; nothing is
//! mapped (checked by a test: `own_mapped_bytes` stays 0).
//!
//! **Synthetic work, one thread** — `bash benches/alloc_one.sh`
//! (2026-12-04): instructions of one steady-state run under Callgrind
//! (a run with a warm-up and a measured iteration minus one with the
//! warm-up alone), against `System`:
//!
//! | work | `System` | off | on (exact) | sampled (`sample_bytes`, 512 KiB) |
//! |---|---|---|---|---|
//! | `serde_json` parse 0.8 MB | 72.24M | 1.012× | 1.529× | 1.031× |
//! | `BTreeMap<String, Vec<u8>>` 20k entries | 61.62M | 1.005× | 1.388× | 1.023× |
//! | random-size churn | 107.40M | 1.003× | 1.273× | 1.012× |
//!
//! **Real programs from crates.io, one thread** —
//! `ROUNDS=3 SIZE=2000000 CG_SIZE=300000 bash benches/real_programs.sh`
//! (2026-12-04): jaq (a jq clone) running a filter with a recursive
//! function over generated JSON, and `syn` parsing a generated 2 MB Rust
//! file and printing it back with `quote`; outputs checked identical in
//! every mode. Instructions of one steady-state run on a 300 KB input
//! (Callgrind), and the CPU time (user + sys) of whole runs on a 2 MB
//! input, median of three interleaved rounds, against `System`:
//!
//! | program | off, instr. | on, instr. | sampled, instr. | off, CPU | on, CPU | sampled, CPU |
//! |---|---|---|---|---|---|---|
//! | jaq | 1.029× | 3.31× | 1.081× | 0.95× | 2.68× | 0.95× |
//! | syn | 1.020× | 3.45× | 1.056× | 0.98× | 3.89× | 1.08× |
//!
//! Exact tracking costs far more on these programs than on the synthetic
//! work, for two reasons: their allocations are cheap and frequent (jaq
//! allocates every 190 instructions or so, so malloc and free are a
//! sixth of its work), and their stacks are deep and recursive, so that
//! most allocations come from a chain of frames the thread has not seen
//! lately: syn's parser makes about 176,000 distinct 16-frame stacks per
//! MB of input, each walked, hashed and stored. The goals (on within
//! 1.5× on one thread, sampled within 1.03×) are met by the synthetic
//! work and not yet by these programs; sampled mode there costs what
//! its per-allocation counter and per-free filter load cost (about 15
//! instructions a pair, against jaq's 60 for malloc and free).
//!
//! Older figures of `cargo bench -p benches --bench alloc` (2026-12-03,
//! before the sampled mode; it also runs dhat-rs and 8 threads), wall
//! time and dhat-rs's instructions against `System`:
//!
//! | work | on, wall | dhat, instr. | on, 8 threads, instr. |
//! |---|---|---|---|
//! | `BTreeMap<String, Vec<u8>>` 20k entries | 1.35–1.70× | 18.5× | 1.30× |
//! | `serde_json` parse 0.8 MB | 1.41–1.47× | 35.5× | 1.51× |
//! | random-size churn | 1.48–1.61× | 12.8× | 1.24× |
//!
//! # What made 8 threads expensive, and the fix
//!
//! What made 8 threads on 2 cores cost 2.2–3.1× before (the alloc bench,
//! until 2026-12-03): the side table's
//! pages were read before they were first written, so each faulted in the
//! zero page and was then copied at the first write, with a TLB flush sent
//! to every CPU of the process; a shard lock's holder taking those faults
//! made the others `sched_yield` thousands of times a round. Pages are now
//! populated for writing ahead of use (`MADV_POPULATE_WRITE`: arena pieces
//! 64 KiB at a time, grown rows at once, what `stop()` gave back at the
//! next enable, which is why that `enable()` takes about 2 ms after a
//! 433,000-record table). Stacks' pending totals, which every thread
//! shares through the depot, moved to 4-way sets: a quarter of all calls
//! of a JSON parse pushed one out before, 0.4% now.
//!
//! # Where the cost goes
//!
//! Per allocation and free, in the JSON parse (Callgrind on
//! `examples/alloc_one.rs`, 2026-12-03, about 410 instructions added to a
//! pair):
//! - the capture, about 170: a remembered frame chain is checked (a
//!   16-byte compare per frame record) instead of walking 16 frames,
//!   hashing and looking the stack up; chains are kept per thread in 4-way
//!   sets, since one allocating path reached from several callers at one
//!   depth starts alike each time;
//! - the insert, about 135 with the allocation path around it, and the
//!   remove, about 105: a shard lock, the page index's three loads, the
//!   slot, and the stack's pending totals. A small block's record is found
//!   by address, never probed for; a bigger one's is a Robin Hood row. The
//!   common free has no call in it, so it saves fewer registers.
//!
//! A `realloc` that moves is a remove plus an insert; one in place only
//! updates the record (each of the BTreeMap's key strings grows in place
//! once). A snapshot stalls allocating threads while it copies;
//! `enable()` also reads `mallinfo2`, which walks malloc's free lists once.
//!
//! # Memory
//!
//! With the core client alone, 4 bytes per small allocation in its page's
//! 512-byte leaf (made only for pages where a block of up to 256 bytes
//! starts; a sparse page pays the whole leaf), 16 bytes per row for the
//! rest in shards kept between 7/12 and 7/8 full: 13.7 bytes of side table
//! per live allocation at the peak of the alloc bench's 433,000-allocation
//! BTreeMap with 16–79 B values (`cargo bench -p benches --bench alloc`,
//! its first table, 2026-12-03; 22.2 with rows alone). On the heap shapes
//! of issue 16 (`cargo run --release -p benches --example side_table`,
//! 2026-12-04; goals: 24 B, 64 B for the sparse case, not yet met):
//!
//! | shape | live records | bytes per live record |
//! |---|---|---|
//! | `BTreeMap<String, Vec<u8>>`, 200,000 entries, 16–512 B values | 418,184 | 25.2 |
//! | the same with 8 B–8 KiB values, a third removed | 284,852 | 61.0 |
//! | one 32-byte block per 4 KiB page (50,000) | 50,003 | 517.5 |
//!
//! A page with few small blocks pays its whole 512-byte leaf: the sparse
//! case is the leaf's size, and blocks of a few hundred bytes leave most
//! slots of their pages' leaves empty.
//!
//! Depot records are `16 + 8 × frames`
//! bytes per unique stack (81 bytes for the 8.1-frame average there), in
//! 16 KiB pools, plus a hash index of 4 bytes per 256 bytes of cap (1 MiB
//! for the default 64 MiB cap, touched as used). Sampled mode adds a
//! filter of 512 KiB in `.bss`, touched as used. The 256 shards' locks and pending totals are
//! 272 KiB of static memory, touched as used. Each thread keeps 26 KiB of
//! recent chains in destructor-free thread-locals.
