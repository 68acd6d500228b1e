//! The grouped report written at exit for `report=PATH`: live bytes and
//! allocations per owner stack, biggest first, symbolized at report time.
//! (The full report set lives in the `report` module; this is the exit
//! file's format until it is wired to it.)

use std::io::{self, Write};

use crate::snapshot::{CaptureMode, Snapshot, StackHandle};

/// Writes `snap` grouped by owner stack, sorted by live bytes.
pub(crate) fn write_grouped(snap: &Snapshot, out: &mut dyn Write) -> io::Result<()> {
    let mode = match snap.mode {
        CaptureMode::FramePointers => "frame pointers, every allocation".to_string(),
        CaptureMode::Sampling { every } => format!("unwinder, one allocation in {every}"),
    };
    let total: u64 = snap.stacks.values().map(|s| s.live_bytes).sum();
    let count: u64 = snap.stacks.values().map(|s| s.live_count).sum();
    writeln!(
        out,
        "allocowner: live heap by owner stack (capture: {mode})"
    )?;
    writeln!(out, "total: {total} bytes in {count} allocations")?;
    writeln!(
        out,
        "early (allocated before tracking, estimated): {} bytes",
        snap.early_bytes
    )?;
    writeln!(
        out,
        "allocowner's own mappings (not counted above): {} bytes\n",
        snap.own_mapped_bytes
    )?;
    let mut stacks: Vec<_> = snap.stacks.values().collect();
    stacks.sort_by(|a, b| {
        b.live_bytes
            .cmp(&a.live_bytes)
            .then(a.handle.cmp(&b.handle))
    });
    for s in stacks {
        let owner = match s.handle {
            StackHandle::DUMMY => " (allocowner itself)",
            StackHandle::FAILURE => " (stack not stored: depot full)",
            StackHandle::UNSAMPLED => " (not sampled)",
            _ => "",
        };
        writeln!(
            out,
            "{} bytes in {} allocations, handle {}{owner}:",
            s.live_bytes,
            s.live_count,
            s.handle.raw()
        )?;
        for &ip in &s.frames {
            let mut name = None;
            // Return addresses point after the call: look up ip - 1.
            backtrace::resolve((ip.wrapping_sub(1)) as *mut core::ffi::c_void, |sym| {
                if name.is_none() {
                    name = sym.name().map(|n| format!("{n:#}"));
                }
            });
            writeln!(out, "    {ip:#x} {}", name.as_deref().unwrap_or("?"))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
