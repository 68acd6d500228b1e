//! The process's own debugfs: a running program's dyndbg callsites,
//! markers, heap reports and access recordings, listed and changed from
//! outside, as the kernel's `/sys/kernel/debug` does for the kernel, plus
//! Prometheus metrics for fleets.
//!
//! Off by default. On, one thread serves HTTP/1.1 on a Unix socket that
//! only the process's own user (and root) may use; each file is answered
//! by the handler of the crate that owns it (`dyndbg::debugfs`,
//! `markers::debugfs`, `allocowner::debugfs`): this crate only routes.
//!
//! # Setup
//!
//! ```toml
//! [dependencies]
//! dyndbg-debugfs = "0.1"
//! ```
//!
//! A constructor starts the server before `main` when `DYNDBG_CONTROL=on`,
//! but only in a program that links this crate. A dependency that no code
//! names is not linked, so name it once, anywhere in the program:
//!
//! ```
//! use dyndbg_debugfs as _; // links the crate: DYNDBG_CONTROL / DYNDBG_METRICS work
//! ```
//!
//! (or `dyndbg_debugfs::link!();`, which expands to the same). Then:
//!
//! ```text
//! DYNDBG_CONTROL=on ./myservice &
//! dyndbgctl ps
//! curl --unix-socket $XDG_RUNTIME_DIR/dyndbg/$!.sock http://x/dynamic_debug/control
//! curl --unix-socket $XDG_RUNTIME_DIR/dyndbg/$!.sock -X PUT --data 'func connect +p' http://x/dynamic_debug/control
//! curl --unix-socket $XDG_RUNTIME_DIR/dyndbg/$!.sock --data-binary @queries.txt http://x/dynamic_debug/control
//! ```
//!
//! The body is taken as it is sent, whatever its `Content-Type` (`-d`
//! sends `application/x-www-form-urlencoded` but does not encode: `+p`
//! stays `+p`). A file of queries one per line goes with
//! `--data-binary @file` (or `-T file`): `-d @file` drops its newlines,
//! running the queries together.
//!
//! Or from code, at any time: [`start`] (and [`stop`]); [`start_with`]
//! chooses the metrics address, the limits and the socket directory.
//!
//! # Files
//!
//! | file | GET | PUT / POST (body = text) |
//! |---|---|---|
//! | `dynamic_debug/control` | the listing, as the kernel's control file | a query batch; answers `N callsites matched`, or 400 with the query error |
//! | `markers` | sites, and the probes connected here with counts and rings | `<name> counter\|printer\|ring N\|off` |
//! | `page_owner` | every live allocation and its owner stack | |
//! | `page_owner_sort` | the grouped report, biggest owners first | |
//! | `heap.pprof` | gzip'd profile.proto (`go tool pprof`) | |
//! | `heap.folded` | folded stacks (flamegraph.pl, inferno, speedscope) | |
//! | `heap.svg` | a flame graph of live bytes | |
//! | `damon/record` | the recorder setting (`0 none` when off) | `<buffer_len> <path>` starts a recording (1024..=4 MiB, path < 256 bytes; EBUSY while one runs: 409), `off` stops it; `0 <path>` disables recording, as DAMON's (accepted while none runs) |
//! | `stats` | figures of dyndbg, allocowner and the server | |
//!
//! `/` lists the files; `/metrics` and `/debug/pprof/heap` are served
//! too. Errors are 4xx (or 5xx) with a one-line text body naming what was
//! wrong: 400 a bad body, 404 an unknown file (the body lists the files),
//! 405 a write to a read-only file, 409 busy (EBUSY), 413 a request over
//! 64 KiB, 501 something not compiled in.
//!
//! # Fleets
//!
//! `DYNDBG_METRICS=127.0.0.1:9464` (or [`Options::metrics`]) also serves
//! `/metrics` (Prometheus, encoded by `prometheus-client`) and
//! `/debug/pprof/heap` (Go's path, which Parca and Grafana Alloy scrape)
//! over TCP, and nothing else there. Anyone who can reach the address
//! reads the heap's owner names: keep it on loopback or a private network.
//!
//! # Security and process rules
//!
//! - The socket is `$XDG_RUNTIME_DIR/dyndbg/<pid>.sock`, else
//!   `/tmp/dyndbg-<uid>/<pid>.sock`. The directory is created with mode
//!   0700; one that exists must be a real directory owned by the
//!   process's effective uid with no group or other access, else [`start`]
//!   refuses it, naming it ([`Error::UnsafeDir`]). The socket is 0600.
//! - Each connection's peer is checked with `SO_PEERCRED`: the process's
//!   effective uid or root; anyone else gets 403 and is closed, and the
//!   first refusal is said on stderr (once per process).
//! - In a setuid or setgid program (`AT_SECURE`), `DYNDBG_CONTROL`,
//!   `DYNDBG_METRICS` and `XDG_RUNTIME_DIR` are ignored, as glibc's
//!   `secure_getenv` does; each of the first two that is set is said on
//!   one stderr line: `dyndbg-debugfs: DYNDBG_CONTROL ignored:
//!   setuid/setgid program (AT_SECURE)`. [`start`] from code still works.
//! - The socket is removed at exit (`atexit`: a return from `main` or
//!   `exit`), on `SIGTERM`, `SIGINT` and `SIGHUP` when the program left
//!   them at their default action (the handler removes the socket, then
//!   the signal ends the process as it would have), and by [`stop`]. On
//!   other deaths (`SIGKILL`, a crash) `dyndbgctl ps` cleans it up. A forked child does not serve: it has no server thread,
//!   its copies of the listening descriptors are closed at fork, and its
//!   exit never removes its parent's socket. It may [`start`] its own.
//!
//! # Limits
//!
//! One thread, one `poll(2)` loop, non-blocking sockets. A request (head
//! and body) is at most 64 KiB ([`MAX_REQUEST`]: 413); it must arrive
//! within the read timeout (default 5 s: 408 and closed), and its response
//! be read with progress within it; at most [`Options::max_connections`]
//! connections are served at once (default 16); more wait, unread, for a
//! slot (oldest first) up to a quarter of the read timeout, then get
//! 503 (at once when four times as many already wait). HTTP/1.1
//! keeps a connection for the next request (pipelined ones too) until
//! `Connection: close`, an HTTP/1.0 request without `keep-alive`, or the
//! read timeout idle; bodies come with `Content-Length` or chunked
//! (`Transfer-Encoding: chunked`); `HEAD` answers `GET`'s headers. The
//! path is resolved as a URL is: the query string dropped, `%XX`
//! decoded, a trailing `/` and `.`/`..` segments resolved (never above
//! `/`), so `/dynamic_debug%2Fcontrol/` names `dynamic_debug/control`.
//! `/metrics` is OpenMetrics to a client that asks for it (`Accept:
//! application/openmetrics-text`, as Prometheus does), else Prometheus's
//! text format 0.0.4 (curl, `promtool check metrics`). A malformed, huge or slow
//! request gets an error or a close and the server serves on; a handler
//! that panics answers 500. The server holds no lock of its own that a
//! program thread takes: each file's handler takes the locks its crate's
//! API takes (a query holds dyndbg's writer lock as long as
//! `dyndbg::control` does; a heap report stalls allocating threads while
//! it copies the records, as `allocowner::snapshot` does).
//!
//! The server's own allocations (its state, buffers, answers, the metrics
//! registry) are recorded by allocowner as its own (the dummy owner), so
//! they never show among the program's owners in the reports it serves.
//! `/metrics` takes a snapshot and symbolizes the owners at each scrape:
//! scrape every few seconds, not many times a second.
#![deny(unsafe_op_in_unsafe_fn)]

mod files;
mod http;
mod metrics;
mod path;
mod pprof;
mod server;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub use files::FILES;
pub use http::MAX_REQUEST;
pub use metrics::TOP_OWNERS;
pub use path::{socket_dir, socket_path};

/// `DYNDBG_CONTROL=on` starts the control socket before `main`.
pub const CONTROL_ENV_VAR: &str = "DYNDBG_CONTROL";
/// `DYNDBG_METRICS=ADDR:PORT` serves `/metrics` over TCP from before `main`.
pub const METRICS_ENV_VAR: &str = "DYNDBG_METRICS";

/// Links this crate into a program that names it nowhere else, so its
/// constructor (`DYNDBG_CONTROL`, `DYNDBG_METRICS`) runs. The same as
/// `use dyndbg_debugfs as _;`.
#[macro_export]
macro_rules! link {
    () => {
        const _: fn() = $crate::__linked;
    };
}

#[doc(hidden)]
pub fn __linked() {}

/// What [`start_with`] serves, and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Serve the control socket (default true).
    pub control: bool,
    /// The socket's directory instead of [`socket_dir`] (checked the same
    /// way). `dyndbgctl` only finds sockets in the default one.
    pub socket_dir: Option<PathBuf>,
    /// Also serve `/metrics` and `/debug/pprof/heap` over TCP here (default
    /// none).
    pub metrics: Option<SocketAddr>,
    /// How long a client has to send its request, and to make progress
    /// reading the answer (default 5 s).
    pub read_timeout: Duration,
    /// Connections served at once (default 16); more wait up to a quarter
    /// of the read timeout for a slot, then are answered 503.
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            control: true,
            socket_dir: None,
            metrics: None,
            read_timeout: Duration::from_secs(5),
            max_connections: 16,
        }
    }
}

/// Why the server did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A server already runs in this process.
    AlreadyRunning(Server),
    /// The socket directory is not safe to serve in.
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A system call failed.
    Io {
        /// What was being done.
        what: &'static str,
        /// The path or address concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Nothing to serve: neither the control socket nor metrics.
    NothingToServe,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyRunning(s) => write!(f, "the debugfs server already runs ({s})"),
            Error::UnsafeDir { path, why } => {
                write!(f, "refusing the socket directory {}: {why}", path.display())
            }
            Error::Io { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            Error::NothingToServe => f.write_str("nothing to serve: no control socket, no metrics"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The running server: where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    socket: Option<PathBuf>,
    metrics: Option<SocketAddr>,
}

impl Server {
    /// The control socket, if served.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// The metrics address (the port chosen when asked for port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.socket, self.metrics) {
            (Some(p), Some(m)) => write!(f, "serving {} and metrics on {m}", p.display()),
            (Some(p), None) => write!(f, "serving {}", p.display()),
            (None, Some(m)) => write!(f, "serving metrics on {m}"),
            (None, None) => f.write_str("serving nothing"),
        }
    }
}

struct Running {
    pid: u32,
    /// What it was started with (the metrics address as bound).
    options: Options,
    server: Server,
    wake: UnixStream,
    thread: JoinHandle<()>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);
/// The socket to remove at exit, and the process that made it.
static EXIT_PATH: Mutex<Option<(u32, PathBuf)>> = Mutex::new(None);
/// The server's descriptors, closed in a forked child: the listeners and
/// the wake-up socket (-1: none).
static FDS: [AtomicI32; 3] = [AtomicI32::new(-1), AtomicI32::new(-1), AtomicI32::new(-1)];

fn lock<T>(m: &'static Mutex<T>) -> std::sync::MutexGuard<'static, T> {
    // A panic while holding these leaves valid values.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

extern "C" fn close_in_child() {
    // The child has no server thread: it must not hold the listening
    // sockets (a client would queue on them). close is async-signal-safe.
    for fd in &FDS {
        // Relaxed: the child is single-threaded here.
        let fd = fd.swap(-1, Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: the child's copy of a descriptor the server owns in
            // the parent; the child never uses the objects holding it
            // (`start`/`stop` forget a parent's server without dropping it).
            unsafe { libc::close(fd) };
        }
    }
}

extern "C" fn at_exit() {
    // try_lock: never wait at exit for a thread stopped mid-`stop`.
    if let Ok(mut p) = EXIT_PATH.try_lock()
        && let Some((pid, path)) = p.take()
    {
        if pid == std::process::id() {
            let _ = std::fs::remove_file(path);
        } else {
            *p = Some((pid, path)); // a forked child: the parent's socket
        }
    }
}

/// The socket to unlink on a deadly signal: a leaked NUL-terminated path
/// (null: none), and the pid that made it. A signal handler can read
/// these (atomics, no lock, no allocation).
static SIGNAL_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static SIGNAL_PID: AtomicI32 = AtomicI32::new(0);

/// The signals that end a program by default and that services are
/// stopped with: the socket is removed before the default action.
const CLEANUP_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Records `path` as the socket to unlink on a deadly signal (`None`:
/// nothing). The previous path is leaked: a handler may be reading it
/// (a few bytes per `start`).
fn set_signal_path(path: Option<&Path>) {
    let c = path.and_then(|p| {
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())).ok()
    });
    let ptr = c.map_or(std::ptr::null_mut(), std::ffi::CString::into_raw);
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    // Relaxed: published by the Release store of the pointer below.
    SIGNAL_PID.store(pid, Ordering::Relaxed);
    // Release: a handler that sees the pointer (Acquire) sees its bytes
    // and the pid.
    SIGNAL_PATH.store(ptr, Ordering::Release);
}

extern "C" fn on_deadly_signal(sig: libc::c_int) {
    // SA_RESETHAND made the action the default again; remove the socket
    // (this process's only: a forked child inherited the handler and the
    // pointer), then raise the signal again, delivered on return with its
    // default action (the exit status says the signal, as without us).
    // Acquire: pairs with set_signal_path's Release store.
    let path = SIGNAL_PATH.load(Ordering::Acquire);
    // SAFETY: getpid, unlink and raise are async-signal-safe; `path` is
    // null or a leaked NUL-terminated string that is never freed.
    unsafe {
        // Relaxed: see set_signal_path.
        if !path.is_null() && SIGNAL_PID.load(Ordering::Relaxed) == libc::getpid() {
            libc::unlink(path);
        }
        libc::raise(sig);
    }
}

/// Installs [`on_deadly_signal`] for each of [`CLEANUP_SIGNALS`] whose
/// action is still the default (a program's own handler, or an ignored
/// signal, is left alone: its exit then runs `atexit`, or it does not die).
fn signal_hooks() {
    for sig in CLEANUP_SIGNALS {
        // SAFETY: sigaction with a zeroed struct to read the current action
        // and a filled one to install ours; `on_deadly_signal` has the
        // plain handler signature (no SA_SIGINFO).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &raw mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_deadly_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            new.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&raw mut new.sa_mask);
            libc::sigaction(sig, &raw const new, std::ptr::null_mut());
        }
    }
}

fn hooks() {
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        // SAFETY: plain extern "C" functions with no arguments, as atexit
        // and pthread_atfork take.
        unsafe {
            libc::atexit(at_exit);
            libc::pthread_atfork(None, None, Some(close_in_child));
        }
        signal_hooks();
    });
}

/// Starts the control socket with the default [`Options`]. If a server
/// with a control socket already runs in this process (`DYNDBG_CONTROL=on`),
/// returns it; one serving only metrics (`DYNDBG_METRICS` alone) is
/// restarted with the control socket added, on the same metrics address.
pub fn start() -> Result<Server, Error> {
    match start_with(Options::default()) {
        Err(Error::AlreadyRunning(s)) if s.socket.is_some() => Ok(s),
        Err(Error::AlreadyRunning(s)) => {
            let mut options = lock(&RUNNING)
                .as_ref()
                .map(|r| r.options.clone())
                .unwrap_or_default();
            options.control = true;
            options.metrics = s.metrics;
            stop();
            start_with(options)
        }
        r => r,
    }
}

/// Starts the server with `options`: binds the socket (and the metrics
/// address), then starts the server thread `dyndbg-debugfs`. Refused
/// with [`Error::AlreadyRunning`] if one runs in this process.
pub fn start_with(options: Options) -> Result<Server, Error> {
    // What the server keeps (its state, the socket's path) is allocowner's
    // own (DUMMY), as everything its thread allocates.
    allocowner::debugfs::observer(|| start_inner(options))
}

fn start_inner(options: Options) -> Result<Server, Error> {
    let Options {
        control,
        socket_dir: dir,
        metrics,
        read_timeout,
        max_connections,
    } = options.clone();
    let mut running = lock(&RUNNING);
    let pid = std::process::id();
    if let Some(r) = running.as_ref() {
        if r.pid == pid {
            return Err(Error::AlreadyRunning(r.server.clone()));
        }
        // Inherited from the parent by fork: no thread runs it here.
        std::mem::forget(running.take());
    }
    if !control && metrics.is_none() {
        return Err(Error::NothingToServe);
    }
    let (unix, socket) = if control {
        let dir = dir.unwrap_or_else(socket_dir);
        path::prepare_dir(&dir)?;
        let sock = dir.join(format!("{pid}.sock"));
        (Some(bind_unix(&sock)?), Some(sock))
    } else {
        (None, None)
    };
    let cleanup = |socket: &Option<PathBuf>| {
        if let Some(s) = socket {
            let _ = std::fs::remove_file(s);
        }
    };
    let tcp = match metrics {
        Some(addr) => match bind_tcp(addr) {
            Ok(l) => Some(l),
            Err(e) => {
                cleanup(&socket);
                return Err(e);
            }
        },
        None => None,
    };
    let metrics = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let io = |what, source| Error::Io {
        what,
        path: PathBuf::from("(socketpair)"),
        source,
    };
    let (wake_tx, wake_rx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            cleanup(&socket);
            return Err(io("cannot make the wake-up socket", e));
        }
    };
    hooks();
    // Relaxed: read only by the fork child handler, in the forking thread,
    // after this thread's stores (or the parent's, copied at fork).
    FDS[0].store(
        unix.as_ref().map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
        Ordering::Relaxed,
    );
    FDS[1].store(
        tcp.as_ref().map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
        Ordering::Relaxed,
    );
    FDS[2].store(wake_rx.as_raw_fd(), Ordering::Relaxed);
    let cfg = server::Config {
        unix,
        tcp,
        wake: wake_rx,
        read_timeout,
        max_connections: max_connections.max(1),
    };
    let thread = std::thread::Builder::new()
        .name("dyndbg-debugfs".into())
        // The server's own buffers and answers are allocowner's own
        // (DUMMY): never among the program's owners it reports.
        .spawn(move || allocowner::debugfs::observer(|| server::run(&cfg)));
    let thread = match thread {
        Ok(t) => t,
        Err(e) => {
            cleanup(&socket);
            return Err(io("cannot start the server thread", e));
        }
    };
    if let Some(s) = &socket {
        *lock(&EXIT_PATH) = Some((pid, s.clone()));
        set_signal_path(Some(s));
    }
    let server = Server { socket, metrics };
    *running = Some(Running {
        pid,
        options: Options { metrics, ..options },
        server: server.clone(),
        wake: wake_tx,
        thread,
    });
    Ok(server)
}

fn bind_unix(sock: &Path) -> Result<UnixListener, Error> {
    let io = |what, source| Error::Io {
        what,
        path: sock.to_owned(),
        source,
    };
    // A socket left by a process of the same pid that died by a signal:
    // ours to replace (the directory is ours, 0700).
    match std::fs::remove_file(sock) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("cannot remove the stale socket", e)),
    }
    let l = UnixListener::bind(sock).map_err(|e| io("cannot bind the socket", e))?;
    let set = std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| l.set_nonblocking(true));
    if let Err(e) = set {
        let _ = std::fs::remove_file(sock);
        return Err(io("cannot set up the socket", e));
    }
    Ok(l)
}

fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, Error> {
    let io = |what, source| Error::Io {
        what,
        path: PathBuf::from(addr.to_string()),
        source,
    };
    let l = TcpListener::bind(addr).map_err(|e| io("cannot listen for metrics on", e))?;
    l.set_nonblocking(true)
        .map_err(|e| io("cannot listen for metrics on", e))?;
    Ok(l)
}

/// Stops the server of this process: the thread is woken and joined
/// (requests in flight are dropped), the socket removed. Returns whether
/// one ran. In a forked child the parent's server is left alone.
pub fn stop() -> bool {
    let mut running = lock(&RUNNING);
    let Some(r) = running.take() else {
        return false;
    };
    if r.pid != std::process::id() {
        std::mem::forget(r); // the parent's: no thread here
        return false;
    }
    drop(running);
    let Running {
        mut wake,
        thread,
        server,
        ..
    } = r;
    let _ = std::io::Write::write_all(&mut wake, b"x");
    let _ = thread.join();
    for fd in &FDS {
        // Relaxed: see `start_with`.
        fd.store(-1, Ordering::Relaxed);
    }
    if let Some(s) = &server.socket {
        let _ = std::fs::remove_file(s);
        set_signal_path(None);
        let mut p = lock(&EXIT_PATH);
        if p.as_ref().is_some_and(|(_, q)| q == s) {
            *p = None;
        }
    }
    true
}

/// The server running in this process, if any.
pub fn server() -> Option<Server> {
    let running = lock(&RUNNING);
    running
        .as_ref()
        .filter(|r| r.pid == std::process::id())
        .map(|r| r.server.clone())
}

/// The `stats` file: dyndbg's, allocowner's and the server's figures, one
/// `crate.name value` per line.
fn stats() -> String {
    use std::fmt::Write as _;
    let mut out = dyndbg::debugfs::stats();
    out.push_str(&allocowner::debugfs::stats());
    for (name, v) in [
        ("requests", &server::REQUESTS),
        ("bad_requests", &server::BAD_REQUESTS),
        ("timed_out", &server::TIMED_OUT),
        ("refused_peers", &server::REFUSED_PEERS),
        ("refused_busy", &server::REFUSED_BUSY),
    ] {
        // Relaxed: statistics.
        let _ = writeln!(out, "debugfs.{name} {}", v.load(Ordering::Relaxed));
    }
    out
}

/// The constructor's work: `DYNDBG_CONTROL` and `DYNDBG_METRICS`, read as
/// `secure_getenv` would.
fn start_from_env() {
    let control = path::secure_var_os(CONTROL_ENV_VAR, true);
    let metrics = path::secure_var_os(METRICS_ENV_VAR, true);
    if control.is_none() && metrics.is_none() {
        return;
    }
    let mut options = Options {
        control: false,
        ..Options::default()
    };
    if let Some(v) = control {
        match v.to_str() {
            Some("on" | "1") => options.control = true,
            Some("off" | "0" | "") => {}
            _ => eprintln!(
                "dyndbg-debugfs: {CONTROL_ENV_VAR}={} ignored: expected on or off",
                v.display()
            ),
        }
    }
    if let Some(v) = metrics {
        match v.to_str().map(str::parse::<SocketAddr>) {
            Some(Ok(addr)) => options.metrics = Some(addr),
            _ => eprintln!(
                "dyndbg-debugfs: {METRICS_ENV_VAR}={} ignored: expected an address such as 127.0.0.1:9464",
                v.display()
            ),
        }
    }
    if !options.control && options.metrics.is_none() {
        return;
    }
    match start_with(options) {
        Ok(s) => eprintln!("dyndbg-debugfs: {s}"),
        Err(e) => eprintln!("dyndbg-debugfs: not serving: {e}"),
    }
}

extern "C" fn init() {
    // Nothing at all (no allocation) unless a variable is set.
    // SAFETY: getenv with NUL-terminated names; the environment is not
    // being changed while constructors run.
    let set = unsafe {
        !libc::getenv(c"DYNDBG_CONTROL".as_ptr()).is_null()
            || !libc::getenv(c"DYNDBG_METRICS".as_ptr()).is_null()
    };
    if set {
        start_from_env();
    }
}

/// Run by the C runtime before `main`, in a program that links this crate.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

#[doc(hidden)]
pub mod __fuzz {
    /// The request parser, for the fuzz target: `Ok(Some((body_len,
    /// consumed)))` for a whole request (its body's length, decoded when
    /// chunked, and the bytes it took), `Ok(None)` for one still partial,
    /// `Err((status, message))`.
    pub fn parse_request(bytes: &[u8]) -> Result<Option<(usize, usize)>, (u16, String)> {
        match crate::http::parse(bytes) {
            Ok(crate::http::Parse::Complete(r)) => Ok(Some((r.body.len(), r.consumed))),
            Ok(crate::http::Parse::Partial { .. }) => Ok(None),
            Err(e) => Err((e.status, e.message)),
        }
    }
}
