//! The page_owner-style dump: one block per live allocation.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Owner, Report, capture_line, unresolved_addrs, write_own_footer};
use crate::StackHandle;

/// The page size of the dump's `PFN` and `order` (the kernel's on x86-64).
const PAGE: usize = 4096;

/// The smallest `n` such that `2^n` pages hold `size` bytes (0 for a block
/// of up to one page): the `order` of page_owner's header.
pub(super) fn page_order(size: usize) -> u32 {
    size.div_ceil(PAGE)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
}

pub(super) fn handle_name(h: StackHandle) -> String {
    match Owner::of(h) {
        Owner::Stack => h.raw().to_string(),
        Owner::Early => "early".to_owned(),
        Owner::Dummy => "dummy".to_owned(),
        Owner::Failure => "failure".to_owned(),
        Owner::Unsampled => "unsampled".to_owned(),
    }
}

/// The name of live thread `tid` of this process (Linux: its `comm`, at
/// most 15 bytes), as page_owner prints the task's; `None` once it exited.
fn thread_name(tid: u64) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
    let comm = comm.trim_end_matches('\n');
    (!comm.is_empty()).then(|| comm.to_owned())
}

impl Report<'_> {
    /// The dump as a string: see [`Report::write_dump`].
    pub fn dump(&self) -> String {
        crate::guard::inside(|| {
            let mut buf = Vec::new();
            self.write_dump(&mut buf)
                .expect("writing to a Vec<u8> cannot fail");
            String::from_utf8(buf).expect("the dump is UTF-8")
        })
    }

    /// Writes one block per live allocation, in address order, as
    /// `/sys/kernel/debug/page_owner` prints one per page: a header line
    /// (size, alignment, order, page_owner's `pid` (here the allocating
    /// thread's id), `tgid` (the process id) and `(comm)` (the thread's
    /// name while it lives), timestamp, owner handle), a `PFN` line with
    /// the address, the symbolized owner stack one frame per line, and a
    /// blank line. `pid ?` and `ts ?` mean the thread client was off,
    /// `(?)` that the thread's name is unknown (it exited, or no thread
    /// client), `tgid ?` a dump written again from a saved one that did not
    /// name its process. After the
    /// last block, a
    /// footer (no blank line in it) gives the capture mode, the totals,
    /// allocowner's own memory and, if some frame lacked debug info, the
    /// module map.
    ///
    /// The blocks follow the rules of the kernel's `page_owner_sort`
    /// (tools/mm/page_owner_sort.c), so that it reads the dump as a
    /// page_owner file (`page_owner_sort --cull=st -m dump sorted`):
    /// - blocks end at a blank line; a block's stack is its lines after the
    ///   first (`--cull=st` groups by it): the first line is the header and
    ///   the address is on a line starting with `PFN`, which the tool sets
    ///   aside, so the blocks of one stack are one group;
    /// - **`PFN 0x…`** is the block's page frame number in the process's
    ///   virtual address space (its address divided by 4096), followed by
    ///   the exact `address 0x…`;
    /// - **`order N,`** in the header is the block's size in the kernel's
    ///   unit: the smallest N such that 2^N pages of 4096 bytes hold the
    ///   block (a block of up to 4096 bytes is order 0, one page). The
    ///   tool's `pages` are thus the pages the blocks would take if each
    ///   had pages of its own: an upper bound of what they touch; the exact
    ///   bytes are in the header (`of N bytes`);
    /// - `pid N,`, `tgid N (comm),` and `ts N ns` are where its patterns
    ///   look for them, so that `--pid`, `--tgid`, `--name`, `-p`, `-P`,
    ///   `-n`, `-a` and `--cull=pid,tgid,name` work (an unknown `?` reads
    ///   as -1);
    /// - the footer is not a block: it does not end with a blank line, so
    ///   the tool drops it at the end of the file.
    ///
    /// ```text
    /// Allocation of 32 bytes (align 8), order 0, pid 4242, tgid 4240 (myapp), ts 1200 ns, handle 1
    /// PFN 0x55d0c0a1b address 0x55d0c0a1b2c0
    ///  myapp::load (src/load.rs:42)
    ///  myapp::main (src/main.rs:7)
    ///
    /// Allocation of 64 bytes (align 16), order 0, pid 4242, tgid 4240 (myapp), ts 1500 ns, handle dummy
    /// PFN 0x55d0c0a1c address 0x55d0c0a1c000
    ///
    /// # allocowner dump: live allocations, one block each
    /// # capture: frame pointers (every allocation)
    /// # 2 live allocations, 96 bytes (program: 1 allocations, 32 bytes)
    /// # allocowner's own (not in the totals above): 1052672 bytes mapped from the OS (side table, stack depot), 64 bytes in 1 heap allocations (dummy owner)
    /// ```
    pub fn write_dump(&self, out: &mut dyn Write) -> io::Result<()> {
        crate::guard::inside(|| {
            let snap = self.snapshot;
            let mut order: Vec<usize> = (0..snap.allocations.len()).collect();
            order.sort_by_key(|&i| snap.allocations[i].addr);
            let (mut count, mut bytes, mut dummy_count, mut dummy_bytes) = (0u64, 0u64, 0u64, 0u64);
            for a in &snap.allocations {
                if a.stack == StackHandle::DUMMY {
                    dummy_count += 1;
                    dummy_bytes += a.size as u64;
                } else {
                    count += 1;
                    bytes += a.size as u64;
                }
            }
            // Each stack is rendered once, however many allocations it owns.
            let mut rendered: HashMap<StackHandle, String> = HashMap::new();
            let mut names: HashMap<u64, Option<String>> = HashMap::new();
            // A saved dump's process is the one it names, if any.
            let tgid = self.pid;
            for &i in &order {
                let a = &snap.allocations[i];
                write!(
                    out,
                    "Allocation of {} bytes (align {}), order {}, ",
                    a.size,
                    a.align,
                    page_order(a.size)
                )?;
                // page_owner's `pid` (the task: here the thread), `tgid`
                // (the process) and `(comm)` (the thread's name).
                let mut name = None;
                if let Some(t) = a.thread {
                    write!(out, "pid {t}, ")?;
                    name = names.entry(t).or_insert_with(|| thread_name(t)).as_deref();
                } else {
                    write!(out, "pid ?, ")?;
                }
                match tgid {
                    Some(p) => write!(out, "tgid {p} ")?,
                    None => write!(out, "tgid ? ")?,
                }
                write!(out, "({}), ", name.unwrap_or("?"))?;
                match a.timestamp_ns {
                    Some(ts) => write!(out, "ts {ts} ns, ")?,
                    None => write!(out, "ts ?, ")?,
                }
                writeln!(out, "handle {}", handle_name(a.stack))?;
                writeln!(out, "PFN {:#x} address {:#x}", a.addr / PAGE, a.addr)?;
                let stack = rendered.entry(a.stack).or_insert_with(|| {
                    let mut text = String::new();
                    for f in self.frames(a.stack) {
                        text.push_str(&self.frame_line(f));
                        text.push('\n');
                    }
                    text
                });
                writeln!(out, "{stack}")?;
            }
            let mut footer = String::new();
            let _ = writeln!(
                footer,
                "# allocowner dump: live allocations, one block each"
            );
            let _ = writeln!(footer, "# capture: {}", capture_line(snap.mode));
            let _ = writeln!(
                footer,
                "# {} live allocations, {} bytes (program: {count} allocations, {bytes} bytes)",
                count + dummy_count,
                bytes + dummy_bytes
            );
            if snap.early_bytes > 0 {
                let _ = writeln!(
                    footer,
                    "# plus about {} bytes allocated before tracking was enabled (early owner, no records)",
                    snap.early_bytes
                );
            }
            if let Some(n) = snap.sampling() {
                let _ = writeln!(
                    footer,
                    "# sample_bytes: {n} (records of handles >= 2^31 were sampled, one per {n} bytes on average; pprof and DHAT scale them)"
                );
            }
            write_own_footer(
                &mut footer,
                snap,
                (dummy_count > 0).then_some((dummy_count, dummy_bytes)),
            );
            let used: HashSet<StackHandle> = snap.allocations.iter().map(|a| a.stack).collect();
            let addrs = unresolved_addrs(used.iter().flat_map(|&h| self.frames(h)));
            self.render.write_module_map(&mut footer, &addrs);
            out.write_all(footer.as_bytes())
        })
    }
}
