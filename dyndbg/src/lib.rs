//! Dynamic debug for Rust programs: `pr_debug!` callsites compiled in,
//! switched on and off one by one at runtime by the Linux kernel's
//! dynamic-debug query language.
//!
//! Thousands of `pr_debug!`s can stay in a release build: off, each costs
//! one relaxed load and a branch and never evaluates its arguments. When
//! something goes wrong in production, switch on exactly the ones you need,
//! by file, function, module, line range, format text or class, from the
//! `DYNDBG` environment variable at startup or from code at runtime.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! dyndbg = "0.1"
//! ```
//!
//! ```standalone_crate
//! use dyndbg::pr_debug;
//!
//! struct Client;
//! impl Client {
//!     fn connect(&self, host: &str) {
//!         pr_debug!("connecting to {host}");
//!     }
//! }
//!
//! // Off by default: the line above costs one relaxed load and a branch.
//! Client.connect("example.org");
//! // Switch it on, with the function name and line in the prefix.
//! let matched = dyndbg::control("func connect +pfl").unwrap();
//! assert_eq!(matched, 1);
//! Client.connect("example.org"); // stderr: "Client::connect:8: connecting to example.org"
//! ```
//!
//! # Switching callsites on
//!
//! From the environment, before the first callsite runs:
//!
//! ```text
//! DYNDBG='func connect +pfl' ./myservice
//! DYNDBG='module myapp::net::* +p; line 10-40 file tcp.rs -p' ./myservice
//! ```
//!
//! `DYNDBG` needs no call in `main` and no life-before-main constructor:
//! the first callsite to run (or the first query or listing) applies the
//! variable once. A bad query there is reported on one stderr line,
//! changes nothing, and the program goes on. From code, at any time:
//! [`control`](fn@control) with the same text.
//!
//! ## The query language
//!
//! The kernel's, as `Documentation/admin-guide/dynamic-debug-howto.rst`
//! specifies it: match-specs ANDed together, then a flags change.
//!
//! | keyword | matches |
//! |---|---|
//! | `file PATTERN` | the full `file!()` path or its basename; `file F:func` and `file F:N-M` add a function or line range |
//! | `func PATTERN` | the function qualified in its module (`Client::connect`) or its bare name (`connect`) |
//! | `module PATTERN` | `module_path!()` (`myapp::net`, `myapp::net::*`) |
//! | `line N`, `N-M`, `N-`, `-M` | line ranges |
//! | `format TEXT` | a substring of the format string (`^` anchors at the start; `\ooo` octal escapes) |
//! | `class NAME` | callsites declared with `pr_debug!(class = "NAME", ...)`; without `class`, classed callsites are left alone |
//!
//! `*` and `?` are wildcards in `file`, `func` and `module`. Values can be
//! quoted with `"` or `'`. Flags: `p` prints, `m` module, `f` function,
//! `s` source file, `l` line, `t` thread id, `_` none; `+` adds, `-` removes,
//! `=` sets. Queries are split by `;` or newlines; `#` starts a comment.
//! Where we differ from the kernel and why: [`docs::kernel_differences`].
//!
//! [`control`](fn@control) returns how many callsites matched, summed over the batch's
//! queries, counting those whose flags did not change, as the kernel does.
//!
//! ## Listing callsites
//!
//! [`callsites`] iterates every callsite compiled into the program, before
//! any has run; [`listing`] gives the kernel's control-file text:
//!
//! ```text
//! # filename:lineno [module]function flags format
//! src/net.rs:12 [demo::net]Client::connect =pfl "connecting to {host}"
//! src/net.rs:24 [demo::net]Client::recv =_ "received {} bytes" class:WIRE
//! ```
//!
//! [`reset`] switches every callsite off again.
//!
//! ## Function names
//!
//! A callsite's function ([`Callsite::function`], the listing, `func`) is
//! the function item it is written in, qualified within its module (the
//! kernel's `__func__` plus the type a method belongs to): generics
//! dropped, a trait impl named after its self type (not `<T as Trait>`),
//! closures and `async` blocks folded into the function around them. In a
//! module `app::net`:
//!
//! | the callsite is in | function |
//! |---|---|
//! | `fn connect()` | `connect` |
//! | `impl Client { fn connect(&self) }` | `Client::connect` |
//! | `impl fmt::Debug for Client { fn fmt(..) }` | `Client::fmt` |
//! | `impl<T> Gen<T> { fn show(&self) }`, `fn parse<T>()` | `Gen::show`, `parse` |
//! | `trait Greet { fn greet(&self) { .. } }` (default method) | `Greet::greet` |
//! | `fn outer() { fn inner() { .. } }` | `outer::inner` |
//! | a closure inside `Client::connect` | `Client::connect` |
//! | `async fn fetch()`, or an `async` block inside it | `fetch` |
//! | `impl Client` written in another module (`app::other`) | `Client::connect` |
//!
//! `func connect` matches the last segment, `func Client::connect` the
//! whole name, `func app::net::Client::*` the name joined to its module.
//! The `markers` crate names its sites by the same rule (the same code).
//!
//! ## Output
//!
//! Enabled callsites write one line to stderr through the same path as
//! `eprint!` (so the test harness captures it), prefixed as the flags ask,
//! in the kernel's order: `[tid] module:function:file:line: message`. Replace
//! the sink with [`set_sink`] (for example [`Discard`], or your own
//! [`Sink`]); other instrumentation can share the output through [`emit`].
//! With the `tracing` feature, while a `tracing` dispatcher is in force
//! and the sink is the default one, an enabled line becomes a `tracing`
//! event instead, and is not written to stderr (module `dyndbg::tracing`).
//!
//! # Options
//!
//! Environment variables, read once:
//!
//! - `DYNDBG` ([`ENV_VAR`]): a query batch applied before the first
//!   callsite runs (above).
//! - `DYNDBG_POOL`, read at first use: `on` (the default) keeps callsite
//!   bodies in a zstd-compressed pool and gives back the pages of the raw
//!   strings, `keep` pools but leaves those pages mapped, `off` keeps no
//!   pool: queries read the raw records and function names stay on the
//!   heap. What each choice costs: [`docs::performance`]. Without the
//!   `pool` feature (below) `off` is the default and the only choice:
//!   `on` or `keep` is said once on stderr (`dyndbg: DYNDBG_POOL=on
//!   ignored: the pool is not compiled in (dyndbg's `pool` feature is
//!   off); keeping the raw records`) and the program goes on.
//!
//! Features:
//!
//! - `pool` (default): the zstd pool above, through the `zstd` crate
//!   (`zstd-sys` 2.x). Turn it off in a program that also depends on
//!   `zstd-sys` 1.x (`zstd` 0.10 or older, directly or through another
//!   crate): both declare `links = "zstd"`, and Cargo refuses to build a
//!   dependency graph with two of them ("Only one package in the
//!   dependency graph may specify the same links value").
//!
//!   ```toml
//!   [dependencies]
//!   dyndbg = { version = "0.1", default-features = false }
//!   ```
//!
//!   Everything else works the same: queries, listings and [`stats`] read
//!   the raw records (`pooled` false, pool figures 0), as with
//!   `DYNDBG_POOL=off`. What is lost is the memory the pool saves once
//!   the callsites have been queried or listed: 39% of the resident memory
//!   of a listed program with 20,988 callsites (1.6 MiB), the rows
//!   `DYNDBG_POOL=off` and `on` of [`docs::performance`]. A program that
//!   never queries or lists pays nothing either way. A library should
//!   depend on dyndbg with `default-features = false` too, so it never
//!   forces the pool on its users: a program that depends on dyndbg
//!   itself gets the default (Cargo unites the features).
//! - `log`: records go to the `log` facade (level `Debug`, target and
//!   module = module path, file and line set) instead of stderr.
//! - `tracing`: `dyndbg::tracing::QueryFilter`, the query language on a
//!   program's existing `tracing` events (a per-layer filter or a layer),
//!   and enabled pr_debug! lines as `tracing` events while a dispatcher is
//!   in force: see the module `dyndbg::tracing` (built with the feature).
//!   With the `log` feature, `LogFilter` does the same for `log` records.
//! - `compile_out`: every callsite compiles down to a type check of its
//!   arguments: no record, no branch. For library authors who want the
//!   callsites gone from some builds.
//!
//! # Guarantees
//!
//! - An off callsite never evaluates or formats its arguments.
//! - A batch of queries is parsed whole before anything changes: on error
//!   nothing changes, and the [`QueryError`] names the query, the byte
//!   offset and what was expected.
//! - In a setuid or setgid program (the kernel's `AT_SECURE`;
//!   `issetugid()` on macOS and the BSDs), `DYNDBG` and `DYNDBG_POOL` are
//!   ignored, as glibc's `secure_getenv` ignores such variables: the
//!   environment belongs to a less privileged caller, who must not switch
//!   on output of the program's data. Each variable that is set is reported
//!   once on stderr: `dyndbg: DYNDBG ignored: setuid/setgid program
//!   (AT_SECURE)`. Queries from code ([`control`](fn@control)) still work.
//! - A replaced sink is flushed ([`Sink::flush`]) and kept, never dropped
//!   (a print may still be inside it on another thread): each replacement
//!   leaks one sink, see [`set_sink`].
//! - Two semver-incompatible copies of dyndbg in one binary keep separate
//!   registries: the linker section is named after the version.
//! - Everything works on any platform Rust's `std` supports; the thread id
//!   in the `t` prefix is the OS thread id (`gettid`) on Linux and a hash
//!   of the std thread id elsewhere. Dropping the raw strings' pages is
//!   done on Linux only.
//!
//! # Costs
//!
//! Measured on a 2-core VM, instructions under Callgrind, 2026-12-05
//! ([`docs::performance`] has the tables, the commands and how they were
//! taken):
//!
//! - Off, a callsite is a byte load, a test and a branch: 9 instructions
//!   per call in a loop, as `log::debug!` below its max level.
//! - On (`+pmfl`, formatted to a sink), 1,046 instructions, 5.4x fewer than
//!   tracing's fmt subscriber: the body comes from a cache of enabled
//!   bodies, never from the pool.
//! - Memory: the cold half of every callsite goes into a zstd pool at the
//!   first query or listing (0.096 of the raw bytes for 20,988 callsites);
//!   with the raw strings' pages given back, a listed program keeps 39%
//!   less resident memory than without the pool. A query over the pool
//!   costs 1.4x the instructions of one over the raw records (173 M
//!   instead of 123 M for 20,988 callsites).
//!
//! [`stats`] tells what the bodies cost in your program:
//!
//! ```
//! dyndbg::pr_debug!("pooled");
//! let s = dyndbg::stats();
//! println!("{} callsites: raw {} B, pool {} B, {} bodies cached ({} B)",
//!     s.callsites, s.raw_body_bytes, s.pool_bytes, s.cached_bodies, s.cached_bytes);
//! ```
//!
//! # More
//!
//! - [`docs::migration`]: from `log::debug!` to `pr_debug!`, form by form.
//! - [`docs::kernel_differences`]: the kernel's errors and quirks, and
//!   what dyndbg does, row by row.
//! - [`docs::performance`]: the measured tables.
//! - [`docs::internals`]: how the records, the pool and the modules are
//!   built.
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod callsite;
mod control;
pub mod debugfs;
pub mod docs;
mod env;
mod flags;
#[cfg(any(feature = "tracing", feature = "log"))]
mod foreign;
mod function_name;
#[cfg(feature = "log")]
mod log_filter;
mod output;
mod pool;
mod query;
mod registry;
mod store;
#[cfg(feature = "tracing")]
pub mod tracing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use callsite::Callsite;
pub use control::{callsites, control, listing, reset, stats};
pub use dyndbg_macros::pr_debug;
pub use env::ENV_VAR;
pub use flags::Flags;
#[cfg(feature = "log")]
pub use log_filter::LogFilter;
#[cfg(feature = "log")]
pub use output::Log;
pub use output::{Discard, Record, Sink, Stderr, emit, set_sink};
pub use query::QueryError;
pub use store::Stats;
