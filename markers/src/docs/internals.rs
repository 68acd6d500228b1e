//! # Internals: how markers is built
//!
//! For contributors and the curious; nothing here is needed to use the
//! crate.
//!
//! A `marker!` places a static site record in a linkme distributed slice,
//! so [`list`](crate::list) sees every site before any has run. A site
//! holds an armed flag (the byte a disarmed hit reads) and its probe
//! array behind an arc-swap pointer: `connect` and `disconnect` build a
//! new array and swap it in, never change one in place (the kernel's RCU
//! update), and `disconnect` then waits until no hit still holds the old
//! array. Sites are named by dyndbg's function-name rule, and globs are
//! matched by dyndbg's glob, so both crates' listings and patterns agree.
//!
//! # Modules, in layers
//!
//! The modules form layers, bottom first; each names only modules below it
//! (`tests/layering.rs` checks the sources against this list):
//!
//! 1. `args`: argument tuples and the lent views ([`Ref`](crate::Ref),
//!    [`DebugArg`](crate::DebugArg)).
//! 2. `site`: the static record, the listing, and the armed path: the
//!    probe array a site holds (erased probes with their
//!    [`ProbeId`](crate::ProbeId)s) and the loop a hit runs. A generic
//!    probe receives the [`Site`](crate::Site), so the site's array holds
//!    probes behind a trait defined here, and [`Probe`](crate::Probe) sits
//!    above it.
//! 3. `probe`: [`Probe`](crate::Probe) as users build it (typed, generic,
//!    identity, priority).
//! 4. `error`: what `connect` and `disconnect` refuse.
//! 5. `registry`: connect, disconnect (the RCU-style wait), check.
//! 6. `builtin`: [`Counter`](crate::Counter), [`Printer`](crate::Printer),
//!    [`RingBuffer`](crate::RingBuffer).
//! 7. `debugfs`: the handler of the `markers` file in the process's
//!    debugfs (the `dyndbg-debugfs` crate routes to it).
//! 8. `__private`: what generated code calls; then `docs`, and the root,
//!    which only re-exports.
