//! `allocowner`: converts a saved allocowner heap dump (what
//! `Report::write_dump` writes, or the debugfs `page_owner` file serves)
//! to the formats the viewers read, symbolizing raw frames offline, and
//! compares two dumps.
//!
//! ```text
//! allocowner convert --to pprof -o heap.pb.gz heap.dump   # then: go tool pprof -http=: heap.pb.gz
//! allocowner convert --to dhat -o dhat.json heap.dump     # then: load it in dh_view.html
//! allocowner convert heap.dump                            # the grouped report (page_owner_sort's)
//! allocowner diff before.dump after.dump                  # inuse growth per owner stack
//! ```
//!
//! A server saves a cheap raw dump (`Report::with_symbolizer(&snapshot,
//! &mut Symbolizer::raw()).write_dump(..)`: no debug info read, every frame
//! `0xADDR (file+0xOFFSET)`, the module map with build-ids in the footer);
//! on a laptop with the same binaries (found by path, or under
//! `--sysroot`, and checked by build-id) this tool names the frames from
//! their symbol tables and DWARF, showing progress on stderr.
//!
//! Errors are reported as coreutils do, `allocowner: MESSAGE` on stderr;
//! the exit status is 0 on success, 1 on an error, 2 on a usage error.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use allocowner::report::{Frame, Report, SavedDump, SortBy, diff_reports, read_dump, trim};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod offline;
mod progress;

#[derive(Parser, Debug)]
#[command(
    name = "allocowner",
    version,
    about = "Convert saved allocowner heap dumps (pprof, DHAT, folded, SVG, text) and diff two"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert a saved dump to another format.
    Convert {
        /// The dump (`-` for standard input).
        input: PathBuf,
        /// The output format.
        #[arg(short = 't', long, value_enum, default_value_t = Format::Grouped)]
        to: Format,
        /// Where to write (default: standard output); written whole or
        /// not at all.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The grouped report's order.
        #[arg(long, value_enum, default_value_t = Sort::Bytes)]
        sort: Sort,
        /// The grouped report's number of owners shown (default: all).
        #[arg(long)]
        top: Option<usize>,
        #[command(flatten)]
        symbols: SymbolArgs,
    },
    /// Live-heap (inuse) growth per owner stack from BEFORE to AFTER, two
    /// dumps of one process.
    Diff {
        /// The earlier dump.
        before: PathBuf,
        /// The later dump.
        after: PathBuf,
        /// Where to write (default: standard output); written whole or
        /// not at all.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        symbols: SymbolArgs,
    },
}

#[derive(Args, Debug)]
struct SymbolArgs {
    /// Look for the dump's files under this directory (a copy of the
    /// server's root).
    #[arg(long)]
    sysroot: Option<PathBuf>,
    /// Leave raw frames as addresses.
    #[arg(long)]
    no_symbolize: bool,
    /// The progress bar of symbolization on stderr.
    #[arg(long, value_enum, default_value_t = progress::When::Auto)]
    progress: progress::When,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Live bytes and count per owner stack, as page_owner_sort groups.
    Grouped,
    /// Folded stacks (`outer;inner bytes`) for inferno, flamegraph.pl, speedscope.
    Folded,
    /// A self-contained SVG flame graph.
    Svg,
    /// pprof profile.proto, gzip-compressed (go tool pprof, Pyroscope, Parca).
    Pprof,
    /// DHAT JSON (Valgrind's dh_view.html, the Firefox Profiler).
    Dhat,
    /// The dump itself (symbolized when it was raw).
    Dump,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Sort {
    /// By live bytes.
    Bytes,
    /// By live allocations.
    Count,
}

/// An error to report as `allocowner: MESSAGE`.
#[derive(Debug)]
struct Error(String);

/// An I/O error's message without Rust's ` (os error N)` suffix, as
/// strerror gives it.
pub(crate) fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
    }
}

/// Reads and parses the dump at `path` (`-`: standard input).
fn read(path: &Path) -> Result<SavedDump, Error> {
    let mut text = String::new();
    let result = if path == Path::new("-") {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| {
        Error(format!(
            "cannot read {}: {}",
            path.display(),
            io_message(&e)
        ))
    })?;
    read_dump(&text).map_err(|e| {
        if e.line == 0 {
            Error(format!("{}: {}", path.display(), e.message))
        } else {
            Error(format!("{}:{}: {}", path.display(), e.line, e.message))
        }
    })
}

/// Names the raw frames of `saved` from the files of its module map.
fn symbolize(saved: &mut SavedDump, args: &SymbolArgs) {
    if args.no_symbolize {
        return;
    }
    let Some(modules) = saved.modules.clone() else {
        return;
    };
    let total: usize = saved
        .frames
        .values()
        .flatten()
        .filter(|f| f.function.is_none())
        .count();
    if total == 0 {
        return;
    }
    let mut bar = progress::Bar::new(args.progress, "symbolizing", total);
    let mut offline = offline::Offline::new(args.sysroot.clone());
    let mut handles: Vec<_> = saved.frames.keys().copied().collect();
    handles.sort_unstable();
    for h in handles {
        let frames = &saved.frames[&h];
        let mut out: Vec<Frame> = Vec::with_capacity(frames.len());
        let mut resolved = false;
        for f in frames {
            if f.function.is_some() {
                out.push(f.clone());
                continue;
            }
            bar.step();
            let named = modules.lookup(f.addr).and_then(|(m, file_addr)| {
                match offline.resolve(&m.path, m.build_id.as_deref(), f.addr, file_addr) {
                    Ok(frames) => frames,
                    Err(e) => {
                        bar.message(&format!(
                            "allocowner: warning: {e}: its frames are left as addresses"
                        ));
                        None
                    }
                }
            });
            match named {
                Some(named) => {
                    resolved = true;
                    out.extend(named);
                }
                None => out.push(f.clone()),
            }
        }
        // Symbolized, the stack is trimmed of the allocation machinery
        // as the in-process symbolizer trims it.
        let out = if resolved { trim(out) } else { out };
        saved.frames.insert(h, out);
    }
    bar.finish();
}

/// `cannot write report PATH: WHY`, as the workspace's other writers say it.
fn write_error(path: &Path, e: &io::Error) -> Error {
    Error(format!(
        "cannot write report {}: {}",
        path.display(),
        io_message(e)
    ))
}

/// Writes `path` whole or not at all: into a new file beside it (created
/// with `O_EXCL`, `O_NOFOLLOW`, `O_CLOEXEC`, mode 0600), renamed over it
/// once complete, so that a failed write (a full disk, a size limit)
/// leaves what was there untouched and no partial file. A symlink at
/// `path` is refused (`ELOOP`, as `O_NOFOLLOW` refuses it): never written
/// through, never replaced.
fn write_file(path: &Path, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Error> {
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(write_error(
            path,
            &io::Error::from_raw_os_error(libc::ELOOP),
        ));
    }
    let Some(name) = path.file_name() else {
        return Err(write_error(
            path,
            &io::Error::from_raw_os_error(libc::EISDIR),
        ));
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| write_error(path, &e))?;
    let mut w = io::BufWriter::new(file);
    let written = f(&mut w)
        .and_then(|()| w.flush())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(path, &e));
    }
    Ok(())
}

/// Writes with `f` to `output` (standard output when `None`).
fn write_out(
    output: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    if let Some(path) = output {
        return write_file(path, f);
    }
    let mut w = io::BufWriter::new(io::stdout().lock());
    f(&mut w).and_then(|()| w.flush()).map_err(|e| {
        Error(format!(
            "cannot write report to standard output: {}",
            io_message(&e)
        ))
    })
}

fn convert(
    input: &Path,
    to: Format,
    output: Option<&Path>,
    sort: Sort,
    top: Option<usize>,
    symbols: &SymbolArgs,
) -> Result<(), Error> {
    let mut saved = read(input)?;
    symbolize(&mut saved, symbols);
    let report = Report::from_saved(&saved);
    let sort = match sort {
        Sort::Bytes => SortBy::Bytes,
        Sort::Count => SortBy::Count,
    };
    write_out(output, |w| match to {
        Format::Grouped => w.write_all(report.grouped(sort, top.unwrap_or(usize::MAX)).as_bytes()),
        Format::Folded => w.write_all(report.folded().as_bytes()),
        Format::Svg => w.write_all(report.flamegraph_svg().as_bytes()),
        Format::Pprof => report.write_pprof(w),
        Format::Dhat => report.write_dhat(w),
        Format::Dump => report.write_dump(w),
    })
}

fn diff(
    before: &Path,
    after: &Path,
    output: Option<&Path>,
    symbols: &SymbolArgs,
) -> Result<(), Error> {
    let mut b = read(before)?;
    let mut a = read(after)?;
    symbolize(&mut b, symbols);
    symbolize(&mut a, symbols);
    let d = diff_reports(&Report::from_saved(&b), &Report::from_saved(&a));
    let mut text = String::new();
    let _ = write!(text, "{d}");
    write_out(output, |w| w.write_all(text.as_bytes()))
}

fn main() -> ExitCode {
    // Usage errors: clap prints them and exits with 2.
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Convert {
            input,
            to,
            output,
            sort,
            top,
            symbols,
        } => convert(input, *to, output.as_deref(), *sort, *top, symbols),
        Command::Diff {
            before,
            after,
            output,
            symbols,
        } => diff(before, after, output.as_deref(), symbols),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error(message)) => {
            eprintln!("allocowner: {message}");
            ExitCode::FAILURE
        }
    }
}
