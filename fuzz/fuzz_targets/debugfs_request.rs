//! Fuzzes the debugfs server's request parser (`dyndbg_debugfs`'s HTTP/1.1
//! head and body framing, the part that reads bytes from clients) with
//! arbitrary bytes, as a client could send them.
//!
//! Checked on every input: no panic; a whole request's body (chunked
//! ones put together) fits the 64 KiB limit and the bytes it took; a refusal is a 4xx/5xx status with one non-empty line;
//! an input at or over the limit is never "partial" (the server would
//! otherwise wait for more); every prefix of the input parses without
//! panicking, and a prefix of a whole request is never refused as too
//! large.

#![no_main]

use dyndbg_debugfs::__fuzz::parse_request;
use dyndbg_debugfs::MAX_REQUEST;
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) -> Result<Option<(usize, usize)>, (u16, String)> {
    let r = parse_request(data);
    match &r {
        // The body (chunks put together) fits the limit and the bytes
        // the request took; the next pipelined request starts within.
        Ok(Some((body, consumed))) => {
            assert!(*body <= MAX_REQUEST && *body <= *consumed);
            assert!(*consumed <= data.len() && *consumed <= MAX_REQUEST);
        }
        Ok(None) => assert!(data.len() < MAX_REQUEST, "partial at {} bytes", data.len()),
        Err((status, message)) => {
            assert!((400..600).contains(status), "{status} {message}");
            assert!(
                !message.is_empty() && !message.contains('\n'),
                "{message:?}"
            );
        }
    }
    r
}

fuzz_target!(|data: &[u8]| {
    let whole = check(data);
    // The server parses each time more bytes arrive: every prefix too
    // (a few, to keep the run fast).
    for cut in [data.len() / 3, data.len() / 2, data.len().saturating_sub(1)] {
        let prefix = check(&data[..cut]);
        if matches!(whole, Ok(Some(_))) {
            assert!(
                !matches!(prefix, Err((413, _))),
                "a prefix of a whole request was too large"
            );
        }
    }
});
