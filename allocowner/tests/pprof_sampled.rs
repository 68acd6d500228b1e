//! Issue #17, items 1 and 3: a profile of a sampled snapshot
//! (`sample_bytes=N`) carries the records (`inuse_objects`, `inuse_space`)
//! and the scaled estimates of the whole heap (`inuse_objects_estimate`,
//! `inuse_space_estimate`), with the period N; `go tool pprof` reads all
//! four, and their totals are the snapshot's records and estimates.
//! Debian's `golang-go` is installed when `go` is missing.

use std::hint::black_box;
use std::path::PathBuf;

use allocowner::report::Report;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn sampled_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..4000 {
        out.push(black_box(vec![1u8; 512]).into_boxed_slice());
    }
}

#[path = "support/go_pprof.rs"]
mod go_pprof;
use go_pprof::pprof;

/// The total of `-top`'s "Showing nodes accounting for X, 100% of X total".
fn top_total(top: &str) -> u64 {
    let line = top
        .lines()
        .find(|l| l.contains("% of ") && l.ends_with(" total"))
        .unwrap_or_else(|| panic!("no total line in:\n{top}"));
    let total = line
        .rsplit_once("% of ")
        .unwrap()
        .1
        .trim_end_matches(" total")
        .trim_end_matches('B');
    total
        .parse()
        .unwrap_or_else(|_| panic!("total {total:?} in {line:?}"))
}

/// The sum of the values that start `-traces`' samples.
fn traces_total(traces: &str) -> u64 {
    let mut sum = 0;
    let mut new_sample = false;
    for line in traces.lines() {
        if line.starts_with("-----------+") {
            new_sample = true;
            continue;
        }
        if new_sample {
            let v = line.split_whitespace().next().unwrap_or("");
            if v.ends_with(':') {
                continue; // a label line (`owner: [early, estimated]`)
            }
            sum += v
                .trim_end_matches('B')
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("sample value {v:?} in {line:?}"));
            new_sample = false;
        }
    }
    sum
}

#[test]
fn go_tool_pprof_reads_the_estimates_of_a_sampled_snapshot() {
    allocowner::enable_with("sample_bytes=4096").unwrap();
    let mut a = Vec::with_capacity(4000);
    sampled_allocates(&mut a);
    let snapshot = allocowner::snapshot();
    assert_eq!(snapshot.sampling(), Some(4096));
    let report = Report::new(&snapshot);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof-sampled");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("heap.pb.gz");
    report
        .write_pprof(std::io::BufWriter::new(
            std::fs::File::create(&file).unwrap(),
        ))
        .unwrap();

    // The program's records and estimates, as the snapshot gives them.
    let estimates = snapshot.estimates();
    let (mut count, mut bytes) = (0, snapshot.early_bytes);
    let (mut est_count, mut est_bytes) = (0, snapshot.early_bytes);
    for (h, s) in &snapshot.stacks {
        if *h != allocowner::StackHandle::DUMMY {
            count += s.live_count;
            bytes += s.live_bytes;
            est_count += estimates[h].count;
            est_bytes += estimates[h].bytes;
        }
    }
    for a in &snapshot.allocations {
        if !snapshot.stacks.contains_key(&a.stack) && a.stack != allocowner::StackHandle::DUMMY {
            count += 1;
            bytes += a.size as u64;
            est_count += 1;
            est_bytes += a.size as u64;
        }
    }
    assert!(
        est_bytes > bytes,
        "sampled records stand for more: {est_bytes} vs {bytes}"
    );

    for (index, total) in [
        ("inuse_space", bytes),
        ("inuse_objects", count),
        ("inuse_space_estimate", est_bytes),
        ("inuse_objects_estimate", est_count),
    ] {
        let top = pprof(
            &["-top", "-unit=B", &format!("-sample_index={index}")],
            &file,
        );
        assert!(top.contains(&format!("Type: {index}")), "{top}");
        assert!(top.contains("pprof_sampled::sampled_allocates"), "{top}");
        assert_eq!(top_total(&top), total, "{index}: {top}");
        let traces = pprof(
            &["-traces", "-unit=B", &format!("-sample_index={index}")],
            &file,
        );
        assert_eq!(traces_total(&traces), total, "{index}: {traces}");
    }
    // The period: one sample per 4096 bytes.
    let raw = pprof(&["-raw"], &file);
    assert!(raw.contains("Period: 4096"), "{raw}");
    drop(a);
}
