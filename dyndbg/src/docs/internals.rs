//! # Internals: how dyndbg is built
//!
//! For contributors and the curious; nothing here is needed to use the
//! crate. The figures these choices lead to are in
//! [`docs::performance`](super::performance).
//!
//! # A callsite: hot head, cold body
//!
//! `pr_debug!` places a static record in a linkme distributed slice (the
//! kernel's `__dyndbg` section). The record is a hot head (its flag byte,
//! the only thing a disabled callsite reads) and a cold body (module,
//! file, function, format, class, line) that only queries and listings
//! read. Every callsite starts "unregistered": the first one to run, or
//! the first query or listing, does the start-up work once (applies
//! `DYNDBG`), so no life-before-main constructor is needed.
//!
//! # The body pool
//!
//! As the kernel's dynamic debug did with zsmalloc (seed 000), the bodies
//! go into a compressed pool at first use: the first query, listing or
//! [`stats`](crate::stats) serializes every body, with the function name
//! the runtime computes, into zstd blocks of 16 KiB that decompress
//! independently, against a 32 KiB dictionary sampled from the program's
//! own records. Matching and listing then decompress block by block; the
//! bodies of callsites that print stay cached decompressed, so an enabled
//! print never decompresses (it reads the cache, never the pool).
//!
//! After the build, on Linux, the pages of `.rodata` holding the raw
//! strings are given back with `madvise(MADV_DONTNEED)`: they are clean
//! pages of the executable, so any later read (a
//! [`Callsite`](crate::Callsite) accessor) faults the same bytes back in.
//! That holds only while the file cannot change, so pages are dropped only
//! in the main executable's own read-only mappings, and only when it is on
//! a local filesystem (ext4, xfs, btrfs, f2fs, bcachefs, zfs, tmpfs,
//! overlayfs, squashfs, erofs...), where the kernel refuses writes to a
//! running executable. Strings in a shared library (which can be rewritten
//! in place while mapped) or in a binary on NFS or FUSE stay mapped: there
//! the figures are those of `DYNDBG_POOL=keep`.
//!
//! `DYNDBG` at startup builds the pool inside the first callsite's slow
//! path (the query must read the bodies); without `DYNDBG` nothing is
//! built until the first query or listing.
//!
//! # Modules, in layers
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
//! 8. `pool`: the zstd-compressed bodies (`pool::compressed`, with the
//!    `pool` feature; without it `pool::absent` gives a `Pool` type with
//!    no values, so the store is always the raw records).
//! 9. `store`: where queries read bodies (pool or raw records), the cache
//!    of enabled bodies, function names
//!    ([`Callsite::function`](crate::Callsite::function) is implemented
//!    here) and [`Stats`](crate::Stats).
//! 10. `foreign` (the `tracing` or `log` feature): callsites dyndbg does
//!     not own: how a query selects one, the queries applied so far
//!     (replayed on a `tracing` callsite when it registers), the table of
//!     `tracing` callsites seen, and the generation that `log` decisions
//!     are cached under.
//! 11. `control`: the start-up work (applies `DYNDBG` once), queries,
//!     reset, listing.
//! 12. `tracing` (the `tracing` feature): `QueryFilter`, and pr_debug!
//!     lines as `tracing` events.
//! 13. `log_filter` (the `log` feature): `LogFilter`, the queries in front
//!     of a `log::Log`.
//! 14. `debugfs`: the handlers of `dynamic_debug/control` and `stats` in
//!     the process's debugfs (the `dyndbg-debugfs` crate routes to them).
//! 15. `__private`: what generated code calls; then `docs`, and the root,
//!     which only re-exports.
