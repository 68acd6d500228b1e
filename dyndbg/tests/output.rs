//! What an enabled callsite writes, and what a disabled one does not do.

use std::sync::atomic::{AtomicUsize, Ordering};

use dyndbg::pr_debug;

#[path = "support/capture.rs"]
mod capture;

use capture::{lines, setup};

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn side_effect() -> usize {
    EVALUATED.fetch_add(1, Ordering::SeqCst)
}

mod transport {
    use dyndbg::pr_debug;

    pub(crate) fn send(n: usize) {
        pr_debug!("sending {n} bytes");
    }
}

fn counted() {
    pr_debug!("side effect {}", crate::side_effect());
}

#[test]
fn disabled_callsite_evaluates_nothing() {
    let _g = setup();
    let before = EVALUATED.load(Ordering::SeqCst);
    for _ in 0..1000 {
        counted();
    }
    assert_eq!(EVALUATED.load(Ordering::SeqCst), before);
    assert!(lines().is_empty());

    assert_eq!(dyndbg::control("func counted +p").unwrap(), 1);
    counted();
    assert_eq!(EVALUATED.load(Ordering::SeqCst), before + 1);
    assert_eq!(lines(), vec![format!("side effect {before}")]);
}

#[test]
fn prefix_follows_the_flags() {
    let _g = setup();
    dyndbg::control("module output::transport =pfl").unwrap();
    transport::send(3);
    dyndbg::control("module output::transport =pmsl").unwrap();
    transport::send(4);
    dyndbg::control("module output::transport =pt").unwrap();
    transport::send(5);
    dyndbg::control("module output::transport -p").unwrap();
    transport::send(6);
    let got = lines();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "send:22: sending 3 bytes");
    assert_eq!(
        got[1],
        "output::transport:dyndbg/tests/output.rs:22: sending 4 bytes"
    );
    let tid = got[2]
        .strip_prefix('[')
        .and_then(|s| s.split_once("] "))
        .unwrap();
    assert!(tid.0.parse::<u64>().unwrap() > 0, "{got:?}");
    assert_eq!(tid.1, "sending 5 bytes");
}

#[test]
fn flags_show_in_callsites_and_listing() {
    let _g = setup();
    dyndbg::control("func send +pf").unwrap();
    let cs = dyndbg::callsites()
        .find(|cs| cs.function() == "send")
        .unwrap();
    assert_eq!(cs.flags().to_string(), "pf");
    assert!(
        dyndbg::listing().contains(
            "dyndbg/tests/output.rs:22 [output::transport]send =pf \"sending {n} bytes\"\n"
        ),
        "{}",
        dyndbg::listing()
    );
    dyndbg::reset();
    assert_eq!(cs.flags().to_string(), "_");
}

#[test]
fn threads_see_the_change() {
    let _g = setup();
    dyndbg::control("func send +p").unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            s.spawn(move || transport::send(i));
        }
    });
    let mut got = lines();
    got.sort();
    assert_eq!(
        got,
        [
            "sending 0 bytes",
            "sending 1 bytes",
            "sending 2 bytes",
            "sending 3 bytes"
        ]
    );
}
