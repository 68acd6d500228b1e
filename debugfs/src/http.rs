//! HTTP/1.1 requests and responses: the request head parsed by
//! `httparse`, the body by `Content-Length` or in chunks
//! (`Transfer-Encoding: chunked`), every limit checked here.

use std::borrow::Cow;

/// The largest request, head and body together: 64 KiB.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Most header lines in a request.
const MAX_HEADERS: usize = 32;

/// A complete request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub(crate) method: &'a str,
    /// The path, percent-decoded and normalised, without its query string
    /// and without a leading or trailing `/`: `dynamic_debug/control`
    /// (`""` for `/`).
    pub(crate) path: String,
    /// The body (`Content-Length` bytes, or the chunks put together).
    pub(crate) body: Cow<'a, [u8]>,
    /// Whether the connection stays open for another request: HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection:
    /// keep-alive`.
    pub(crate) keep_alive: bool,
    /// The request's minor version: 1 (HTTP/1.1) or 0 (HTTP/1.0).
    pub(crate) version: u8,
    /// The client accepts OpenMetrics (`Accept: application/openmetrics-text`),
    /// as Prometheus asks.
    pub(crate) openmetrics: bool,
    /// How many bytes of the buffer this request took (the next one,
    /// pipelined, starts there).
    pub(crate) consumed: usize,
}

/// What the bytes received so far make.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parse<'a> {
    /// More bytes are needed; `expect_continue` once the head is complete
    /// and asked for `100 Continue` (curl does for bodies over 1 KiB).
    Partial {
        /// The head is complete and has `Expect: 100-continue`.
        expect_continue: bool,
    },
    /// A whole request.
    Complete(Request<'a>),
}

/// A request refused: the status and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    /// 400, 413, 431, 501...
    pub(crate) status: u16,
    /// What was wrong, one line.
    pub(crate) message: String,
}

fn err(status: u16, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        message: message.into(),
    }
}

fn too_large() -> HttpError {
    err(
        413,
        format!("request larger than {MAX_REQUEST} bytes (head and body)"),
    )
}

/// The request target's path as a file name: the query string dropped,
/// `%XX` decoded, empty and `.` segments dropped and `..` taking the one
/// before it away (never above `/`), as a URL is resolved. So
/// `/dynamic_debug%2Fcontrol`, `/dynamic_debug/control/` and
/// `/x/../dynamic_debug/control` all name `dynamic_debug/control`.
fn file_path(target: &str) -> Result<String, HttpError> {
    let Some(raw) = target.strip_prefix('/') else {
        return Err(err(
            400,
            format!("request target `{target}` does not start with /"),
        ));
    };
    let raw = raw.split_once('?').map_or(raw, |(p, _)| p);
    let raw = raw.split_once('#').map_or(raw, |(p, _)| p);
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return Err(err(
                    400,
                    format!(
                        "request target `{target}` has a bad %-escape at byte {}",
                        i + 1
                    ),
                ));
            };
            decoded.push(b);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Err(err(
            400,
            format!("request target `{target}` is not UTF-8 once decoded"),
        ));
    };
    if decoded.contains('\0') {
        return Err(err(400, format!("request target `{target}` holds a NUL")));
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    Ok(segments.join("/"))
}

/// The body in chunks (`Transfer-Encoding: chunked`) from `buf`'s start:
/// `Ok(None)` while incomplete, else the body and the bytes it took
/// (trailers included).
fn chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (start, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete(x)) => x,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(err(400, "malformed chunk size in a chunked body")),
        };
        at += start;
        if size == 0 {
            break;
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|&n| n <= MAX_REQUEST)
            .ok_or_else(too_large)?;
        if body.len() + size > MAX_REQUEST {
            return Err(too_large());
        }
        let Some(data) = buf.get(at..at + size) else {
            return Ok(None);
        };
        body.extend_from_slice(data);
        at += size;
        match buf.get(at..at + 2) {
            None if buf.len() < at + 2 && b"\r\n".starts_with(&buf[at..]) => return Ok(None),
            Some(b"\r\n") => at += 2,
            _ => return Err(err(400, "a chunk of a chunked body does not end with CRLF")),
        }
    }
    // Trailer lines, each ending in CRLF, then an empty line.
    loop {
        let rest = &buf[at..];
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        at += end + 2;
        if end == 0 {
            return Ok(Some((body, at)));
        }
    }
}

/// What a request's headers say about its body and connection.
struct Head {
    /// `Content-Length`, or `None` for a chunked body.
    length: Option<usize>,
    expect_continue: bool,
    keep_alive: bool,
    openmetrics: bool,
}

/// Reads the headers that frame the body and the connection; refuses
/// what cannot be framed safely.
fn head(headers: &[httparse::Header<'_>], version: u8) -> Result<Head, HttpError> {
    let mut length: Option<usize> = None;
    let mut is_chunked = false;
    let mut expect_continue = false;
    let mut keep_alive = version >= 1;
    let mut openmetrics = false;
    for h in headers {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let Some(n) = value
                .parse::<usize>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
            else {
                return Err(err(
                    400,
                    format!("Content-Length `{value}` is not a number"),
                ));
            };
            if length.is_some_and(|l| l != n) {
                return Err(err(400, "two different Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if value.eq_ignore_ascii_case("chunked") && !is_chunked {
                is_chunked = true;
            } else {
                return Err(err(
                    501,
                    format!(
                        "Transfer-Encoding `{value}` is not supported: send the body with Content-Length or chunked"
                    ),
                ));
            }
        } else if h.name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case("100-continue") {
                expect_continue = true;
            } else {
                return Err(err(417, "only `Expect: 100-continue` is understood"));
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("accept") {
            openmetrics |= value.contains("application/openmetrics-text");
        }
    }
    if is_chunked && length.is_some() {
        return Err(err(
            400,
            "both Content-Length and Transfer-Encoding: chunked",
        ));
    }
    if is_chunked && version == 0 {
        return Err(err(
            400,
            "Transfer-Encoding: chunked in an HTTP/1.0 request",
        ));
    }
    Ok(Head {
        length: if is_chunked {
            None
        } else {
            Some(length.unwrap_or(0))
        },
        expect_continue,
        keep_alive,
        openmetrics,
    })
}

/// Parses the bytes received so far. Never panics, whatever the bytes.
pub(crate) fn parse(buf: &[u8]) -> Result<Parse<'_>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= MAX_REQUEST {
                return Err(too_large());
            }
            return Ok(Parse::Partial {
                expect_continue: false,
            });
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(err(431, format!("more than {MAX_HEADERS} header lines")));
        }
        Err(e) => return Err(err(400, format!("malformed request: {e}"))),
    };
    if head_len > MAX_REQUEST {
        return Err(too_large());
    }
    let method = req.method.unwrap_or_default();
    let version = req.version.unwrap_or(1);
    let path = file_path(req.path.unwrap_or_default())?;
    let Head {
        length,
        expect_continue,
        keep_alive,
        openmetrics,
    } = head(req.headers, version)?;
    let complete = |body, consumed| {
        Ok(Parse::Complete(Request {
            method,
            path,
            body,
            keep_alive,
            version,
            openmetrics,
            consumed,
        }))
    };
    let Some(length) = length else {
        return match chunked(&buf[head_len..])? {
            Some((body, n)) => {
                if head_len + n > MAX_REQUEST {
                    return Err(too_large());
                }
                complete(Cow::Owned(body), head_len + n)
            }
            None if buf.len() >= MAX_REQUEST => Err(too_large()),
            None => Ok(Parse::Partial { expect_continue }),
        };
    };
    if length > MAX_REQUEST || head_len + length > MAX_REQUEST {
        return Err(too_large());
    }
    if buf.len() < head_len + length {
        return Ok(Parse::Partial { expect_continue });
    }
    complete(
        Cow::Borrowed(&buf[head_len..head_len + length]),
        head_len + length,
    )
}

/// The reason phrase of a status we send.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// How a response ends its connection and whether it carries its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Framing {
    /// Keep the connection for another request (else `Connection: close`).
    pub(crate) keep_alive: bool,
    /// Answer to HTTP/1.0 (`Connection: keep-alive` must then be said).
    pub(crate) http10: bool,
    /// A `HEAD` request: the headers of the `GET` answer, no body.
    pub(crate) head: bool,
}

impl Framing {
    /// One response, then the connection is closed.
    pub(crate) const CLOSE: Framing = Framing {
        keep_alive: false,
        http10: false,
        head: false,
    };
}

/// A whole response: status line, `Content-Type`, `Content-Length`,
/// `Connection` (`close`, or `keep-alive` to an HTTP/1.0 client that
/// asked for it), then the body (none for `HEAD`).
pub(crate) fn response(status: u16, content_type: &str, body: &[u8], framing: Framing) -> Vec<u8> {
    let connection = match (framing.keep_alive, framing.http10) {
        (false, _) => "Connection: close\r\n",
        (true, true) => "Connection: keep-alive\r\n",
        (true, false) => "",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{connection}\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    if !framing.head {
        out.extend_from_slice(body);
    }
    out
}

/// A plain-text error response: `message` and a newline.
/// The connection is closed after it.
pub(crate) fn error_response(status: u16, message: &str) -> Vec<u8> {
    response(
        status,
        "text/plain; charset=utf-8",
        format!("{message}\n").as_bytes(),
        Framing::CLOSE,
    )
}

#[cfg(test)]
mod tests {
    use super::{MAX_REQUEST, Parse, Request, parse};

    fn whole(b: &[u8]) -> Request<'_> {
        match parse(b) {
            Ok(Parse::Complete(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_get_and_a_put_parse() {
        let r = whole(b"GET /stats?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (r.method, r.path.as_str(), &*r.body),
            ("GET", "stats", &b""[..])
        );
        assert!(r.keep_alive && r.version == 1 && !r.openmetrics);
        let r = whole(b"PUT /markers HTTP/1.1\r\nContent-Length: 9\r\n\r\nx counter");
        assert_eq!((r.method, &*r.body), ("PUT", &b"x counter"[..]));
    }

    #[test]
    fn chunked_bodies_are_put_together() {
        let req = b"PUT /dynamic_debug/control HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfunc\r\n5;ext=1\r\n x +p\r\n0\r\n\r\nGET /";
        let r = whole(req);
        assert_eq!(&*r.body, b"func x +p");
        assert_eq!(r.consumed, req.len() - b"GET /".len());
        // Trailers are read and dropped.
        let r = whole(
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX: y\r\n\r\n",
        );
        assert_eq!(&*r.body, b"a");
        // Every cut of a chunked request is partial, never an error.
        for cut in 0..req.len() - b"GET /".len() {
            assert!(
                matches!(parse(&req[..cut]), Ok(Parse::Partial { .. })),
                "cut at {cut}"
            );
        }
        let e = |b: &[u8]| parse(b).unwrap_err();
        assert_eq!(
            e(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").status,
            400
        );
        assert_eq!(
            e(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc").status,
            400
        );
        assert_eq!(
            e(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n").status,
            400
        );
        assert_eq!(
            e(b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status,
            501
        );
        let big = format!(
            "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            MAX_REQUEST + 1
        );
        assert_eq!(e(big.as_bytes()).status, 413);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(whole(b"GET / HTTP/1.1\r\n\r\n").keep_alive);
        assert!(!whole(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        let r = whole(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.keep_alive && r.version == 0);
        assert!(whole(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(whole(b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n").openmetrics);
    }

    #[test]
    fn paths_are_decoded_and_resolved() {
        let path = |t: &str| whole(format!("GET {t} HTTP/1.1\r\n\r\n").as_bytes()).path;
        assert_eq!(path("/dynamic_debug/control/"), "dynamic_debug/control");
        assert_eq!(path("/dynamic_debug%2Fcontrol"), "dynamic_debug/control");
        assert_eq!(
            path("/dynamic_debug%2fcontrol?x=%zz"),
            "dynamic_debug/control"
        );
        assert_eq!(path("//x/./../stats"), "stats");
        assert_eq!(path("/../../stats"), "stats");
        assert_eq!(path("/"), "");
        assert_eq!(path("/heap%2Epprof"), "heap.pprof");
        let e = |t: &str| parse(format!("GET {t} HTTP/1.1\r\n\r\n").as_bytes()).unwrap_err();
        assert_eq!(e("/st%zzats").status, 400);
        assert_eq!(e("/st%").status, 400);
        assert_eq!(e("/%ff").status, 400);
        assert_eq!(e("/a%00").status, 400);
    }

    #[test]
    fn partial_requests_wait_and_expect_is_seen() {
        assert_eq!(
            parse(b"GET /st").unwrap(),
            Parse::Partial {
                expect_continue: false
            }
        );
        let r = parse(b"PUT /m HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nab");
        assert_eq!(
            r.unwrap(),
            Parse::Partial {
                expect_continue: true
            }
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let e = |b: &[u8]| parse(b).unwrap_err();
        assert_eq!(e(b"\x01\x02 / HTTP/1.1\r\n\r\n").status, 400);
        assert_eq!(e(b"GET x HTTP/1.1\r\n\r\n").status, 400);
        let cl = e(b"PUT / HTTP/1.1\r\nContent-Length: ten\r\n\r\n");
        assert_eq!(cl.message, "Content-Length `ten` is not a number");
        let big = format!("PUT / HTTP/1.1\r\nContent-Length: {MAX_REQUEST}\r\n\r\n");
        assert_eq!(e(big.as_bytes()).status, 413);
        let many = "H: v\r\n".repeat(40);
        assert_eq!(
            e(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).status,
            431
        );
        // A head that never ends is cut at the limit, whatever it holds.
        let long_method = vec![b'a'; MAX_REQUEST];
        assert_eq!(e(&long_method).status, 413);
        let mut slow_head = b"GET /".to_vec();
        slow_head.resize(MAX_REQUEST, b'a');
        assert_eq!(e(&slow_head).status, 413);
    }
}
