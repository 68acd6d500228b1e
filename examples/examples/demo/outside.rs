//! The debugfs part of the demo: the process's own debugfs (dyndbg-debugfs)
//! serves its Unix socket, and the demo talks to it as an operator's
//! `curl --unix-socket` or `dyndbgctl` would, from outside.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// One HTTP/1.1 request over the socket, as `curl --unix-socket` sends it:
/// the status line and the body of the answer.
pub(crate) fn request(
    socket: &Path,
    method: &str,
    file: &str,
    body: &str,
) -> std::io::Result<(String, String)> {
    let mut stream = UnixStream::connect(socket)?;
    write!(
        stream,
        "{method} /{file} HTTP/1.1\r\nHost: demo\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// Starts the server (what `DYNDBG_CONTROL=on` does before `main`; the
/// one already running, if it did) and returns its socket.
pub(crate) fn start() -> Result<std::path::PathBuf, dyndbg_debugfs::Error> {
    let server = dyndbg_debugfs::start()?;
    Ok(server
        .socket_path()
        .expect("the control socket is on")
        .to_owned())
}
