//! The handler of the `markers` file in the process's debugfs (served by
//! the `dyndbg-debugfs` crate, which only routes): read, the list of
//! sites and the built-in probes connected through the file, with their
//! counts and rings; written, one command `<name> counter|printer|ring
//! N|off` that connects a built-in probe to a marker (a name or a glob)
//! or disconnects the ones the file connected.
//!
//! Probes connected from code are listed (in each site's probe count) but
//! never disconnected by `off`: the file only undoes its own.

use std::fmt::Write as _;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::builtin::{Counter, Printer, RingBuffer};
use crate::error::Error;
use crate::registry;
use crate::site::{self, ProbeId};

/// The largest `ring N`.
pub const MAX_RING: usize = 65_536;

/// How long `off` waits for running calls of a probe before it answers
/// (the probe is disconnected all the same).
const OFF_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Builtin {
    Counter(Counter),
    Printer,
    Ring(RingBuffer),
}

impl Builtin {
    fn kind(&self) -> &'static str {
        match self {
            Builtin::Counter(_) => "counter",
            Builtin::Printer => "printer",
            Builtin::Ring(_) => "ring",
        }
    }
}

#[derive(Debug)]
struct Attached {
    name: String,
    probe: Builtin,
    id: ProbeId,
}

/// The probes connected through the file, in connect order. Taken only by
/// the handlers (never by a marker hit).
static ATTACHED: Mutex<Vec<Attached>> = Mutex::new(Vec::new());

fn attached() -> std::sync::MutexGuard<'static, Vec<Attached>> {
    // A panic while holding it leaves a valid list.
    ATTACHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A parsed command.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Counter,
    Printer,
    Ring(usize),
    Off,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn parse(body: &str) -> io::Result<(String, Command)> {
    const USAGE: &str = "expected `<name> counter|printer|ring N|off`";
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(line) = lines.next() else {
        return Err(invalid(format!("empty command: {USAGE}")));
    };
    if lines.next().is_some() {
        return Err(invalid(format!(
            "one command per write, got several lines: {USAGE}"
        )));
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let command = match words.as_slice() {
        [_, "counter"] => Command::Counter,
        [_, "printer"] => Command::Printer,
        [_, "off"] => Command::Off,
        [_, "ring", n] => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_RING).contains(&n) => Command::Ring(n),
            _ => {
                return Err(invalid(format!(
                    "ring size `{n}` is not a number from 1 to {MAX_RING}"
                )));
            }
        },
        [_] => return Err(invalid(format!("`{line}` has no probe: {USAGE}"))),
        [_, other, ..] => {
            return Err(invalid(format!(
                "unknown probe `{other}` in `{line}`: {USAGE}"
            )));
        }
        [] => unreachable!("a non-empty trimmed line has a word"),
    };
    Ok((words[0].to_owned(), command))
}

fn from_error(e: &Error) -> io::Error {
    let kind = match e {
        Error::UnknownMarker { .. } | Error::UnknownProbe(_) => io::ErrorKind::NotFound,
        Error::AlreadyConnected { .. } | Error::StillRunning { .. } => io::ErrorKind::ResourceBusy,
        _ => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e.to_string())
}

/// Writing `markers`: one command, `<name> counter|printer|ring N|off`.
/// `name` is a marker's name or a glob (`net_*`), as [`connect`](crate::connect)
/// takes it. `counter`, `printer` and `ring N` (1 to [`MAX_RING`] hits)
/// connect a [`Counter`], a [`Printer`] or a [`RingBuffer`]; one of each
/// kind per name (a second is refused, [`io::ErrorKind::ResourceBusy`],
/// the kernel's `EBUSY`). `off` disconnects every probe the file
/// connected under that name. Answers one line saying what was done;
/// a bad command or an unknown marker changes nothing and the error
/// names it.
///
/// ```
/// markers::marker!(doc_debugfs_example, n: u32 = 7);
/// let done = markers::debugfs::write("doc_debugfs_example counter").unwrap();
/// assert_eq!(done, "doc_debugfs_example: counter connected\n");
/// markers::marker!(doc_debugfs_example, n: u32 = 7);
/// assert!(markers::debugfs::read().contains("doc_debugfs_example counter 1\n"));
/// assert_eq!(markers::debugfs::write("doc_debugfs_example off").unwrap(),
///            "doc_debugfs_example: 1 probe disconnected\n");
/// let err = markers::debugfs::write("no_such_marker counter").unwrap_err();
/// assert_eq!(err.to_string(), "no marker site matches `no_such_marker`");
/// ```
pub fn write(body: &str) -> io::Result<String> {
    let (name, command) = parse(body)?;
    let mut list = attached();
    let probe = match command {
        Command::Off => {
            let (gone, kept): (Vec<Attached>, Vec<Attached>) =
                list.drain(..).partition(|a| a.name == name);
            *list = kept;
            drop(list);
            if gone.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no probe was connected to `{name}` through this file"),
                ));
            }
            let n = gone.len();
            for a in gone {
                match registry::disconnect_timeout(a.id, OFF_WAIT) {
                    Ok(()) | Err(Error::StillRunning { .. } | Error::UnknownProbe(_)) => {}
                    Err(e) => return Err(from_error(&e)),
                }
            }
            let s = if n == 1 { "" } else { "s" };
            return Ok(format!("{name}: {n} probe{s} disconnected\n"));
        }
        Command::Counter => Builtin::Counter(Counter::new()),
        Command::Printer => Builtin::Printer,
        Command::Ring(n) => Builtin::Ring(RingBuffer::new(n)),
    };
    if list
        .iter()
        .any(|a| a.name == name && a.probe.kind() == probe.kind())
    {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "`{name}` already has a {} connected through this file",
                probe.kind()
            ),
        ));
    }
    let id = match &probe {
        Builtin::Counter(c) => registry::connect(&name, c.clone()),
        Builtin::Printer => registry::connect(&name, Printer::new()),
        Builtin::Ring(r) => registry::connect(&name, r.clone()),
    }
    .map_err(|e| from_error(&e))?;
    let kind = probe.kind();
    list.push(Attached {
        name: name.clone(),
        probe,
        id,
    });
    Ok(format!("{name}: {kind} connected\n"))
}

/// Reading `markers`: every site (`name(signature) probes=N file:line
/// function`), then the probes connected through the file: `name counter
/// HITS`, `name printer`, `name ring N` followed by its hits, oldest
/// first, indented.
pub fn read() -> String {
    let mut out = String::from("# name(signature) probes file:line function\n");
    for s in site::list() {
        let _ = writeln!(
            out,
            "{}({}) probes={} {}:{} {}",
            s.name(),
            s.signature(),
            s.probes(),
            s.file(),
            s.line(),
            s.function()
        );
    }
    out.push_str("# connected through this file\n");
    for a in attached().iter() {
        match &a.probe {
            Builtin::Counter(c) => {
                let _ = writeln!(out, "{} counter {}", a.name, c.get());
            }
            Builtin::Printer => {
                let _ = writeln!(out, "{} printer", a.name);
            }
            Builtin::Ring(r) => {
                let hits = r.read();
                let _ = writeln!(
                    out,
                    "{} ring {} ({} hits)",
                    a.name,
                    r.capacity(),
                    hits.len()
                );
                for h in hits {
                    let _ = writeln!(out, "  {} {} {}", h.marker, h.location, h.args);
                }
            }
        }
    }
    out
}

/// The counters connected through the file: (name, hits), for the
/// metrics.
pub fn counters() -> Vec<(String, u64)> {
    attached()
        .iter()
        .filter_map(|a| match &a.probe {
            Builtin::Counter(c) => Some((a.name.clone(), c.get())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Command, MAX_RING, parse};

    #[test]
    fn commands_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse("net_rx counter\n").unwrap(),
            ("net_rx".into(), Command::Counter)
        );
        assert_eq!(
            parse(" net_* ring 8 ").unwrap(),
            ("net_*".into(), Command::Ring(8))
        );
        assert_eq!(parse("x off").unwrap().1, Command::Off);
        assert_eq!(parse("x printer").unwrap().1, Command::Printer);
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert!(e("x ring 0").contains("ring size `0`"));
        assert!(e(&format!("x ring {}", MAX_RING + 1)).contains("from 1 to 65536"));
        assert!(e("x gauge").contains("unknown probe `gauge`"));
        assert!(e("x").contains("has no probe"));
        assert!(e("").contains("empty command"));
        assert!(e("a counter\nb counter").contains("one command per write"));
    }
}
