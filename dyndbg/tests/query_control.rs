//! The query language through the public API: `dyndbg::control` over
//! callsites spread across modules and two source files, checked with
//! `callsites()`, `listing()` and `reset()`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use dyndbg::{Callsite, Flags, pr_debug};

#[path = "query_sites/wire.rs"]
mod wire;

mod net {
    use dyndbg::pr_debug;

    pub(crate) struct Client {
        pub(crate) id: u32,
    }

    impl Client {
        pub(crate) fn connect(&self, host: &str) {
            pr_debug!("net: connecting to {host} as {}", self.id);
        }

        pub(crate) fn recv(&self, n: usize) {
            pr_debug!(class = "WIRE", "net: received {n} bytes on {}", self.id);
        }
    }

    pub(crate) fn connect(host: &str) {
        pr_debug!("net: free connect to {host}");
    }

    pub(crate) mod tcp {
        use dyndbg::pr_debug;

        pub(crate) fn handshake() {
            pr_debug!("net: handshake; step 1");
            pr_debug!("net: handshake\tstep 2");
        }
    }
}

mod storage {
    use dyndbg::pr_debug;

    pub(crate) fn flush(blocks: usize) {
        pr_debug!("storage: flushing {blocks} blocks");
    }
}

fn start() {
    pr_debug!("main: starting");
}

/// Tests in this binary share the callsites' flags.
static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    dyndbg::reset();
    guard
}

/// Runs every callsite once, so they are all live (not needed for
/// matching, which sees callsites before they run).
fn run_all() {
    let client = net::Client { id: 7 };
    client.connect("example.org");
    client.recv(3);
    net::connect("example.org");
    net::tcp::handshake();
    storage::flush(2);
    start();
    let codec = wire::Codec { version: 2 };
    codec.encode(1);
    codec.decode(1);
    #[allow(clippy::used_underscore_items)] // the name is what is tested
    wire::_checksum();
}

/// This binary's callsites (the format strings all start with a tag).
fn ours() -> Vec<&'static Callsite> {
    dyndbg::callsites()
        .filter(|cs| cs.module().starts_with("query_control"))
        .collect()
}

fn site(format_start: &str) -> &'static Callsite {
    let found: Vec<_> = ours()
        .into_iter()
        .filter(|cs| cs.format().starts_with(format_start))
        .collect();
    assert_eq!(found.len(), 1, "{format_start}");
    found[0]
}

fn flags(format_start: &str) -> String {
    site(format_start).flags().to_string()
}

/// The formats of this binary's callsites whose flags include `p`.
fn printing() -> Vec<&'static str> {
    let mut v: Vec<_> = ours()
        .into_iter()
        .filter(|cs| cs.flags().contains(Flags::PRINT))
        .map(Callsite::format)
        .collect();
    v.sort_unstable();
    v
}

fn unclassed() -> usize {
    ours().iter().filter(|cs| cs.class().is_none()).count()
}

#[test]
fn every_callsite_is_registered_with_its_module_and_file() {
    let _g = setup();
    assert_eq!(ours().len(), 10);
    assert_eq!(unclassed(), 8);
    assert_eq!(site("wire: encoding").module(), "query_control::wire");
    assert!(
        site("wire: encoding")
            .file()
            .ends_with("tests/query_sites/wire.rs")
    );
    assert!(
        site("main: starting")
            .file()
            .ends_with("tests/query_control.rs")
    );
    run_all();
}

#[test]
fn match_count_is_summed_over_queries_including_unchanged() {
    let _g = setup();
    assert_eq!(dyndbg::control("func Client::connect +p"), Ok(1));
    // Matches again although nothing changes; the second query adds 1.
    assert_eq!(
        dyndbg::control("func Client::connect +p; func flush +p"),
        Ok(2)
    );
    assert_eq!(dyndbg::control("func no_such_function +p"), Ok(0));
    assert_eq!(dyndbg::control(""), Ok(0));
    assert_eq!(dyndbg::control("# only a comment\n;;"), Ok(0));
    // A bare `+` only counts.
    let before = dyndbg::listing();
    assert_eq!(
        dyndbg::control("module query_control::* +"),
        Ok(unclassed() - 1)
    );
    assert_eq!(dyndbg::listing(), before);
}

#[test]
fn func_matches_qualified_bare_and_module_qualified_names() {
    let _g = setup();
    // `connect` is both the method's last segment and the free function.
    assert_eq!(dyndbg::control("func connect +p"), Ok(2));
    assert_eq!(
        printing(),
        [
            "net: connecting to {host} as {}",
            "net: free connect to {host}"
        ]
    );
    dyndbg::reset();
    assert_eq!(dyndbg::control("func Client::connect +p"), Ok(1));
    assert_eq!(
        dyndbg::control("func query_control::net::Client::connect +f"),
        Ok(1)
    );
    assert_eq!(flags("net: connecting"), "pf");
    assert_eq!(dyndbg::control("func Codec::* +l"), Ok(1));
    assert_eq!(flags("wire: encoding"), "l");
    assert_eq!(dyndbg::control("func _checksum +p"), Ok(1));
    assert_eq!(dyndbg::control("func hand?hake +p"), Ok(2));
}

#[test]
fn file_matches_full_path_basename_and_crate_relative_path() {
    let _g = setup();
    let full = site("wire: encoding").file();
    assert_eq!(dyndbg::control(&format!("file {full} +p")), Ok(2));
    assert_eq!(dyndbg::control("file wire.rs +m"), Ok(2));
    assert_eq!(dyndbg::control("file tests/query_sites/wire.rs +f"), Ok(2));
    assert_eq!(flags("wire: encoding"), "pmf");
    assert_eq!(dyndbg::control("file query_sites/wire.rs +p"), Ok(0));
    assert_eq!(
        dyndbg::control("file query_control.rs +p"),
        Ok(unclassed() - 2)
    );
    assert_eq!(dyndbg::control("file *query_* +p"), Ok(unclassed()));
}

#[test]
fn file_with_function_or_line_tail() {
    let _g = setup();
    assert_eq!(dyndbg::control("file query_control.rs:flush +p"), Ok(1));
    assert_eq!(printing(), ["storage: flushing {blocks} blocks"]);
    let line = site("main: starting").line();
    assert_eq!(
        dyndbg::control(&format!("file query_control.rs:{line} +t")),
        Ok(1)
    );
    assert_eq!(flags("main: starting"), "t");
    assert_eq!(
        dyndbg::control(&format!(
            "file query_control.rs:{}-{} +l",
            line - 1,
            line + 1
        )),
        Ok(1)
    );
    assert_eq!(flags("main: starting"), "lt");
}

#[test]
fn module_matches_the_whole_path() {
    let _g = setup();
    assert_eq!(dyndbg::control("module query_control::net +p"), Ok(2));
    assert_eq!(dyndbg::control("module query_control::net::* +p"), Ok(2));
    assert_eq!(dyndbg::control("module query_control::net* +m"), Ok(4));
    assert_eq!(dyndbg::control("module query_control -p"), Ok(1));
    assert_eq!(dyndbg::control("module net +p"), Ok(0));
}

#[test]
fn line_ranges() {
    let _g = setup();
    let first = site("net: handshake; step 1").line();
    let second = site("net: handshake\tstep 2").line();
    assert_eq!(second, first + 1);
    assert_eq!(dyndbg::control(&format!("line {first} +p")), Ok(1));
    assert_eq!(
        dyndbg::control(&format!("module *::tcp line {first}-{second} +f")),
        Ok(2)
    );
    assert_eq!(
        dyndbg::control(&format!("module *::tcp line {second}- +l")),
        Ok(1)
    );
    assert_eq!(
        dyndbg::control(&format!("module *::tcp line -{first} +m")),
        Ok(1)
    );
    assert_eq!(flags("net: handshake; step 1"), "pmf");
    assert_eq!(flags("net: handshake\tstep 2"), "fl");
    assert_eq!(dyndbg::control("module *::tcp line 0 +t"), Ok(2));
}

#[test]
fn format_substring_anchor_quotes_and_escapes() {
    let _g = setup();
    assert_eq!(dyndbg::control("format bytes +p"), Ok(1));
    assert_eq!(printing(), ["wire: encoding {len} bytes, v{}"]);
    assert_eq!(dyndbg::control("format ^net: +m"), Ok(4));
    assert_eq!(dyndbg::control("format ^connecting +f"), Ok(0));
    assert_eq!(dyndbg::control("format 'free connect' +l"), Ok(1));
    // `;` splits even inside quotes: reach it with an octal escape.
    assert_eq!(dyndbg::control(r"format handshake\073 +t"), Ok(1));
    assert_eq!(dyndbg::control(r"format handshake\tstep +t"), Ok(1));
    assert_eq!(flags("net: handshake; step 1"), "mt");
}

#[test]
fn class_selects_only_its_callsites() {
    let _g = setup();
    assert_eq!(dyndbg::control("+p"), Ok(unclassed()));
    assert!(!site("net: received").flags().contains(Flags::PRINT));
    assert_eq!(dyndbg::control("class WIRE +p"), Ok(2));
    assert_eq!(flags("net: received"), "p");
    assert_eq!(flags("wire: decoded"), "p");
    assert_eq!(dyndbg::control("class WIRE func recv -p"), Ok(1));
    assert_eq!(flags("net: received"), "_");
    assert_eq!(dyndbg::control("class wire +p"), Ok(0));
    assert_eq!(dyndbg::control("class W* +p"), Ok(0));
    assert_eq!(dyndbg::control("func recv +p"), Ok(0));
}

#[test]
fn a_failing_batch_changes_nothing() {
    let _g = setup();
    dyndbg::control("func flush +pl").unwrap();
    let before = dyndbg::listing();
    let snapshot: Vec<Flags> = ours().iter().map(|cs| cs.flags()).collect();
    for bad in [
        "+p; func connect +q",
        "=_; module *\nline 9-1 +p",
        "+pmfslt; format 'unclosed",
        "+t; func a func b +p",
        "+p; wtf 1 +p",
        "+p;func main",
    ] {
        let err = dyndbg::control(bad).unwrap_err();
        assert_eq!(err.query_number(), 2, "{err}");
        assert!(err.offset() < bad.len(), "{err}");
        assert_eq!(dyndbg::listing(), before, "{bad}");
    }
    let after: Vec<Flags> = ours().iter().map(|cs| cs.flags()).collect();
    assert_eq!(after, snapshot);
}

#[test]
fn error_display_names_query_offset_and_expectation() {
    let _g = setup();
    let err = dyndbg::control("file tcp.rs +p\nfunc foo +x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "query 2 \"func foo +x\": at byte 25: unknown flag 'x', expected one of p m f s l t _"
    );
    assert_eq!(err.query(), "func foo +x");
    assert_eq!(err.offset(), 25);
    assert_eq!(
        err.message(),
        "unknown flag 'x', expected one of p m f s l t _"
    );
    let err = dyndbg::control("module a b c d e f g h i +p").unwrap_err();
    assert!(err.message().starts_with("too many words"), "{err}");
}

#[test]
fn listing_shows_flags_and_reset_restores_them() {
    let _g = setup();
    run_all();
    dyndbg::control("func Client::connect =pmf; class WIRE file wire.rs +l").unwrap();
    let listing = dyndbg::listing();
    let connect = site("net: connecting");
    let line = format!(
        "{}:{} [query_control::net]Client::connect =pmf \"net: connecting to {{host}} as {{}}\"\n",
        connect.file(),
        connect.line()
    );
    assert!(listing.contains(&line), "{listing}");
    assert!(
        listing.contains("]Codec::decode =l \"wire: decoded {len} bytes, v{}\" class:WIRE\n"),
        "{listing}"
    );
    dyndbg::reset();
    assert!(ours().iter().all(|cs| cs.flags() == cs.default_flags()));
    assert!(ours().iter().all(|cs| cs.flags() == Flags::NONE));
    assert!(!dyndbg::listing().contains("=pmf"));
}

#[test]
fn enabled_callsites_print_and_disabled_ones_do_not() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static WRITTEN: AtomicUsize = AtomicUsize::new(0);
    struct Count;
    impl dyndbg::Sink for Count {
        fn write(&self, record: &dyndbg::Record<'_>) {
            assert_eq!(record.function(), "flush");
            WRITTEN.fetch_add(1, Ordering::SeqCst);
        }
    }

    let _g = setup();
    dyndbg::set_sink(Count);
    run_all();
    assert_eq!(WRITTEN.load(Ordering::SeqCst), 0);
    dyndbg::control("module query_control::storage +p").unwrap();
    run_all();
    assert_eq!(WRITTEN.load(Ordering::SeqCst), 1);
    dyndbg::set_sink(dyndbg::Stderr);
    dyndbg::reset();
}
