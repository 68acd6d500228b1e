//! HTTP/1.1 requests and responses: the request head parsed by
//! `httparse`, the body by `Content-Length`, every limit checked here.

/// The largest request, head and body together: 64 KiB.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Most header lines in a request.
const MAX_HEADERS: usize = 32;

/// A complete request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub(crate) method: &'a str,
    /// The path without its query string, `/dynamic_debug/control`.
    pub(crate) path: &'a str,
    /// The body (`Content-Length` bytes).
    pub(crate) body: &'a [u8],
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
    let method = req.method.unwrap_or_default();
    let target = req.path.unwrap_or_default();
    let Some(path) = target.strip_prefix('/').map(|_| target) else {
        return Err(err(
            400,
            format!("request target `{target}` does not start with /"),
        ));
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let mut length: Option<usize> = None;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let Some(n) = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
            else {
                return Err(err(
                    400,
                    format!(
                        "Content-Length `{}` is not a number",
                        String::from_utf8_lossy(h.value)
                    ),
                ));
            };
            if length.is_some_and(|l| l != n) {
                return Err(err(400, "two different Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(err(
                501,
                "Transfer-Encoding is not supported: send the body with Content-Length",
            ));
        } else if h.name.eq_ignore_ascii_case("expect") {
            if h.value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(err(417, "only `Expect: 100-continue` is understood"));
            }
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_REQUEST || head_len + length > MAX_REQUEST {
        return Err(too_large());
    }
    if buf.len() < head_len + length {
        return Ok(Parse::Partial { expect_continue });
    }
    Ok(Parse::Complete(Request {
        method,
        path,
        body: &buf[head_len..head_len + length],
    }))
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

/// A whole response: status line, `Content-Type`, `Content-Length`,
/// `Connection: close` (one request per connection), then the body.
pub(crate) fn response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A plain-text error response: `message` and a newline.
pub(crate) fn error_response(status: u16, message: &str) -> Vec<u8> {
    response(
        status,
        "text/plain; charset=utf-8",
        format!("{message}\n").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::{MAX_REQUEST, Parse, Request, parse};

    #[test]
    fn a_get_and_a_put_parse() {
        let r = parse(b"GET /stats?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            r,
            Parse::Complete(Request {
                method: "GET",
                path: "/stats",
                body: b""
            })
        );
        let r = parse(b"PUT /markers HTTP/1.1\r\nContent-Length: 9\r\n\r\nx counter").unwrap();
        let Parse::Complete(r) = r else { panic!() };
        assert_eq!((r.method, r.body), ("PUT", &b"x counter"[..]));
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
        assert_eq!(
            e(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status,
            501
        );
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
