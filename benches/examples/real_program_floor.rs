//! `real_program` under the cheapest allocator an exact owner tracker could
//! be: `System` plus, with `FLOOR=walk`, a bounds-checked walk of 16 frame
//! records on every allocation (the kernel's page_owner depth), hashing the
//! return addresses and storing nothing; with `FLOOR=walk_rmw`, also one
//! atomic read-modify-write on every allocation and every free, on a word
//! picked by the block's 64 KiB region (the least a table shared by the
//! threads pays to add a record and take it out). No table, no depot, no
//! cache of chains: what it costs over `System` is a floor under any
//! tracker that captures every allocation's stack by walking it.
//! `benches/real_programs.sh` runs it as the modes `floor_walk` and
//! `floor_walk_rmw`.
//!
//! ```text
//! cargo build --release -p benches --example real_program_floor
//! PROGRAM=jaq SIZE=4000000 FLOOR=walk target/release/examples/real_program_floor
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering::Relaxed};

/// Frames walked per allocation.
const DEPTH: usize = 16;
/// Words the read-modify-writes spread over, by 64 KiB region.
const WORDS: usize = 256;

/// 0: nothing (as `System`), 1: walk, 2: walk and read-modify-writes.
static MODE: AtomicU8 = AtomicU8::new(0);
static WORDS_: [AtomicU32; WORDS] = [const { AtomicU32::new(0) }; WORDS];

thread_local! {
    /// The thread's stack (low, high); (0, 0) not read yet.
    static STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The calling thread's stack bounds, from glibc (read once per thread).
fn stack() -> (usize, usize) {
    let s = STACK.with(Cell::get);
    if s.1 != 0 {
        return s;
    }
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread (it
    // allocates with libc's malloc, not with this global allocator);
    // pthread_attr_getstack reads it; the attr is destroyed once read.
    let s = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &raw mut attr) != 0 {
            return (0, 0);
        }
        let mut lo: *mut libc::c_void = std::ptr::null_mut();
        let mut size = 0;
        let ok = libc::pthread_attr_getstack(&raw const attr, &raw mut lo, &raw mut size) == 0;
        libc::pthread_attr_destroy(&raw mut attr);
        if !ok {
            return (0, 0);
        }
        (lo as usize, lo as usize + size - 16)
    };
    STACK.with(|c| c.set(s));
    s
}

/// Walks up to [`DEPTH`] frame records from the caller's, each inside the
/// thread's stack, above the one before and aligned; returns the hash of
/// the return addresses.
#[inline(never)]
fn walk() -> u64 {
    let (lo, top) = stack();
    let mut fp = frame_pointer();
    let mut h = 0x2545_f491_4f6c_dd1d_u64;
    if fp < lo || fp > top || !fp.is_multiple_of(8) {
        return h;
    }
    for _ in 0..DEPTH {
        // SAFETY: `fp` lies inside this thread's stack, 16 readable bytes
        // (checked above or as `next` below), 8-byte aligned.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        h = (h.rotate_left(5) ^ ret as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        if next <= fp || next > top || !next.is_multiple_of(8) {
            break;
        }
        fp = next;
    }
    h
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register only.
    unsafe { std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack)) };
    fp
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register only.
    unsafe { std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    fp
}

/// Elsewhere: no walk (the bounds check fails on 0).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn frame_pointer() -> usize {
    0
}

/// The word of the 64 KiB region holding `p`.
fn word(p: *mut u8) -> &'static AtomicU32 {
    let k = ((p as u64 >> 16).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize;
    &WORDS_[k % WORDS]
}

struct Floor;

// SAFETY: forwards every call to System unchanged; the extra work only
// reads this thread's stack and touches its own atomics.
unsafe impl GlobalAlloc for Floor {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.alloc(layout) };
        let mode = MODE.load(Relaxed);
        if mode != 0 {
            black_box(walk());
            if mode == 2 {
                word(p).fetch_add(1, Relaxed);
            }
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if MODE.load(Relaxed) == 2 {
            word(ptr).fetch_sub(1, Relaxed);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Floor = Floor;

fn main() {
    let mode = match std::env::var("FLOOR").as_deref() {
        Ok("walk") => 1,
        Ok("walk_rmw") => 2,
        Ok("") | Err(_) => 0,
        Ok(other) => {
            eprintln!("FLOOR must be walk or walk_rmw, not {other:?}");
            std::process::exit(2);
        }
    };
    MODE.store(mode, Relaxed);
    benches::real_programs::main_of_example();
}
