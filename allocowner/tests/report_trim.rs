//! A real allocation stack, captured inside a `#[global_allocator]` by a
//! frame-pointer walk as the tracker does, is trimmed of the allocator's
//! frames: the report's first frame is the user's function.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use allocowner::report::{Report, SortBy, Symbolizer};
use allocowner::{Allocation, CaptureMode, Snapshot, Stack, StackHandle};

const DEPTH: usize = 32;
/// The size whose allocation is captured (no other allocation has it).
const SIZE: usize = 123_457;

static ARMED: AtomicBool = AtomicBool::new(false);
static FRAMES: [AtomicUsize; DEPTH] = [const { AtomicUsize::new(0) }; DEPTH];
static CAPTURED: AtomicUsize = AtomicUsize::new(0);

struct Capturing;

/// Walks the frame-pointer chain from this function's caller outwards,
/// storing return addresses; no allocation.
#[inline(never)]
fn capture() {
    let mut fp: usize;
    // SAFETY: reads the frame-pointer register; no memory access.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) fp) };
    let mut n = 0;
    while n < DEPTH && fp != 0 && fp.is_multiple_of(8) {
        // SAFETY: with frame pointers forced on (.cargo/config.toml), `fp`
        // points at a saved [previous fp, return address] pair on this
        // thread's stack; the chain is followed only while it grows towards
        // the stack base by less than 1 MiB per step, and ends at 0.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if ret == 0 {
            break;
        }
        FRAMES[n].store(ret, Ordering::Relaxed);
        n += 1;
        if next <= fp || next - fp > 1 << 20 {
            break;
        }
        fp = next;
    }
    CAPTURED.store(n, Ordering::Release);
}

// SAFETY: forwards to System; `capture` does not allocate.
unsafe impl GlobalAlloc for Capturing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == SIZE && ARMED.swap(false, Ordering::Relaxed) {
            capture();
        }
        // SAFETY: the caller's contract for `alloc` is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Capturing = Capturing;

const MAKE_VEC_LINE: u32 = line!() + 3;
#[inline(never)]
fn make_vec() -> Vec<u8> {
    let v: Vec<u8> = Vec::with_capacity(black_box(SIZE));
    black_box(v)
}

#[test]
fn allocator_frames_are_trimmed_from_a_real_stack() {
    ARMED.store(true, Ordering::Relaxed);
    let v = make_vec();
    let n = CAPTURED.load(Ordering::Acquire);
    assert!(n > 3, "the frame-pointer walk found {n} frames");
    let frames: Vec<usize> = FRAMES[..n]
        .iter()
        .map(|f| f.load(Ordering::Relaxed))
        .collect();
    let h = StackHandle::from_raw(0);
    let snap = Snapshot {
        mode: CaptureMode::FramePointers,
        allocations: vec![Allocation {
            addr: v.as_ptr() as usize,
            size: SIZE,
            align: 1,
            stack: h,
            thread: None,
            timestamp_ns: None,
        }],
        stacks: HashMap::from([(
            h,
            Stack {
                handle: h,
                frames,
                live_count: 1,
                live_bytes: SIZE as u64,
            },
        )]),
        early_bytes: 0,
        own_mapped_bytes: 0,
        sample_bytes: None,
    };
    let report = Report::new(&snap);
    let text = report.grouped(SortBy::Bytes, 1);
    let mut lines = text.lines().skip_while(|l| !l.starts_with("1 times"));
    assert_eq!(lines.next(), Some("1 times, 123457 bytes:"), "{text}");
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(" report_trim::make_vec (")
            && first.ends_with(&format!("report_trim.rs:{MAKE_VEC_LINE})")),
        "the first frame is the user's: {text}"
    );
    assert!(
        text.contains("allocator_frames_are_trimmed_from_a_real_stack ("),
        "{text}"
    );
    // Nothing of the allocator is left, nor the runtime below the test.
    for gone in [
        "__rust_alloc",
        "raw_vec",
        "GlobalAlloc",
        "__rust_begin_short_backtrace",
    ] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
    // Untrimmed, the captured stack did start in the allocator.
    let mut symbolizer = Symbolizer::new();
    let untrimmed: Vec<String> = snap.stacks[&h]
        .frames
        .iter()
        .flat_map(|&a| symbolizer.resolve(a).to_vec())
        .filter_map(|f| f.function)
        .collect();
    assert!(
        untrimmed.iter().any(|n| n.contains("__rust_alloc")),
        "{untrimmed:?}"
    );
    drop(v);
}
