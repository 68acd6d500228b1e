//! `DYNDBG` switches `tracing` callsites too: applied once, before the
//! first callsite runs, it is kept and replayed on each tracing callsite
//! when it registers. The child re-runs this test binary with the
//! variable set (a does-not-hang deadline is not needed: the child only
//! logs three events).

#[path = "support/tracing_collect.rs"]
mod collect;

use std::process::Command;

use collect::Collect;
use tracing_subscriber::prelude::*;

mod net {
    pub(crate) fn connect() {
        tracing::info!("connecting");
    }
}

mod db {
    pub(crate) fn query() {
        tracing::info!("querying");
    }
}

/// The body the child runs: prints what came through, one per line.
#[test]
fn child() {
    if std::env::var_os("DYNDBG_TRACING_CHILD").is_none() {
        return;
    }
    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry().with(
        collect
            .clone()
            .with_filter(dyndbg::tracing::QueryFilter::new()),
    );
    tracing::subscriber::with_default(subscriber, || {
        net::connect();
        db::query();
    });
    for seen in collect.take() {
        println!("passed: {}", seen.message());
    }
    println!(
        "listed: {}",
        dyndbg::listing()
            .lines()
            .filter(|l| l.ends_with("[tracing]"))
            .count()
    );
}

#[test]
fn dyndbg_env_var_switches_tracing_callsites() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--test-threads=1", "--nocapture"])
        .env("DYNDBG_TRACING_CHILD", "1")
        .env("DYNDBG", "module tracing_env::net +p")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("passed: connecting\n"), "{stdout}");
    assert!(!stdout.contains("passed: querying"), "{stdout}");
    assert!(stdout.contains("listed: 2\n"), "{stdout}");
}
