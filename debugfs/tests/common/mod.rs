//! Helpers shared by the server's and the CLI's tests: a serving child
//! process (this test binary re-executed, running `child_main`), and a
//! plain HTTP/1.1 client over the Unix socket.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The scenario a re-executed test binary runs (unset in the parent).
pub(crate) const CHILD_VAR: &str = "DEBUGFS_TEST_CHILD";

/// A generous "does not hang" limit for a child's steps.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// A fresh directory under the system's temp dir, mode 0700 (so it can be
/// an `XDG_RUNTIME_DIR`).
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "debugfs-test-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The uid of a system user made for the tests (`useradd`, from Debian's
/// `passwd` package, installed when missing), created once: the client
/// of another uid. Fails with the reason if it cannot be made (not root).
pub(crate) fn test_user() -> u32 {
    const NAME: &str = "dyndbg-debugfs-test";
    static USER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *USER.get_or_init(|| {
        let uid = || {
            Command::new("id")
                .args(["-u", NAME])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        };
        if let Some(u) = uid() {
            return u;
        }
        let useradd = tool("useradd", "passwd");
        let out = Command::new(useradd)
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .output()
            .expect("run useradd");
        // A concurrent test binary may have made it first.
        uid().unwrap_or_else(|| {
            panic!(
                "cannot create the test user {NAME} (the test needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    })
}

/// The path of `bin`, installing Debian's `package` when it is missing
/// (`apt-get update` first if the install fails); fails, never skips, when
/// it cannot be had. One install at a time in this test binary.
pub(crate) fn tool(bin: &str, package: &str) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let which = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    let _one = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = which() {
        return p;
    }
    let install = || {
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "-o",
                "DPkg::Lock::Timeout=600",
                package,
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").arg("update").status();
        assert!(
            install(),
            "{bin} is missing and Debian's {package} package could not be installed"
        );
    }
    which().unwrap_or_else(|| panic!("{package} installed but {bin} is not on PATH"))
}

/// A running child: its stdin (closing it ends the child), the lines it
/// printed before `READY`, the socket it serves.
pub(crate) struct Serving {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) ready: String,
    /// The lines printed before `READY`.
    pub(crate) before: Vec<String>,
    pub(crate) stdout: mpsc::Receiver<String>,
}

impl Serving {
    /// The word after `READY ` (the socket path, or an address).
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(self.ready.split_whitespace().nth(1).unwrap())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin and waits for the exit (killing the child after
    /// [`DEADLINE`]): (status success, stderr).
    pub(crate) fn finish(mut self) -> (bool, String) {
        drop(self.stdin.take());
        let pid = self.child.id().cast_signed();
        let (tx, rx) = mpsc::channel();
        let mut stderr = self.child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        let done = AtomicBool::new(false);
        let status = std::thread::scope(|sc| {
            sc.spawn(|| {
                let start = std::time::Instant::now();
                while !done.load(Ordering::Relaxed) {
                    if start.elapsed() > DEADLINE {
                        // SAFETY: kill(2) on our own child's pid.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let s = self.child.wait().unwrap();
            done.store(true, Ordering::Relaxed);
            s
        });
        let err = rx.recv_timeout(DEADLINE).unwrap_or_default();
        (status.success(), err)
    }
}

/// Re-executes this test binary running `child_main` with `scenario`,
/// with `envs` added, and waits for its `READY` line (failing with its
/// stderr if it exits first).
pub(crate) fn spawn(scenario: &str, envs: &[(&str, &str)]) -> Serving {
    try_spawn(
        scenario,
        envs,
        Command::new(std::env::current_exe().unwrap()),
    )
    .unwrap_or_else(|e| panic!("the child did not get ready: {e}"))
}

/// [`spawn`] with the command given (another binary path); `Err` with the
/// child's stderr if it exits before `READY`.
pub(crate) fn try_spawn(
    scenario: &str,
    envs: &[(&str, &str)],
    mut cmd: Command,
) -> Result<Serving, String> {
    cmd.args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, scenario)
        .env_remove("DYNDBG_CONTROL")
        .env_remove("DYNDBG_METRICS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut before = Vec::new();
    loop {
        match rx.recv_timeout(DEADLINE) {
            // libtest prints `test child_main ... ` before it.
            Ok(line) if line.contains("READY") => {
                let at = line.find("READY").unwrap();
                return Ok(Serving {
                    child,
                    stdin,
                    ready: line[at..].to_owned(),
                    before,
                    stdout: rx,
                });
            }
            Ok(line) => before.push(line),
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
    }
}

/// Sends `raw` on a new connection to `sock` and reads the answer to the
/// end: (status, body). Status 0 when the connection was closed with no
/// answer.
pub(crate) fn raw(sock: &Path, raw: &[u8]) -> (u16, String) {
    let mut s =
        UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let _ = s.write_all(raw);
    read_answer(&mut s)
}

/// Reads an answer to the end: (status, body); (0, "") if none.
pub(crate) fn read_answer(s: &mut UnixStream) -> (u16, String) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_answer(&out)
}

pub(crate) fn parse_answer(out: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(out);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, text.into_owned());
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// A GET whose body is bytes: (status, body).
pub(crate) fn get_bytes(sock: &Path, file: &str) -> (u16, Vec<u8>) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(format!("GET /{file} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let Some(at) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, out);
    };
    (parse_answer(&out[..at + 4]).0, out[at + 4..].to_vec())
}

pub(crate) fn get(sock: &Path, file: &str) -> (u16, String) {
    raw(
        sock,
        format!("GET /{file} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

pub(crate) fn put(sock: &Path, file: &str, body: &str) -> (u16, String) {
    raw(
        sock,
        format!(
            "PUT /{file} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// Polls `f` every 50 ms until it returns `Some`, failing after
/// [`DEADLINE`] with `what`.
pub(crate) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- the child's side ----

mod work {
    /// A function whose callsite and allocations the tests look for.
    #[inline(never)]
    pub(crate) fn debugfs_work(round: u32) -> Vec<u8> {
        dyndbg::pr_debug!("debugfs work round {round}");
        markers::marker!(debugfs_tick, round: u32 = round);
        vec![7u8; 4096 + round as usize % 7]
    }
}

/// Keeps allocations by `debugfs_work` alive: their owner shows in the
/// heap reports.
#[inline(never)]
pub(crate) fn debugfs_hoard() -> Vec<Vec<u8>> {
    (0..64).map(work::debugfs_work).collect()
}

/// Runs the scenario named by [`CHILD_VAR`]; nothing in the parent.
/// Scenarios: `serve` (start by `DYNDBG_CONTROL`, or by `start_with` when
/// `DEBUGFS_API_DIR` is set, with `DEBUGFS_TIMEOUT_MS` and
/// `DEBUGFS_MAX_CONN`), `fork` (serve, then a forked child exits and
/// another dies by SIGTERM), and
/// `client` (connects to `DEBUGFS_SOCKET` as uid `DEBUGFS_UID`).
pub(crate) fn child_main() {
    let Ok(scenario) = std::env::var(CHILD_VAR) else {
        return;
    };
    match scenario.as_str() {
        "serve" | "fork" => serve(scenario == "fork"),
        "client" => client(),
        other => panic!("unknown scenario {other}"),
    }
}

fn serve(fork: bool) {
    dyndbg::set_sink(dyndbg::Discard);
    allocowner::enable().expect("allocowner");
    let hoard = debugfs_hoard();
    let server = if let Ok(dir) = std::env::var("DEBUGFS_API_DIR") {
        let mut o = dyndbg_debugfs::Options::default();
        o.socket_dir = Some(dir.into());
        if let Ok(ms) = std::env::var("DEBUGFS_TIMEOUT_MS") {
            o.read_timeout = Duration::from_millis(ms.parse().unwrap());
        }
        if let Ok(n) = std::env::var("DEBUGFS_MAX_CONN") {
            o.max_connections = n.parse().unwrap();
        }
        if std::env::var("DEBUGFS_METRICS").is_ok() {
            o.metrics = Some("127.0.0.1:0".parse().unwrap());
        }
        match dyndbg_debugfs::start_with(o) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("start_with: {e}");
                None
            }
        }
    } else if std::env::var("DEBUGFS_CALL_START").is_ok() {
        // As a program does: start() whatever the variables started.
        Some(dyndbg_debugfs::start().expect("start"))
    } else {
        dyndbg_debugfs::server()
    };
    if fork {
        // SAFETY: the child only checks the server state, writes and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let line: &[u8] = if dyndbg_debugfs::server().is_none() {
                b"CHILD no server\n"
            } else {
                b"CHILD serves\n"
            };
            // SAFETY: write(2) to stdout and exit(3), which runs the
            // atexit handlers (the case under test).
            unsafe {
                libc::write(1, line.as_ptr().cast(), line.len());
                libc::exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &raw mut status, 0) };
        // A second child dies by SIGTERM: the inherited signal handler
        // must not remove its parent's socket either.
        // SAFETY: the child only raises a signal and, if it lives, exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: raise(3) and _exit(2) in the forked child.
            unsafe {
                libc::raise(libc::SIGTERM);
                libc::_exit(3);
            }
        }
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &raw mut status, 0) };
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM,
            "the second child did not die by SIGTERM: status {status}"
        );
    }
    let what = server.map_or_else(
        || "none".to_owned(),
        |s| match (s.socket_path(), s.metrics_addr()) {
            (Some(p), Some(m)) => format!("{} {m}", p.display()),
            (Some(p), None) => p.display().to_string(),
            (None, Some(m)) => m.to_string(),
            (None, None) => "none".to_owned(),
        },
    );
    println!("READY {what}");
    // Work until the parent closes stdin.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        s.store(true, Ordering::Relaxed);
    });
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        drop(work::debugfs_work(round));
        round = round.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(hoard);
}

/// Connects as another uid: keeps the capabilities to pass the
/// directory's and the socket's modes (so only `SO_PEERCRED` can refuse),
/// then prints the answer's status.
fn client() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAPS: u32 = (1 << 1) | (1 << 2); // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    let sock = std::env::var("DEBUGFS_SOCKET").unwrap();
    let uid: u32 = std::env::var("DEBUGFS_UID").unwrap().parse().unwrap();
    // SAFETY: prctl, setresuid and capset with valid arguments; capset's
    // header and two data structs are laid out as the kernel's v3 ABI.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, "prctl");
        assert_eq!(libc::setresuid(uid, uid, uid), 0, "setresuid {uid}");
        let mut h = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let d = [
            Data {
                effective: CAPS,
                permitted: CAPS,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        assert_eq!(
            libc::syscall(libc::SYS_capset, &raw mut h, d.as_ptr()),
            0,
            "capset: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::geteuid(), uid);
    }
    match UnixStream::connect(&sock) {
        Ok(mut s) => {
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            // As a slow client (curl checking its connection) would: the
            // request is sent after the server has answered. The server
            // must still hold the connection, or the write fails (EPIPE)
            // and the client never reads the 403.
            let mut pfd = libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(&s),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&raw mut pfd, 1, 60_000) };
            assert_eq!(ready, 1, "no answer from the server");
            if let Err(e) = s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n") {
                println!("READY write-error {e}");
                return;
            }
            let (status, body) = read_answer(&mut s);
            println!("READY {status} {}", body.trim());
        }
        Err(e) => println!("READY connect-error {e}"),
    }
}
