//! Static marker sites with typed probes connected at runtime: the Linux
//! kernel's markers (with several probes per site, seed 002) and their
//! successors, tracepoints and LTTng-UST, for Rust programs.
//!
//! A marker is a named point in the code that passes typed arguments:
//!
//! ```
//! fn receive(buf: &[u8], p: u8) {
//!     markers::marker!(net_rx, len: usize = buf.len(), proto: u8 = p);
//! }
//! # receive(b"hi", 6);
//! ```
//!
//! Compiled in, it does nothing until a probe is connected to it by name:
//! it costs one relaxed load and a branch, and does not evaluate its
//! arguments. Every site of the program is listed by [`list`] from the
//! start, with its signature, whether or not it has been reached.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! markers = "0.1"
//! ```
//!
//! # Connecting probes
//!
//! ```
//! # fn receive(buf: &[u8], p: u8) {
//! #     markers::marker!(net_rx, len: usize = buf.len(), proto: u8 = p);
//! # }
//! use markers::Probe;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! // A built-in probe: count the hits.
//! let hits = markers::Counter::new();
//! let counter = markers::connect("net_rx", hits.clone()).unwrap();
//!
//! // A typed probe receives the site's arguments as a tuple.
//! static BYTES: AtomicUsize = AtomicUsize::new(0);
//! let typed = markers::connect(
//!     "net_rx",
//!     Probe::typed(|&(len, _proto): &(usize, u8)| {
//!         BYTES.fetch_add(len, Ordering::Relaxed);
//!     }),
//! )
//! .unwrap();
//!
//! receive(&[0; 1500], 6);
//! assert_eq!((hits.get(), BYTES.load(Ordering::Relaxed)), (1, 1500));
//!
//! // A probe with the wrong arguments is refused, showing both signatures.
//! let err = markers::connect("net_rx", Probe::typed(|_: &(u32, u8)| {})).unwrap_err();
//! assert!(err.to_string().contains("net_rx(len: usize, proto: u8)"));
//!
//! // Disconnect waits for running calls of the probe; the site is
//! // disarmed when its last probe goes.
//! markers::disconnect(typed).unwrap();
//! markers::disconnect(counter).unwrap();
//! ```
//!
//! Several probes can be connected to one marker; they are called in
//! priority order ([`Probe::priority`], higher first, default 10, equal
//! priorities in connect order). A probe's identity is the type of its
//! function plus its private data ([`Probe::typed_with`]): the same probe
//! with equal data is refused a second time ([`Error::AlreadyConnected`],
//! the kernel's `EBUSY`). Sites with the same name share their probes, like
//! kernel markers, and must agree on their arguments: a typed probe for a
//! name whose sites disagree is refused, and [`check`] reports such names
//! (a macro cannot see the other sites of its name at compile time). A name
//! with a glob (`net_*`) connects every matching marker. A generic probe ([`Probe::generic`]) works on any site and sees
//! the arguments as `&dyn Debug`.
//!
//! Built-in probes: [`Counter`], [`Printer`] (one line per hit through
//! dyndbg's output, so the same sink and prefix flags), [`RingBuffer`] (the
//! last N hits, read back with [`RingBuffer::read`]).
//!
//! # Arguments
//!
//! `name: Type = expr`, or `name: Type` for a variable of that name.
//! Argument types are `'static` and `Debug` (up to 12 arguments). A borrowed
//! argument `name: &T` reaches typed probes as [`Ref<T>`](Ref), which derefs
//! to `T` for the duration of the call (so `&str` becomes `Ref<str>`), and
//! `name: &dyn Debug` as a [`DebugArg`]; probes cannot keep either past the
//! call. Arguments are evaluated only when a probe is connected. In generic
//! code, pass a value of a type parameter as `x: &dyn Debug = &value` (the
//! site's static cannot name the parameter).
//!
//! # Function entry and return
//!
//! [`macro@marker_fn`] places a marker `<fn>_entry` with the function's
//! arguments and `<fn>_return` with its return value:
//!
//! ```
//! #[markers::marker_fn]
//! fn parse(input: &str, limit: usize) -> usize {
//!     input.len().min(limit)
//! }
//! let ring = markers::RingBuffer::new(8);
//! let id = markers::connect("parse_*", ring.clone()).unwrap();
//! parse("hello", 3);
//! let hits: Vec<String> = ring.read().into_iter().map(|h| format!("{} {}", h.marker, h.args)).collect();
//! assert_eq!(hits, ["parse_entry input=\"hello\" limit=3", "parse_return ret=3"]);
//! markers::disconnect(id).unwrap();
//! ```
//!
//! Arguments of generic or `impl Trait` types are seen as `&dyn Debug`
//! ([`DebugArg`]), primitive ones by value, the others as [`Ref<T>`](Ref);
//! the receiver (`self`) is not passed, and every other argument and the
//! return value must be `Debug`. `#[marker_fn(name = net_parse)]` names the
//! markers `net_parse_entry` and `net_parse_return`. Not supported: `async
//! fn`, `const fn`, argument patterns other than a name, and the type
//! parameters of an enclosing `impl<T>` block (the attribute cannot see
//! them; the compiler then refuses the site).
//!
//! # Function names
//!
//! [`Site::function`] names the function a site is in by dyndbg's rule
//! (the same code), so the two listings agree: in a module `app::net`,
//! `fn handle()` gives `handle`, a method `Client::connect`, a trait impl
//! method `Client::fmt` (the self type, not `<Client as Debug>`), a
//! generic `impl<T> Gen<T>` method `Gen::show`, a nested fn
//! `outer::inner`; closures and `async` blocks fold into the function
//! around them (`async fn fetch` gives `fetch`).
//!
//! # Options
//!
//! None at startup: no environment variable, no feature. Everything is
//! runtime API: [`connect`] (name or glob, [`Probe::priority`]),
//! [`disconnect`], [`disconnect_timeout`], [`list`].
//!
//! # Guarantees
//!
//! - [`disconnect`] returns only when no call of the probe is running on any
//!   thread and none will start; called from inside a probe, it returns
//!   [`Error::InsideProbe`] instead of deadlocking. `connect` may be called
//!   from inside a probe.
//! - [`disconnect_timeout`] bounds that wait: after the timeout it returns
//!   [`Error::StillRunning`]; the probe is disconnected all the same (no new
//!   call starts) and the calls still running keep its data alive until
//!   they return.
//! - A refused `connect` changes nothing (checks first, for every matching
//!   marker, then changes).
//! - Probe arrays are replaced, never changed in place (hazard pointers, in
//!   place of the kernel's RCU): a hit calls each probe of one array exactly
//!   once.
//! - Probes may hit markers themselves, up to 8 levels deep; a hit nested
//!   deeper calls no probe (a probe that hits its own marker stops there
//!   instead of overflowing the stack).
//!
//! # Disconnecting and locks
//!
//! `disconnect` waits for the running calls of its probe, so it must not
//! be called while holding a lock that the probe itself takes: a call of
//! the probe blocked on that lock never returns, and `disconnect` waits for
//! it forever (the kernel's rule for `tracepoint_synchronize_unregister`
//! and `synchronize_rcu` under a lock a probe takes). For example:
//!
//! ```text
//! thread A: state.lock() ... markers::disconnect(id)   // waits for B's call
//! thread B: marker hit -> probe -> state.lock()        // waits for A
//! ```
//!
//! Release the lock before disconnecting, or use [`disconnect_timeout`],
//! which returns [`Error::StillRunning`] instead of waiting forever (the
//! probe is then disconnected but its running call still holds its data;
//! release the lock and disconnect the id again to wait for it).
//!
//! # Platform notes
//!
//! Sites are gathered by linkme's distributed slices: Linux, macOS,
//! Windows, the BSDs and illumos, as linkme supports them.
//!
//! # Costs
//!
//! A disarmed site is one relaxed byte load, a test and a branch over the
//! code that evaluates the arguments and calls the probes (which lives out
//! of line, `#[cold]`): 10 instructions per call in a benchmark loop (a
//! filtered-out `tracing::debug!` is 9). An armed site publishes its probe
//! array in its thread's hazard slot (one thread-local access and one full
//! fence, no shared counter) and calls each probe through a pointer
//! resolved at connect time, or for a built-in [`Counter`] adds to the count
//! with no call: 91 instructions with one [`Counter`] against 128 for a
//! `tracing::info!` through one counting layer, 125 with four against 131
//! for four layers (2026-12-04, [`docs::performance`]). `disconnect` waits
//! for the hits in flight: microseconds when they run, up to a scheduler
//! time slice when a thread holding one was preempted.
//!
//! # More
//!
//! - [`docs::performance`]: the measured costs, beside `tracing`'s.
//! - [`docs::internals`]: how the crate is built, module by module.
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod args;
mod builtin;
pub mod debugfs;
pub mod docs;
mod error;
mod hazard;
mod probe;
mod registry;
mod site;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use args::{Args, DebugArg, MAX_ARGS, Ref};
pub use builtin::{Counter, Hit, Printer, RingBuffer};
pub use dyndbg_macros::{marker, marker_fn};
pub use error::Error;
pub use probe::{DEFAULT_PRIORITY, Probe};
pub use registry::{check, connect, disconnect, disconnect_timeout};
pub use site::{ProbeId, Site, list};
