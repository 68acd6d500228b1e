//! End to end: `OwnerAlloc` records allocations from known functions, and
//! every report finds them under those functions with exact bytes.
use std::hint::black_box;

use allocowner::report::{Owner, Report, SortBy, diff};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn alpha_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..100 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn beta_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..50 {
        out.push(black_box(vec![2u8; 3000]).into_boxed_slice());
    }
}

/// The groups whose first (innermost, after trimming) frame is `name`.
fn owned_by(report: &Report<'_>, name: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for g in report.groups(SortBy::Bytes) {
        if g.owner == Owner::Stack
            && g.frames.first().and_then(|f| f.function.as_deref()) == Some(name)
        {
            out.0 += g.count.unwrap();
            out.1 += g.bytes;
        }
    }
    out
}

#[test]
fn reports_find_known_functions_with_exact_bytes() {
    allocowner::enable_with("depth=32,thread").unwrap();
    let mode = allocowner::capture_mode();
    let mut a = Vec::with_capacity(100);
    let mut b = Vec::with_capacity(50);
    alpha_allocates(&mut a);
    let before = allocowner::snapshot();
    beta_allocates(&mut b);
    let after = allocowner::snapshot();

    let report = Report::new(&after);
    let alpha = "report_end_to_end::alpha_allocates";
    let beta = "report_end_to_end::beta_allocates";
    assert_eq!(owned_by(&report, alpha), (100, 100_000));
    assert_eq!(owned_by(&report, beta), (50, 150_000));

    // Grouped: the block for beta says exactly this, first frame the user's.
    let grouped = report.grouped(SortBy::Bytes, usize::MAX);
    assert!(
        grouped.contains(&format!(
            "# capture: {}\n",
            allocowner::report::capture_line(mode)
        )),
        "{grouped}"
    );
    assert!(
        grouped.contains(&format!("50 times, 150000 bytes:\n {beta} (")),
        "{grouped}"
    );
    assert!(
        grouped.contains(&format!("100 times, 100000 bytes:\n {alpha} (")),
        "{grouped}"
    );
    assert!(
        grouped.contains("heap allocations (dummy owner)"),
        "{grouped}"
    );
    assert!(grouped.contains("bytes mapped from the OS"), "{grouped}");

    // Dump: one block per allocation of alpha, with thread and timestamp.
    let dump = report.dump();
    {
        let alpha_blocks: Vec<&str> = dump
            .split("\n\n")
            .filter(|b| {
                b.lines()
                    .nth(2)
                    .is_some_and(|l| l.starts_with(&format!(" {alpha} (")))
            })
            .collect();
        assert_eq!(alpha_blocks.len(), 100, "{dump}");
        for blk in &alpha_blocks {
            let head = blk.lines().next().unwrap();
            assert!(
                head.starts_with("Allocation of 1000 bytes (align 1), order 0, pid ")
                    && head.contains(" ns, handle "),
                "{head}"
            );
            assert!(!head.contains("pid ?") && !head.contains("ts ?"), "{head}");
            let tgid = format!(", tgid {} (", std::process::id());
            assert!(head.contains(&tgid), "{head}");
            // libtest names the thread after the test; Linux keeps 15 bytes.
            assert!(head.contains(" (reports_find_kn), ts "), "{head}");
        }
    }

    // Folded: the stacks ending in alpha sum to its bytes.
    let folded = report.folded();
    let alpha_folded: u64 = folded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(stack, _)| stack.ends_with(alpha))
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(alpha_folded, 100_000, "{folded}");
    let svg = report.flamegraph_svg();
    assert!(
        svg.contains(&format!("<title>{alpha} (100000 bytes")),
        "{svg}"
    );

    // Diff: beta grew, by exactly its bytes, and first.
    let d = diff(&before, &after);
    let first = &d.entries[0];
    assert_eq!(first.frames[0].function.as_deref(), Some(beta), "{d}");
    assert_eq!((first.bytes_growth(), first.count_growth()), (150_000, 50));
    assert!(
        d.entries
            .iter()
            .all(|e| e.frames.first().and_then(|f| f.function.as_deref()) != Some(alpha)),
        "alpha did not change: {d}"
    );

    // Making reports is allocowner's own work: the program's figures do not
    // move while the texts above are alive. Counted for this thread only:
    // libtest's main thread may still be allocating its own bookkeeping
    // (seen on a loaded machine).
    let again = allocowner::snapshot();
    let me = Some(libc_gettid());
    let program_on_this_thread = |s: &allocowner::Snapshot| -> (usize, usize) {
        s.allocations
            .iter()
            .filter(|a| a.thread == me && a.stack != allocowner::StackHandle::DUMMY)
            .fold((0, 0), |(n, b), a| (n + 1, b + a.size))
    };
    assert_eq!(
        program_on_this_thread(&after),
        program_on_this_thread(&again),
        "{}",
        diff(&after, &again)
    );
    drop((grouped, dump, folded, svg, report));
    drop((a, b));
}

/// The calling thread's OS id, as the thread client records it.
fn libc_gettid() -> u64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u64 }
}
