//! What the pool saves in resident memory, measured: each case runs in a
//! child process (this test binary re-run) and reads `/proc/self/pagemap`
//! (present bit) over the pages of the callsite heads, the `Body` structs
//! and the strings the bodies point to, and `/proc/self/smaps_rollup` for
//! the anonymous memory the operation added. The parent prints the table
//! that the crate docs of dyndbg quote and checks what must hold.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::Command;

const PAGE: usize = 4096;
const CHILD: &str = "DYNDBG_MEMORY_CHILD";

fn pages(ranges: impl Iterator<Item = (usize, usize)>) -> BTreeSet<usize> {
    let mut set = BTreeSet::new();
    for (start, len) in ranges {
        let mut p = start & !(PAGE - 1);
        while len > 0 && p < start + len {
            set.insert(p);
            p += PAGE;
        }
    }
    set
}

/// How many of `pages` are mapped in this process.
fn present(pages: &BTreeSet<usize>) -> usize {
    let pagemap = File::open("/proc/self/pagemap").expect("pagemap readable");
    pages
        .iter()
        .filter(|&&p| {
            let mut e = [0u8; 8];
            pagemap
                .read_exact_at(&mut e, (p / PAGE * 8) as u64)
                .expect("pagemap entry");
            u64::from_le_bytes(e) & (1 << 63) != 0
        })
        .count()
}

/// Anonymous resident KiB of the whole process.
fn anon_kib() -> usize {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").expect("smaps_rollup");
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Anonymous:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("Anonymous: line")
}

/// The child: one case, one line of figures on stdout.
#[test]
fn child() {
    let Ok(case) = std::env::var(CHILD) else {
        return;
    };
    dyndbg_manysites::touch_all();
    let sites: Vec<&dyndbg::Callsite> = dyndbg::callsites().collect();
    // Addresses only: no string byte is read here.
    let heads = pages(
        sites
            .iter()
            .map(|cs| (std::ptr::from_ref(*cs) as usize, 16)),
    );
    let bodies = pages(sites.iter().map(|cs| {
        (
            dyndbg::__private::body_addr(cs),
            std::mem::size_of::<dyndbg::__private::Body>(),
        )
    }));
    let strings = pages(sites.iter().flat_map(|cs| {
        [
            cs.module(),
            cs.file(),
            cs.format(),
            cs.class().unwrap_or(""),
        ]
        .map(|s| (s.as_ptr() as usize, s.len()))
    }));
    let before = anon_kib();
    let mut listing_hash = 0u64;
    let mut store = 0;
    let mut dropped = 0;
    let mut built = 0;
    if case != "untouched" {
        let _ = dyndbg::stats();
        built = anon_kib().saturating_sub(before);
        let listing = dyndbg::listing();
        listing_hash = listing.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        drop(listing);
    }
    let after = anon_kib();
    let (h, b, s) = (present(&heads), present(&bodies), present(&strings));
    if case != "untouched" {
        let stats = dyndbg::stats();
        store = stats.pool_bytes + stats.cached_bytes + stats.names_bytes;
        dropped = stats.dropped_raw_bytes;
    }
    println!(
        "MEM {case} heads={h}/{} bodies={b}/{} strings={s}/{} anon_delta_kib={} anon_build_kib={built} store={store} dropped={dropped} listing={listing_hash:x}",
        heads.len(),
        bodies.len(),
        strings.len(),
        after.saturating_sub(before),
    );
}

#[derive(Debug)]
struct Row {
    case: String,
    fields: std::collections::HashMap<String, String>,
}

impl Row {
    fn pages(&self, key: &str) -> (usize, usize) {
        let (a, b) = self.fields[key].split_once('/').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    }
    fn num(&self, key: &str) -> usize {
        self.fields[key].parse().unwrap()
    }
}

fn run(case: &str, pool: Option<&str>) -> Row {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .env_remove("DYNDBG");
    match pool {
        Some(v) => cmd.env("DYNDBG_POOL", v),
        None => cmd.env_remove("DYNDBG_POOL"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{case}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("MEM ").map(|(_, figures)| figures))
        .unwrap_or_else(|| panic!("{case}: no figures in {stdout}"));
    let mut parts = line.split_whitespace();
    let case = parts.next().unwrap().to_owned();
    let fields = parts
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Row { case, fields }
}

#[test]
fn resident_memory_table() {
    let rows = [
        run("untouched", None),
        run("listed-raw", Some("off")),
        run("listed-pool-keep", Some("keep")),
        run("listed-pool", Some("on")),
    ];
    let kib = |pages: usize| pages * PAGE / 1024;
    println!(
        "| case | heads | `Body` structs | body strings | anon added by the listing | store heap | dropped | total resident |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let (h, ht) = r.pages("heads");
        let (b, bt) = r.pages("bodies");
        let (s, st) = r.pages("strings");
        let total = kib(h + b + s) + r.num("store") / 1024;
        println!(
            "| {} | {} of {} KiB | {} of {} KiB | {} of {} KiB | {} KiB | {} KiB | {} KiB | {} KiB |",
            r.case,
            kib(h),
            kib(ht),
            kib(b),
            kib(bt),
            kib(s),
            kib(st),
            r.num("anon_delta_kib"),
            r.num("store") / 1024,
            r.num("dropped") / 1024,
            total,
        );
    }
    let [untouched, raw, keep, pool] = &rows;
    // The kernel maps up to 16 neighbouring file pages around each fault
    // (fault-around, 64 KiB): the strings must span several such windows,
    // or they are all resident before anything reads them and the checks
    // below cannot tell the cases apart. build.rs sizes the debug fixture
    // for this (about 70 pages); the release one spans about 400.
    let string_pages = untouched.pages("strings").1;
    assert!(
        string_pages >= 4 * 16,
        "the fixture's strings span only {string_pages} pages: too few to measure \
         (fault-around maps 16 at a time); generate more files in build.rs"
    );
    // Listing reads every string of the raw records; with the pool, the
    // build read them once and `on` gave their pages back.
    assert!(
        untouched.pages("strings").0 < raw.pages("strings").0,
        "{rows:?}"
    );
    assert!(
        keep.pages("strings").0 > pool.pages("strings").0,
        "{rows:?}"
    );
    assert!(pool.num("dropped") > 0, "{rows:?}");
    // All three listings are the same text.
    assert_eq!(raw.fields["listing"], keep.fields["listing"]);
    assert_eq!(raw.fields["listing"], pool.fields["listing"]);
}
