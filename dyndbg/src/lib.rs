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
//! # Running
//!
//! ```text
//! DYNDBG='func connect +pfl' ./myservice          # applied before the first callsite runs
//! DYNDBG='module myapp::net::* +p; line 10-40 file tcp.rs -p' ./myservice
//! ```
//!
//! `DYNDBG` needs no call in `main` and no life-before-main constructor:
//! every callsite starts "unregistered", and the first one to run (or the
//! first query or listing) applies the variable once. A bad query there is
//! reported on one stderr line, changes nothing, and the program goes on.
//!
//! In a setuid or setgid program (the kernel's `AT_SECURE`; `issetugid()`
//! on macOS and the BSDs), `DYNDBG` and `DYNDBG_POOL` are ignored, as
//! glibc's `secure_getenv` ignores such variables: the environment belongs
//! to a less privileged caller, who must not switch on output of the
//! program's data. Each variable that is set is reported once on stderr:
//! `dyndbg: DYNDBG ignored: setuid/setgid program (AT_SECURE)`. Queries
//! from code ([`control`](fn@control)) still work.
//!
//! # The query language
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
//! A batch is parsed whole before anything changes: on error nothing changes.
//!
//! # Introspection
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
//! # Function names
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
//! # Output
//!
//! Enabled callsites write one line to stderr through the same path as
//! `eprint!` (so the test harness captures it), prefixed as the flags ask,
//! in the kernel's order: `[tid] module:function:file:line: message`. Replace
//! the sink with [`set_sink`] (for example [`Discard`], or your own
//! [`Sink`]); other instrumentation can share the output through [`emit`].
//! The replaced sink is flushed ([`Sink::flush`]) and kept, never dropped
//! (a print may still be inside it on another thread): each replacement
//! leaks one sink, see [`set_sink`].
//!
//! # Features
//!
//! - `log`: records go to the `log` facade (level `Debug`, target and
//!   module = module path, file and line set) instead of stderr.
//! - `compile_out`: every callsite compiles down to a type check of its
//!   arguments: no record, no branch. For library authors who want the
//!   callsites gone from some builds.
//!
//! Two semver-incompatible copies of dyndbg in one binary keep separate
//! registries: the linker section is named after the version.
//!
//! # Overhead
//!
//! `cargo bench -p benches --bench callsite` runs the peers side by side in
//! one process and, with valgrind installed, counts instructions under
//! Callgrind. Measured here (2-core VM), per call:
//!
//! | case | instructions | ns |
//! |---|---|---|
//! | `log::debug!`, max level Info | 9 | 0.55 |
//! | `pr_debug!`, off | 9 | 0.55 |
//! | `tracing::debug!`, filtered out by an `EnvFilter` | 17 | 0.62 |
//! | `tracing` fmt subscriber to `io::sink` | 5632 | 401 |
//! | `pr_debug!` `+pmfl` to [`Discard`] (formatted, dropped) | 1038 | 65 |
//! | `format!` of the same line alone | 938 | 61 |
//!
//! Off, a callsite is a byte load, a test and a branch (the loop around it
//! makes the 9). On, it is 5.4x fewer instructions (6.2x less time) than
//! tracing's fmt path, prefix included: the body comes from the cache of
//! enabled bodies by index, never from the pool.
//!
//! # Memory: the body pool
//!
//! A callsite is a hot head (its flag byte, in the linkme slice) and a cold
//! body (module, file, function, format, class, line) that only queries and
//! listings read. As the kernel's dynamic debug did with zsmalloc (seed
//! 000), the bodies go into a compressed pool at first use: the first
//! query, listing or [`stats`] serializes every body, with the function
//! name the runtime computes, into zstd blocks of 16 KiB that decompress
//! independently, against a 32 KiB dictionary sampled from the program's
//! own records. Matching and listing then decompress block by block; the
//! bodies of callsites that print stay cached decompressed, so an enabled
//! print never decompresses (it reads the cache, never the pool). After
//! the build, on Linux, the pages of `.rodata` holding the raw strings are
//! given back with `madvise(MADV_DONTNEED)`: they are clean pages of the
//! executable, so any later read (a [`Callsite`] accessor) faults the same
//! bytes back in. That holds only while the file cannot change, so pages
//! are dropped only in the main executable's own read-only mappings, and
//! only when it is on a local filesystem (ext4, xfs, btrfs, f2fs,
//! bcachefs, zfs, tmpfs, overlayfs, squashfs, erofs...), where the kernel
//! refuses writes to a running executable. Strings in a shared library
//! (which can be rewritten in place while mapped) or in a binary on NFS or
//! FUSE stay mapped: there the figures below are those of `keep`.
//!
//! `DYNDBG` at startup builds the pool inside the first callsite's slow
//! path (the query must read the bodies); without `DYNDBG` nothing is built
//! until the first query or listing.
//!
//! `DYNDBG_POOL`, read once at first use: `on` (the default) pool and drop
//! the raw strings' pages, `keep` pool but leave them mapped, `off` no
//! pool: queries read the raw records and function names stay on the heap.
//! [`stats`] tells what the bodies cost:
//!
//! ```
//! dyndbg::pr_debug!("pooled");
//! let s = dyndbg::stats();
//! println!("{} callsites: raw {} B, pool {} B, {} bodies cached ({} B)",
//!     s.callsites, s.raw_body_bytes, s.pool_bytes, s.cached_bodies, s.cached_bytes);
//! ```
//!
//! Measured on the generated test program `dyndbg/tests/manysites` (20,988
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
//! What it costs (`cargo bench -p benches --bench pool`, same program):
//!
//! | operation | raw records | pool |
//! |---|---|---|
//! | `func *rotate* +p` over 20,988 callsites | 8.0 ms, 122 M instr | 13.0–13.2 ms (1.6×), 172 M instr |
//! | full listing | 5.6–9.6 ms, 57 M instr | 10.4–15.8 ms (1.7–1.9×), 106 M instr |
//! | first callsite with `DYNDBG` set (builds the store) | 16–19 ms | 41–42 ms |
//! | first callsite without `DYNDBG` (nothing built) | 23–32 µs | 23–32 µs |
//!
//! Reading every body from the pool (decompressing all 290 blocks) takes
//! ~4.7 ms; the rest of a query is the matching itself. One body alone
//! (one 16 KiB block) takes ~25 µs. Ranges are over two runs on a loaded
//! 2-core VM; instruction counts are Callgrind's.
//!
//! The sweep that chose the parameters (pool / raw; build; one query):
//! 4 KiB blocks 0.111, 16 KiB 0.096, 64 KiB 0.090 with the 32 KiB
//! dictionary; without a dictionary 0.155 / 0.114 / 0.095. Level 19 gains
//! ~10% but takes seconds to build; zstd's dictionary trainer gains 2% on
//! the sampled dictionary but costs ~100 ms and 6 MiB of scratch.
//!
//! # Platforms
//!
//! Everything works on any platform Rust's `std` supports; the thread id in
//! the `t` prefix is the OS thread id (`gettid`) on Linux and a hash of the
//! std thread id elsewhere.
//!
//! # Internals
//!
//! The modules form layers, bottom first; each names only modules below it
//! (`tests/layering.rs` checks the sources against this list):
//!
//! 1. `flags`: the flag byte and its kernel spelling.
//! 2. `function_name`: a `type_name` to the function name of a listing.
//! 3. `output`: sinks and the prefix of a printed line.
//! 4. `query`: the query language (lexer, parser, matcher, glob, errors).
//! 5. `env`: `DYNDBG` and `DYNDBG_POOL` read as `secure_getenv` would;
//!    `DYNDBG` parsed.
//! 6. `callsite`: the static record, hot head and cold body.
//! 7. `registry`: the linkme slice of records and the writer lock.
//! 8. `pool`: the zstd-compressed bodies.
//! 9. `store`: where queries read bodies (pool or raw records), the cache
//!    of enabled bodies, function names ([`Callsite::function`] is
//!    implemented here) and [`Stats`].
//! 10. `control`: the start-up work (applies `DYNDBG` once), queries,
//!     reset, listing.
//! 11. `__private`: what generated code calls; then `docs`, and the root,
//!     which only re-exports.
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod callsite;
mod control;
pub mod docs;
mod env;
mod flags;
mod function_name;
mod output;
mod pool;
mod query;
mod registry;
mod store;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use callsite::Callsite;
pub use control::{callsites, control, listing, reset, stats};
pub use dyndbg_macros::pr_debug;
pub use env::ENV_VAR;
pub use flags::Flags;
#[cfg(feature = "log")]
pub use output::Log;
pub use output::{Discard, Record, Sink, Stderr, emit, set_sink};
pub use query::QueryError;
pub use store::Stats;
