//! Issue #17, item 4: the kernel's `page_owner_sort` (tools/mm/
//! page_owner_sort.c) can group allocowner's dump. This test applies the
//! tool's documented rules to a dump of a real run, as the tool does:
//! - `read_block`: a block is the lines up to an empty line; a line that
//!   starts with `PFN` is set aside (not in the block's text); a block cut
//!   by the end of the file is dropped;
//! - `get_page_num`: pages = `1 << N` from the first match of
//!   `order\s*([0-9]*),` in the block's text (0 when there is none);
//! - `--cull=st`: blocks are grouped by their stack, the text after the
//!   block's first line; a group's `times` and `pages` are the sums;
//! - `get_pid`, `get_tgid`, `get_comm`, `get_ts_nsec` (for `--pid`,
//!   `--tgid`, `--name`, their culls and sorts): the leftmost match of
//!   `pid\s*([0-9]*),`, `tgid\s*([0-9]*) `, `tgid\s*[0-9]*\s*\((.*)\),\s*ts`
//!   and `ts\s*([0-9]*)\s*ns` in the block's text, -1 when it does not
//!   match or has no digits;
//! - room for (file size / 100) blocks, of at most 128 KiB each.
//!
//! Checked against the tool itself (built from torvalds/linux
//! tools/mm/page_owner_sort.c, outside this repository) on a dump of the
//! allocowner-cli tests, 2026-12-04: `page_owner_sort --cull=st -m` read
//! 79 blocks into 5 groups (the report's 4 owner stacks and allocowner's
//! own, empty stack), every group with pages > 0; without `--cull` it
//! groups by the whole block, header included (timestamps differ), as it
//! does for the kernel's own page_owner file.
//!
//! It checks that the groups are the report's distinct owner stacks (not
//! one per allocation, as when the address was on its own line) and that
//! the pages are counted.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

use allocowner::report::{Owner, Report, SortBy};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn small_blocks(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..100 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn large_blocks(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..5 {
        // 5 pages of 4096 bytes: order 3 (8 pages).
        out.push(black_box(vec![2u8; 20_000]).into_boxed_slice());
    }
}

#[inline(never)]
fn one_threads_blocks(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..50 {
        out.push(black_box(vec![3u8; 300]).into_boxed_slice());
    }
}

/// One group of `page_owner_sort --cull=st`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Group {
    times: u64,
    pages: u64,
}

/// The blocks' texts, by the rules of `read_block`.
fn read_blocks(dump: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur = String::new();
    for line in dump.split_inclusive('\n') {
        if line == "\n" {
            blocks.push(std::mem::take(&mut cur));
        } else if !line.starts_with("PFN") {
            cur.push_str(line);
        }
    }
    // `cur` is a block cut by the end of the file: dropped.
    blocks
}

/// `get_page_num`: the first `order\s*([0-9]*),` of the text.
fn pages(txt: &str) -> u64 {
    let mut rest = txt;
    while let Some(at) = rest.find("order") {
        let after = rest[at + 5..].trim_start();
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if after[digits.len()..].starts_with(',') {
            // The tool: strtol of the digits, 0 pages when not a number.
            return digits.parse::<u32>().map_or(0, |n| 1 << n);
        }
        rest = &rest[at + 5..];
    }
    0
}

/// The tool's `search_pattern` for `LIT\s*([0-9]*)END` (its `pid`,
/// `tgid` and `ts` patterns): the number of the leftmost match; `None`
/// where the tool's strtol fails and it reads -1.
fn number_after(txt: &str, lit: &str, end: &str) -> Option<i64> {
    let mut from = 0;
    while let Some(at) = txt[from..].find(lit) {
        let after = &txt[from + at + lit.len()..];
        // `\s*` before the digits (it may also match nothing, so that
        // END can be the space right after LIT).
        for skip in [after.len() - after.trim_start().len(), 0] {
            let tail = &after[skip..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            let rest = &tail[digits.len()..];
            let rest = if end == "ns" { rest.trim_start() } else { rest };
            if rest.starts_with(end) {
                return digits.parse().ok();
            }
        }
        from += at + lit.len();
    }
    None
}

/// The tool's `get_comm`: `tgid\s*[0-9]*\s*\((.*)\),\s*ts`, `.` not
/// matching a newline, `.*` greedy.
fn comm(txt: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = txt[from..].find("tgid") {
        let after = txt[from + at + 4..].trim_start();
        let after = after.trim_start_matches(|c: char| c.is_ascii_digit());
        let line = after.trim_start().split('\n').next().unwrap_or("");
        if let Some(inner) = line.strip_prefix('(') {
            let mut end = inner.len();
            while let Some(close) = inner[..end].rfind("),") {
                if inner[close + 2..].trim_start().starts_with("ts") {
                    return Some(inner[..close].to_owned());
                }
                end = close;
            }
        }
        from += at + 4;
    }
    None
}

/// `page_owner_sort --cull=st`: groups by the text after the first line.
fn cull_by_stack(dump: &str) -> BTreeMap<String, Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for txt in read_blocks(dump) {
        let stack = txt.split_once('\n').map_or("", |(_, s)| s).to_owned();
        let g = groups.entry(stack).or_default();
        g.times += 1;
        g.pages += pages(&txt);
    }
    groups
}

#[test]
fn page_owner_sort_groups_the_dump_by_owner_stack_and_counts_pages() {
    allocowner::enable_with("depth=32,thread").unwrap();
    let mut a = Vec::with_capacity(100);
    let mut b = Vec::with_capacity(5);
    small_blocks(&mut a);
    large_blocks(&mut b);
    let snapshot = allocowner::snapshot();
    let report = Report::new(&snapshot);
    let dump = report.dump();
    let groups = cull_by_stack(&dump);

    // The report's distinct printed stacks of the owners that have records
    // (all but the early owner); owners without frames (dummy, failure)
    // print alike, as an empty stack.
    let stacks: BTreeSet<String> = report
        .groups(SortBy::Bytes)
        .iter()
        .filter(|g| g.owner != Owner::Early)
        .map(|g| {
            g.frames
                .iter()
                .map(|f| report.frame_line(f) + "\n")
                .collect()
        })
        .collect();
    let keys: BTreeSet<String> = groups.keys().cloned().collect();
    assert!(
        keys == stacks,
        "page_owner_sort's {} groups are not the report's {} stacks; first groups: {:#?}",
        keys.len(),
        stacks.len(),
        keys.iter().take(3).collect::<Vec<_>>()
    );
    // The tool's limits: it makes room for (file size / 100) blocks
    // ("max_size too small??" and it stops) and reads a block into a
    // 128 KiB buffer.
    let blocks = read_blocks(&dump);
    assert!(
        dump.len() / 100 >= blocks.len(),
        "{} blocks in {} bytes",
        blocks.len(),
        dump.len()
    );
    assert!(blocks.iter().all(|b| b.len() < 128 * 1024 - 1));
    let times: u64 = groups.values().map(|g| g.times).sum();
    assert_eq!(times, snapshot.allocations.len() as u64, "one block each");
    assert!(groups.len() < snapshot.allocations.len() / 2, "{groups:#?}");
    assert!(groups.values().all(|g| g.pages >= g.times), "{groups:#?}");

    let of = |name: &str| {
        let (_, g) = groups
            .iter()
            .find(|(s, _)| s.starts_with(&format!(" page_owner_sort::{name} (")))
            .unwrap_or_else(|| panic!("no group for {name}: {groups:#?}"));
        g
    };
    assert_eq!(
        of("small_blocks"),
        &Group {
            times: 100,
            pages: 100
        }
    );
    assert_eq!(
        of("large_blocks"),
        &Group {
            times: 5,
            pages: 40
        }
    );
    drop((a, b));
}

#[test]
fn the_rules_read_pages_and_set_pfn_lines_aside() {
    let dump = "Allocation of 9000 bytes (align 8), order 2, pid 1, tgid 1 (a), ts 5 ns, handle 1\n\
                PFN 0x10 address 0x10000\n f (a.rs:1)\n\n\
                Allocation of 8 bytes (align 8), order 0, pid 1, tgid 1 (a), ts 6 ns, handle 1\n\
                PFN 0x20 address 0x20000\n f (a.rs:1)\n\n\
                # footer\n# not a block\n";
    let groups = cull_by_stack(dump);
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        [(" f (a.rs:1)\n".to_owned(), Group { times: 2, pages: 5 })]
    );
}

#[test]
fn the_rules_read_pid_tgid_name_and_ts_or_minus_one() {
    let head =
        "Allocation of 8 bytes (align 8), order 0, pid 12, tgid 10 (my), app), ts 6 ns, handle 1\n";
    assert_eq!(number_after(head, "pid", ","), Some(12));
    assert_eq!(number_after(head, "tgid", " "), Some(10));
    assert_eq!(comm(head).as_deref(), Some("my), app"));
    assert_eq!(number_after(head, "ts", "ns"), Some(6));
    // Without the thread client.
    let head = "Allocation of 8 bytes (align 8), order 0, pid ?, tgid 10 (?), ts ?, handle 1\n";
    assert_eq!(number_after(head, "pid", ","), None);
    assert_eq!(number_after(head, "tgid", " "), Some(10));
    assert_eq!(comm(head).as_deref(), Some("?"));
    assert_eq!(number_after(head, "ts", "ns"), None);
    // A dump written again from a saved one that did not name its process.
    let head = "Allocation of 8 bytes (align 8), order 0, pid ?, tgid ? (?), ts ?, handle 1\n";
    assert_eq!(number_after(head, "tgid", " "), None);
    assert_eq!(comm(head), None);
    // The old header had no `pid`: the tool read -1 for every block.
    let old = "Allocation of 8 bytes (align 8), order 0, tid 12 (my), ts 6 ns, handle 1\n";
    assert_eq!(number_after(old, "pid", ","), None);
    assert_eq!(comm(old), None);
}

#[test]
fn page_owner_sort_selects_by_pid_tgid_and_name() {
    allocowner::enable_with("thread").unwrap();
    let mut a = Vec::with_capacity(50);
    one_threads_blocks(&mut a);
    let snapshot = allocowner::snapshot();
    let dump = Report::new(&snapshot).dump();
    let blocks: Vec<String> = read_blocks(&dump)
        .into_iter()
        .filter(|b| b.contains("\n page_owner_sort::one_threads_blocks ("))
        .collect();
    assert_eq!(blocks.len(), 50, "{dump}");
    let pid = number_after(&blocks[0], "pid", ",").expect("a pid");
    let name = std::fs::read_to_string(format!("/proc/self/task/{pid}/comm"))
        .unwrap_or_else(|e| panic!("pid {pid} is not a thread of this process: {e}"));
    for b in &blocks {
        // `--pid P`, `--tgid T`, `--name N` keep these blocks.
        assert_eq!(number_after(b, "pid", ","), Some(pid), "{b}");
        assert_eq!(
            number_after(b, "tgid", " "),
            Some(i64::from(std::process::id())),
            "{b}"
        );
        assert_eq!(comm(b).as_deref(), Some(name.trim_end()), "{b}");
        assert!(number_after(b, "ts", "ns").is_some_and(|ts| ts > 0), "{b}");
    }
    drop(a);
}
