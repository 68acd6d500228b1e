//! # Performance: what tracking costs, measured
//!
//! The crate docs give the short version ("Costs"). This page keeps the
//! measured tables, the history of what was slow and why, and where the
//! instructions of a tracked allocation go. How the structures named here
//! are built: [`docs::internals`](super::internals).
//!
//! # Time
//!
//! Off: one relaxed load and a branch per call; nothing is mapped (checked
//! by a test: `own_mapped_bytes` stays 0). On, measured with
//! `cargo bench -p benches --bench alloc` (2 shared cores, noisy VM: wall
//! ratios move by ±15% between runs, the range of three runs is shown;
//! instruction counts under Callgrind, in steady state, do not, except
//! with 8 threads, where scheduling under Callgrind moves them a little),
//! against `System`, with `enable()` and `stop()` outside the timed part:
//!
//! | work | off, instr. | on, instr. | on, wall | dhat, instr. |
//! |---|---|---|---|---|
//! | `BTreeMap<String, Vec<u8>>` 20k entries, 1 thread | 1.00× | 1.35× | 1.35–1.70× | 18.5× |
//! | `serde_json` parse 0.8 MB, 1 thread | 1.01× | 1.47× | 1.41–1.47× | 35.5× |
//! | random-size churn, 1 thread | 1.00× | 1.26× | 1.48–1.61× | 12.8× |
//! | BTreeMap, 8 threads | 0.99× | 1.30× | 1.44–1.76× | 17.7× |
//! | JSON, 8 threads | 1.01× | 1.51× | 1.44–1.48× | 35.3× |
//! | churn, 8 threads | 1.00× | 1.24× | 1.53–1.73× | 12.3× |
//!
//! The goals of the design (on within 1.5× on one thread, 2× with 8) are
//! met in instructions by every case, and in wall time with 8 threads by
//! every run; on one thread the wall ratios scatter around 1.5×. The work
//! these calls add (dependent loads, a locked exchange per call) retires
//! slower than glibc's, and churn's memsets retire fast.
//!
//! # What made 8 threads expensive, and the fix
//!
//! What made 8 threads on 2 cores cost 2.2–3.1× before: the side table's
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
//! Per allocation and free, in the JSON parse (Callgrind, `alloc_one`,
//! about 410 instructions added to a pair):
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
//! per live allocation measured at the peak of a 433,000-allocation
//! BTreeMap (22.2 with rows alone). Depot records are `16 + 8 × frames`
//! bytes per unique stack (81 bytes for the 8.1-frame average there), in
//! 16 KiB pools, plus a hash index of 4 bytes per 2 KiB of cap (128 KiB for
//! the default 64 MiB cap). The 256 shards' locks and pending totals are
//! 272 KiB of static memory, touched as used. Each thread keeps 26 KiB of
//! recent chains in destructor-free thread-locals.
