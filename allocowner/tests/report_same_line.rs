//! End to end: two calls of one allocating function on one source line
//! (unrolled into more in release) are several depot stacks (their return
//! addresses differ) that print the same text, so the grouped report shows them as one group, as page_owner_sort
//! merges blocks by their text.
use std::hint::black_box;

use allocowner::report::{Owner, Report, SortBy};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

type Block = Vec<u8>;

#[inline(never)]
fn make_block() -> Block {
    black_box(vec![5u8; 40])
}

/// Two call sites of `make_block` on one line (and, in release, the loop
/// unrolled into more).
#[inline(never)]
fn two_calls_one_line(out: &mut Vec<(Block, Block)>) {
    for _ in 0..10 {
        out.push(black_box((make_block(), make_block())));
    }
}

/// Whether `name` (as the report prints it, the symbol table's full path,
/// or debug info's short name) is `function`.
fn is(name: Option<&str>, function: &str) -> bool {
    name.is_some_and(|n| n == function || n.ends_with(&format!("::{function}")))
}

#[test]
fn two_call_sites_on_one_line_are_one_group() {
    allocowner::enable_with("depth=32").unwrap();
    let mut out = Vec::with_capacity(10);
    two_calls_one_line(&mut out);
    let snap = allocowner::snapshot();
    let report = Report::new(&snap);

    // The depot holds the call sites apart: two in debug, up to twenty in
    // release, where the loop is unrolled...
    let handles: Vec<_> = snap
        .stacks
        .keys()
        .copied()
        .filter(|&h| {
            let f = report.frames(h);
            f.len() >= 2
                && is(f[0].function.as_deref(), "make_block")
                && is(f[1].function.as_deref(), "two_calls_one_line")
        })
        .collect();
    assert!(
        (2..=20).contains(&handles.len()),
        "two or more return addresses: {handles:?}"
    );
    let mut sites: Vec<(usize, Option<u32>)> = handles
        .iter()
        .map(|&h| (report.frames(h)[1].addr, report.frames(h)[1].line))
        .collect();
    sites.sort_unstable();
    sites.dedup();
    assert_eq!(sites.len(), handles.len(), "one return address each");
    assert!(
        sites.iter().all(|s| s.1.is_some() && s.1 == sites[0].1),
        "all calls are on one line: {sites:?}"
    );

    // ...and the report shows one group with both counts and bytes.
    let groups: Vec<_> = report
        .groups(SortBy::Bytes)
        .into_iter()
        .filter(|g| {
            g.owner == Owner::Stack
                && g.frames.len() >= 2
                && is(g.frames[0].function.as_deref(), "make_block")
                && is(g.frames[1].function.as_deref(), "two_calls_one_line")
        })
        .collect();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let g = &groups[0];
    assert_eq!((g.count, g.bytes), (Some(20), 800), "{g:#?}");
    let mut both = handles.clone();
    both.sort_unstable();
    assert_eq!(g.handles, both);

    let text = report.grouped(SortBy::Bytes, usize::MAX);
    let name = g.frames[0].function.as_deref().unwrap();
    assert_eq!(
        text.matches(&format!(" times, 800 bytes:\n {name} ("))
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("\n20 times, 800 bytes:\n"), "{text}");

    // Folded stacks merge by function names: one line ends in make_block
    // under two_calls_one_line, with all 800 bytes.
    let folded = report.folded();
    let lines: Vec<&str> = folded
        .lines()
        .filter(|l| l.contains("two_calls_one_line;") && l.contains("make_block "))
        .collect();
    assert_eq!(lines.len(), 1, "{folded}");
    assert!(lines[0].ends_with(" 800"), "{folded}");
    drop((text, folded, report));
    drop(out);
}
