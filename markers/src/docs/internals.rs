//! # Internals: how markers is built
//!
//! For contributors and the curious; nothing here is needed to use the
//! crate.
//!
//! A `marker!` places a static site record in a linkme distributed slice,
//! so [`list`](crate::list) sees every site before any has run. A site
//! holds an armed flag (the byte a disarmed hit reads) and a pointer to
//! its probe array: `connect` and `disconnect` build a new array and swap
//! it in, never change one in place (the kernel's RCU update); a hit holds
//! the array it calls in its thread's hazard slot, and `disconnect` waits
//! until no slot holds the old array. Sites are named by dyndbg's function-name rule, and globs are
//! matched by dyndbg's glob, so both crates' listings and patterns agree.
//!
//! # Modules, in layers
//!
//! The modules form layers, bottom first; each names only modules below it
//! (`tests/layering.rs` checks the sources against this list):
//!
//! 1. `args`: argument tuples and the lent views ([`Ref`](crate::Ref),
//!    [`DebugArg`](crate::DebugArg)).
//! 2. `hazard`: hazard pointers, one slot per thread and nesting level, and
//!    the list of retired arrays: what lets a writer know that no hit uses
//!    an array any more (in place of RCU's grace period).
//! 3. `site`: the static record, the listing, and the armed path: the
//!    probe array a site holds (erased probes with their
//!    [`ProbeId`](crate::ProbeId)s) and the loop a hit runs. A generic
//!    probe receives the [`Site`](crate::Site), so the site's array holds
//!    probes behind a trait defined here, and [`Probe`](crate::Probe) sits
//!    above it.
//! 4. `probe`: [`Probe`](crate::Probe) as users build it (typed, generic,
//!    identity, priority).
//! 5. `error`: what `connect` and `disconnect` refuse.
//! 6. `registry`: connect, disconnect (the RCU-style wait), check.
//! 7. `builtin`: [`Counter`](crate::Counter), [`Printer`](crate::Printer),
//!    [`RingBuffer`](crate::RingBuffer).
//! 8. `debugfs`: the handler of the `markers` file in the process's
//!    debugfs (the `dyndbg-debugfs` crate routes to it).
//! 9. `__private`: what generated code calls; then `docs`, and the root,
//!    which only re-exports.
