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
//! (2026-12-05): instructions of one steady-state run under Callgrind
//! (a run with a warm-up and a measured iteration minus one with the
//! warm-up alone), against `System`:
//!
//! | work | `System` | off | on (exact) | sampled (`sample_bytes`, 512 KiB) |
//! |---|---|---|---|---|
//! | `serde_json` parse 0.8 MB | 73.30M | 1.009× | 1.758× | 1.029× |
//! | `BTreeMap<String, Vec<u8>>` 20k entries | 62.25M | 1.003× | 1.485× | 1.022× |
//! | random-size churn | 107.40M | 1.001× | 1.325× | 1.011× |
//!
//! (Earlier on 2026-12-05, with each thread's 64 remembered frame chains,
//! on was 1.585×, 1.415× and 1.287×: a chain checked against the stack
//! takes fewer instructions than a walk, but more CPU time on the real
//! programs below, so the chains went; in CPU time the JSON parse is 5%
//! slower without them, BTreeMap and churn the same. On 2026-12-04, before
//! the side table's minis, 1.529×, 1.388× and 1.273×.)
//!
//! **Real programs from crates.io** —
//! `MODES="system off on sampled floor_walk floor_walk_rmw" ROUNDS=3
//! SIZE=2000000 CG_SIZE=300000 bash benches/real_programs.sh` (2026-12-05): jaq (a jq clone) running a filter with a recursive
//! function over generated JSON, and `syn` parsing a generated 2 MB Rust
//! file and printing it back with `quote`; outputs checked identical in
//! every mode. Instructions of one steady-state run on a 300 KB input
//! (Callgrind), and the CPU time (user + sys) of whole runs on a 2 MB
//! input, median of three interleaved rounds, against `System`:
//!
//! | program | off, instr. | on, instr. | sampled, instr. | off, CPU | on, CPU | sampled, CPU |
//! |---|---|---|---|---|---|---|
//! | jaq | 1.021× | 3.05× | 1.070× | 1.04× | 2.93× | 1.08× |
//! | syn | 1.014× | 3.12× | 1.049× | 0.99× | 3.50× | 1.01× |
//!
//! (Earlier the same day, before the depot's tagged index and with the
//! remembered chains: on 3.55× and 4.50× CPU.) The floor under
//! any exact tracker, `examples/real_program_floor.rs`: `System` plus only
//! a bounds-checked 16-frame walk on every allocation costs jaq 1.25× and
//! syn 1.13× CPU (1.60× and 1.41× instructions); with one atomic
//! read-modify-write on every allocation and every free (the least a
//! table shared by threads pays), 1.40× and 1.22×, before a record or a
//! stack is stored. An uncontended lock and unlock costs about 8 ns on
//! this machine, and jaq allocates and frees a block every 37 ns or so:
//! the 1.5× goal of issue 16 leaves 18 ns a pair for everything exact
//! tracking does, which a lock per insert and per remove spends alone.
//!
//! Sampled mode with more rounds (`MODES="system off sampled" ROUNDS=9
//! bash benches/real_programs.sh`, 4 MB inputs, 2026-12-05): CPU 1.00×
//! (jaq) and 1.03× (syn), median of nine. On 8 threads at once
//! (`THREADS=8 MODES="system off on sampled" ROUNDS=3 SIZE=500000
//! CG_SIZE=100000 bash benches/real_programs.sh`, 2026-12-05): CPU off
//! 1.01× and 0.98×, on 2.98× and 3.31×, sampled 1.07× and 1.02×.
//!
//! Exact tracking costs far more on these programs than on the synthetic
//! work, for two reasons: their allocations are cheap and frequent (jaq
//! allocates every 190 instructions or so, so malloc and free are a
//! sixth of its work), and their stacks are deep and recursive, so that
//! most allocations come from a chain of frames the thread has not seen
//! lately: syn's parser makes about 235,000 distinct 16-frame stacks in
//! the 2 MB run, and each allocation looks one up in the depot. In CPU
//! time (perf, jaq): the capture a third of the added cost (the walk near
//! the floor's), the side table's insert and remove the rest, half of it
//! the shard lock's two atomic operations each. The goal (on within 1.5×
//! on one thread, 2× on 8) is met in instructions by the synthetic
//! BTreeMap and churn, and not by these programs (see the floor above),
//! nor by the JSON parse.
//! Sampled mode costs what its per-allocation countdown and per-free
//! filter load cost: about 15 instructions a pair, against about 150 for
//! glibc's malloc and free; in CPU time that is within 1.03×.
//!
//! `cargo bench -p benches --bench alloc` (2026-12-05) runs the same
//! works in a criterion-style harness, also on 8 threads at once and with
//! dhat-rs's profiler beside them; wall time and instructions against
//! `System`:
//!
//! | work | on, 1 thread | on, 8 threads on 2 cores | dhat, instr. |
//! |---|---|---|---|
//! | `BTreeMap<String, Vec<u8>>` 20k entries | 1.58× instr., 1.91× wall | 1.48× instr., 2.03× wall | 18.6× |
//! | `serde_json` parse 0.8 MB | 1.88×, 1.68× | 1.89×, 2.13× | 35.7× |
//! | random-size churn | 1.35×, 1.56× | 1.30×, 1.65× | 12.8× |
//!
//! On 8 threads the side table's storage free lists were one list under a
//! lock shared by all threads until 2026-12-05: with pages moving between
//! minis and leaves as they fill and empty, a preempted holder stalled
//! the others (BTreeMap 2.55×, JSON 2.65× wall); they are per shard now.
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
//! `examples/alloc_one.rs`, 2026-12-03, before the minis and with the
//! remembered chains since removed; about 410 instructions added to a
//! pair):
//! - the capture, about 170 (a walk of 16 frames is about 220 now that
//!   every capture walks);
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
//! With the core client alone, a small block's record lives in its
//! page's storage: packed, 5 bytes a record, in a "mini" of 4 to 24
//! entries while the page holds few, and from its 25th record in the
//! page's 512-byte leaf of 4-byte slots, one per 32-byte granule (a leaf
//! left with 2 records becomes a mini again). The rest (big or
//! over-aligned blocks, the thread client's wider records) are 16-byte
//! rows in shards kept between 7/12 and 7/8 full. `stats()` reports the
//! bytes per live record ([`Stats::bytes_per_record`](crate::Stats::bytes_per_record)):
//! every byte mapped for the rows and every byte of page storage made
//! resident, free lists and storage populated ahead included. On the heap
//! shapes of issue 16 (`cargo run --release -p benches --example
//! side_table`, 2026-12-05; goals ≤ 24 B, ≤ 64 B for the sparse case):
//!
//! | shape | live records | bytes per live record | before the minis (2026-12-04) |
//! |---|---|---|---|
//! | `BTreeMap<String, Vec<u8>>`, 200,000 entries, 16–512 B values | 418,184 | 12.6 | 25.2 |
//! | the same with 8 B–8 KiB values, a third removed | 284,852 | 19.2 | 61.0 |
//! | one 32-byte block per 4 KiB page (50,000) | 50,003 | 35.6 | 517.5 |
//!
//! `tests/side_table_bytes.rs` checks the three goals on smaller heaps.
//! The price is in the tracked paths: a mini is searched (its slot
//! indices a word at a time) where a leaf is indexed, and pages cross
//! between the two as they fill and empty (see the time tables above).
//!
//! Depot records are `16 + 8 × frames`
//! bytes per unique stack (81 bytes for the 8.1-frame average there), in
//! 16 KiB pools, plus a hash index of 4 bytes per 64 bytes of cap (4 MiB
//! for the default 64 MiB cap, touched as used). Sampled mode adds a
//! filter of 512 KiB in `.bss`, touched as used. The 256 shards' locks and pending totals are
//! 272 KiB of static memory, touched as used. Each thread keeps 24 KiB of
//! recent stack hashes in destructor-free thread-locals.
