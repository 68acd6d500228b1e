//! The `pthread_atfork` handlers: a fork while another thread enables and
//! stops tracking, while 4 threads allocate, and with the program's own
//! atfork handlers (registered before and after allocowner's) allocating.
//! The child never deadlocks, its records carry its own thread id, and the
//! program's handlers that run while allocowner holds its locks pass
//! through (the re-entrancy guard is on). Each scenario runs in a fresh
//! process (this binary re-run), so the order in which handlers are
//! registered is the scenario's own.
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

mod common;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// Seconds a forked child gets to finish: far more than it needs.
const CHILD_SECS: u64 = 30;

/// Runs `scenario` in a fresh copy of this binary (test `name`), and
/// checks that it ran to its end.
fn in_fresh_process(name: &str, scenario: fn()) {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        scenario();
        println!("SCENARIO DONE {name}");
        return;
    }
    let out = common::output_within(
        &mut common::rerun(name, &[("ALLOCOWNER_TEST_CHILD", "1")]),
        300,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("SCENARIO DONE {name}")),
        "scenario {name} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[inline(never)]
fn nest(n: usize) -> Box<[u8]> {
    if n == 0 {
        black_box(vec![0u8; 40].into_boxed_slice())
    } else {
        black_box(nest(n - 1))
    }
}

/// Sets its flag when dropped: a failing scenario stops its threads
/// (instead of waiting for them in `thread::scope` forever).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn gettid() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u64 }
}

/// In a forked child: allocate, and find the block in a snapshot owned by
/// this process's own thread id; 0 if all is well.
#[inline(never)]
fn child_checks(thread_client: bool) -> i32 {
    let b = black_box(vec![5u8; 72].into_boxed_slice());
    let snap = allocowner::snapshot();
    let Some(a) = snap
        .allocations
        .iter()
        .find(|a| a.addr == b.as_ptr() as usize)
    else {
        return 2;
    };
    if thread_client && a.thread != Some(gettid()) {
        return 3;
    }
    let v: Vec<Box<[u8]>> = (0..200).map(nest).collect();
    drop(v);
    0
}

fn fork_during_enable() {
    allocowner::enable_with("depth=16,thread").unwrap();
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                allocowner::enable_with("depth=16,thread").unwrap();
                black_box(nest(rounds.load(Ordering::Relaxed) % 30));
                allocowner::stop();
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
        for _ in 0..40 {
            let pid = common::fork_run(|| {
                // The enable lock, and everything enable takes, is free
                // in the child whatever the parent's thread was doing.
                allocowner::stop();
                if allocowner::enable_with("depth=16,thread").is_err() {
                    return 1;
                }
                let r = child_checks(true);
                allocowner::stop();
                r
            });
            assert_eq!(common::wait_within(pid, CHILD_SECS), 0, "child failed");
        }
    });
    assert!(rounds.load(Ordering::Relaxed) > 0);
}

#[test]
fn fork_during_enable_and_stop() {
    in_fresh_process("fork_during_enable_and_stop", fork_during_enable);
}

fn fork_while_allocating() {
    allocowner::enable_with("depth=32,thread").unwrap();
    // This thread's id is cached now: a child must not use it.
    let mine = black_box(vec![1u8; 24]);
    let snap = allocowner::snapshot();
    let a = snap
        .allocations
        .iter()
        .find(|a| a.addr == mine.as_ptr() as usize)
        .unwrap();
    assert_eq!(a.thread, Some(gettid()));
    drop(snap);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for t in 0..4 {
            let stop = &stop;
            s.spawn(move || {
                let mut keep = Vec::new();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    // Distinct depths make new depot stacks as well as
                    // records; big blocks go to the hash rows.
                    keep.push(nest(i % 50));
                    keep.push(black_box(vec![0u8; 300 + i % 700]).into_boxed_slice());
                    if keep.len() > 4000 {
                        keep.clear();
                    }
                    i += 1;
                }
            });
        }
        for _ in 0..30 {
            let pid = common::fork_run(|| child_checks(true));
            assert_eq!(common::wait_within(pid, CHILD_SECS), 0, "child failed");
        }
    });
    // The parent's records still carry its own id.
    let again = black_box(vec![2u8; 24]);
    let snap = allocowner::snapshot();
    let a = snap
        .allocations
        .iter()
        .find(|a| a.addr == again.as_ptr() as usize)
        .unwrap();
    assert_eq!(a.thread, Some(gettid()));
}

#[test]
fn fork_while_four_threads_allocate() {
    in_fresh_process("fork_while_four_threads_allocate", fork_while_allocating);
}

/// Handlers' allocations: how many ran, and the address of the last block
/// each kind of handler kept (freed at the next fork).
static BEFORE_RAN: AtomicU64 = AtomicU64::new(0);
static AFTER_RAN: AtomicU64 = AtomicU64::new(0);
static BEFORE_KEPT: AtomicUsize = AtomicUsize::new(0);
static AFTER_KEPT: AtomicUsize = AtomicUsize::new(0);

/// Allocates in a handler: a block kept (its address in `kept`, the
/// previous one freed) and a formatted string dropped at once.
fn handler_allocates(ran: &AtomicU64, kept: &AtomicUsize) {
    let n = ran.fetch_add(1, Ordering::Relaxed);
    let s = format!("handler {n} {:?}", vec![n; 8]);
    black_box(&s);
    let new = Box::into_raw(vec![7u8; 56].into_boxed_slice());
    let old = kept.swap(new.cast::<u8>() as usize, Ordering::Relaxed);
    if old != 0 {
        let old = core::ptr::slice_from_raw_parts_mut(old as *mut u8, 56);
        // SAFETY: `old` came from Box::into_raw of a 56-byte boxed slice
        // here and is freed once.
        drop(unsafe { Box::from_raw(old) });
    }
}

extern "C" fn before_handler() {
    handler_allocates(&BEFORE_RAN, &BEFORE_KEPT);
}

extern "C" fn after_handler() {
    handler_allocates(&AFTER_RAN, &AFTER_KEPT);
}

fn atfork_handlers_allocate() {
    // Registered before allocowner's (which come with the first enable):
    // its prepare runs after allocowner's, its parent and child handlers
    // before allocowner's: all while allocowner holds every lock.
    // SAFETY: plain extern "C" functions that do not unwind.
    unsafe {
        libc::pthread_atfork(
            Some(before_handler),
            Some(before_handler),
            Some(before_handler),
        );
    }
    allocowner::enable_with("depth=16").unwrap();
    // Registered after: runs outside allocowner's locks.
    // SAFETY: as above.
    unsafe {
        libc::pthread_atfork(
            Some(after_handler),
            Some(after_handler),
            Some(after_handler),
        );
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            let mut keep = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                keep.push(nest(i % 40));
                if keep.len() > 2000 {
                    keep.clear();
                }
                i += 1;
            }
        });
        for _ in 0..20 {
            let before = BEFORE_RAN.load(Ordering::Relaxed);
            let pid = common::fork_run(|| {
                // prepare and child ran here: 2 more of each.
                if BEFORE_RAN.load(Ordering::Relaxed) != before + 2 {
                    return 4;
                }
                child_checks(false)
            });
            assert_eq!(common::wait_within(pid, CHILD_SECS), 0, "child failed");
            assert_eq!(BEFORE_RAN.load(Ordering::Relaxed), before + 2);
            // The block kept by the program's parent handler that runs
            // under allocowner's locks passed through (the guard was on);
            // the one kept by the handler outside them was recorded.
            let snap = allocowner::snapshot();
            let recorded = |addr: usize| snap.allocations.iter().any(|a| a.addr == addr);
            assert!(!recorded(BEFORE_KEPT.load(Ordering::Relaxed)));
            assert!(recorded(AFTER_KEPT.load(Ordering::Relaxed)));
        }
    });
    assert_eq!(AFTER_RAN.load(Ordering::Relaxed), 40);
}

#[test]
fn atfork_handlers_of_the_program_allocate() {
    in_fresh_process(
        "atfork_handlers_of_the_program_allocate",
        atfork_handlers_allocate,
    );
}
