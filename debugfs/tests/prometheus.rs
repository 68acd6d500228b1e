//! `/metrics` scraped by the real Prometheus (Debian's `prometheus`
//! package, installed when missing): the series arrive with their values.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

/// The child's side: runs only in a re-executed child.
#[test]
fn child_main() {
    common::child_main();
}

/// A plain HTTP GET over TCP: (status, body).
fn http_get(addr: SocketAddr, target: &str) -> (u16, String) {
    http_get_with(addr, target, "")
}

/// A GET with `headers` (each line ending in CRLF): (status, body).
fn http_get_with(addr: SocketAddr, target: &str, headers: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(common::DEADLINE)).unwrap();
    let _ = s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    common::parse_answer(&out)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first sample's value in a Prometheus instant-query answer.
fn first_value(json: &str) -> Option<f64> {
    let at = json.find("\"value\":[")?;
    let rest = &json[at..];
    let v = rest.split('"').nth(3)?;
    v.parse().ok()
}

/// Kills Prometheus when the test ends, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/metrics` is OpenMetrics to a scraper that asks for it.
fn openmetrics_when_asked(metrics: SocketAddr) {
    // OpenMetrics to a scraper that asks for it, as Prometheus does.
    let (st, om) = http_get_with(
        metrics,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n",
    );
    assert_eq!(st, 200, "{om}");
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE markers_probe_hits counter\n"),
        "{om}"
    );
}

/// `promtool check metrics` (Debian's `prometheus` package) finds no
/// problem in `text`.
fn promtool_accepts(text: &str) {
    let promtool = common::tool("promtool", "prometheus");
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_scrapes_the_metrics() {
    let bin = common::tool("prometheus", "prometheus");
    let dir = common::temp_dir("prom");
    let s = common::spawn(
        "serve",
        &[
            ("DEBUGFS_API_DIR", dir.to_str().unwrap()),
            ("DEBUGFS_METRICS", "1"),
        ],
    );
    let mut words = s.ready.split_whitespace().skip(1);
    let sock = PathBuf::from(words.next().unwrap());
    let metrics: SocketAddr = words.next().unwrap().parse().unwrap();

    // The text itself, and the TCP port serves nothing else.
    assert_eq!(common::put(&sock, "markers", "debugfs_tick counter").0, 200);
    let (st, text) = http_get(metrics, "/metrics");
    assert_eq!(st, 200, "{text}");
    for series in [
        "dyndbg_callsites 1\n",
        "dyndbg_callsites_enabled 0\n",
        "allocowner_enabled 1\n",
        "markers_probe_hits_total{marker=\"debugfs_tick\"} ",
        "allocowner_heap_live_bytes ",
        "allocowner_owner_live_bytes{owner=\"",
        "# TYPE markers_probe_hits_total counter\n",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
    // Without `Accept: application/openmetrics-text`, Prometheus's text
    // format, which promtool's linter accepts as it is.
    assert!(!text.contains("# EOF"), "{text}");
    promtool_accepts(&text);
    openmetrics_when_asked(metrics);
    assert!(
        text.lines().any(
            |l| l.starts_with("allocowner_owner_live_bytes{owner=\"") && l.contains("debugfs_")
        ),
        "{text}"
    );
    // Hot and cold bytes appear once a recording was stopped.
    assert!(!text.contains("allocowner_recording_hot_bytes"), "{text}");
    let rec = dir.join("rec.json.z");
    let (st, e) = common::put(&sock, "damon/record", &format!("4096 {}", rec.display()));
    assert_eq!(st, 200, "{e}");
    let (st, e) = common::put(&sock, "damon/record", "off");
    assert_eq!(st, 200, "{e}");
    let (_, text) = http_get(metrics, "/metrics");
    for series in [
        "allocowner_recording_hot_bytes ",
        "allocowner_recording_cold_bytes ",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
    // The server's own work (its buffers, the registry it encodes) is
    // allocowner's own, never among the program's owners.
    for l in text.lines().filter(|l| l.starts_with("allocowner_owner_")) {
        assert!(
            !l.contains("dyndbg_debugfs") && !l.contains("prometheus_client"),
            "{l}"
        );
    }
    let (st, e) = http_get(metrics, "/dynamic_debug/control");
    assert_eq!(st, 404, "{e}");
    let (st, _) = http_get(metrics, "/debug/pprof/heap");
    assert_eq!(st, 200);

    // The real Prometheus, scraping every second.
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: debugfs\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let prom = Killed(
        Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = |q: &str| {
        let (st, body) = http_get(api, &format!("/api/v1/query?query={q}"));
        (st == 200).then_some(body).and_then(|b| first_value(&b))
    };
    let bytes = common::eventually("allocowner_heap_live_bytes in Prometheus", || {
        query("allocowner_heap_live_bytes")
    });
    assert!(bytes > 64.0 * 4096.0, "{bytes}");
    assert_eq!(query("dyndbg_callsites"), Some(1.0));
    let hits = common::eventually("markers_probe_hits_total in Prometheus", || {
        query("markers_probe_hits_total%7Bmarker%3D%22debugfs_tick%22%7D")
    });
    assert!(hits >= 1.0, "{hits}");
    drop(prom);
    let (ok, err) = s.finish();
    assert!(ok, "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
