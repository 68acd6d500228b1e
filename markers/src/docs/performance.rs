//! # Performance: what a marker costs, measured
//!
//! The crate docs give the short version ("Costs"). A disarmed site
//! compiles to one relaxed byte load, a test and a branch over the code
//! that evaluates the arguments and calls the probes (which lives out of
//! line, `#[cold]`). An armed site pays one arc-swap load of its probe
//! array plus one indirect call per probe.
//!
//! `cargo bench -p benches --bench markers` (2-vCPU shared VM, release;
//! ns/op are medians of interleaved rounds and move ±30 %, instructions are
//! Callgrind counts per call including the benchmark loop):
//!
//! | case | ns/op | instr/op |
//! |---|---|---|
//! | `marker!` disarmed | 2.9 | 10 |
//! | `pr_debug!` off | 3.1 | 16 |
//! | `tracing::debug!` filtered out (EnvFilter) | 1.2 | 9 |
//! | `marker!` + 1 [`Counter`](crate::Counter) | 21.8 | 151 |
//! | `tracing::info!` + 1 layer counting once | 22.3 | 136 |
//! | `marker!` + 4 [`Counter`](crate::Counter)s | 33.9 | 211 |
//! | `tracing::info!` + 1 layer counting 4 times | 12.0 | 146 |
//! | `marker!` + 1 typed probe adding up `len` | 36.9 | 179 |
//! | `tracing::info!` + 1 layer adding up the `len` field | 40.6 | 294 |
//!
//! Each further probe costs about 20 instructions. `disconnect` waits for
//! the hits in flight: microseconds when they run, up to a scheduler time
//! slice when a thread holding one was preempted.
