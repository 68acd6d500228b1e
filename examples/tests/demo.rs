//! The README's demo runs and shows what a user should see.

use std::process::Command;

fn run(dyndbg: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo"));
    cmd.env_remove("DYNDBG")
        .env_remove("ALLOCOWNER")
        .env_remove("ALLOCOWNER_ACCESS");
    if let Some(q) = dyndbg {
        cmd.env("DYNDBG", q);
    }
    let out = cmd.output().expect("demo runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("no {from:?} in\n{text}"));
    let rest = &text[start..];
    let end = rest.find(to).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn demo_shows_queries_at_work() {
    let text = run(None);
    assert!(
        text.contains("# filename:lineno [module]function flags format"),
        "{text}"
    );
    assert!(
        text.contains("[demo::net]Client::connect =_ \"connecting to {host}\""),
        "{text}"
    );
    let round1 = between(&text, "== round 1", "== round 2");
    assert_eq!(
        round1.lines().filter(|l| !l.is_empty()).count(),
        1,
        "round 1 is quiet: {round1}"
    );
    let round2 = between(&text, "== round 2", "== round 3");
    assert!(round2.contains("(matched 3 callsites)"), "{round2}");
    assert!(
        round2.contains("\nconnecting to db.internal:5432\n"),
        "{round2}"
    );
    assert!(
        round2.contains("Store::put:14: put key-2-0 (64 bytes)"),
        "{round2}"
    );
    assert!(
        !round2.contains("received"),
        "classed callsites stay off: {round2}"
    );
    let round3 = between(&text, "== round 3", "== a bad query");
    assert!(
        round3.contains("] demo::net: received 64 bytes"),
        "{round3}"
    );
    assert!(
        round3.contains("Store::flush:examples/examples/demo/storage.rs: flushing 4 items"),
        "{round3}"
    );
    let bad = between(&text, "== a bad query", "== the flags now");
    assert!(
        bad.contains("error: query 2") && bad.contains("'q'"),
        "{bad}"
    );
    let round4 = between(&text, "== round 4", "== markers");
    assert_eq!(
        round4.lines().filter(|l| !l.is_empty()).count(),
        1,
        "round 4 is quiet: {round4}"
    );
    let markers = between(&text, "== markers", "== round 5");
    assert!(
        markers.contains("net_rx(len: usize, host: &str) examples/examples/demo/net.rs:"),
        "{markers}"
    );
    let round5 = between(&text, "== round 5", "== which heap");
    assert_eq!(
        round5
            .matches("Client::recv: net_rx: len=64 host=\"db.internal:5432\"\n")
            .count(),
        4,
        "{round5}"
    );
    assert!(round5.contains("net_rx fired 4 times"), "{round5}");

    // allocowner::access names the owner of the hot buffer and of the cold one.
    let access = between(&text, "== which heap", "== who owns");
    let hottest = between(access, "== hottest owners ==", "== coldest owners ==");
    assert!(hottest.contains("demo::heap::session_buffer ("), "{access}");
    let coldest = between(access, "== coldest owners ==", "\u{0}");
    assert!(coldest.contains("demo::heap::archive ("), "{access}");

    // OwnerAlloc's grouped report at the end: the 1000 strings main keeps,
    // all made on one line (`vec![String::from("demo"); 1000]`): the
    // vector, `String::from` and 999 clones print the same stack, so they
    // are one group, as page_owner_sort merges them.
    let owners = between(&text, "== who owns", "\u{0}");
    assert!(owners.contains("# capture: frame pointers"), "{owners}");
    assert!(
        owners.contains("1001 times, 28000 bytes:\n demo::main ("),
        "{owners}"
    );
    assert!(
        owners.contains("# allocowner's own (not in the totals above)"),
        "{owners}"
    );
}

#[test]
fn demo_applies_dyndbg_at_startup() {
    let text = run(Some("func connect +pfl"));
    let round1 = between(&text, "== round 1", "== round 2");
    assert!(
        round1.contains("with DYNDBG=\"func connect +pfl\""),
        "{round1}"
    );
    assert!(
        round1.contains("Client::connect:13: connecting to db.internal:5432"),
        "{round1}"
    );
}
