//! The server end to end, in child processes (each test re-executes this
//! binary with a scenario, see `common`): files, errors, limits, the
//! socket's place and modes, the peer check, fork and exit.

mod common;

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixStream;

use common::{eventually, get, put, raw, spawn};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// The child's side: runs only in a re-executed child.
#[test]
fn child_main() {
    common::child_main();
}

/// A child serving through `DYNDBG_CONTROL=on` in a fresh runtime dir.
fn serving() -> (common::Serving, std::path::PathBuf) {
    let xdg = common::temp_dir("xdg");
    let s = spawn(
        "serve",
        &[
            ("DYNDBG_CONTROL", "on"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    (s, xdg)
}

#[test]
fn control_file_lists_and_switches_callsites() {
    let (s, xdg) = serving();
    let sock = s.path();
    assert_eq!(sock, xdg.join(format!("dyndbg/{}.sock", s.pid())));
    let (st, listing) = get(&sock, "dynamic_debug/control");
    assert_eq!(st, 200, "{listing}");
    assert!(listing.starts_with("# filename:lineno [module]function flags format\n"));
    let line = listing
        .lines()
        .find(|l| l.contains("debugfs work round"))
        .unwrap();
    assert!(line.contains("]debugfs_work =_ "), "{line}");

    let (st, answer) = put(&sock, "dynamic_debug/control", "func debugfs_work +pfl");
    assert_eq!((st, answer.as_str()), (200, "1 callsites matched\n"));
    let (_, listing) = get(&sock, "dynamic_debug/control");
    assert!(
        listing.lines().any(|l| l.contains("]debugfs_work =pfl ")),
        "{listing}"
    );

    // A bad batch changes nothing and says why, on one line.
    let (st, err) = put(
        &sock,
        "dynamic_debug/control",
        "func debugfs_work -p; func x +q",
    );
    assert_eq!(st, 400, "{err}");
    assert!(
        err.contains("'q'") && err.ends_with('\n') && err.lines().count() == 1,
        "{err}"
    );
    let (_, listing) = get(&sock, "dynamic_debug/control");
    assert!(
        listing.lines().any(|l| l.contains("]debugfs_work =pfl ")),
        "{listing}"
    );
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    // Removed at exit.
    assert!(!sock.exists(), "the socket outlived its process");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn socket_and_directory_modes_and_the_start_line() {
    let (s, xdg) = serving();
    let sock = s.path();
    let dir = std::fs::symlink_metadata(xdg.join("dyndbg")).unwrap();
    assert_eq!(dir.mode() & 0o7777, 0o700);
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    // SAFETY: geteuid cannot fail.
    assert_eq!(meta.uid(), unsafe { libc::geteuid() });
    let (ok, stderr) = s.finish();
    assert!(ok);
    assert!(
        stderr.contains(&format!("dyndbg-debugfs: serving {}\n", sock.display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn every_file_answers_and_unknown_ones_are_listed() {
    let (s, xdg) = serving();
    let sock = s.path();
    let (st, page_owner) = get(&sock, "page_owner");
    assert_eq!(st, 200);
    assert!(page_owner.contains("debugfs_work"), "{page_owner}");
    let (st, sorted) = get(&sock, "page_owner_sort");
    assert_eq!(st, 200);
    assert!(sorted.contains("debugfs_work"), "{sorted}");
    let (st, folded) = get(&sock, "heap.folded");
    assert_eq!(st, 200);
    assert!(
        folded.lines().any(|l| l.contains("debugfs_work")),
        "{folded}"
    );
    let (st, svg) = get(&sock, "heap.svg");
    assert_eq!(st, 200);
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..svg.len().min(80)]
    );
    for file in ["heap.pprof", "debug/pprof/heap"] {
        let (st, pprof) = common::get_bytes(&sock, file);
        assert_eq!(st, 200, "{file}: {}", String::from_utf8_lossy(&pprof));
        assert_eq!(pprof[..2], [0x1f, 0x8b], "{file} is gzip");
    }
    let (st, stats) = get(&sock, "stats");
    assert_eq!(st, 200);
    for key in [
        "dyndbg.callsites ",
        "allocowner.enabled 1",
        "debugfs.requests ",
    ] {
        assert!(stats.contains(key), "{key} in {stats}");
    }
    let (st, root) = get(&sock, "");
    assert_eq!(st, 200);
    assert_eq!(root.lines().collect::<Vec<_>>(), dyndbg_debugfs::FILES);

    let (st, e) = get(&sock, "nope");
    assert_eq!(st, 404);
    assert!(
        e.starts_with("no file `nope`; files: dynamic_debug/control markers page_owner"),
        "{e}"
    );
    let (st, e) = put(&sock, "page_owner", "x");
    assert_eq!(
        (st, e.as_str()),
        (405, "page_owner is read-only: use GET\n")
    );
    let (st, e) = raw(
        &sock,
        b"DELETE /stats HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(st, 405, "{e}");
    let (st, e) = raw(
        &sock,
        b"PUT /markers HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n\xff\xfe",
    );
    assert_eq!(st, 400, "{e}");
    assert!(e.contains("must be UTF-8"), "{e}");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn markers_file_connects_counts_rings_and_disconnects() {
    let (s, xdg) = serving();
    let sock = s.path();
    let (st, list) = get(&sock, "markers");
    assert_eq!(st, 200);
    assert!(
        list.contains("debugfs_tick(round: u32) probes=0 "),
        "{list}"
    );
    assert_eq!(
        put(&sock, "markers", "debugfs_tick counter"),
        (200, "debugfs_tick: counter connected\n".into())
    );
    assert_eq!(
        put(&sock, "markers", "debugfs_tick ring 3"),
        (200, "debugfs_tick: ring connected\n".into())
    );
    // The child hits the marker every 10 ms: the count grows.
    let list = eventually("counted hits", || {
        let (_, list) = get(&sock, "markers");
        let n: u64 = list
            .lines()
            .find_map(|l| l.strip_prefix("debugfs_tick counter "))?
            .parse()
            .ok()?;
        (n >= 3).then_some(list)
    });
    assert!(list.contains("debugfs_tick ring 3 (3 hits)"), "{list}");
    assert!(list.contains("\n  debugfs_tick "), "{list}");
    let (st, e) = put(&sock, "markers", "debugfs_tick counter");
    assert_eq!(st, 409, "{e}");
    let (st, e) = put(&sock, "markers", "no_such_marker counter");
    assert_eq!(
        (st, e.as_str()),
        (400, "no marker site matches `no_such_marker`\n")
    );
    let (st, e) = put(&sock, "markers", "debugfs_tick gauge");
    assert_eq!(st, 400, "{e}");
    assert_eq!(
        put(&sock, "markers", "debugfs_tick off"),
        (200, "debugfs_tick: 2 probes disconnected\n".into())
    );
    let (_, list) = get(&sock, "markers");
    assert!(
        list.contains("debugfs_tick(round: u32) probes=0 "),
        "{list}"
    );
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn damon_record_starts_refuses_busy_and_stops() {
    let (s, xdg) = serving();
    let sock = s.path();
    let rec = xdg.join("heap.json.z");
    assert_eq!(get(&sock, "damon/record"), (200, "0 none\n".into()));
    let (st, e) = put(&sock, "damon/record", "12 /tmp/x");
    assert_eq!(st, 400, "{e}");
    assert!(e.contains("12"), "{e}");
    let setting = format!("4096 {}", rec.display());
    let (st, answer) = put(&sock, "damon/record", &setting);
    assert_eq!((st, answer), (200, format!("recording {setting}\n")));
    assert_eq!(get(&sock, "damon/record"), (200, format!("{setting}\n")));
    // EBUSY while it runs, and nothing changes.
    let (st, e) = put(&sock, "damon/record", "8192 /tmp/other.json.z");
    assert_eq!(st, 409, "{e}");
    // DAMON's `0 <path>` is a setting too: refused while it runs.
    let (st, e) = put(&sock, "damon/record", "0 /tmp/other.json.z");
    assert_eq!(st, 409, "{e}");
    assert_eq!(get(&sock, "damon/record"), (200, format!("{setting}\n")));
    let (st, answer) = put(&sock, "damon/record", "off");
    assert_eq!(st, 200, "{answer}");
    assert!(answer.starts_with("stopped: "), "{answer}");
    assert!(rec.exists());
    assert_eq!(get(&sock, "damon/record"), (200, "0 none\n".into()));
    // ... and accepted while none runs (recording disabled), as in DAMON.
    let (st, answer) = put(&sock, "damon/record", "0 none");
    assert_eq!(
        (st, answer.as_str()),
        (200, "recording disabled (0 none)\n")
    );
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

/// A child serving with `start_with`, a short read timeout and room for
/// two connections.
fn limited() -> (common::Serving, std::path::PathBuf) {
    limited_with("500")
}

/// [`limited`] with a read timeout of `timeout_ms` (a connection beyond
/// the bound waits a quarter of it for a slot).
fn limited_with(timeout_ms: &str) -> (common::Serving, std::path::PathBuf) {
    let dir = common::temp_dir("limits");
    let s = spawn(
        "serve",
        &[
            ("DEBUGFS_API_DIR", dir.to_str().unwrap()),
            ("DEBUGFS_TIMEOUT_MS", timeout_ms),
            ("DEBUGFS_MAX_CONN", "2"),
        ],
    );
    (s, dir)
}

#[test]
fn a_burst_beyond_the_bound_waits_for_slots_and_is_served() {
    // Room for two; ten clients at once, each sending its request at
    // once. The eight beyond the bound (four times the bound may wait)
    // wait up to a quarter of the read timeout (15 s here) and are
    // served as slots free.
    let (s, dir) = limited_with("60000");
    let sock = s.path();
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                raw(&sock, b"GET /stats HTTP/1.1\r\nConnection: close\r\n\r\n")
            })
        })
        .collect();
    for c in clients {
        let (st, body) = c.join().unwrap();
        assert_eq!(st, 200, "{body}");
    }
    let (_, stats) = get(&sock, "stats");
    assert!(stats.contains("debugfs.refused_busy 0\n"), "{stats}");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn huge_malformed_and_slow_requests_are_answered_and_the_server_goes_on() {
    let (s, dir) = limited();
    let sock = s.path();
    // Huge: a body declared over 64 KiB, and one sent over it.
    let (st, e) = raw(
        &sock,
        b"PUT /markers HTTP/1.1\r\nContent-Length: 70000\r\n\r\n",
    );
    assert_eq!(
        (st, e.as_str()),
        (413, "request larger than 65536 bytes (head and body)\n")
    );
    let mut big = b"GET /stats HTTP/1.1\r\nX: ".to_vec();
    big.resize(100_000, b'a');
    let (st, _) = raw(&sock, &big);
    assert_eq!(st, 413);
    // Malformed.
    let (st, e) = raw(&sock, b"\x00\x01garbage\r\n\r\n");
    assert_eq!(st, 400, "{e}");
    let (st, e) = raw(&sock, b"GET /stats HTTP/1.1\r\nContent-Length: x\r\n\r\n");
    assert_eq!(st, 400, "{e}");
    // Slow: half a request, then nothing; another client is served
    // meanwhile; the slow one gets 408 and is closed.
    let mut slow = UnixStream::connect(&sock).unwrap();
    slow.set_read_timeout(Some(common::DEADLINE)).unwrap();
    slow.write_all(b"GET /stats HTTP/1.1\r\n").unwrap();
    assert_eq!(get(&sock, "stats").0, 200);
    let (st, e) = common::read_answer(&mut slow);
    assert_eq!(
        (st, e.as_str()),
        (408, "request not received within the read timeout\n")
    );
    // Still serving.
    assert_eq!(get(&sock, "stats").0, 200);
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_idle_kept_alive_connection_is_closed_quietly() {
    use std::io::Read as _;
    let (s, dir) = limited();
    let sock = s.path();
    // A PUT followed by the CRLF old clients send after a body, then
    // nothing: after the read timeout the connection is closed without
    // a 408 (no request was begun).
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(common::DEADLINE)).unwrap();
    c.write_all(b"PUT /dynamic_debug/control HTTP/1.1\r\nContent-Length: 21\r\n\r\nfunc debugfs_work +p\n\r\n")
        .unwrap();
    let (st, _, body) = read_framed(&mut c, false);
    assert_eq!((st, body.as_str()), (200, "1 callsites matched\n"));
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(String::from_utf8_lossy(&rest), "");
    let (_, stats) = get(&sock, "stats");
    assert!(stats.contains("debugfs.timed_out 0\n"), "{stats}");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn connections_beyond_the_bound_get_503_and_later_ones_are_served() {
    // Two idle connections hold both slots for the read timeout (8 s): a
    // third waits a quarter of it (2 s), then gets 503.
    let (s, dir) = limited_with("8000");
    let sock = s.path();
    let a = UnixStream::connect(&sock).unwrap();
    let b = UnixStream::connect(&sock).unwrap();
    // The server admits in its own time: wait until a third is refused.
    let refused = eventually("a refused third connection", || {
        let mut c = UnixStream::connect(&sock).ok()?;
        c.set_read_timeout(Some(common::DEADLINE)).unwrap();
        let (st, body) = common::read_answer(&mut c);
        if st != 503 {
            return None;
        }
        // Read to its end (the server shut its side): the server must
        // still hold the connection (draining), so the late request is
        // taken, not refused with EPIPE.
        c.write_all(b"GET /stats HTTP/1.1\r\n\r\n")
            .expect("the refused connection was closed before the client wrote");
        (st == 503).then_some(body)
    });
    assert_eq!(
        refused,
        "too many connections (at most 2 at once); try again\n"
    );
    drop((a, b));
    eventually("served again", || {
        (get(&sock, "stats").0 == 200).then_some(())
    });
    let (_, stats) = get(&sock, "stats");
    assert!(!stats.contains("debugfs.refused_busy 0\n"), "{stats}");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn curl_reads_and_writes_over_the_socket() {
    let curl_bin = common::tool("curl", "curl");
    let (s, xdg) = serving();
    let sock = s.path();
    let curl = |args: &[&str]| {
        let out = std::process::Command::new(&curl_bin)
            .args(["-sS", "--max-time", "60", "--unix-socket"])
            .arg(&sock)
            .args(args)
            .output()
            .expect("run curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, listing) = curl(&["http://x/dynamic_debug/control"]);
    assert!(ok && listing.contains("debugfs work round"), "{listing}");
    let (ok, answer) = curl(&[
        "-X",
        "PUT",
        "--data",
        "func debugfs_work +p",
        "http://x/dynamic_debug/control",
    ]);
    assert!(ok, "{answer}");
    assert_eq!(answer, "1 callsites matched\n");
    // A body over 1 KiB: curl asks for 100-continue.
    let long = format!("{}func debugfs_work -p", "# comment\n".repeat(200));
    let (ok, answer) = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &long,
        "http://x/dynamic_debug/control",
    ]);
    assert!(ok, "{answer}");
    assert_eq!(answer, "1 callsites matched\n");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

/// Answers read one after the other from a kept-alive connection, each
/// by its `Content-Length`: (status, headers, body).
fn read_framed(s: &mut UnixStream, head_only: bool) -> (u16, String, String) {
    use std::io::Read as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; if head_only { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

#[test]
fn keep_alive_pipelining_head_chunked_and_half_closed_clients() {
    use std::io::Read as _;
    let (s, xdg) = serving();
    let sock = s.path();
    // Two requests on one connection, the second sent after the first
    // answer; then two pipelined in one write, the last closing.
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(common::DEADLINE)).unwrap();
    c.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (st, head, body) = read_framed(&mut c, false);
    assert_eq!(st, 200);
    assert!(!head.contains("Connection: close"), "{head}");
    assert!(body.contains("debugfs.requests "), "{body}");
    c.write_all(b"HEAD /stats HTTP/1.1\r\n\r\nPUT /dynamic_debug/control HTTP/1.1\r\nContent-Length: 21\r\n\r\nfunc debugfs_work +p\nGET /markers HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (st, head, _) = read_framed(&mut c, true);
    assert_eq!(st, 200, "{head}");
    assert!(
        !head.contains("Content-Length: 0\r\n"),
        "HEAD says GET's length: {head}"
    );
    let (st, _, body) = read_framed(&mut c, false);
    assert_eq!((st, body.as_str()), (200, "1 callsites matched\n"));
    let (st, head, body) = read_framed(&mut c, false);
    assert_eq!(st, 200);
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(body.contains("debugfs_tick"), "{body}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "after Connection: close: {rest:?}");

    // HTTP/1.0: closed after the answer unless it asks keep-alive.
    let (st, body) = raw(&sock, b"GET /stats HTTP/1.0\r\n\r\n");
    assert_eq!(st, 200, "{body}");
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(common::DEADLINE)).unwrap();
    c.write_all(b"GET /stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let (st, head, _) = read_framed(&mut c, false);
    assert_eq!(st, 200);
    assert!(head.contains("Connection: keep-alive\r\n"), "{head}");
    c.write_all(b"GET /stats HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(common::read_answer(&mut c).0, 200);

    // A chunked body.
    let (st, body) = raw(
        &sock,
        b"PUT /dynamic_debug/control HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfunc \r\nf\r\ndebugfs_work -p\r\n0\r\n\r\n",
    );
    assert_eq!((st, body.as_str()), (200, "1 callsites matched\n"));

    // A client that sends its request and shuts its side (`nc -N`, a
    // pipe) still gets the answer, not a 400. Whether the EOF is read
    // with the request or after it is the scheduler's choice: try often.
    for _ in 0..20 {
        let mut c = UnixStream::connect(&sock).unwrap();
        c.set_read_timeout(Some(common::DEADLINE)).unwrap();
        c.write_all(b"GET /stats HTTP/1.1\r\n\r\n").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let (st, body) = common::read_answer(&mut c);
        assert_eq!(st, 200, "{body}");
    }

    // Paths: a trailing slash, %2F, dot segments, a query string.
    for target in [
        "/dynamic_debug/control/",
        "/dynamic_debug%2Fcontrol",
        "/stats/../dynamic_debug/./control",
        "/dynamic_debug/control?x=1&y=%2F",
    ] {
        let (st, body) = raw(
            &sock,
            format!("GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(st, 200, "{target}: {body}");
        assert!(body.contains("debugfs work round"), "{target}: {body}");
    }
    let (st, body) = raw(&sock, b"GET /st%zzats HTTP/1.1\r\n\r\n");
    assert_eq!(st, 400, "{body}");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn curl_chunked_head_keep_alive_http10_and_paths() {
    let curl_bin = common::tool("curl", "curl");
    let (s, xdg) = serving();
    let sock = s.path();
    let curl = |args: &[&str], stdin: Option<&str>| {
        let mut child = std::process::Command::new(&curl_bin)
            .args(["-sS", "--max-time", "60", "--unix-socket"])
            .arg(&sock)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run curl");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let u = "http://localhost/dynamic_debug/control";
    let (ok, out) = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Transfer-Encoding: chunked",
            "--data",
            "func debugfs_work +p",
            u,
        ],
        None,
    );
    assert!(ok, "{out}");
    assert_eq!(out, "1 callsites matched\n");
    // A query with its trailing newline, from a pipe.
    let (ok, out) = curl(&["--data-binary", "@-", u], Some("func debugfs_work -p\n"));
    assert_eq!((ok, out.as_str()), (true, "1 callsites matched\n"));
    let (ok, out) = curl(&["-T", "-", u], Some("func debugfs_work +p\n"));
    assert_eq!((ok, out.as_str()), (true, "1 callsites matched\n"));
    // HEAD.
    let (ok, out) = curl(&["-I", "http://localhost/stats"], None);
    assert!(ok && out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    // Two URLs: curl reuses the connection.
    let (ok, out) = curl(
        &["-v", "http://localhost/stats", "http://localhost/markers"],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Re-using existing connection") || out.contains("Reusing existing"),
        "{out}"
    );
    let (ok, out) = curl(&["--http1.0", "http://localhost/stats"], None);
    assert!(ok && out.contains("debugfs.requests"), "{out}");
    for target in [
        "/dynamic_debug/control/",
        "/dynamic_debug%2Fcontrol",
        "/x/../dynamic_debug/control",
    ] {
        let (ok, out) = curl(
            &["--path-as-is", &format!("http://localhost{target}")],
            None,
        );
        assert!(ok && out.contains("debugfs work round"), "{target}: {out}");
    }
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn sigterm_and_sigint_remove_the_socket_and_still_end_the_process() {
    use std::os::unix::process::ExitStatusExt as _;
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let (mut s, xdg) = serving();
        let sock = s.path();
        assert!(sock.exists());
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(s.pid().cast_signed(), sig) }, 0);
        let status = s.child.wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "{status:?}");
        assert!(!sock.exists(), "the socket outlived signal {sig}");
        std::fs::remove_dir_all(xdg).unwrap();
    }
}

#[test]
fn another_uid_is_refused_and_the_refusal_logged_once() {
    let (s, xdg) = serving();
    let sock = s.path();
    let sock_str = sock.to_str().unwrap().to_owned();
    // A user made for the test; the client keeps DAC override, so only
    // the SO_PEERCRED check stands between it and the files.
    let uid = common::test_user().to_string();
    for _ in 0..2 {
        let c = spawn(
            "client",
            &[("DEBUGFS_SOCKET", &sock_str), ("DEBUGFS_UID", &uid)],
        );
        assert_eq!(
            c.ready,
            format!("READY 403 forbidden: uid {uid} (pid ")
                + &c.pid().to_string()
                + ") is neither uid 0 nor root"
        );
        let (ok, err) = c.finish();
        assert!(ok, "{err}");
    }
    // Root (our uid) still is served.
    assert_eq!(get(&sock, "stats").0, 200);
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("refused")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "dyndbg-debugfs: refused a connection from uid {uid} (pid "
        )),
        "{}",
        lines[0]
    );
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn unsafe_directories_are_refused_by_name() {
    let xdg = common::temp_dir("unsafe");
    let dir = xdg.join("dyndbg");
    let start = |what: &str| {
        let s = spawn(
            "serve",
            &[
                ("DYNDBG_CONTROL", "on"),
                ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
            ],
        );
        assert_eq!(s.ready, "READY none", "{what}");
        let (ok, stderr) = s.finish();
        assert!(ok, "{stderr}");
        stderr
    };
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = start("mode 0755");
    assert!(
        err.contains(&format!(
            "dyndbg-debugfs: not serving: refusing the socket directory {}: mode 0755, open to group or others (0700 needed)",
            dir.display()
        )),
        "{err}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), None)
        .expect("chown to uid 65534 needs root: the ownership check cannot be tested");
    let err = start("owned by nobody");
    assert!(
        err.contains("owned by uid 65534, not by this process's uid 0"),
        "{err}"
    );
    std::fs::remove_dir(&dir).unwrap();
    let elsewhere = common::temp_dir("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    let err = start("a symlink");
    assert!(
        err.contains(&format!("{}: a symbolic link", dir.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_dir_all(xdg).unwrap();
    std::fs::remove_dir_all(elsewhere).unwrap();
}

#[test]
fn a_forked_child_neither_serves_nor_removes_the_parents_socket() {
    let xdg = common::temp_dir("fork");
    let s = spawn(
        "fork",
        &[
            ("DYNDBG_CONTROL", "on"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    let sock = s.path();
    // The forked child exited (through exit(3), atexit handlers run)
    // before READY; the parent's socket is still there and served.
    assert!(
        s.before.iter().any(|l| l.ends_with("CHILD no server")),
        "{:?}",
        s.before
    );
    assert!(
        sock.exists(),
        "the child's exit removed its parent's socket"
    );
    assert_eq!(get(&sock, "stats").0, 200);
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    assert!(!sock.exists());
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn setuid_programs_ignore_the_variables() {
    // A copy of this binary, setgid nogroup: the kernel sets AT_SECURE.
    let dir = common::temp_dir("setgid");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("server-setgid");
    std::fs::copy(std::env::current_exe().unwrap(), &bin).unwrap();
    std::os::unix::fs::chown(&bin, None, Some(65534))
        .expect("chown to gid 65534 (nogroup) needs root: the AT_SECURE test cannot run");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let xdg = common::temp_dir("setgid-xdg");
    let s = common::try_spawn(
        "serve",
        &[
            ("DYNDBG_CONTROL", "on"),
            ("DYNDBG_METRICS", "127.0.0.1:0"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
        std::process::Command::new(&bin),
    )
    .unwrap();
    assert_eq!(s.ready, "READY none");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    for var in ["DYNDBG_CONTROL", "DYNDBG_METRICS"] {
        let line = format!("dyndbg-debugfs: {var} ignored: setuid/setgid program (AT_SECURE)\n");
        assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
    }
    assert!(!xdg.join("dyndbg").exists());
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn bad_variable_values_are_named_and_nothing_starts() {
    let xdg = common::temp_dir("badvars");
    let s = spawn(
        "serve",
        &[
            ("DYNDBG_CONTROL", "maybe"),
            ("DYNDBG_METRICS", "localhost"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    assert_eq!(s.ready, "READY none");
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("dyndbg-debugfs: DYNDBG_CONTROL=maybe ignored: expected on or off\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "dyndbg-debugfs: DYNDBG_METRICS=localhost ignored: expected an address such as 127.0.0.1:9464\n"
        ),
        "{stderr}"
    );
    assert!(!xdg.join("dyndbg").exists());
    std::fs::remove_dir_all(xdg).unwrap();
}

#[test]
fn start_adds_the_socket_to_a_metrics_only_server() {
    let xdg = common::temp_dir("metrics-then-start");
    let s = spawn(
        "serve",
        &[
            ("DYNDBG_METRICS", "127.0.0.1:0"),
            ("DEBUGFS_CALL_START", "1"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    let mut words = s.ready.split_whitespace().skip(1);
    let sock = std::path::PathBuf::from(words.next().unwrap());
    let metrics: std::net::SocketAddr = words.next().expect("metrics kept").parse().unwrap();
    assert_eq!(get(&sock, "stats").0, 200);
    let mut tcp = std::net::TcpStream::connect(metrics).unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut tcp, &mut out).unwrap();
    assert_eq!(common::parse_answer(&out).0, 200);
    let (ok, stderr) = s.finish();
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(xdg).unwrap();
}
