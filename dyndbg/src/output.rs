//! Where enabled callsites write: a replaceable sink, stderr by default.
//!
//! The line a sink receives is the kernel's: an optional prefix chosen by the
//! callsite's flags (`[tid] module:function:file:line: `), then the message.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::flags::Flags;

/// One enabled callsite's output, handed to the [`Sink`].
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    module: &'a str,
    file: &'a str,
    function: &'a str,
    line: u32,
    flags: Flags,
    args: fmt::Arguments<'a>,
}

impl<'a> Record<'a> {
    /// A record from its parts; `flags` choose the prefix.
    pub fn new(
        module: &'a str,
        file: &'a str,
        function: &'a str,
        line: u32,
        flags: Flags,
        args: fmt::Arguments<'a>,
    ) -> Record<'a> {
        Record {
            module,
            file,
            function,
            line,
            flags,
            args,
        }
    }

    /// The module path of the callsite.
    pub fn module(&self) -> &'a str {
        self.module
    }

    /// The source file of the callsite.
    pub fn file(&self) -> &'a str {
        self.file
    }

    /// The function of the callsite, qualified within its module.
    pub fn function(&self) -> &'a str {
        self.function
    }

    /// The line of the callsite.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The flags that were in force.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The message, not yet formatted.
    pub fn args(&self) -> fmt::Arguments<'a> {
        self.args
    }

    /// Writes the prefix the flags ask for, in the kernel's order:
    /// `[tid] `, `module:`, `function:`, `file:`, `line:`, then one space
    /// if any of the last four was written.
    pub fn write_prefix(&self, out: &mut impl fmt::Write) -> fmt::Result {
        // Plain string writes, no format machinery: this runs on every
        // enabled print.
        let flags = self.flags;
        if flags.contains(Flags::THREAD) {
            out.write_char('[')?;
            write_decimal(out, thread_id())?;
            out.write_str("] ")?;
        }
        let mut any = false;
        for (flag, text) in [
            (Flags::MODULE, self.module),
            (Flags::FUNCTION, self.function),
            (Flags::SOURCE, self.file),
        ] {
            if flags.contains(flag) {
                out.write_str(text)?;
                out.write_char(':')?;
                any = true;
            }
        }
        if flags.contains(Flags::LINE) {
            write_decimal(out, u64::from(self.line))?;
            out.write_char(':')?;
            any = true;
        }
        if any {
            out.write_char(' ')?;
        }
        Ok(())
    }
}

/// Writes `n` in decimal without going through `fmt`.
fn write_decimal(out: &mut impl fmt::Write, mut n: u64) -> fmt::Result {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..]
        .iter()
        .try_for_each(|&d| out.write_char(char::from(d)))
}

/// The whole line without its newline: prefix, then message.
impl fmt::Display for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_prefix(f)?;
        f.write_fmt(self.args)
    }
}

/// Receives every enabled callsite's record.
pub trait Sink: Send + Sync + 'static {
    /// Writes one record. Must not panic; errors are the sink's to swallow.
    fn write(&self, record: &Record<'_>);

    /// Writes out whatever the sink buffers. [`set_sink`] calls it on the
    /// sink it replaces (which is never dropped, see there). The default
    /// does nothing. Must not panic.
    fn flush(&self) {}
}

/// The default sink: one line per record on stderr, through the same path
/// as `eprint!`, so the test harness captures it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stderr;

impl Sink for Stderr {
    fn write(&self, record: &Record<'_>) {
        with_line(record, |line| eprint!("{line}"));
    }

    fn flush(&self) {
        let _ = std::io::Write::flush(&mut std::io::stderr());
    }
}

/// Formats every record, prefix included, and drops it: the cost of an
/// enabled callsite without the cost of I/O (what benchmarks compare).
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl Sink for Discard {
    fn write(&self, record: &Record<'_>) {
        with_line(record, |line| {
            std::hint::black_box(line);
        });
    }
}

/// Routes records into the `log` facade at `Debug` level, with target and
/// module set to the module path and file and line set.
#[cfg(feature = "log")]
#[derive(Debug, Default, Clone, Copy)]
pub struct Log;

#[cfg(feature = "log")]
thread_local! {
    /// Set while [`Log`] hands a pr_debug! line to `log`: a `LogFilter`
    /// lets it through (pr_debug!'s own flags already decided).
    static IN_LOG_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside [`Log`]'s `write`: the `log` record being
/// logged is a pr_debug! line.
#[cfg(feature = "log")]
pub(crate) fn in_log_sink() -> bool {
    IN_LOG_SINK.try_with(Cell::get).unwrap_or(false)
}

#[cfg(feature = "log")]
impl Sink for Log {
    fn write(&self, record: &Record<'_>) {
        let outer = IN_LOG_SINK.try_with(|inside| inside.replace(true));
        // The prefix is the flags' business; log's formatter adds its own.
        log::logger().log(
            &log::Record::builder()
                .level(log::Level::Debug)
                .target(record.module)
                .module_path(Some(record.module))
                .file(Some(record.file))
                .line(Some(record.line))
                .args(record.args)
                .build(),
        );
        if let Ok(outer) = outer {
            let _ = IN_LOG_SINK.try_with(|inside| inside.set(outer));
        }
    }

    fn flush(&self) {
        log::logger().flush();
    }
}

/// Formats a record plus newline into a reused per-thread buffer.
fn with_line(record: &Record<'_>, f: impl FnOnce(&str)) {
    thread_local! {
        static BUF: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let mut f = Some(f);
    let _ = BUF.try_with(|buf| {
        // A sink that prints from inside a record's Display would re-enter.
        if let Ok(mut buf) = buf.try_borrow_mut() {
            buf.clear();
            let _ = record.write_prefix(&mut *buf);
            let _ = buf.write_fmt(record.args);
            buf.push('\n');
            (f.take().expect("called once"))(&buf);
        }
    });
    if let Some(f) = f {
        // Thread teardown or re-entry: format without the buffer.
        f(&format!("{record}\n"));
    }
}

static SINK: AtomicPtr<Box<dyn Sink>> = AtomicPtr::new(std::ptr::null_mut());

/// Replaces the sink every enabled callsite writes to, and flushes the sink
/// it replaces ([`Sink::flush`]).
///
/// The replaced sink is flushed but never dropped: each replacement leaks
/// it: 16 bytes plus the sink itself (nothing more for a zero-sized sink
/// such as [`Stderr`] or [`Discard`]), and whatever it owns (an open file
/// stays open). The reason is the cost of the
/// alternative: another thread may be inside the old sink's `write` at
/// this moment, and knowing when the last such call has returned would
/// make every enabled print announce itself (a shared counter or hazard
/// slot written twice per record), a price paid on every print to save a
/// few bytes in a call that programs make once or a handful of times. A
/// sink that must release a resource when replaced should do it in
/// `flush` only if it can still take records afterwards (records already
/// on their way on other threads can reach the old sink after its flush).
///
/// ```
/// struct Lines(std::sync::Mutex<Vec<String>>);
/// impl dyndbg::Sink for Lines {
///     fn write(&self, record: &dyndbg::Record<'_>) {
///         self.0.lock().unwrap().push(record.to_string());
///     }
/// }
/// dyndbg::set_sink(Lines(Default::default()));
/// // Back to stderr; `Lines` is flushed (its default flush does nothing).
/// dyndbg::set_sink(dyndbg::Stderr);
/// ```
pub fn set_sink(sink: impl Sink) {
    let boxed: Box<Box<dyn Sink>> = Box::new(Box::new(sink));
    // AcqRel: Release publishes the new sink's contents to readers that
    // Acquire it; Acquire makes the old sink's contents visible here.
    let old = SINK.swap(Box::into_raw(boxed), Ordering::AcqRel);
    if old.is_null() {
        default_sink().flush();
    } else {
        // SAFETY: every non-null value stored in SINK comes from
        // Box::into_raw above and is never freed, so `old` points to a
        // live Box<dyn Sink> for the rest of the program.
        unsafe { (*old).flush() }
    }
}

/// Writes a record to the current sink: what enabled callsites do, open to
/// other instrumentation (markers' printer probe) that shares the output.
pub fn emit(record: &Record<'_>) {
    let sink = SINK.load(Ordering::Acquire);
    if sink.is_null() {
        default_sink().write(record);
    } else {
        // SAFETY: every non-null value stored in SINK comes from
        // Box::into_raw in `set_sink` and is never freed (a replaced sink
        // is leaked, not dropped), so it points to a live Box<dyn Sink> for
        // the rest of the program.
        unsafe { (*sink).write(record) }
    }
}

/// Whether no [`set_sink`] call has replaced the default sink.
#[cfg(feature = "tracing")]
pub(crate) fn sink_is_default() -> bool {
    // Relaxed: only whether a pointer was ever stored; the sink it points
    // to is read with Acquire in `emit`.
    SINK.load(Ordering::Relaxed).is_null()
}

#[cfg(feature = "log")]
fn default_sink() -> &'static dyn Sink {
    &Log
}

#[cfg(not(feature = "log"))]
fn default_sink() -> &'static dyn Sink {
    &Stderr
}

/// The kernel prints the pid of the task; ours is the OS thread id.
fn thread_id() -> u64 {
    thread_local! {
        static TID: Cell<u64> = const { Cell::new(0) };
    }
    TID.try_with(|tid| {
        if tid.get() == 0 {
            tid.set(os_thread_id());
        }
        tid.get()
    })
    .unwrap_or_else(|_| os_thread_id())
}

#[cfg(target_os = "linux")]
fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    u64::try_from(tid).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn os_thread_id() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    h.finish() & 0xffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(flags: Flags) -> String {
        Record::new(
            "app::net",
            "src/net.rs",
            "Client::connect",
            42,
            flags,
            format_args!("hi {}", 1),
        )
        .to_string()
    }

    #[test]
    fn prefix_follows_the_kernel_order() {
        assert_eq!(line(Flags::PRINT), "hi 1");
        assert_eq!(
            line(Flags::PRINT | Flags::FUNCTION | Flags::LINE),
            "Client::connect:42: hi 1"
        );
        assert_eq!(
            line(Flags::ALL & !Flags::THREAD),
            "app::net:Client::connect:src/net.rs:42: hi 1"
        );
        let with_tid = line(Flags::PRINT | Flags::THREAD);
        assert!(
            with_tid.starts_with('[') && with_tid.ends_with("] hi 1"),
            "{with_tid}"
        );
    }
}
