//! The routing table: each file to the handler of the crate that owns it.
//! Nothing here knows what a file means.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::http::Request;
use crate::metrics;

/// The files of the debugfs, as a client names them (after the `/`).
pub const FILES: &[&str] = &[
    "dynamic_debug/control",
    "markers",
    "page_owner",
    "page_owner_sort",
    "heap.pprof",
    "heap.folded",
    "heap.svg",
    "damon/record",
    "stats",
];

/// Where a connection came from: the control socket serves every file,
/// the metrics port only `/metrics` and `/debug/pprof/heap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listener {
    Control,
    Metrics,
}

/// A response before it is framed: status, content type, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

const TEXT: &str = "text/plain; charset=utf-8";

fn text(status: u16, body: impl Into<String>) -> Answer {
    let mut body = body.into();
    if !body.ends_with('\n') && !body.is_empty() {
        body.push('\n');
    }
    Answer {
        status,
        content_type: TEXT,
        body: body.into_bytes(),
    }
}

/// The status of a handler's error, by its kind.
fn status_of(e: &io::Error) -> u16 {
    match e.kind() {
        io::ErrorKind::ResourceBusy => 409,
        io::ErrorKind::Unsupported => 501,
        io::ErrorKind::InvalidInput | io::ErrorKind::NotFound | io::ErrorKind::InvalidData => 400,
        _ => 500,
    }
}

fn from_result(r: io::Result<String>) -> Answer {
    match r {
        Ok(s) => text(200, s),
        // One line: the handler's message, newlines folded.
        Err(e) => text(status_of(&e), e.to_string().replace('\n', " ")),
    }
}

fn listing() -> String {
    let mut s = String::new();
    for f in FILES {
        s.push_str(f);
        s.push('\n');
    }
    s
}

fn not_found(path: &str) -> Answer {
    text(404, format!("no file `{path}`; files: {}", FILES.join(" ")))
}

fn pprof() -> Answer {
    match crate::pprof::heap() {
        Ok(body) => Answer {
            status: 200,
            content_type: "application/octet-stream",
            body,
        },
        Err(e) => from_result(Err(e)),
    }
}

/// Answers one request; a handler that panics answers 500 and the server
/// goes on.
pub(crate) fn route(listener: Listener, req: &Request<'_>) -> Answer {
    catch_unwind(AssertUnwindSafe(|| route_inner(listener, req)))
        .unwrap_or_else(|_| text(500, format!("the handler of {} panicked", req.path)))
}

fn route_inner(listener: Listener, req: &Request<'_>) -> Answer {
    let path = req.path.as_str();
    // HEAD is answered as GET; the server sends the headers only.
    let read = matches!(req.method, "GET" | "HEAD");
    let write = matches!(req.method, "PUT" | "POST");
    if !read && !write {
        return text(
            405,
            format!(
                "method {} not allowed: GET (or HEAD) reads a file, PUT or POST writes it",
                req.method
            ),
        );
    }
    // Served on both listeners: what fleets scrape.
    match (path, read) {
        ("metrics", true) => {
            // OpenMetrics to a scraper that asks for it (Prometheus does),
            // else Prometheus's text format (curl, promtool).
            let (content_type, body) = if req.openmetrics {
                (metrics::CONTENT_TYPE, metrics::encode_now())
            } else {
                (metrics::TEXT_CONTENT_TYPE, metrics::encode_text_now())
            };
            return Answer {
                status: 200,
                content_type,
                body: body.into_bytes(),
            };
        }
        ("debug/pprof/heap", true) => return pprof(),
        ("metrics" | "debug/pprof/heap", false) => {
            return text(405, format!("{path} is read-only: use GET"));
        }
        _ => {}
    }
    if listener == Listener::Metrics {
        return text(
            404,
            format!("no `{path}` here: this port serves /metrics and /debug/pprof/heap"),
        );
    }
    let body = if write {
        match std::str::from_utf8(&req.body) {
            Ok(b) => b,
            Err(e) => return text(400, format!("the body of a write must be UTF-8 text: {e}")),
        }
    } else {
        ""
    };
    let read_only = |name: &str| text(405, format!("{name} is read-only: use GET"));
    match path {
        "" => text(200, listing()),
        "dynamic_debug/control" if read => text(200, dyndbg::debugfs::read_control()),
        "dynamic_debug/control" => from_result(dyndbg::debugfs::write_control(body)),
        "markers" if read => text(200, markers::debugfs::read()),
        "markers" => from_result(markers::debugfs::write(body)),
        "page_owner" if read => text(200, allocowner::debugfs::page_owner()),
        "page_owner_sort" if read => text(200, allocowner::debugfs::page_owner_sort()),
        "heap.folded" if read => text(200, allocowner::debugfs::heap_folded()),
        "heap.svg" if read => Answer {
            status: 200,
            content_type: "image/svg+xml",
            body: allocowner::debugfs::heap_svg().into_bytes(),
        },
        "heap.pprof" if read => pprof(),
        "damon/record" if read => from_result(allocowner::debugfs::read_record()),
        "damon/record" => from_result(allocowner::debugfs::write_record(body)),
        "stats" if read => text(200, crate::stats()),
        "page_owner" | "page_owner_sort" | "heap.folded" | "heap.svg" | "heap.pprof" | "stats" => {
            read_only(path)
        }
        _ => not_found(path),
    }
}
