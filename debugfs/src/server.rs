//! The server thread: one `poll(2)` loop over the wake-up socket, the
//! listeners and every open connection, all non-blocking. A connection
//! carries one request after another (HTTP/1.1 keep-alive, pipelined
//! ones too) until the client asks `Connection: close`, sends HTTP/1.0
//! without `keep-alive`, shuts its side or idles past the read timeout;
//! each request must arrive, and its response be read with progress,
//! within the read timeout, and a request is at most [`MAX_REQUEST`].

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::files::{self, Listener};
use crate::http::{self, Framing, MAX_REQUEST, Parse};

/// What the loop serves.
pub(crate) struct Config {
    pub(crate) unix: Option<UnixListener>,
    pub(crate) tcp: Option<TcpListener>,
    /// Readable (a byte or EOF) when the server must stop.
    pub(crate) wake: UnixStream,
    pub(crate) read_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// The server's own figures, for `stats`.
pub(crate) static REQUESTS: AtomicU64 = AtomicU64::new(0);
pub(crate) static REFUSED_PEERS: AtomicU64 = AtomicU64::new(0);
pub(crate) static REFUSED_BUSY: AtomicU64 = AtomicU64::new(0);
pub(crate) static TIMED_OUT: AtomicU64 = AtomicU64::new(0);
pub(crate) static BAD_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Whether a refused peer was logged (once per process).
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
    /// `send(2)` with `MSG_NOSIGNAL`: a client gone away is an `EPIPE`
    /// error, never a `SIGPIPE` (which would kill a program that did not
    /// ignore it, such as one whose `main` is not Rust's).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes; the descriptor is
        // this stream's own, open while `self` lives.
        let n = unsafe {
            libc::send(
                self.fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn shutdown_write(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

enum Phase {
    /// Accepted beyond the bound of connections: not read until a slot
    /// frees (oldest first); answered 503 if none frees within
    /// [`grace`].
    Waiting,
    /// Receiving a request.
    Reading { continued: bool },
    /// Sending the response from `at`; then closing (`close`) or reading
    /// the next request on the same connection (keep-alive).
    Writing {
        out: Vec<u8>,
        at: usize,
        close: bool,
    },
    /// Response sent and the write side shut: reading what the client
    /// still sends (up to a bound) so the close does not reset the
    /// connection before the client has read the response.
    Draining { left: usize },
}

struct Conn {
    stream: Stream,
    listener: Listener,
    /// Bytes received and not yet taken by a request (a pipelined next
    /// request may follow the current one).
    buf: Vec<u8>,
    phase: Phase,
    deadline: Instant,
    /// Requests answered on this connection: an idle keep-alive
    /// connection that times out is closed without a 408.
    served: u64,
    /// The client shut its write side (EOF read).
    eof: bool,
    /// A refused connection (403, 503) kept until its answer is read: not
    /// counted against the bound of connections served.
    refusal: bool,
}

/// Bytes read and dropped after an early answer (a 413), at most.
const DRAIN: usize = 256 * 1024;

/// Writes `bytes` to a fresh non-blocking socket once, best effort: for
/// the refusals, which never wait on the client.
fn send_and_drop(mut stream: Stream, bytes: &[u8]) {
    let _ = stream.write(bytes);
    stream.shutdown_write();
}

/// The peer's uid and pid (`SO_PEERCRED`).
fn peer(stream: &UnixStream) -> io::Result<(u32, i32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a writable ucred and `len` its size, as
    // SO_PEERCRED expects; the descriptor is a connected Unix socket.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    if r == 0 {
        Ok((cred.uid, cred.pid))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `uid` may connect: the process's effective uid, or root.
fn allowed(uid: u32) -> bool {
    // SAFETY: geteuid cannot fail.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

impl Conn {
    /// Reads what is there, then answers every whole request received.
    /// False when the connection is done.
    fn on_readable(&mut self, timeout: Duration) -> bool {
        if let Phase::Draining { left } = &mut self.phase {
            let mut scratch = [0u8; 8192];
            loop {
                match self.stream.read(&mut scratch) {
                    Ok(0) => return false,
                    Ok(n) if n >= *left => return false,
                    Ok(n) => *left -= n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        }
        let mut chunk = [0u8; 8192];
        loop {
            let room = (MAX_REQUEST + 1).saturating_sub(self.buf.len());
            if room == 0 {
                break;
            }
            match self.stream.read(&mut chunk[..room.min(8192)]) {
                Ok(0) => {
                    // The client shut its side: what it sent may still
                    // be a whole request (`nc -N`, a shell pipe).
                    self.eof = true;
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        self.advance(timeout)
    }

    /// Writes what the socket takes; false when the connection is done.
    fn on_writable(&mut self, timeout: Duration) -> bool {
        self.advance(timeout)
    }

    /// Moves the connection on as far as it goes without waiting: parses
    /// and answers each whole request in the buffer (one after the other
    /// on a keep-alive connection), writes what the socket takes.
    fn advance(&mut self, timeout: Duration) -> bool {
        loop {
            match &mut self.phase {
                Phase::Waiting => return true,
                Phase::Draining { .. } => return !self.eof,
                Phase::Reading { continued } => {
                    let continued = *continued;
                    let (out, close, consumed) = match http::parse(&self.buf) {
                        Ok(Parse::Partial { expect_continue }) => {
                            if self.eof {
                                return self.answer_partial_eof();
                            }
                            if expect_continue && !continued {
                                let _ = self.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n");
                                self.phase = Phase::Reading { continued: true };
                            }
                            return true;
                        }
                        Ok(Parse::Complete(req)) => {
                            REQUESTS.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
                            let a = files::route(self.listener, &req);
                            let framing = Framing {
                                keep_alive: req.keep_alive && !self.eof,
                                http10: req.version == 0,
                                head: req.method == "HEAD",
                            };
                            let out = http::response(a.status, a.content_type, &a.body, framing);
                            (out, !framing.keep_alive, req.consumed)
                        }
                        Err(e) => {
                            BAD_REQUESTS.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
                            (http::error_response(e.status, &e.message), true, 0)
                        }
                    };
                    if close {
                        self.buf = Vec::new();
                    } else {
                        self.buf.drain(..consumed);
                    }
                    self.phase = Phase::Writing { out, at: 0, close };
                    self.deadline = Instant::now() + timeout;
                }
                Phase::Writing { out, at, close } => {
                    while *at < out.len() {
                        match self.stream.write(&out[*at..]) {
                            Ok(0) => return false,
                            Ok(n) => {
                                *at += n;
                                // Progress: the client reads, so give it more time.
                                self.deadline = Instant::now() + timeout;
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return false,
                        }
                    }
                    self.served += 1;
                    if *close {
                        self.stream.shutdown_write();
                        self.phase = Phase::Draining { left: DRAIN };
                        return !self.eof;
                    }
                    // Keep-alive: the next request has the read timeout.
                    self.phase = Phase::Reading { continued: false };
                    self.deadline = Instant::now() + timeout;
                    if self.buf.is_empty() {
                        return !self.eof;
                    }
                }
            }
        }
    }

    fn answer_partial_eof(&mut self) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        BAD_REQUESTS.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
        let out = http::error_response(
            400,
            "the request ended before its head or body was complete",
        );
        let _ = self.stream.write(&out);
        false
    }

    fn events(&self) -> libc::c_short {
        match self.phase {
            // Only a hang-up (always reported) while it waits.
            Phase::Waiting => 0,
            Phase::Reading { .. } | Phase::Draining { .. } => libc::POLLIN,
            Phase::Writing { .. } => libc::POLLOUT,
        }
    }
}

/// Runs until `wake` is readable.
pub(crate) fn run(cfg: &Config) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        let now = Instant::now();
        conns.retain_mut(|c| {
            if c.deadline > now {
                return true;
            }
            if matches!(c.phase, Phase::Waiting) {
                // No slot freed within the grace: 503.
                c.phase = Phase::Writing {
                    out: busy(cfg),
                    at: 0,
                    close: true,
                };
                c.refusal = true;
                c.deadline = now + cfg.read_timeout;
                return c.advance(cfg.read_timeout);
            }
            // An idle keep-alive connection closes quietly (the empty
            // lines some clients send after a body are no request); a
            // request still awaited gets a 408.
            let idle = c.served > 0 && c.buf.iter().all(|b| matches!(b, b'\r' | b'\n'));
            if matches!(c.phase, Phase::Reading { .. }) && !idle {
                TIMED_OUT.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
                let _ = c.stream.write(&http::error_response(
                    408,
                    "request not received within the read timeout",
                ));
            }
            false
        });
        promote(&mut conns, cfg, now);
        fds.clear();
        let mut add = |fd: RawFd, events| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
        };
        add(cfg.wake.as_raw_fd(), libc::POLLIN);
        // A listener not present polls fd -1, which poll ignores.
        add(
            cfg.unix.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            libc::POLLIN,
        );
        add(
            cfg.tcp.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            libc::POLLIN,
        );
        for c in &conns {
            add(c.stream.fd(), c.events());
        }
        let timeout_ms = conns
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .min()
            .map_or(-1, |d| {
                libc::c_int::try_from(d.as_millis() + 1).unwrap_or(libc::c_int::MAX)
            });
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if r < 0 {
            // EINTR: go round; anything else (ENOMEM) too, after a pause.
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        if fds[0].revents != 0 {
            return;
        }
        let mut keep = Vec::with_capacity(conns.len());
        for (c, p) in conns.drain(..).zip(&fds[3..]) {
            let mut c = c;
            let alive = if p.revents == 0 {
                true
            } else if matches!(c.phase, Phase::Waiting) {
                false // hung up while waiting
            } else if p.revents & libc::POLLOUT != 0 {
                c.on_writable(cfg.read_timeout)
            } else if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                c.on_readable(cfg.read_timeout)
            } else {
                false
            };
            if alive {
                keep.push(c);
            }
        }
        conns = keep;
        if fds[1].revents != 0
            && let Some(l) = &cfg.unix
        {
            accept_unix(l, cfg, &mut conns);
        }
        if fds[2].revents != 0
            && let Some(l) = &cfg.tcp
        {
            accept_tcp(l, cfg, &mut conns);
        }
    }
}

/// Keeps a refused connection (403, 503) open until the client has read
/// the answer and closed (or the read timeout), so it sees the answer
/// rather than a connection closed under it; past `max_connections`
/// refusals pending at once, the answer is sent and the connection closed.
fn refuse_with(
    stream: Stream,
    listener: Listener,
    out: Vec<u8>,
    cfg: &Config,
    conns: &mut Vec<Conn>,
) {
    let refusing = conns.iter().filter(|c| c.refusal).count();
    if refusing >= cfg.max_connections {
        send_and_drop(stream, &out);
        return;
    }
    let mut c = Conn {
        stream,
        listener,
        buf: Vec::new(),
        phase: Phase::Writing {
            out,
            at: 0,
            close: true,
        },
        deadline: Instant::now() + cfg.read_timeout,
        served: 0,
        eof: false,
        refusal: true,
    };
    if c.advance(cfg.read_timeout) {
        conns.push(c);
    }
}

/// The 503 answer to a connection beyond the bound.
fn busy(cfg: &Config) -> Vec<u8> {
    REFUSED_BUSY.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
    let msg = format!(
        "too many connections (at most {} at once); try again",
        cfg.max_connections
    );
    http::error_response(503, &msg)
}

/// How long a connection beyond the bound waits for a slot before its
/// 503: a quarter of the read timeout, so a burst of clients is served
/// one after the other while a server held by slow clients says so.
fn grace(cfg: &Config) -> Duration {
    cfg.read_timeout / 4
}

/// Connections served now: neither waiting for a slot nor refused.
fn active(conns: &[Conn]) -> usize {
    conns
        .iter()
        .filter(|c| !c.refusal && !matches!(c.phase, Phase::Waiting))
        .count()
}

/// Gives the free slots to the connections waiting longest.
fn promote(conns: &mut [Conn], cfg: &Config, now: Instant) {
    let free = cfg.max_connections.saturating_sub(active(conns));
    for c in conns
        .iter_mut()
        .filter(|c| matches!(c.phase, Phase::Waiting))
        .take(free)
    {
        c.phase = Phase::Reading { continued: false };
        c.deadline = now + cfg.read_timeout;
    }
}

fn admit(stream: Stream, listener: Listener, cfg: &Config, conns: &mut Vec<Conn>) {
    let now = Instant::now();
    let (phase, deadline) = if active(conns) < cfg.max_connections {
        (Phase::Reading { continued: false }, now + cfg.read_timeout)
    } else {
        let waiting = conns
            .iter()
            .filter(|c| matches!(c.phase, Phase::Waiting))
            .count();
        // Beyond a few times the bound waiting already: 503 at once.
        if waiting >= cfg.max_connections.saturating_mul(4) {
            refuse_with(stream, listener, busy(cfg), cfg, conns);
            return;
        }
        (Phase::Waiting, now + grace(cfg))
    };
    conns.push(Conn {
        stream,
        listener,
        buf: Vec::new(),
        phase,
        deadline,
        served: 0,
        eof: false,
        refusal: false,
    });
}

fn accept_unix(l: &UnixListener, cfg: &Config, conns: &mut Vec<Conn>) {
    loop {
        let s = match l.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return, // WouldBlock, or EMFILE: wait for the next poll
        };
        if s.set_nonblocking(true).is_err() {
            continue;
        }
        match peer(&s) {
            Ok((uid, _)) if allowed(uid) => admit(Stream::Unix(s), Listener::Control, cfg, conns),
            Ok((uid, pid)) => refuse(s, &format!("uid {uid} (pid {pid})"), cfg, conns),
            Err(e) => refuse(
                s,
                &format!("a peer whose credentials cannot be read ({e})"),
                cfg,
                conns,
            ),
        }
    }
}

fn refuse(s: UnixStream, who: &str, cfg: &Config, conns: &mut Vec<Conn>) {
    REFUSED_PEERS.fetch_add(1, Ordering::Relaxed); // Relaxed: a statistic
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    // Relaxed: only decides whether this line is printed once.
    if !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "dyndbg-debugfs: refused a connection from {who}: only uid {me} or root may connect (said once)"
        );
    }
    let out = http::error_response(
        403,
        &format!("forbidden: {who} is neither uid {me} nor root"),
    );
    refuse_with(Stream::Unix(s), Listener::Control, out, cfg, conns);
}

fn accept_tcp(l: &TcpListener, cfg: &Config, conns: &mut Vec<Conn>) {
    loop {
        let s = match l.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if s.set_nonblocking(true).is_err() {
            continue;
        }
        admit(Stream::Tcp(s), Listener::Metrics, cfg, conns);
    }
}
