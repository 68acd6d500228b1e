//! When the body pool is built, and `DYNDBG_POOL`: each case re-runs this
//! test binary as a child process, since "first use" happens once.
//! Needs the pool (the default `pool` feature); without it, see `no_pool.rs`.
#![cfg(feature = "pool")]

use std::process::Command;

mod app {
    pub(crate) fn work(n: u32) {
        dyndbg::pr_debug!("pool child work {n}");
    }
    pub(crate) fn idle() {
        dyndbg::pr_debug!(class = "IDLE", "pool child idle");
    }
}

/// The child: runs a callsite, then reports what was built, then lists.
#[test]
fn child() {
    if std::env::var_os("DYNDBG_POOL_CHILD").is_none() {
        return;
    }
    app::work(1);
    let after_first_callsite = dyndbg::__private::pool_check::store_built();
    eprintln!("built after the first callsite: {after_first_callsite}");
    let listing = dyndbg::listing();
    assert!(dyndbg::__private::pool_check::store_built());
    let stats = dyndbg::stats();
    eprintln!(
        "pooled={} pool_bytes={} names_bytes={} cached={} raw={}",
        stats.pooled,
        stats.pool_bytes,
        stats.names_bytes,
        stats.cached_bodies,
        stats.raw_body_bytes
    );
    app::idle();
    for line in listing.lines().filter(|l| l.contains("pool child")) {
        eprintln!("LIST {line}");
    }
}

fn run_child(dyndbg: Option<&str>, pool: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("DYNDBG_POOL_CHILD", "1")
        .env_remove("DYNDBG")
        .env_remove("DYNDBG_POOL");
    if let Some(q) = dyndbg {
        cmd.env("DYNDBG", q);
    }
    if let Some(p) = pool {
        cmd.env("DYNDBG_POOL", p);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn listed(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("LIST "))
        .collect()
}

#[test]
fn without_dyndbg_the_pool_waits_for_the_first_listing() {
    let stderr = run_child(None, None);
    assert!(
        stderr.contains("built after the first callsite: false"),
        "{stderr}"
    );
    assert!(stderr.contains("pooled=true"), "{stderr}");
    assert!(!stderr.contains("pool_bytes=0 "), "{stderr}");
}

#[test]
fn dyndbg_at_startup_builds_the_pool_in_the_first_callsite() {
    let stderr = run_child(Some("func work +pl"), None);
    assert!(
        stderr.contains("built after the first callsite: true"),
        "{stderr}"
    );
    // Printed from the cached body: line and message.
    assert!(
        stderr.lines().any(|l| l == "10: pool child work 1"),
        "{stderr}"
    );
    assert!(stderr.contains("pooled=true"), "{stderr}");
    assert!(stderr.contains("cached=1 "), "{stderr}");
}

#[test]
fn pool_off_keeps_the_raw_records_and_lists_the_same() {
    let pooled = run_child(Some("func work +p"), None);
    let raw = run_child(Some("func work +p"), Some("off"));
    assert!(raw.contains("pooled=false pool_bytes=0 "), "{raw}");
    assert!(!raw.contains("names_bytes=0 "), "{raw}");
    assert!(raw.contains("cached=0 "), "{raw}");
    assert!(raw.contains("pool child work 1\n"), "{raw}");
    assert_eq!(listed(&pooled), listed(&raw));
    assert_eq!(listed(&raw).len(), 2, "{raw}");
    assert!(
        listed(&raw)
            .iter()
            .any(|l| l.ends_with("]idle =_ \"pool child idle\" class:IDLE")),
        "{raw}"
    );
    // `keep` pools too: same listing.
    let keep = run_child(Some("func work +p"), Some("keep"));
    assert!(keep.contains("pooled=true"), "{keep}");
    assert_eq!(listed(&keep), listed(&raw));
}

#[test]
fn bad_pool_value_is_reported_and_the_pool_used() {
    let stderr = run_child(None, Some("maybe"));
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("dyndbg:"))
        .collect();
    assert_eq!(reports.len(), 1, "{stderr}");
    assert!(
        reports[0].contains("DYNDBG_POOL") && reports[0].contains("\"maybe\""),
        "{stderr}"
    );
    assert!(stderr.contains("pooled=true"), "{stderr}");
}
