//! `DYNDBG` applies before the first callsite runs, with no call in main;
//! a bad query is reported once and changes nothing. Each case re-runs this
//! test binary as a child process with the variable set.

use std::process::Command;

use dyndbg::pr_debug;

mod app {
    pub(crate) mod net {
        pub(crate) fn connect(host: &str) {
            dyndbg::pr_debug!("connecting to {host}");
        }
    }
    pub(crate) fn tick(n: u32) {
        dyndbg::pr_debug!("tick {n}");
    }
}

/// The body the child runs: the first callsites of its life.
#[test]
fn child() {
    if std::env::var_os("DYNDBG_TEST_CHILD").is_none() {
        return;
    }
    app::net::connect("example.org");
    app::tick(1);
    pr_debug!("child done");
    eprintln!("child exit");
}

fn run_child(query: Option<&str>, nocapture: bool) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--test-threads=1"]);
    if nocapture {
        cmd.arg("--nocapture");
    }
    cmd.env("DYNDBG_TEST_CHILD", "1").env_remove("DYNDBG");
    if let Some(q) = query {
        cmd.env("DYNDBG", q);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn env_query_applies_before_the_first_callsite() {
    let (ok, stderr) = run_child(Some("func connect +pfl; module env_var::app =p"), true);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("connect:12: connecting to example.org\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\ntick 1\n"), "{stderr}");
    assert!(!stderr.contains("child done"), "{stderr}");
    assert!(stderr.contains("child exit"), "{stderr}");
}

#[test]
fn bad_env_query_is_reported_once_and_changes_nothing() {
    let (ok, stderr) = run_child(Some("module env_var::app +p; func connect +x"), true);
    assert!(ok, "the program goes on: {stderr}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("dyndbg:"))
        .collect();
    assert_eq!(reports.len(), 1, "{stderr}");
    assert!(
        reports[0].contains("DYNDBG") && reports[0].contains("'x'"),
        "{stderr}"
    );
    assert!(!stderr.contains("tick 1"), "nothing half-applied: {stderr}");
    assert!(stderr.contains("child exit"), "{stderr}");
}

#[test]
fn output_goes_through_the_test_harness_capture() {
    // Without --nocapture the harness captures what a passing test writes
    // with eprint!, and so it captures our lines too.
    let (ok, stderr) = run_child(Some("func connect +p"), false);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("connecting to"), "{stderr}");
    let (_, stderr) = run_child(Some("func connect +p"), true);
    assert!(stderr.contains("connecting to example.org"), "{stderr}");
}

#[test]
fn no_env_var_means_all_off() {
    let (ok, stderr) = run_child(None, true);
    assert!(ok, "{stderr}");
    assert!(
        !stderr.contains("connecting") && !stderr.contains("tick"),
        "{stderr}"
    );
}
