//! Exact totals: with `ALLOCOWNER` set from the start, every allocation
//! is recorded, so the program's owners plus allocowner's own (the dummy
//! owner) add up to exactly what the inner allocator has live, and the
//! program's totals in a report (the exit report included) are exactly
//! what the inner allocator had live when the report began: allocowner's
//! own allocations (its copy of the report path among them) are never
//! counted as the program's. The inner allocator here counts its live
//! bytes and blocks.
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use allocowner::StackHandle;

mod common;

struct Counting;

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE_COUNT: AtomicU64 = AtomicU64::new(0);

fn counted(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        // Relaxed (all counters): totals, read when the program is quiet.
        LIVE_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        LIVE_COUNT.fetch_add(1, Ordering::Relaxed);
    }
    p
}

// SAFETY: forwards every call to System unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        counted(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        counted(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        LIVE_COUNT.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc<Counting> = allocowner::OwnerAlloc::new(Counting);

fn live() -> (u64, u64) {
    (
        LIVE_COUNT.load(Ordering::Relaxed),
        LIVE_BYTES.load(Ordering::Relaxed),
    )
}

/// At exit, just before allocowner's exit report (registered at the first
/// allocation, so it runs after this one): what the inner allocator has
/// live, on stderr, allocating nothing.
extern "C" fn mark_at_exit() {
    let (count, bytes) = live();
    let mut buf = [0u8; 64];
    let mut w = &mut buf[..];
    let _ = std::io::Write::write_fmt(&mut w, format_args!("EXIT LIVE {bytes} {count}\n"));
    let n = 64 - w.len();
    // SAFETY: writes the first `n` bytes of `buf` to stderr.
    unsafe { libc::write(2, buf.as_ptr().cast(), n) };
}

/// The program's totals in a snapshot equal what the inner allocator had
/// live when it began (the snapshot's own buffers are the dummy owner's),
/// and program + dummy owners equal it now.
fn check_totals() -> Result<(), String> {
    let (count0, bytes0) = live();
    let snap = allocowner::snapshot();
    assert_eq!(snap.early_bytes, 0);
    let program = snap
        .allocations
        .iter()
        .filter(|a| a.stack != StackHandle::DUMMY);
    let records = (
        program.clone().count() as u64,
        program.map(|a| a.size as u64).sum::<u64>(),
    );
    if records != (count0, bytes0) {
        return Err(format!(
            "program records {records:?} vs inner live {:?}",
            (count0, bytes0)
        ));
    }
    let stacks = snap
        .stacks
        .values()
        .filter(|s| s.handle != StackHandle::DUMMY)
        .fold((0, 0), |(c, b), s| (c + s.live_count, b + s.live_bytes));
    if stacks != (count0, bytes0) {
        return Err(format!(
            "program stack totals {stacks:?} vs inner live {:?}",
            (count0, bytes0)
        ));
    }
    // Program owners + dummy owner == inner allocator, now (the snapshot
    // is still live; `live_totals` allocates nothing).
    let mut sum = allocowner::live_totals(StackHandle::DUMMY);
    for h in snap.stacks.keys().filter(|&&h| h != StackHandle::DUMMY) {
        let (c, b) = allocowner::live_totals(*h);
        sum = (sum.0 + c, sum.1 + b);
    }
    let now = live();
    if sum != now {
        return Err(format!("program + dummy {sum:?} vs inner live {now:?}"));
    }
    Ok(())
}

/// The re-run child, tracked from its first allocation.
fn child_side() {
    assert!(allocowner::is_enabled());
    let keep: Vec<Vec<u8>> = (0..300).map(|i| vec![7; i * 3]).collect();
    let mut grown = String::new();
    for i in 0..500 {
        grown.push_str(&i.to_string());
    }
    black_box((&keep, &grown));

    // libtest's main thread may allocate while this thread checks (its
    // channel wait makes a context the first time it blocks, later under
    // load): an owner that appears between the snapshot and the sums is in
    // neither. So the check is retried with a fresh snapshot; an
    // allocation that allocowner failed to record would fail every try.
    let mut failures = Vec::new();
    for _ in 0..5 {
        match check_totals() {
            Ok(()) => break,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.len() < 5, "every try failed: {failures:#?}");

    // SAFETY: registers a plain extern "C" function that does not unwind.
    unsafe { libc::atexit(mark_at_exit) };
    println!("CHILD DONE");
}

#[test]
fn totals_equal_the_inner_allocators_live_bytes() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        child_side();
        return;
    }
    // A long path (the old exit handler's copy of it showed up as 1 more
    // program allocation of its length).
    let path = std::env::temp_dir().join(format!(
        "allocowner-exact-totals-{}-{}.txt",
        std::process::id(),
        "x".repeat(40)
    ));
    let value = format!("on,report={}", path.display());
    let out = common::output_within(
        &mut common::rerun(
            "totals_equal_the_inner_allocators_live_bytes",
            &[("ALLOCOWNER_TEST_CHILD", "1"), ("ALLOCOWNER", &value)],
        ),
        120,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("CHILD DONE"),
        "{}\n{stdout}\n{stderr}",
        out.status
    );
    let report = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let exit_live = stderr
        .lines()
        .find_map(|l| l.strip_prefix("EXIT LIVE "))
        .unwrap_or_else(|| panic!("no EXIT LIVE line: {stderr}"));
    let (bytes, count) = exit_live.split_once(' ').unwrap();
    let total = report
        .lines()
        .find(|l| l.starts_with("# total: "))
        .unwrap_or_else(|| panic!("no total line: {report}"));
    assert!(
        total.starts_with(&format!(
            "# total: {bytes} bytes live in {count} allocations; "
        )),
        "exit report {total:?} vs inner allocator at exit: {bytes} bytes in {count}"
    );
    assert!(
        report.contains("heap allocations (dummy owner)"),
        "{report}"
    );
}
