//! A DAMON-style sampler of heap access regions, recorded in DAMON's formats
//! (seed 001: DAMON's recording feature).
//!
//! The [`Monitor`] watches this process's heap the way the kernel's DAMON
//! watches a virtual address space: the target is split into regions, one
//! page per region is reset and checked every sampling interval, counts are
//! aggregated, regions merge and split to follow the access pattern, and
//! each aggregation is written through a bounded in-memory buffer to a file
//! that DAMON's user-space tool `damo` reads. Joined with [`OwnerAlloc`]'s
//! records, [`attribute`] says which owner stacks hold the hottest and the
//! coldest bytes; [`heatmap_svg`] draws the recording.
//!
//! [`OwnerAlloc`]: crate::OwnerAlloc
//!
//! # Setup
//!
//! The sampler is allocowner's opt-in feature `access` (it brings the
//! start-up constructor below and `flate2`; a program that only uses
//! [`OwnerAlloc`] links neither):
//!
//! ```toml
//! [dependencies]
//! allocowner = { version = "0.1", features = ["access"] }
//! ```
//!
//! Then no code: run the program with
//!
//! ```text
//! ALLOCOWNER_ACCESS="1048576 /tmp/heap.json.z" ./my-program
//! ```
//!
//! The monitor starts before `main` (a constructor in `.init_array`, never
//! from inside the allocator), prints one line naming the detection mode on
//! stderr, and at exit (return from `main` or `std::process::exit`, through
//! `atexit`) stops and flushes the file. It works the same whether the
//! global allocator is [`OwnerAlloc`] or not. A process killed by a signal
//! loses what is still in the buffer.
//!
//! The constructor runs in every program that links allocowner with this
//! feature and does nothing at all (no allocation, no output) unless `ALLOCOWNER_ACCESS` is
//! set. Three rules for process-wide safety:
//!
//! - **Forked children write nothing.** A child inherits the monitor object
//!   but not its thread. At the child's exit (and if it calls
//!   [`Monitor::stop`], [`stop_global`] or drops a [`Monitor`] it inherited)
//!   nothing is stopped, flushed or closed: the session is abandoned, so
//!   the child exits at once, never touches the parent's monitor thread or
//!   userfaultfd, and never truncates, overwrites or appends to the
//!   parent's recording, not even with the part of it still buffered (the
//!   parent writes that). Children do not record on their own: that would
//!   need a monitor thread started in the child, which a fork handler cannot
//!   do safely, so there is no `PATH.<pid>` recording of children (the
//!   allocator's exit report offers one; a recording does not). A child
//!   that wants one starts its own [`Monitor`] with its own path. In
//!   mprotect mode, the pages armed at the fork get their protection back
//!   in the child (a `pthread_atfork` child handler).
//! - **setuid/setgid programs** (`getauxval(AT_SECURE) != 0`) ignore
//!   `ALLOCOWNER_ACCESS` and `ALLOCOWNER_ACCESS_MODE`, as glibc's
//!   `secure_getenv` would, with one line on stderr per variable set:
//!   `allocowner: ALLOCOWNER_ACCESS ignored: setuid/setgid program (AT_SECURE)`.
//! - **One monitor per process.** Two copies of allocowner in one binary
//!   (two semver-incompatible versions) both run the constructor; the first
//!   claims the process by binding the abstract Unix socket
//!   `allocowner-access-<pid>`, which does not depend on either copy's
//!   statics or symbols, is close-on-exec and is released by the kernel
//!   when the process ends. The second prints
//!   `ALLOCOWNER_ACCESS ignored: another copy of allocowner already monitors
//!   this process` and starts nothing. (An environment marker would not do:
//!   it is inherited by children and can be set by anyone; a symbol would
//!   clash at link time.) Where sockets are forbidden, the claim is skipped
//!   and the record file's lock below still keeps two monitors off one file.
//!
//! Or from code, here driven tick by tick (manual mode, as the tests do):
//!
//! ```
//! use allocowner::access::{Attrs, Monitor, Recording};
//!
//! let path = std::env::temp_dir().join("doc-example.json.z");
//! let mut monitor = Monitor::new(Attrs::default())?;
//! monitor.set_recording(&format!("4096 {}", path.display()))?;
//! assert_eq!(monitor.recording(), format!("4096 {}", path.display()));
//! let mut hot = vec![0u8; 1 << 20];
//! for round in 0..=40u8 {
//!     hot.iter_mut().step_by(4096).for_each(|b| *b = round); // the workload
//!     monitor.tick()?; // one sampling interval, no sleep
//! }
//! let summary = monitor.stop()?; // flushes the file
//! assert_eq!(summary.aggregations, 2);
//! let rec = Recording::read(&path)?;
//! assert_eq!(rec.aggregations.len(), 2);
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Monitor::start`] runs the same loop on its own thread
//! (`allocowner-access`), sleeping one sampling interval between steps;
//! [`Monitor::stop`] ends it. [`Monitor::regions`] gives the regions of the
//! last aggregation.
//!
//! # Viewing
//!
//! A path ending in `.json.z` gets damo's `json_compressed` format (zlib
//! JSON, intervals filled in), read by damo 3.x:
//!
//! ```text
//! pip install damo==3.4.3          # needs the `file` command (Debian: file)
//! damo report access  --input /tmp/heap.json.z
//! damo report wss     --input /tmp/heap.json.z --exclude_samples 0
//! damo report heatmap --input /tmp/heap.json.z --output stdout
//! ```
//!
//! Any other path gets the seed's binary record format version 2 (magic
//! `damon_recfmt_ver`, then per aggregation the time, the targets and their
//! regions' start, end and `nr_accesses`), read by damo up to 2.0.1
//! (`damo report raw --input F`) and by [`Recording::read`]. The target id
//! is the process id; times are `CLOCK_MONOTONIC`, as DAMON's.
//!
//! [`heatmap_svg`] renders a recording (time across, address down with the
//! gaps between mappings cut out, colour for access frequency).
//!
//! # Configuration
//!
//! - `ALLOCOWNER_ACCESS="<buffer_len> <path>"`: the recorder setting, as
//!   written to DAMON's `record` file: buffer 1024 bytes to 4 MiB, 0
//!   disables recording; path shorter than 256 bytes. A bad value is named
//!   on stderr and nothing starts.
//! - `ALLOCOWNER_ACCESS_MODE=write-protect|mprotect`: the detector
//!   (default `write-protect`).
//! - [`Attrs`]: DAMON's attributes and defaults: sampling 5 ms,
//!   aggregation 100 ms, regions update 1 s, 10 to 1000 regions.
//! - [`Monitor::set_recording`] takes the control string; [`Monitor::recording`]
//!   reads it back (`"0 none"` by default); changing it while the monitor
//!   runs is refused with [`AccessError::Busy`] (`errno()` = `EBUSY`), bad
//!   values with `EINVAL`, and nothing is half-applied.
//!
//! The record file is opened the way every file allocowner writes is:
//! `O_NOFOLLOW | O_CLOEXEC`, created with mode 0600. A symbolic link at the
//! path is refused (`ELOOP`: the file it points to is never truncated), and
//! so is anything that is not a regular file: a FIFO (checked before the
//! open, and opened `O_NONBLOCK`, so it is never waited on), a device such
//! as `/dev/null`, or a directory; the error names the path
//! (`cannot write recording /tmp/x: a FIFO, not a regular file`). The file
//! is then locked with `flock(LOCK_EX | LOCK_NB)` for as long as it is
//! recorded to: a second monitor, in this process or another, recording to
//! the same file is refused with `EBUSY` and the file is left as it was.
//! Only then is it truncated.
//!
//! The buffer is flushed when the next record would not fit and at stop,
//! as DAMON's `dbgfs_write_rbuf`. Two choices differ from the seed: the file
//! is truncated at start (DAMON appended, leaving a second header in the
//! middle after a restart), and a record larger than the whole buffer is
//! written straight to the file (DAMON dropped it with a warning). A failed
//! write is printed once on stderr, counted, and returned by
//! [`Monitor::stop`] as [`AccessError::Write`]; the monitor goes on.
//!
//! # What is monitored
//!
//! The target comes from `/proc/self/maps` alone: `[heap]` and the
//! anonymous private writable mappings, less thread stacks (an anonymous
//! mapping directly above a guard of at most 1 MiB, glibc's layout), the
//! `.bss` of loaded objects (an anonymous mapping directly after a file
//! mapping) and the mappings allocowner makes for itself (registered with
//! [`exclude_mapping`] by its side table and stack depot; see
//! [`excluded_ranges`]; the table grows by blocks of 1024 entries mapped
//! with `mmap`, outside the Rust allocator, so the stack depot's thousands
//! of mappings all fit). [`target()`] returns what would be watched now.
//! Regions start as
//! DAMON's "three regions" (the span cut at the two biggest gaps) split
//! evenly to the minimum count, and are refitted every update interval, when
//! new mappings are registered with the detector.
//!
//! # Detection modes
//!
//! The kernel's DAMON clears and tests the page table's Accessed bit. A
//! process cannot, and this kernel (Linux 6.18) has no soft-dirty and no
//! idle-page tracking. At start the chosen detector is opened and
//! self-tested on scratch pages; if the kernel or a seccomp policy refuses it,
//! [`Monitor::start`] returns [`AccessError::Unsupported`] saying which step
//! failed and why. [`Probe::run`] reports both modes at once.
//!
//! - [`Mode::WriteProtect`] (default, safe): userfaultfd opened with
//!   `UFFD_USER_MODE_ONLY` (allowed unprivileged even with
//!   `vm.unprivileged_userfaultfd = 0`), async write-protect
//!   (`UFFD_FEATURE_WP_ASYNC`, Linux 6.7), reset with `UFFDIO_WRITEPROTECT`,
//!   checked with the `PAGEMAP_SCAN` ioctl (`PAGE_IS_WRITTEN`). Faults are
//!   resolved inside the kernel: no handler thread, and system calls that
//!   write into a protected page work. It sees **writes only**: what it
//!   measures is write heat; a page only read looks idle.
//! - [`Mode::Mprotect`] (opt-in): the sampled page is made `PROT_NONE`; a
//!   `SIGSEGV` handler notes the first touch and restores it. Sees reads and
//!   writes. **Hazard**: a system call whose buffer lies on an armed page (a
//!   `read(2)` into it, a `write(2)` from it) fails with `EFAULT` instead of
//!   faulting, so I/O from heap buffers can fail at random; only use it on
//!   programs that tolerate that.
//!
//!   It changes no protection it does not own. The target list is a second
//!   old, so before arming it reads `/proc/self/maps` (once per sampling
//!   interval) and arms only a page that is, right now, private read-write
//!   anonymous or heap memory; before disarming it checks again (a second
//!   read per interval) that the page is still its own `PROT_NONE` page,
//!   and leaves it alone if the program unmapped it and mapped something
//!   else there. The protection found at arming is the one restored, by the
//!   handler at the first touch or by the monitor. [`Monitor::stop`] leaves
//!   no page protected. What is left is a race: a program that, between
//!   the monitor's read of the maps and its `mprotect` call (microseconds),
//!   unmaps that very page and maps something else there; or one that
//!   replaces an armed page with an anonymous `PROT_NONE` page within one
//!   sampling interval.
//!
//!   The `SIGSEGV` handler runs on the alternate signal stack
//!   (`SA_ONSTACK`; Rust's alternate stacks, which have a guard page below,
//!   are never in the target) and chains to the previous action for faults
//!   that are not its own, so Rust's "thread '...' has overflowed its
//!   stack" message survives. It is installed when the first page is armed,
//!   on the monitor thread: started before `main` from the environment, it
//!   waits (at most 100 ms, once) for Rust's runtime to install its own
//!   handler first, since Rust installs none over an existing one. A program
//!   whose own alternate signal stack lies in heap memory must not use this
//!   mode (a signal delivered on an armed alternate stack kills the
//!   process).
//!
//! Each sampling interval costs two ioctls (write-protect) or two `mprotect`
//! calls per region, plus at most one fault per region in the program:
//! bounded by the number of regions, not by the heap's size. In
//! write-protect mode each new part of the target also has its present
//! pages write-protected once (see [Overhead](#overhead)). Mprotect mode
//! also reads `/proc/self/maps` twice per interval, to change no protection
//! it does not own: about 75 µs a read for a process of 30 mappings on the
//! loaded 2-core VM below, so up to 3% of a core more on the monitor thread
//! at the default 5 ms sampling, growing with the number of mappings (the
//! mprotect figures below were measured before these reads were added).
//!
//! # Accuracy
//!
//! Measured on the known workload (`tests/access_accuracy.rs`): 256 MiB of
//! heap, 16 MiB of it written continuously, the rest touched once; 100
//! aggregations in manual mode at the default attributes; figures computed
//! from the record file damo reads over the last 10 aggregations; a region
//! is hot when found accessed in at least half its samples. Over 12 seeds:
//!
//! | figure | min | median | max |
//! |---|---|---|---|
//! | recall (hot bytes in hot regions) | 99.68% | 99.99% | 100% |
//! | precision (hot bytes among heap bytes in hot regions) | 99.18% | 99.98% | 100% |
//! | cold bytes seen accessed | 0% | 0.002% | 0.06% |
//! | hot bounds error, pages (median over the 10 aggregations) | 0 | 4.5 | 32 |
//!
//! The bounds converge statistically, as in DAMON: a region with a few cold
//! pages at its edge is indistinguishable from a hot one until a random split
//! isolates them, so some seeds keep an edge of tens of pages (at most 0.8% of
//! the hot set here). The test asserts ≥ 90% recall, ≤ 10% cold seen
//! accessed and ≤ 40 pages of bound error on four seeds.
//!
//! A **read-only** hot set of the same size: write-protect mode sees
//! nothing (recall 0%, as designed: reads are invisible); mprotect mode
//! finds it (recall 99.3%, precision 100%, no cold byte seen accessed).
//!
//! # Overhead
//!
//! `cargo bench -p benches --bench access` (`-- mprotect` for the other
//! mode) measures the steady state on the accuracy workload: 256 MiB of
//! heap written once, a 16 MiB hot set written continuously (a write every
//! 64 bytes, pass after pass), DAMON's default attributes, recording off.
//! Eleven rounds each run the same number of passes (about 0.6 s) with the
//! monitor off and on (started 1.5 s before the measured part, past its
//! first regions update), in alternating order, and time the workload
//! thread's CPU (`CLOCK_THREAD_CPUTIME_ID`: its user time plus the kernel
//! time of the faults and interrupts the monitor causes it, not the time it
//! waits for a core) and wall-clock time; the figures are the medians of
//! the per-round on/off ratios. Runs of 2026-12-05 on a 2-core VM shared
//! with another job (load average 2 to 4):
//!
//! | mode | workload CPU, 3 runs | workload wall-clock, 3 runs | monitor thread |
//! |---|---|---|---|
//! | write-protect (default) | 1.009x, 1.014x, 1.011x | 1.056x, 1.026x, 1.034x | 1.5% of a core |
//! | write-protect, before the bulk protection below | 1.028x, 1.017x, 1.065x | 1.036x, 1.033x, 1.073x | 1.2 to 3.4% |
//! | mprotect (opt-in) | 1.013x | 1.072x | 5.4% |
//!
//! With two busy loops beside it the CPU ratio stays at 1.010x while the
//! wall-clock ratio is meaningless (0.94x): the wall-clock time counts the
//! time the workload waits for a core, which depends on the load, and on a
//! busy 2-core machine the monitor's 200 wake-ups a second take turns from
//! it. The monitor thread runs under `SCHED_BATCH`, so its wake-ups never
//! preempt the program.
//!
//! Where the time went: the cost to the program is not the monitor's system
//! calls (two per region per interval, about 1 µs each, 30 regions here)
//! but what a reset does to the program's CPU. Write-protecting a page that
//! is writable changes its page-table entry, and the kernel must flush it
//! from the TLB of every CPU running the program: an inter-processor
//! interrupt of the program (a VM exit under a hypervisor), waited for by
//! the monitor. DAMON samples a fresh random page per region each interval,
//! and a page written once long ago is still writable, so nearly every reset
//! cost one (1133 TLB shootdowns a second in the run at 1.065x, with the
//! monitor on the idle core; 6 to 7% of the program's CPU time when the
//! monitor runs on another core than the program's, about 1% when they
//! share one). The monitor now write-protects, once, the present pages of
//! each new part of the target (one `PAGEMAP_SCAN` with
//! `PM_SCAN_WP_MATCHING`, at the first sampling interval after the part
//! appears, on the monitor thread): a reset of a page that is already
//! protected changes nothing and needs no flush, and only the pages written
//! since their last check (the hot ones) still cost one. That is the state
//! sampling converges to anyway (a sampled page that is not written again
//! stays protected), reached at once; what the checks say is unchanged (a
//! sampled page is still reset one interval before it is checked), and a
//! page written after it costs one write fault, once (here 4096 faults for
//! the hot set, about 5 ms, at the start). Untouched pages are left alone,
//! so first touches cost no extra fault.
//!
//! Start costs 0.3 to 0.8 ms on the caller's thread; [`Monitor::stop`] returns
//! once the file is flushed, and the thread then closes the userfaultfd,
//! for which the kernel unprotects every registered page (about 5 to 10 ms
//! for 256 MiB, off the caller's thread; the figure the bench prints for
//! stop also counts the wait for the monitor thread to be scheduled).
//!
//! # Attribution
//!
//! With [`OwnerAlloc`] tracking, [`attribute`] joins the last aggregations
//! of a recording with a [`snapshot`](crate::snapshot()): per owner stack,
//! the live bytes, the bytes in hot regions, the bytes never accessed and
//! the mean access count; [`Attribution::write_report`] prints the hottest
//! and coldest owners with symbolized stacks. The monitor's own allocations
//! are owned by [`StackHandle::DUMMY`](crate::StackHandle::DUMMY).
//!
//! # The join with the allocator
//!
//! The sampler is a layer above the allocator and uses only this of it;
//! nothing below names the sampler:
//!
//! - **allocowner's own mappings** (`crate::own_mappings`): the side table
//!   and the stack depot list every mapping they make there, from inside
//!   the allocator, lock-free; the target leaves them out
//!   ([`exclude_mapping`], [`excluded_ranges`] are that list).
//! - **`/proc/self/maps`** through allocowner's one parser (`crate::maps`),
//!   shared with the report's module map.
//! - **snapshots with stacks** ([`crate::snapshot()`], [`crate::Snapshot`])
//!   and the report's symbolizer (`crate::report::Symbolizer`, `trim`,
//!   `Frame`), which [`attribute`] joins with a recording.
//! - **the re-entrancy guard** (`crate::guard::inside`) around the monitor
//!   thread and the manual steps, so that the monitor's own allocations are
//!   owned by [`StackHandle::DUMMY`](crate::StackHandle::DUMMY).
//!
//! # Platform notes
//!
//! Linux only (the module is compiled out elsewhere). Write-protect mode
//! needs Linux 6.7 or later for `UFFD_FEATURE_WP_ASYNC` and `PAGEMAP_SCAN`;
//! mprotect mode works on any Linux. The page size is taken as 4 KiB.
//!
//! # Testing
//!
//! allocowner's own tests build it with this feature (a dev-dependency on
//! itself), so `cargo test -p allocowner --release` runs, besides unit
//! tests, the accuracy test, the `ALLOCOWNER_ACCESS` test (re-running its
//! own binary under `OwnerAlloc`), attribution, and `tests/access_damo.rs`, which
//! installs damo 3.4.3 and damo 2.0.1 into venvs under the target dir on
//! first run (cached; needs `python3 -m venv` and PyPI, and fails if they
//! cannot be installed), records a workload and checks what
//! `damo report access`, `damo report wss` and damo 2.0.1's `report raw`
//! print.

#![cfg(target_os = "linux")]

mod attribution;
mod detect;
mod env;
mod error;
mod heatmap;
mod json;
mod monitor;
mod record;
mod regions;
mod target;

pub use attribution::{Attribution, OwnerHeat, attribute};
pub use detect::{DetectError, Mode, PAGE, Probe};
pub use env::{ENV_VAR, MODE_ENV_VAR, stop_global};
pub use error::AccessError;
pub use heatmap::{HeatmapOptions, heat_matrix, heatmap_svg};
pub use monitor::{Attrs, Monitor, Summary};
pub use record::{
    Aggregation, Format, Intervals, MAGIC, MAX_BUFFER_LEN, MAX_PATH_LEN, MIN_BUFFER_LEN,
    RecordControl, RecordedRegion, Recording, WriteStats,
};
pub use regions::{MIN_REGION, Region};
pub use target::{
    current as target, exclude_mapping, excluded_ranges, exclusion_blocks, forget_mapping,
};
