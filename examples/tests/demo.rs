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
    let round5 = between(&text, "== round 5", "== from outside");
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
    let owners = between(&text, "== who owns", "== the same heap");
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

#[test]
fn demo_is_switched_from_outside_through_its_socket() {
    let text = run(None);
    let outside = between(&text, "== from outside", "== which heap");
    for expected in [
        "$ PUT /dynamic_debug/control \"func connect +p\" -> HTTP/1.1 200 OK\n1 callsites matched\n",
        "$ PUT /markers \"net_rx counter\" -> HTTP/1.1 200 OK\n",
        // The round served while the callsite was on from outside.
        "\nconnecting to db.internal:5432\n",
        "net_rx counter 4\n",
        "$ PUT /dynamic_debug/control \"func connect +x\" -> HTTP/1.1 400 Bad Request\n",
        "unknown flag 'x'",
    ] {
        assert!(outside.contains(expected), "no {expected:?} in\n{outside}");
    }
}

#[test]
fn demo_writes_a_pprof_and_a_dhat_file() {
    let text = run(None);
    let viewers = between(&text, "== the same heap", "\u{0}");
    let paths: Vec<&str> = viewers
        .lines()
        .filter_map(|l| l.split(" (").next())
        .filter(|p| p.starts_with('/'))
        .collect();
    assert_eq!(paths.len(), 2, "{viewers}");
    let pprof = std::fs::read(paths[0]).unwrap();
    assert_eq!(&pprof[..2], b"\x1f\x8b", "gzip'd profile.proto");
    let dhat = std::fs::read_to_string(paths[1]).unwrap();
    assert!(dhat.contains("\"dhatFileVersion\": 2") || dhat.contains("\"dhatFileVersion\":2"));
    assert!(dhat.contains("demo::main"), "our owners are named");
    for p in paths {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn demo_keeps_serving_with_serve() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--serve", "60"])
        .env_remove("DYNDBG")
        .env_remove("ALLOCOWNER")
        .env_remove("ALLOCOWNER_ACCESS")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("demo runs");
    let mut socket = None;
    let mut serving = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(path) =
            line.strip_prefix("== from outside: the process's own debugfs (dyndbg-debugfs) serves ")
        {
            socket = Some(path.to_owned());
        }
        if line.starts_with("== serving for 60 s") {
            serving = true;
            break;
        }
    }
    assert!(serving, "the demo says it keeps serving");
    let socket = socket.expect("the demo names its socket");
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream
        .write_all(b"GET /dynamic_debug/control HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("[demo::net]Client::connect =_"), "{answer}");
}
