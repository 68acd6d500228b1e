//! # Internals: how allocowner is built
//!
//! For contributors and the curious; nothing here is needed to use the
//! crate. What these choices cost: [`docs::performance`](super::performance).
//!
//! # The side table (page_ext)
//!
//! A record per live allocation lives in a side table outside the
//! allocation (its layout is never changed), mapped straight from the OS,
//! sharded 256 ways by 64 KiB heap region with a lock per shard: no lock is
//! shared by all threads. Clients declare what they need, as page_ext's
//! `need()`/`init()` do: the core client keeps the size, alignment and
//! depot handle, the `thread` client adds thread id and timestamp; the
//! record layout is fixed from their needs when tracking is first enabled.
//!
//! - **The page index.** With the core client alone, a block of up to 256
//!   bytes (aligned to at most 16) has its record in its heap page's
//!   storage, found by address through a three-level radix directory as
//!   page_ext finds a page's data: a *mini* of records packed 5 bytes each
//!   (4 to 24 of them, searched a word of slot indices at a time) while the
//!   page holds few, a *leaf* of 128 four-byte slots (one per 32-byte
//!   granule, indexed, never probed) from its 25th record, back to a mini
//!   at 2. Where the storage is, its kind and its count are in the page's
//!   directory entry (the table's module `pages` has the details).
//! - **The rows.** Other records are 16-byte rows (32 with `thread`) of a
//!   per-shard Robin Hood hash table with backward-shift deletion, grown by
//!   1.5× at 7/8 load.
//! - **realloc.** A block of up to 64 KiB is reallocated under its record's
//!   shard lock, so a block that stays in place only has its size updated,
//!   and the old address of one that moves cannot be recorded by another
//!   thread before its record is gone; a bigger block's record is removed
//!   first and put back after.
//!
//! # Live totals and the pending sets
//!
//! Each stack keeps its live count and bytes up to date on every
//! allocation and free ([`live_totals`](crate::live_totals) reads them in
//! O(1)). The changes gather in pending totals per side-table shard (16
//! sets of 4), under the shard's lock, and reach the stack's record in the
//! depot when a set needs room or totals are read, so threads sharing a
//! stack do not bounce its cache line on every call.
//!
//! # The stack depot (stackdepot)
//!
//! Each distinct stack is stored once, in 16 KiB pools mapped from the OS
//! up to `depot_cap`, behind a 32-bit handle; lookups probe an
//! open-addressed index without a lock, inserts take the depot's lock. A
//! stack that does not fit gets the failure handle. The index has a 4-byte
//! slot per 64 bytes of cap (4 MiB for the default 64 MiB, touched as
//! used): the stack's handle and 8 more bits of its hash, so that a lookup
//! reads one slot and, nearly always, only the record it is looking for.
//! That matters when a program with deep recursive stacks (a parser, an
//! interpreter) fills the depot with distinct stacks: syn's parse makes
//! about 235,000 of them, and each of its allocations looks its stack up
//! here (two cache misses: the slot and the record). The index is full at
//! three quarters of its slots (a cap's worth of 16-frame stacks fills
//! under half); past that, new stacks get the failure handle too.
//!
//! # Sampled mode
//!
//! With `sample_bytes=N` (the `SAMPLED` state), each thread counts down
//! the bytes it allocates from an interval drawn from an exponential
//! distribution of mean N (splitmix64, seeded per thread): an allocation
//! costs that decrement, in the inlined `alloc`, and only the one that
//! crosses zero goes out of line, records itself and draws the next
//! interval, as tcmalloc does. So sampling is a Poisson process over the
//! bytes allocated, and an allocation of `s` bytes is sampled with
//! probability `1 - exp(-s/N)`, whatever came before it; a snapshot
//! scales each sampled record by the inverse
//! ([`Snapshot::weight`](crate::Snapshot::weight)). A `realloc` of an
//! unsampled block counts its growth.
//!
//! - **Which records were sampled.** A sampled allocation's owner is the
//!   *sampled twin* of its stack: the same frames followed by a tag frame
//!   (`usize::MAX`), stored apart in the depot. The record itself has no
//!   bit for it; a snapshot drops the tag and marks the twin's handle
//!   ([`StackHandle::is_sampled`](crate::StackHandle::is_sampled)). So
//!   records of both modes live side by side, and switching modes at
//!   runtime keeps every record as it is. The period is fixed while
//!   sampled records exist (until `stop()`), so that one N scales them
//!   all.
//! - **How a free knows.** Most frees in sampled mode are of blocks
//!   without a record. A counting filter in `.bss` (256K 16-bit counters,
//!   one per 16 bytes of a 4 MiB window of addresses) counts the records
//!   of each address class: a free whose counter is 0 has no record for
//!   sure and costs that one load; the rest take the table's path. Every
//!   record change counts itself in or out under its shard lock once the
//!   filter is on; turning it on (the first sampled enable, with every
//!   shard lock held) counts in the records already there, so exact
//!   records made before are still found. It stays on, also in exact
//!   mode after sampled, until `stop()`.
//! - **Early bytes.** With the filter, a free without a record may be of
//!   an unsampled block as well as of an early one: it no longer reduces
//!   the early estimate.
//!
//! # Re-entrancy: the dummy owner
//!
//! Allocations allocowner makes itself (snapshots, reports) get the dummy
//! handle, through a `const`-initialised thread-local guard without
//! destructor (page_owner's `in_page_owner` bit), which also works while a
//! thread's thread-locals are being destroyed. Holding any of allocowner's
//! locks sets the guard too, so an allocation on the same thread (a signal
//! handler's) passes through instead of deadlocking.
//!
//! # Stack capture
//!
//! The frame-pointer walk checks each step to stay inside the thread's
//! stack, go upward and be aligned; whether the program keeps frame
//! pointers is checked at enable time by walking from a known nested call.
//! The walk hashes the return addresses as it goes; each thread keeps a
//! direct-mapped cache of 2048 recent stack hashes and their handles, so
//! a stack the thread used lately is not looked up in the depot. (Until
//! 2026-12-05 each thread also remembered 64 frame chains, checked against
//! the stack instead of walking it: fewer instructions on synthetic loops,
//! more CPU time on real programs, whose chains rarely repeat.) Without
//! frame pointers, the `backtrace` crate's unwinder runs on one allocation
//! in `sample`.
//!
//! # Locks and fork
//!
//! Every lock (`spin`) spins briefly, then sleeps on a futex on Linux
//! (never an endless `sched_yield`, which livelocks `SCHED_FIFO` threads),
//! and never allocates. A `pthread_atfork` prepare handler takes every lock
//! allocowner has, in one order: the enable lock (held while enabling,
//! which takes the others), the depot's, every side-table shard's, then
//! the page index's growth lock (taken under a shard's); the parent and
//! child handlers release them in reverse order. So a child forked while another thread was
//! enabling or inserting finds consistent tables and free locks. While the
//! handlers hold the locks, the forking thread's re-entrancy guard is on:
//! an allocation in another atfork handler that runs in between passes
//! through untracked. In the child, records carry the child's own thread
//! id, and the exit report is written only under `report_children`.
//!
//! # Modules
//!
//! Grouped by job, from the bottom up: a module uses those of its own
//! group and of the groups before it. (Unlike dyndbg and markers, no test
//! checks this order yet.)
//!
//! 1. Leaves: `guard` (the re-entrancy state), `snapshot` (the types
//!    reports read: [`Snapshot`](crate::Snapshot),
//!    [`Stack`](crate::Stack), [`StackHandle`](crate::StackHandle)),
//!    `limits` (bounds shared by the option parser, the depot and the
//!    capture), `spin` (the lock that never allocates), `sys` (OS calls
//!    that bypass the global allocator) with `own_mappings` (the list of
//!    allocowner's own mappings), `maps` (the one `/proc/self/maps`
//!    parser).
//! 2. `config`: `ALLOCOWNER`, parsed without allocating.
//! 3. The structures: `depot` (the stack depot) and `table` (the side
//!    table: `record`, `clients`, `pages`, `rows`, `pending`).
//! 4. `capture`: `walk`, the frame-pointer walk; the per-thread stack
//!    cache; the sampling unwinder.
//! 5. Process-wide: `tracker` (`state`, the static key and statistics;
//!    `hooks`, fork and exit; `snapshot`, reading records with every lock
//!    held) and `alloc` ([`OwnerAlloc`](crate::OwnerAlloc)).
//! 6. Outside the allocator: `report` (symbols resolved at report time),
//!    `access` (feature `access`: the DAMON-style sampler and recorder),
//!    `debugfs` (the handlers of allocowner's files in the process's
//!    debugfs, which the `dyndbg-debugfs` server routes to), `fuzzing` (hidden wrappers for the fuzz targets) and `docs`.
