//! `dyndbgctl`: the command line of a running program's own debugfs
//! (the `dyndbg-debugfs` crate): which processes serve one, read and
//! write their files, take heap reports and access recordings.
//!
//! ```text
//! dyndbgctl ps
//! dyndbgctl cat demo dynamic_debug/control
//! dyndbgctl write demo dynamic_debug/control 'func connect +p'
//! dyndbgctl heap demo --format grouped -o heap.txt
//! dyndbgctl record demo 10 -o heap.json.z
//! ```
//!
//! TARGET is a pid or a process name (`/proc/<pid>/comm`, or the file
//! name of its executable or `argv[0]`, for names longer than `comm`'s
//! 15 bytes) among the processes serving a socket. Errors are one line on stderr,
//! `dyndbgctl: cannot connect to 1234: No such file or directory`, with
//! exit status 1; usage errors exit with 2, as coreutils do. `record`
//! interrupted (Ctrl-C, SIGTERM, SIGHUP) stops the recording in the
//! target, prints its summary and exits with 128 + the signal (130).

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal as _, Read as _, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

/// Control a running program's dyndbg callsites, markers and heap from
/// outside, through its own debugfs socket.
#[derive(Parser, Debug)]
#[command(name = "dyndbgctl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the processes serving a debugfs socket (stale sockets are removed).
    Ps,
    /// Print a file of TARGET's debugfs (e.g. dynamic_debug/control).
    Cat {
        /// A pid or a process name.
        target: String,
        /// The file: dynamic_debug/control, markers, page_owner, stats, ...
        file: String,
    },
    /// Write TEXT to a file of TARGET's debugfs and print the answer.
    Write {
        /// A pid or a process name.
        target: String,
        /// The file: dynamic_debug/control, markers, damon/record.
        file: String,
        /// What to write (e.g. 'func connect +p').
        text: String,
    },
    /// Take a heap report of TARGET.
    Heap {
        /// A pid or a process name.
        target: String,
        /// The report's format.
        #[arg(long, value_enum, default_value = "grouped")]
        format: Format,
        /// Where to write it (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Record TARGET's heap accesses for SECONDS into FILE (damo's .json.z).
    Record {
        /// A pid or a process name.
        target: String,
        /// How long to record.
        #[arg(value_parser = clap::value_parser!(u64).range(1..=86_400))]
        seconds: u64,
        /// The recording, written by the target process (same user).
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// page_owner_sort's grouped report.
    Grouped,
    /// gzip'd profile.proto for `go tool pprof`.
    Pprof,
    /// Folded stacks.
    Folded,
    /// A flame graph.
    Svg,
}

/// A failure: the one line printed after `dyndbgctl: `.
struct Fail(String);

type Result<T> = std::result::Result<T, Fail>;

/// The OS error's text without Rust's ` (os error N)`.
fn why(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_owned(),
        None => s,
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The same directory the server uses for this user.
fn socket_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if Path::new(&d).is_absolute() => Path::new(&d).join("dyndbg"),
        _ => PathBuf::from(format!("/tmp/dyndbg-{}", euid())),
    }
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "?".to_owned(), |s| s.trim_end().to_owned())
}

/// Whether process `pid` is named `name`: its `comm` (which the kernel
/// cuts to 15 bytes), or the file name of its executable or of its
/// `argv[0]`, so a long name is found whole too.
fn named(pid: u32, name: &str) -> bool {
    if comm(pid) == name {
        return true;
    }
    let base = |p: &Path| p.file_name().is_some_and(|f| f == name);
    if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| base(&p)) {
        return true;
    }
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        let argv0 = c.split(|&b| b == 0).next().unwrap_or_default();
        base(Path::new(std::ffi::OsStr::from_bytes(argv0)))
    })
}

/// Live sockets (pid, path), sorted by pid; stale ones removed.
fn live_sockets() -> Vec<(u32, PathBuf)> {
    let dir = socket_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".sock"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let path = e.path();
        let stale = UnixStream::connect(&path)
            .is_err_and(|e| matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOENT)));
        if stale {
            // Nobody listens: the process died without removing it.
            let _ = std::fs::remove_file(&path);
        } else {
            out.push((pid, path));
        }
    }
    out.sort();
    out
}

fn ps() -> Result<()> {
    let mut out = String::from("PID\tCOMMAND\tSOCKET\n");
    for (pid, path) in live_sockets() {
        let _ = writeln!(out, "{pid}\t{}\t{}", comm(pid), path.display());
    }
    print(out.as_bytes())
}

/// TARGET to a socket path: a pid (its socket, live or not: connecting
/// says), or the one live process of that name.
fn resolve(target: &str) -> Result<(String, PathBuf)> {
    if !target.is_empty() && target.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((
            target.to_owned(),
            socket_dir().join(format!("{target}.sock")),
        ));
    }
    let matches: Vec<(u32, PathBuf)> = live_sockets()
        .into_iter()
        .filter(|(pid, _)| named(*pid, target))
        .collect();
    match matches.as_slice() {
        [] => Err(Fail(format!(
            "no process named {target} serves a debugfs socket (see dyndbgctl ps)"
        ))),
        [(_, path)] => Ok((target.to_owned(), path.clone())),
        many => Err(Fail(format!(
            "{target} is ambiguous: pids {}",
            many.iter()
                .map(|(p, _)| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// One request; the body of a 200 answer, else the server's one line.
fn request(target: &str, method: &str, file: &str, body: &[u8]) -> Result<Vec<u8>> {
    let (name, path) = resolve(target)?;
    let mut s = UnixStream::connect(&path)
        .map_err(|e| Fail(format!("cannot connect to {name}: {}", why(&e))))?;
    let io_fail = |e: io::Error| Fail(format!("{name}: {file}: {}", why(&e)));
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(io_fail)?;
    let file = file.trim_start_matches('/');
    let head = format!(
        "{method} /{file} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(io_fail)?;
    s.write_all(body).map_err(io_fail)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(io_fail)?;
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(Fail(format!("{name}: {file}: the answer is not HTTP")));
    };
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Fail(format!("{name}: {file}: the answer is not HTTP")))?;
    let body = answer[split + 4..].to_vec();
    if status == 200 {
        Ok(body)
    } else {
        let text = String::from_utf8_lossy(&body);
        Err(Fail(format!(
            "{name}: {file}: {}",
            text.lines().next().unwrap_or("").trim()
        )))
    }
}

fn print(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `dyndbgctl cat ... | head`: stop quietly, as coreutils do.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Fail(format!("write error: {}", why(&e)))),
    }
}

/// Writes a report as every file of the project is written: O_NOFOLLOW,
/// O_CLOEXEC, mode 0600; the error names the path, as the project's
/// other writers do (`cannot write report /x/y: Not a directory`).
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: io::Error| {
        // O_NOFOLLOW refused the last component: say what it is.
        let reason = if e.raw_os_error() == Some(libc::ELOOP) {
            "a symbolic link".to_owned()
        } else {
            why(&e)
        };
        Fail(format!("cannot write report {}: {reason}", path.display()))
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)
}

fn heap(target: &str, format: Format, output: Option<&Path>) -> Result<()> {
    let file = match format {
        Format::Grouped => "page_owner_sort",
        Format::Pprof => "heap.pprof",
        Format::Folded => "heap.folded",
        Format::Svg => "heap.svg",
    };
    let body = request(target, "GET", file, b"")?;
    match output {
        Some(p) if p != Path::new("-") => write_file(p, &body),
        _ => print(&body),
    }
}

fn bar(done: Duration, total: Duration) {
    const WIDTH: usize = 30;
    let frac = (done.as_secs_f64() / total.as_secs_f64()).min(1.0);
    let filled = (frac * WIDTH as f64) as usize;
    eprint!(
        "\rrecording [{}{}] {:>3}% {}/{} s",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        (frac * 100.0) as u32,
        done.as_secs().min(total.as_secs()),
        total.as_secs()
    );
}

/// The signal that interrupted `record` (0: none), set by [`on_interrupt`].
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_interrupt(sig: libc::c_int) {
    // Relaxed: polled by the recording loop, which needs only the value.
    INTERRUPTED.store(sig, Ordering::Relaxed);
}

/// Catches SIGINT, SIGTERM and SIGHUP while recording, so the recording
/// is stopped in the target (else it would run on, and the next `record`
/// be refused with EBUSY) before `dyndbgctl` exits as interrupted.
fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a plain handler (no SA_SIGINFO)
        // that only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&raw mut act.sa_mask);
            libc::sigaction(sig, &raw const act, std::ptr::null_mut());
        }
    }
}

/// Records for `seconds`; `Ok(Some(sig))` when a signal cut it short
/// (the recording stopped and its summary printed all the same).
fn record(target: &str, seconds: u64, output: &Path) -> Result<Option<i32>> {
    // The target process opens the path: make it absolute here.
    let output = std::path::absolute(output)
        .map_err(|e| Fail(format!("cannot write {}: {}", output.display(), why(&e))))?;
    let control = format!("1048576 {}", output.display());
    catch_interrupts();
    request(target, "PUT", "damon/record", control.as_bytes())?;
    let total = Duration::from_secs(seconds);
    let start = Instant::now();
    let tty = io::stderr().is_terminal();
    // Relaxed: see on_interrupt.
    let interrupted = || INTERRUPTED.load(Ordering::Relaxed);
    while start.elapsed() < total && interrupted() == 0 {
        if tty {
            bar(start.elapsed(), total);
        }
        std::thread::sleep(Duration::from_millis(200).min(total.saturating_sub(start.elapsed())));
    }
    let sig = interrupted();
    if tty {
        if sig == 0 {
            bar(total, total);
        }
        eprintln!();
    }
    let answer = request(target, "PUT", "damon/record", b"off")?;
    print(&answer)?;
    Ok((sig != 0).then_some(sig))
}

/// Runs the command: its exit status when it did not fail.
fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Ps => ps().map(|()| 0),
        Command::Cat { target, file } => print(&request(&target, "GET", &file, b"")?).map(|()| 0),
        Command::Write { target, file, text } => {
            print(&request(&target, "PUT", &file, text.as_bytes())?).map(|()| 0)
        }
        Command::Heap {
            target,
            format,
            output,
        } => heap(&target, format, output.as_deref()).map(|()| 0),
        Command::Record {
            target,
            seconds,
            output,
        } => {
            if let Some(sig) = record(&target, seconds, &output)? {
                // Interrupted: said, and the shell's status for a death
                // by `sig` (130 for Ctrl-C).
                eprintln!("dyndbgctl: recording interrupted by signal {sig}: stopped");
                return Ok(u8::try_from(128 + sig).unwrap_or(1));
            }
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Fail(msg)) => {
            eprintln!("dyndbgctl: {msg}");
            ExitCode::FAILURE
        }
    }
}
