//! Without the `pool` feature (`--no-default-features`): the store keeps
//! the raw records, `stats()` reports no pool, and `DYNDBG_POOL` is still
//! read: `off` is what happens anyway, `on` and `keep` cannot be honoured
//! and are said once on stderr, a bad value is reported as ever. Each case
//! re-runs this test binary as a child process ("first use" happens once).
#![cfg(not(feature = "pool"))]

use std::process::Command;

mod app {
    pub(crate) fn work(n: u32) {
        dyndbg::pr_debug!("raw child work {n}");
    }
}

/// The child: enables and runs a callsite, then reports the figures.
#[test]
fn child() {
    if std::env::var_os("DYNDBG_NO_POOL_CHILD").is_none() {
        return;
    }
    assert_eq!(dyndbg::control("func work +p").unwrap(), 1);
    app::work(7);
    let stats = dyndbg::stats();
    eprintln!(
        "pooled={} pool_bytes={} pool_blocks={} cached={} dropped={} names={}",
        stats.pooled,
        stats.pool_bytes,
        stats.pool_blocks,
        stats.cached_bodies,
        stats.dropped_raw_bytes,
        stats.names_bytes > 0
    );
    for line in dyndbg::listing()
        .lines()
        .filter(|l| l.contains("raw child"))
    {
        eprintln!("LIST {line}");
    }
}

fn run_child(pool: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("DYNDBG_NO_POOL_CHILD", "1")
        .env_remove("DYNDBG")
        .env_remove("DYNDBG_POOL");
    if let Some(p) = pool {
        cmd.env("DYNDBG_POOL", p);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn reports(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("dyndbg:"))
        .collect()
}

const RAW_FIGURES: &str = "pooled=false pool_bytes=0 pool_blocks=0 cached=0 dropped=0 names=true";

#[test]
fn without_the_feature_the_raw_records_serve_and_print() {
    for pool in [None, Some("off")] {
        let stderr = run_child(pool);
        assert!(reports(&stderr).is_empty(), "{pool:?}: {stderr}");
        assert!(stderr.contains(RAW_FIGURES), "{pool:?}: {stderr}");
        assert!(stderr.contains("raw child work 7"), "{pool:?}: {stderr}");
        let listed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("LIST ")).collect();
        assert_eq!(listed.len(), 1, "{stderr}");
        assert!(
            listed[0].ends_with("[no_pool::app]work =p \"raw child work {n}\""),
            "{stderr}"
        );
    }
}

#[test]
fn pool_on_or_keep_is_said_once_and_the_raw_records_kept() {
    for value in ["on", "keep"] {
        let stderr = run_child(Some(value));
        assert_eq!(
            reports(&stderr),
            [format!(
                "dyndbg: DYNDBG_POOL={value} ignored: the pool is not compiled in \
                 (dyndbg's `pool` feature is off); keeping the raw records"
            )],
            "{stderr}"
        );
        assert!(stderr.contains(RAW_FIGURES), "{value}: {stderr}");
        assert!(stderr.contains("raw child work 7"), "{value}: {stderr}");
    }
}

#[test]
fn bad_pool_value_falls_back_to_off() {
    let stderr = run_child(Some("maybe"));
    assert_eq!(
        reports(&stderr),
        ["dyndbg: DYNDBG_POOL=\"maybe\" is not one of \"on\", \"keep\", \"off\"; using \"off\""],
        "{stderr}"
    );
    assert!(stderr.contains(RAW_FIGURES), "{stderr}");
}
