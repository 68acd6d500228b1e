//! Helpers shared by the one-scenario test binaries.
#![allow(dead_code)]

use allocowner::{Snapshot, StackHandle};

/// Whether any frame of `frames` resolves to a function whose name contains
/// `name`.
pub(crate) fn mentions(frames: &[usize], name: &str) -> bool {
    frames.iter().any(|&ip| {
        let mut hit = false;
        backtrace::resolve((ip - 1) as *mut core::ffi::c_void, |sym| {
            if let Some(n) = sym.name()
                && format!("{n:#}").contains(name)
            {
                hit = true;
            }
        });
        hit
    })
}

/// Handles of the stacks in `snap` that go through a function named `name`.
pub(crate) fn stacks_of(snap: &Snapshot, name: &str) -> Vec<StackHandle> {
    let mut v: Vec<_> = snap
        .stacks
        .values()
        .filter(|s| mentions(&s.frames, name))
        .map(|s| s.handle)
        .collect();
    v.sort();
    v
}

/// Live (count, bytes) owned by stacks through `name`, from the stacks'
/// counters, checked against the records.
pub(crate) fn owned_by(snap: &Snapshot, name: &str) -> (u64, u64) {
    let handles = stacks_of(snap, name);
    let (mut c, mut b) = (0, 0);
    for h in &handles {
        let s = &snap.stacks[h];
        c += s.live_count;
        b += s.live_bytes;
    }
    let rc = snap
        .allocations
        .iter()
        .filter(|a| handles.contains(&a.stack))
        .count() as u64;
    let rb: u64 = snap
        .allocations
        .iter()
        .filter(|a| handles.contains(&a.stack))
        .map(|a| a.size as u64)
        .sum();
    assert_eq!(
        (c, b),
        (rc, rb),
        "stack counters disagree with records for {name}"
    );
    (c, b)
}
