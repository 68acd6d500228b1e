//! # Performance: what a marker costs, measured
//!
//! The crate docs give the short version ("Costs"). A disarmed site
//! compiles to one relaxed byte load, a test and a branch over the code
//! that evaluates the arguments and calls the probes (which lives out of
//! line, `#[cold]`). An armed site publishes its probe array in its
//! thread's hazard slot (a thread-local access, one `xchg`, a re-load of the
//! site's pointer), then calls each probe through a pointer resolved when
//! the array was built; a built-in [`Counter`](crate::Counter) is added to
//! directly, and a site with one probe reads it inline in the array, with
//! no walk (the kernel's `single` probe).
//!
//! `cargo bench -p benches --bench markers`, run 2026-12-04 (2-vCPU shared
//! VM, release; ns/op are medians of interleaved rounds and move ±30 %,
//! instructions are Callgrind counts per call including the benchmark
//! loop). A tracing subscriber is global, so each table runs in a process
//! of its own whose subscriber has exactly the layers it compares (an
//! `EnvFilter` at `info` over a registry); each layer does only the work of
//! the probe beside it, with no test of the event's target:
//!
//! | case | ns/op | instr/op | ratio (instr) |
//! |---|---|---|---|
//! | `marker!` disarmed | 1.4 | 10 | |
//! | `pr_debug!` off | 1.4 | 16 | |
//! | `tracing::debug!` filtered out (EnvFilter info) | 0.6 | 9 | |
//! | `tracing::info!` + 1 counting layer | 9.4 | 128 | 1.00 |
//! | `marker!` + 1 [`Counter`](crate::Counter) | 5.9 | 91 | 0.71 |
//! | `tracing::info!` + 4 counting layers | 10.0 | 131 | 1.00 |
//! | `marker!` + 4 [`Counter`](crate::Counter)s | 10.8 | 125 | 0.95 |
//! | `tracing::info!` + 1 layer adding up the `len` field | 18.5 | 291 | 1.00 |
//! | `marker!` + 1 typed probe adding up `len` | 9.4 | 129 | 0.44 |
//!
//! A further [`Counter`](crate::Counter) costs about 11 instructions, a
//! further typed or generic probe about 18 (an indirect call). The layers
//! of a tracing subscriber are generic types the compiler inlines into one
//! another, so four cost little more than one; probes are connected at
//! run time and called through a pointer each. `disconnect` waits for the
//! hits in flight: microseconds when they run, up to a scheduler time slice
//! when a thread holding one was preempted.
