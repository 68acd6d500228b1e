//! The page_owner-style dump: one block per live allocation.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use super::{Owner, Report, capture_line, unresolved_addrs, write_own_footer};
use crate::StackHandle;

fn handle_name(h: StackHandle) -> String {
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
    /// (size, alignment, thread id with the thread's name while it lives,
    /// timestamp, owner handle), the address, the symbolized owner stack one
    /// frame per line, and a blank line. `tid ?` and `ts ?` mean the thread
    /// client was off. A header says the capture
    /// mode; a footer gives allocowner's own memory and, if some frame lacked
    /// debug info, the module map.
    ///
    /// ```text
    /// # allocowner dump: live allocations, one block each
    /// # capture: frame pointers (every allocation)
    /// # 2 live allocations, 96 bytes (program: 1 allocations, 32 bytes)
    ///
    /// Allocation of 32 bytes (align 8), tid 4242 (myapp), ts 1200 ns, handle 1
    /// Address 0x55d0c0a1b2c0
    ///  myapp::load (src/load.rs:42)
    ///  myapp::main (src/main.rs:7)
    ///
    /// Allocation of 64 bytes (align 16), tid 4242 (myapp), ts 1500 ns, handle dummy
    /// Address 0x55d0c0a1c000
    ///
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
            writeln!(out, "# allocowner dump: live allocations, one block each")?;
            writeln!(out, "# capture: {}", capture_line(snap.mode))?;
            writeln!(
                out,
                "# {} live allocations, {} bytes (program: {count} allocations, {bytes} bytes)",
                count + dummy_count,
                bytes + dummy_bytes
            )?;
            if snap.early_bytes > 0 {
                writeln!(
                    out,
                    "# plus about {} bytes allocated before tracking was enabled (early owner, no records)",
                    snap.early_bytes
                )?;
            }
            writeln!(out)?;
            // Each stack is rendered once, however many allocations it owns.
            let mut rendered: HashMap<StackHandle, String> = HashMap::new();
            let mut names: HashMap<u64, Option<String>> = HashMap::new();
            for &i in &order {
                let a = &snap.allocations[i];
                write!(out, "Allocation of {} bytes (align {}), ", a.size, a.align)?;
                match a.thread {
                    Some(t) => match names.entry(t).or_insert_with(|| thread_name(t)) {
                        Some(name) => write!(out, "tid {t} ({name}), ")?,
                        None => write!(out, "tid {t}, ")?,
                    },
                    None => write!(out, "tid ?, ")?,
                }
                match a.timestamp_ns {
                    Some(ts) => write!(out, "ts {ts} ns, ")?,
                    None => write!(out, "ts ?, ")?,
                }
                writeln!(out, "handle {}", handle_name(a.stack))?;
                writeln!(out, "Address {:#x}", a.addr)?;
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
