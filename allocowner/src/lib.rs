//! `OwnerAlloc`: a global allocator wrapper that knows which call stack owns
//! every live allocation, after the kernel's page_owner on the stack depot
//! (seeds 003 and 004), fast enough to leave on.
//!
//! Off (the default) the wrapper is a pass-through: one relaxed atomic load
//! and a branch per call, nothing mapped, nothing allocated. On, each live
//! allocation has a record in a side table outside the allocation, naming
//! its owner stack, and the stacks are stored once each in a stack depot;
//! a [`snapshot`] or a report (a page_owner-style dump, a grouped report as
//! page_owner_sort prints it, folded stacks, a flame graph, a diff) says
//! who owns the live heap.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! allocowner = "0.1"
//! ```
//! ```no_run
//! #[global_allocator]
//! static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();
//! // or wrap another allocator: allocowner::OwnerAlloc::new(MyAlloc)
//!
//! fn main() {
//!     allocowner::enable().expect("allocowner"); // or ALLOCOWNER=on
//!     let v: Vec<Vec<u8>> = (0..100).map(|_| vec![0; 1000]).collect();
//!     let snap = allocowner::snapshot();
//!     let mut owners: Vec<_> = snap.stacks.values().collect();
//!     owners.sort_by_key(|s| std::cmp::Reverse(s.live_bytes));
//!     for s in owners.iter().take(5) {
//!         println!("{} bytes in {} allocations, {} frames", s.live_bytes, s.live_count, s.frames.len());
//!     }
//!     drop(v);
//! }
//! ```
//!
//! Or, with no code beyond the `#[global_allocator]` line:
//!
//! ```text
//! ALLOCOWNER=on,report=/tmp/owners.txt ./myservice    # the grouped report at exit
//! ```
//!
//! # Reading the data
//!
//! [`snapshot`] takes a consistent copy of every record ([`Allocation`]:
//! address, size, alignment, owner [`StackHandle`], thread and timestamp
//! with the `thread` client) and of the live totals of every owner
//! ([`Stack`]: frames as raw return addresses, innermost first, live count
//! and bytes), plus the early estimate and allocowner's own mapped bytes,
//! which are never mixed into the program's figures. [`live_totals`] reads
//! one owner's totals in O(1); [`stats`] reads allocowner's own figures
//! without allocating; [`write_report`] writes the grouped report, and
//! [`report`] makes the others. Symbols are resolved only when a report is
//! made.
//!
//! What a record says:
//!
//! - Every live allocation made while tracking is on has a record: its
//!   size, alignment and owner stack (with `thread`, also the OS thread id
//!   and a timestamp).
//! - `realloc` moves the record to the new address and size and **keeps
//!   the stack of the original allocation** (as page_owner keeps the owner
//!   on migration); no stack is captured on `realloc`. `dealloc` removes
//!   the record.
//! - Stacks are deduplicated in a stack depot behind 32-bit
//!   [`StackHandle`]s, each with its live count and bytes kept up to date.
//!   Special owners: [`StackHandle::DUMMY`] for allocowner's own
//!   allocations (snapshots, reports), [`StackHandle::FAILURE`] for a stack
//!   the depot had no room for, [`StackHandle::UNSAMPLED`] for allocations
//!   the sampling unwinder skipped.
//! - Bytes still live that were allocated before tracking was enabled are
//!   one estimated "early" owner ([`Snapshot::early_bytes`]): what the inner
//!   allocator reported live at enable time (`mallinfo2` for `System` on
//!   glibc, including malloc's chunk overhead), minus the sizes of later
//!   frees of pointers that have no record.
//! - The first frame of a stack is the function that called the allocator
//!   shim, or the shim itself (`__rust_alloc`) when the compiler did not
//!   inline it: nothing of allocowner's own is kept.
//!
//! # Configuration
//!
//! `ALLOCOWNER` is read with `getenv` (no allocation) at the first
//! allocation:
//!
//! ```text
//! ALLOCOWNER=on[,depth=N][,report=PATH][,report_children][,thread][,sample=N][,sample_bytes[=N]][,depot_cap=BYTES][,capture=fp|unwind|auto]
//! ```
//!
//! - `depth=N`: frames kept per stack, 1 to 64 (default 16, the kernel's).
//! - `report=PATH`: write the grouped report to PATH at process exit
//!   (`atexit`; not run on `std::process::abort` or a signal death).
//!   PATH is checked when tracking is enabled, by opening it for writing
//!   as the exit report will: created empty (mode 0600) if missing, never
//!   truncated then; if that fails, tracking stays off and the error names
//!   the path (`allocowner: cannot write report /x/y: Not a directory`).
//!   The report is written with `O_NOFOLLOW`: a symlink at PATH is
//!   refused, its target never truncated.
//! - `report_children` (with `report=PATH`): forked children write their
//!   own exit report to `PATH.<pid>`. **The rule for children**: a process
//!   forked after `report=PATH` was set never writes, truncates or
//!   overwrites PATH, which stays the report of the process that set it;
//!   by default a child writes no exit report at all. A child that sets
//!   `report=` itself (through [`enable_with`]) owns that report.
//! - `thread`: enable the thread client: records also keep the OS thread id
//!   and a timestamp (16 more bytes per live allocation).
//! - `sample=N`: in unwinder mode, capture one allocation in N (default 64).
//! - `sample_bytes=N`: sampled mode, for always-on use: one allocation per
//!   N bytes allocated on average is recorded (a Poisson process over the
//!   bytes, as tcmalloc, jemalloc and Go sample), the others cost a
//!   per-thread counter decrement on `alloc` and one load on `free`.
//!   `sample_bytes` without a value means N = 524288 (512 KiB, their
//!   default); K/M/G suffixes work; `sample_bytes=0` is exact mode (every
//!   allocation, the default). [`enable_with`] switches between the two at
//!   runtime, nothing lost: records of either mode stay until freed. A
//!   snapshot scales sampled records by the inverse of their probability
//!   ([`Snapshot::sampling`], [`Snapshot::estimates`]). The period stays
//!   fixed until [`stop`] while sampled records exist
//!   ([`ConfigErrorKind::SampleBytesChanged`]). In sampled mode a free
//!   cannot tell an early block from an unsampled one, so the early
//!   estimate no longer shrinks.
//! - `depot_cap=BYTES`: most memory for stack records (K/M/G suffixes;
//!   default 64M, at least 16K). A stack that does not fit gets
//!   [`StackHandle::FAILURE`] and the program goes on.
//! - `capture=`: `auto` (default: frame pointers if the program has them,
//!   else the sampling unwinder), `fp` or `unwind` to force one.
//!
//! An unknown option or a bad value is reported once on stderr, naming it,
//! and tracking stays off. At runtime: [`enable`], [`enable_with`] (same
//! options, without `on`), [`disable`] (stop recording, keep records),
//! [`stop`] (forget everything, back to pass-through).
//!
//! ```
//! let err = allocowner::enable_with("depth=8,colour=red").unwrap_err();
//! assert_eq!(err.kind(), allocowner::ConfigErrorKind::UnknownOption);
//! assert_eq!(
//!     err.to_string(),
//!     "allocowner: unknown option 'colour=red' (known: depth=N, report=PATH, \
//!      report_children, thread, sample=N, sample_bytes[=N], depot_cap=BYTES, capture=fp|unwind|auto); tracking stays off"
//! );
//! assert!(!allocowner::is_enabled()); // nothing half-applied
//! ```
//!
//! ## Features
//!
//! - `access` (Linux; off by default): `allocowner::access`, a DAMON-style
//!   sampler of which heap regions are accessed, recorded in DAMON's
//!   formats and joined with the owner stacks
//!   (`ALLOCOWNER_ACCESS="<buffer_len> <path>"`):
//!   `allocowner = { version = "0.1", features = ["access"] }`. Without it
//!   a program links no constructor of allocowner's and no zlib.
//!
//! ## Stack capture
//!
//! With frame pointers (this workspace builds with
//! `-C force-frame-pointers=yes`; the Rust std ships with them) every
//! allocation's stack is walked, and whether the program keeps frame
//! pointers is checked at enable time. Without them, allocowner falls back
//! to the `backtrace` crate's unwinder on one allocation in `sample`
//! ([`CaptureMode::Sampling`]); the others are owned by
//! [`StackHandle::UNSAMPLED`]. The unwinder takes the dynamic loader's
//! lock (`dl_iterate_phdr`), which can deadlock with a thread that holds
//! it and allocates (dhat-rs#38, gperftools#1159): prefer frame pointers.
//! [`capture_mode`] says which is in use.
//!
//! # Guarantees
//!
//! - **Exact totals.** With tracking on from the first allocation
//!   (`ALLOCOWNER` set), the program's owners in a snapshot or report add
//!   up exactly to what the inner allocator had live when it began, and
//!   the program's owners plus the dummy owner to what it has live while
//!   the records are copied (allocations made in a signal or atfork
//!   handler while allocowner holds a lock pass through unrecorded, and
//!   are the only exception).
//! - **The allocator never panics, never recurses without bound**
//!   (re-entered allocations are recorded as DUMMY, or pass through while
//!   an internal lock is held), **and never allocates under its locks**,
//!   but for the inner allocator's `realloc` of a small block, under a
//!   side-table lock: so the inner allocator must not call the global
//!   allocator while it holds a lock of its own, which `System` never does.
//! - **fork**: a child forked at any moment, even while another thread was
//!   enabling or inserting, finds consistent tables and free locks,
//!   allocates, reports and exits normally; its records carry its own
//!   thread id. An allocation in an atfork handler that runs in between
//!   (one the program registered before tracking was first enabled)
//!   passes through untracked instead of deadlocking.
//! - **setuid/setgid** (the kernel's `AT_SECURE`): `ALLOCOWNER` is
//!   ignored, as glibc's `secure_getenv` ignores the environment, and one
//!   line says so on stderr if it is set:
//!   `allocowner: ALLOCOWNER ignored: setuid/setgid program (AT_SECURE)`.
//!   The program itself can still call [`enable_with`].
//! - **Real-time threads**: allocowner's locks spin briefly, then sleep on
//!   a futex (never an endless `sched_yield`, which livelocks `SCHED_FIFO`
//!   threads).
//! - **Platforms**: tracking needs Linux (mmap, `pthread_getattr_np`,
//!   `mallinfo2` with glibc); frame-pointer walks exist for x86_64 and
//!   aarch64. Elsewhere `OwnerAlloc` compiles and stays a pass-through, and
//!   [`enable`] returns an error.
//!
//! # Costs
//!
//! Measured on a noisy 2-core VM against `System`, with the commands and
//! dates that [`docs::performance`] gives beside each table (with how they
//! were taken, and where the cost goes):
//!
//! - Off: one relaxed load and a compare per call; nothing is mapped.
//!   0.1%–0.9% more instructions than `System` on a `BTreeMap`, a JSON
//!   parse and random-size churn, 1.4%–2.1% on two real programs from
//!   crates.io (jaq, syn) whose allocations are cheap and frequent (their
//!   CPU time within 2%).
//! - On (exact): 1.33×–1.76× `System`'s instructions on the synthetic
//!   work, one thread (1.30×–1.89× instructions and 1.65×–2.13× wall time
//!   with 8 threads on 2 cores; dhat-rs 12.8×–35.7× instructions);
//!   2.9×–3.5× CPU time on jaq and syn, whose deep recursive stacks are
//!   many and varied (a bare 16-frame walk per allocation alone costs
//!   them 1.13×–1.25×).
//! - Sampled (`sample_bytes`): 1.01×–1.03× instructions on the synthetic
//!   work; on jaq and syn 1.05×–1.07× instructions and within 1.03× CPU
//!   time.
//! - Memory: 13–19 bytes of side table per live allocation on heaps of
//!   small and mid-sized blocks, 36 with one small block per page
//!   ([`Stats::bytes_per_record`]), `16 + 8 × frames` bytes per unique
//!   stack in the depot, both mapped straight from the OS and shown apart
//!   in [`stats`] and in every report; 24 KiB of thread-locals per thread, and 272 KiB of
//!   static memory touched as used.
//! - A snapshot stalls allocating threads while it copies; `enable()` reads
//!   `mallinfo2`, which walks malloc's free lists once.
//!
//! # More
//!
//! - [`docs::performance`]: the measured tables, what made 8 threads
//!   expensive before and how it was fixed, where the instructions go.
//! - [`docs::internals`]: the side table and its page index, pending
//!   totals, the depot, the locks and the fork handlers.
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]
#![allow(
    // The pass-through check and the capture's fixed frame skip depend on
    // exactly what is inlined into the allocator shim.
    clippy::inline_always,
    // Side-table rows and depot records live in page-aligned mappings at
    // offsets that are multiples of 8; each cast site says so.
    clippy::cast_ptr_alignment,
    // The depot's pool arrays are `static` (in .bss), never on a stack.
    clippy::large_stack_arrays,
    // Methods of the static tables keep one calling style.
    clippy::unused_self,
    // `ConfigError` is made inside the allocator, so it cannot be boxed,
    // and it carries a whole report path (up to 255 bytes) to name it.
    clippy::result_large_err
)]

use std::io;
use std::path::Path;

#[cfg(all(target_os = "linux", feature = "access"))]
pub mod access;
mod alloc;
mod capture;
mod config;
pub mod debugfs;
mod depot;
pub mod docs;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod limits;
mod maps;
#[cfg(target_os = "linux")]
mod own_mappings;
pub mod report;
mod snapshot;
mod spin;
mod sys;
mod table;
mod tracker;

pub use alloc::OwnerAlloc;
pub use config::{ConfigError, ConfigErrorKind};
pub use snapshot::{Allocation, CaptureMode, Estimate, Snapshot, Stack, StackHandle};

/// Turns tracking on with the default options (depth 16, no report, no
/// thread client, frame pointers if present). Does nothing if already on
/// (the options in force, from `ALLOCOWNER` or [`enable_with`], stay).
pub fn enable() -> Result<(), ConfigError> {
    tracker::enable_with("")
}

/// Turns tracking on with `options`, the `ALLOCOWNER` syntax without the
/// leading `on` (e.g. `"depth=8,thread"`); options not given take their
/// defaults. Nothing changes on an error.
/// The `thread` client can only be chosen before tracking is first enabled.
/// A `report=PATH` is checked here (opened for writing, created if
/// missing, not truncated): if it cannot be written, the error
/// ([`ConfigErrorKind::ReportUnwritable`]) names the path and tracking is
/// left as it was. `report_children` makes forked children write
/// `PATH.<pid>` at their exit; without it they write no report.
pub fn enable_with(options: &str) -> Result<(), ConfigError> {
    tracker::enable_with(options)
}

/// Stops recording new allocations. Records already made stay, and frees
/// keep removing them, so a later [`snapshot`] is still right about them.
pub fn disable() {
    tracker::disable();
}

/// Turns tracking off completely and forgets every record: the side
/// table is emptied (its mappings stay, counted in
/// [`Stats::own_mapped_bytes`], for a later enable; their pages go back to
/// the OS), every stack's live
/// totals go to zero (the depot keeps its stacks), and `OwnerAlloc` is a pass-through
/// again, as if never enabled. A later [`enable`] starts afresh with a new
/// early estimate. Call it while other threads are quiet: an allocation in
/// flight at that moment may leave one stale record.
pub fn stop() {
    tracker::stop();
}

/// Whether allocations are being recorded now.
pub fn is_enabled() -> bool {
    tracker::is_enabled()
}

/// How stacks are being captured.
pub fn capture_mode() -> CaptureMode {
    capture::mode()
}

/// A consistent copy of every live record and the totals of their stacks.
/// Allocating threads wait while records are copied; the copy's own
/// allocations are recorded against [`StackHandle::DUMMY`].
pub fn snapshot() -> Snapshot {
    tracker::snapshot()
}

/// The live allocation count and bytes of one owner (special handles
/// included), read in O(1) from the depot's counters: the count of stacks
/// and of allocations does not matter. Allocating threads wait while the
/// few changes each side-table shard holds back are added in.
pub fn live_totals(handle: StackHandle) -> (u64, u64) {
    tracker::live_totals(handle)
}

/// allocowner's own figures, read without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Whether allocations are being recorded now.
    pub enabled: bool,
    /// Live records in the side table (approximate while threads allocate).
    pub live_records: u64,
    /// Bytes per record (16 for the core client, 32 with `thread`).
    pub record_bytes: u64,
    /// Bytes of memory the side table holds: its hashed rows (whole,
    /// spare rows included), and every byte its page index made resident
    /// (directory nodes, page storage handed out or free, and what is
    /// populated ahead of use). Not counted: its fixed statics (shard
    /// locks and pending totals, the top of the directory) and mapped
    /// pages never touched (those are in [`Stats::own_mapped_bytes`]).
    /// [`Stats::bytes_per_record`] divides it by the live records.
    pub table_bytes: u64,
    /// Distinct stacks in the depot.
    pub depot_stacks: u64,
    /// Bytes of stack records in the depot (16 + 8 × frames each).
    pub depot_record_bytes: u64,
    /// Bytes mapped for depot pools.
    pub depot_pool_bytes: u64,
    /// Bytes mapped for the depot's hash index.
    pub depot_index_bytes: u64,
    /// Stacks the depot could not store (owned by FAILURE).
    pub depot_failures: u64,
    /// Allocations that could not be recorded (no memory from the OS).
    pub unrecorded: u64,
    /// Every byte allocowner has mapped from the OS.
    pub own_mapped_bytes: u64,
}

impl Stats {
    /// Side-table bytes per live record: [`Stats::table_bytes`] divided by
    /// [`Stats::live_records`], 0.0 when there are none. Small blocks
    /// (up to 256 bytes) cost 4 to 8 bytes each in their page's storage
    /// when many share a page, about 40 when each is alone in its page;
    /// bigger ones 16 to 27 bytes in the hashed rows (32 to 54 with the
    /// `thread` client, where every record is in the rows).
    pub fn bytes_per_record(&self) -> f64 {
        if self.live_records == 0 {
            return 0.0;
        }
        self.table_bytes as f64 / self.live_records as f64
    }
}

/// allocowner's own figures: side table and depot sizes.
pub fn stats() -> Stats {
    let d = depot::DEPOT.stats();
    Stats {
        enabled: tracker::is_enabled(),
        live_records: table::TABLE.len() as u64,
        record_bytes: table::TABLE.stride() as u64,
        table_bytes: table::TABLE.bytes(),
        depot_stacks: d.stacks,
        depot_record_bytes: d.record_bytes,
        depot_pool_bytes: d.pool_bytes,
        depot_index_bytes: d.index_bytes,
        depot_failures: d.failures,
        unrecorded: tracker::unrecorded(),
        own_mapped_bytes: sys::MAPPED_BYTES.load(core::sync::atomic::Ordering::Relaxed),
    }
}

/// Takes a [`snapshot`] and writes the grouped report (live bytes and
/// count per owner stack, biggest first, symbolized) to `path`. This is
/// what `report=PATH` writes at exit.
///
/// The file is opened before the snapshot is taken, with `O_NOFOLLOW`
/// (a symlink at `path` is refused, never written through) and
/// `O_CLOEXEC`, created with mode 0600, truncated. An error keeps the OS
/// error's kind and names the path: `cannot write report /x/y: Not a
/// directory`.
pub fn write_report(path: &Path) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let named = |e: io::Error| {
        let why = match e.raw_os_error() {
            Some(errno) => {
                let mut buf = [0u8; 128];
                String::from_utf8_lossy(sys::strerror(errno, &mut buf)).into_owned()
            }
            None => e.to_string(),
        };
        io::Error::new(
            e.kind(),
            format!("cannot write report {}: {why}", path.display()),
        )
    };
    guard::inside(|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(named)?;
        let snap = snapshot();
        let text = report::Report::new(&snap).grouped(report::SortBy::Bytes, usize::MAX);
        file.write_all(text.as_bytes()).map_err(named)
    })
}
