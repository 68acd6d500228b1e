//! A fork while another thread is inside side-table and depot inserts: the
//! child allocates, takes a snapshot and writes a report without
//! deadlocking (the pthread_atfork handlers hold every lock across fork).
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn nest(n: usize) -> Box<[u8]> {
    if n == 0 {
        black_box(vec![0u8; 48].into_boxed_slice())
    } else {
        black_box(nest(n - 1))
    }
}

#[inline(never)]
fn child_work() -> i32 {
    let v: Vec<Vec<u8>> = (0..1000).map(|i| vec![1; i]).collect();
    let snap = allocowner::snapshot();
    let addr = v.as_ptr() as usize;
    if !snap.allocations.iter().any(|a| a.addr == addr) {
        return 2;
    }
    let path = format!("/tmp/allocowner-fork-child-{}.txt", std::process::id());
    if allocowner::write_report(std::path::Path::new(&path)).is_err() {
        return 3;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    if !text.contains("bytes in") {
        return 4;
    }
    0
}

#[test]
fn fork_during_inserts() {
    allocowner::enable_with("depth=64").unwrap();
    let worker = std::thread::spawn(|| {
        let mut keep = Vec::new();
        let mut i = 0usize;
        while !STOP.load(Ordering::Relaxed) {
            // Distinct depths make new depot stacks as well as records.
            keep.push(nest(i % 60));
            if keep.len() > 5000 {
                keep.clear();
            }
            i += 1;
        }
        i
    });
    for _ in 0..10 {
        // SAFETY: fork in a test; the child only runs child_work and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = child_work();
            // SAFETY: leaves the child without running the parent's atexit.
            unsafe { libc::_exit(code) };
        }
        let start = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                // SAFETY: killing our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("forked child deadlocked");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(libc::WIFEXITED(status), "child died: status {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0);
    }
    STOP.store(true, Ordering::Relaxed);
    assert!(worker.join().unwrap() > 0);
}
