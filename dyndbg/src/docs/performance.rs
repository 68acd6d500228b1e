//! # Performance: what dyndbg costs, measured
//!
//! The crate docs give the short version ("Costs"). This page keeps the
//! measured tables, how they were taken, and the sweep that chose the
//! pool's parameters. Figures are from a 2-core shared VM; instruction
//! counts are Callgrind's and stable, nanoseconds move between runs.
//!
//! # A callsite, off and on
//!
//! `cargo bench -p benches --bench callsite` runs the peers side by side in
//! one process and, with valgrind installed, counts instructions under
//! Callgrind. Per call (2026-12-05; the time ratio is of the same run,
//! the machine busy with builds beside it):
//!
//! | case | instructions | time, ratio to the row above it |
//! |---|---|---|
//! | `log::debug!`, max level Info | 9 | 1.00x |
//! | `pr_debug!`, off | 9 | 0.99x of `log` |
//! | `tracing::debug!`, filtered out by an `EnvFilter` | 17 | 1.11x of `log` |
//! | `tracing` fmt subscriber to `io::sink` | 5675 | 1.00x |
//! | `pr_debug!` `+pmfl` to [`Discard`](crate::Discard) (formatted, dropped) | 1046 | 0.20x of tracing |
//! | `format!` of the same line alone | 934 | 0.11x of tracing |
//!
//! Off, a callsite is a byte load, a test and a branch (the loop around it
//! makes the 9). On, it is 5.4x fewer instructions (5x less time) than
//! tracing's fmt path, prefix included: the body comes from the cache of
//! enabled bodies by index, never from the pool.
//!
//! # Memory: the body pool
//!
//! How the pool works is in [`docs::internals`](super::internals). Measured
//! on the generated test program `dyndbg/tests/manysites` (20,988
//! callsites over 240 files, 768 modules, 2,644 functions; release, PIE,
//! x86_64): raw bodies 6,184 KiB (a `Body` of 80 bytes plus every string
//! it points to, counted per callsite), pool 592 KiB (0.096 of raw: data,
//! index and dictionary).
//!
//! Resident memory (`cargo test --release -p dyndbg-manysites --test
//! pool_memory -- --nocapture`: present pages from `/proc/self/pagemap`
//! over the heads, the `Body` structs and the strings they point to, plus
//! the heap the store keeps):
//!
//! | case | heads | `Body` structs | body strings | store heap | total |
//! |---|---|---|---|---|---|
//! | bodies never touched (first callsite ran, no query) | 332 KiB | 1,644 KiB | 60 of 1,596 KiB | 0 | 2,036 KiB |
//! | listed without the pool (`DYNDBG_POOL=off`) | 332 KiB | 1,644 KiB | 1,596 KiB | 703 KiB (function names) | 4,275 KiB |
//! | listed with the pool, raw pages kept (`keep`) | 332 KiB | 1,644 KiB | 1,596 KiB | 593 KiB (pool) | 4,165 KiB |
//! | listed with the pool, raw pages dropped (`on`) | 332 KiB | 1,644 KiB | 60 KiB | 593 KiB (pool) | 2,629 KiB |
//!
//! Built without the `pool` feature (`default-features = false`, for a
//! program that also has `zstd-sys` 1.x), a program always takes the
//! `DYNDBG_POOL=off` row.
//!
//! What this says, honestly:
//! - Untouched `.rodata` costs nothing: a program that never queries pays
//!   only for what it cannot avoid. The heads and the `Body` structs are
//!   resident from startup regardless (2 MiB here): they hold pointers, so
//!   in a position-independent executable the dynamic loader writes every
//!   one of them before `main`. The pool cannot save those pages, and
//!   `madvise` must not touch them (they are private copies: dropping them
//!   would bring back unrelocated bytes). Relocation-free bodies (offsets
//!   instead of pointers, in a page-aligned section) would let them go too;
//!   that needs a new record layout and is not done.
//! - Without dropping pages, the pool saves only the function names' heap
//!   (the pool, names included, is smaller than the names alone): 110 KiB.
//! - With the raw strings' pages dropped, a listed program keeps 2,629 KiB
//!   instead of 4,275 KiB: 39% less, 1.6 MiB. The kernel can also reclaim
//!   clean `.rodata` pages under pressure on its own; the heap it cannot.
//! - The build's scratch is freed; the anonymous memory a listing adds
//!   (measured 1.0-1.6 MiB in every case) is mostly the listing's own
//!   `String` that the allocator keeps for reuse.
//!
//! # Time: queries and listings over the pool
//!
//! `cargo bench -p benches --bench pool`, same program (2026-12-05;
//! Callgrind instructions, and the time ratio of the same run):
//!
//! | operation | raw records | pool |
//! |---|---|---|
//! | `func *rotate* +p` over 20,988 callsites | 122.8 M instr | 172.6 M instr (1.41x; 1.6-1.9x the time) |
//! | full listing | 56.2 M instr | 105.8 M instr (1.88x; 1.4x the time) |
//! | first callsite with `DYNDBG` set (builds the store), median of 5 | 15 ms | 35 ms |
//! | first callsite without `DYNDBG` (nothing built), median of 5 | 16 µs | 16 µs |
//!
//! Reading every body from the pool (decompressing all 289 blocks) takes
//! ~4.8 ms; the rest of a query is the matching itself. One body alone
//! (one 16 KiB block) takes ~37 µs (the same run's sweep, below).
//!
//! # How the pool's parameters were chosen
//!
//! The sweep (pool / raw; build; one query): 4 KiB blocks 0.111, 16 KiB
//! 0.096, 64 KiB 0.090 with the 32 KiB dictionary; without a dictionary
//! 0.155 / 0.114 / 0.095. Level 19 gains ~10% but takes seconds to build;
//! zstd's dictionary trainer gains 2% on the sampled dictionary but costs
//! ~100 ms and 6 MiB of scratch.
