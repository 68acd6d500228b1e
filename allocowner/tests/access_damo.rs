//! damo itself reads our recordings: damo 3.4.3 (`json_compressed`) and
//! damo 2.0.1 (the v2 binary). Installs both into cached venvs on first run
//! and fails, never skips, when it cannot.

#[path = "damo/common.rs"]
mod common;
#[path = "damo/venv.rs"]
mod venv;

use std::path::Path;
use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Mode, Monitor, Recording};
use common::{HOT, Workload, record};

#[test]
fn damo_reads_our_recordings() {
    venv::ensure_file_command();
    let damo3 = venv::damo("3.4.3");
    let damo2 = venv::damo("2.0.1");
    let dir = std::env::temp_dir().join(format!("access-damo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut work = Workload::new();

    // json_compressed, recorded by the monitor thread in real time.
    let jz = dir.join("hot.json.z");
    let mut monitor = Monitor::new(Attrs::default()).unwrap();
    monitor
        .set_recording(&format!("65536 {}", jz.display()))
        .unwrap();
    monitor.start().unwrap();
    let began = Instant::now();
    let mut round = 0u8;
    while began.elapsed() < Duration::from_millis(2500) {
        round = round.wrapping_add(1);
        work.write_hot(round);
        std::thread::sleep(Duration::from_millis(1));
    }
    let summary = monitor.stop().unwrap();
    assert!(summary.aggregations >= 20, "{summary:?}");
    let rec = Recording::read(&jz).unwrap();
    let count = rec.aggregations.len();
    assert_eq!(count as u64, summary.aggregations);
    let ftype = venv::file_type(&jz);
    assert!(
        ftype.starts_with("zlib compressed data"),
        "file(1) says {ftype:?}"
    );

    // `report access` on the last snapshot: damo sees exactly our regions,
    // and its hot regions (>= 50% access rate) hold the hot set.
    let jzs = jz.to_str().unwrap();
    let last = (count - 1).to_string();
    let access = venv::damo_run(
        &damo3,
        &[
            "report",
            "access",
            "--input",
            jzs,
            "--raw_number",
            "--snapshot_idx",
            &last,
            &last,
        ],
    );
    let regions = parse_access(&access);
    let ours = &rec.aggregations[count - 1].regions;
    assert_eq!(regions.len(), ours.len(), "damo report access:\n{access}");
    for (theirs, mine) in regions.iter().zip(ours) {
        assert_eq!(
            (theirs.0, theirs.1),
            (mine.start, mine.end - mine.start),
            "{access}"
        );
        // access in Hz: nr_accesses per 100 ms aggregation, times 10.
        assert!(
            (theirs.2 - f64::from(mine.nr_accesses) * 10.0).abs() < 0.01,
            "{access}"
        );
    }
    let hot = work.hot();
    let hot_covered: u64 = regions
        .iter()
        .filter(|r| r.2 >= 100.0)
        .map(|r| {
            let (s, e) = (r.0, r.0 + r.1);
            e.min(hot.end as u64)
                .saturating_sub(s.max(hot.start as u64))
        })
        .sum();
    assert!(
        hot_covered as f64 >= 0.9 * HOT as f64,
        "damo's hot regions cover {hot_covered} of {HOT} hot bytes:\n{access}"
    );

    // `report wss`: the median working set is the hot set, give or take
    // the boundary regions.
    let (median, wss) = median_wss(&damo3, jzs);
    assert!(
        (HOT as u64 * 9 / 10..=HOT as u64 * 3 / 2).contains(&median),
        "median working set {median} for a {HOT}-byte hot set:\n{wss}"
    );

    // The picture of this recording, kept in the target dir to look at.
    let svg = allocowner::access::heatmap_svg(&rec, &allocowner::access::HeatmapOptions::default());
    assert!(svg.contains("fill=\"#ffffff\""), "the hot set shows white");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("access-heatmap.svg"),
        svg,
    )
    .unwrap();

    v2_is_read_by_damo_2_0_1(&damo2, &dir, &mut work);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// damo 3.4.3's `report wss` 50th percentile, with its output.
fn median_wss(damo3: &Path, jzs: &str) -> (u64, String) {
    let wss = venv::damo_run(
        damo3,
        &[
            "report",
            "wss",
            "--input",
            jzs,
            "--raw_number",
            "--exclude_samples",
            "0",
            "--range",
            "50",
            "51",
            "1",
        ],
    );
    let median = wss
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("50")).then(|| f.next().unwrap().parse::<u64>().unwrap())
        })
        .unwrap_or_else(|| panic!("no 50th percentile in:\n{wss}"));
    (median, wss)
}

/// The v2 binary, by manual ticks, read by damo 2.0.1's `report raw`: the
/// same snapshots and regions as our reader.
fn v2_is_read_by_damo_2_0_1(damo2: &Path, dir: &Path, work: &mut Workload) {
    let v2 = dir.join("hot.data");
    let mut monitor = record(work, Mode::WriteProtect, 5, v2.to_str().unwrap(), 50, false);
    monitor.stop().unwrap();
    let rec2 = Recording::read(&v2).unwrap();
    let raw = venv::damo_run(damo2, &["report", "raw", "--input", v2.to_str().unwrap()]);
    let snaps = parse_raw(&raw);
    assert_eq!(snaps.len(), rec2.aggregations.len(), "{raw}");
    for (theirs, mine) in snaps.iter().zip(&rec2.aggregations) {
        let mine: Vec<(u64, u64, u32)> = mine
            .regions
            .iter()
            .map(|r| (r.start, r.end, r.nr_accesses))
            .collect();
        assert_eq!(theirs, &mine);
    }
    // And the recording found the hot set.
    let acc = common::accuracy(&rec2, work.heap(), work.hot(), 5, 20);
    assert!(acc.recall >= 0.9, "{acc:?}");
}

/// `(addr, size, access_hz)` of each region line of `report access
/// --raw_number`.
fn parse_access(out: &str) -> Vec<(u64, u64, f64)> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() >= 7 && f[1] == "addr" && f[3] == "size" && f[5] == "access" {
                Some((f[2].parse().ok()?, f[4].parse().ok()?, f[6].parse().ok()?))
            } else {
                None
            }
        })
        .collect()
}

/// The regions `(start, end, nr_accesses)` of each snapshot of damo 2.0.1's
/// `report raw`.
fn parse_raw(out: &str) -> Vec<Vec<(u64, u64, u32)>> {
    let mut snaps: Vec<Vec<(u64, u64, u32)>> = Vec::new();
    for l in out.lines() {
        if l.starts_with("monitoring_start:") {
            snaps.push(Vec::new());
            continue;
        }
        let Some((range, rest)) = l.split_once(' ') else {
            continue;
        };
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
            continue;
        };
        let nr = rest
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        snaps
            .last_mut()
            .expect("a region before any snapshot")
            .push((s, e, nr));
    }
    snaps
}
