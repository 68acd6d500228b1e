//! `dyndbg::LogFilter` (the `log` feature): the queries in front of a
//! `log::Log`, per record, with a per-callsite decision cache that every
//! `control` invalidates. Run by
//! `cargo test -p dyndbg --features log --test log_filter`.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// Keeps (file basename, line, target, message) of every record passed.
struct Keep(Mutex<Vec<(String, u32, String, String)>>);

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let file = record.file().unwrap_or("");
        self.0.lock().unwrap().push((
            file.rsplit('/').next().unwrap_or(file).to_owned(),
            record.line().unwrap_or(0),
            record.target().to_owned(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

/// The filter, installed once; one test at a time (queries are global).
fn setup() -> (MutexGuard<'static, ()>, &'static dyndbg::LogFilter<Keep>) {
    static LOCK: Mutex<()> = Mutex::new(());
    static FILTER: OnceLock<&'static dyndbg::LogFilter<Keep>> = OnceLock::new();
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let filter = FILTER.get_or_init(|| {
        let filter: &'static _ =
            Box::leak(Box::new(dyndbg::LogFilter::new(Keep(Mutex::default()))));
        log::set_logger(filter).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        filter
    });
    (guard, filter)
}

fn messages(filter: &dyndbg::LogFilter<Keep>) -> Vec<String> {
    std::mem::take(&mut *filter.inner().0.lock().unwrap())
        .into_iter()
        .map(|(_, _, _, m)| m)
        .collect()
}

mod selectors {
    pub(crate) fn run() -> u32 {
        log::info!("one");
        let line = line!() + 1;
        log::debug!("two {}", 2);
        log::warn!(target: "wire", "three");
        line
    }
}

#[test]
fn module_file_line_and_class_select_records() {
    let (_g, filter) = setup();
    selectors::run();
    assert!(messages(filter).is_empty(), "off before any query");
    dyndbg::control("module log_filter::selectors +p").unwrap();
    selectors::run();
    assert_eq!(messages(filter), ["one", "two 2", "three"]);
    // The cached decisions are dropped by the next control.
    dyndbg::control("module log_filter::selectors -p").unwrap();
    let line = selectors::run();
    assert!(messages(filter).is_empty());
    dyndbg::control(&format!("file log_filter.rs line {line} +p")).unwrap();
    selectors::run();
    assert_eq!(messages(filter), ["two 2"]);
    dyndbg::control(&format!("file log_filter.rs line {line} -p")).unwrap();
    dyndbg::control("module log_filter::selectors class wire +p").unwrap();
    selectors::run();
    assert_eq!(messages(filter), ["three"]);
    dyndbg::control("module log_filter::selectors class wire -p").unwrap();
}

mod formats {
    pub(crate) fn run(n: u32) {
        log::info!("ready");
        log::info!("count {n}");
    }
}

/// `format` matches a record's message only where it is a literal
/// (`Arguments::as_str`); a message with arguments never matches.
#[test]
fn row_log_format_only_literal_messages() {
    let (_g, filter) = setup();
    dyndbg::control("module log_filter::formats format ready +p").unwrap();
    formats::run(1);
    assert_eq!(messages(filter), ["ready"]);
    dyndbg::control("module log_filter::formats format count +p").unwrap();
    formats::run(1);
    assert_eq!(messages(filter), ["ready"]);
    dyndbg::control("module log_filter::formats -p").unwrap();
}

mod funcs {
    pub(crate) fn run() {
        log::info!("in run");
    }
}

/// `func` never selects a `log` record: it has no function.
#[test]
fn row_log_func_never_selects() {
    let (_g, filter) = setup();
    dyndbg::control("module log_filter::funcs func run +p").unwrap();
    funcs::run();
    assert!(messages(filter).is_empty());
}

mod unlisted {
    pub(crate) fn run() {
        log::info!("not listed");
    }
}

/// `log` has no registry of callsites: records are decided, never listed.
#[test]
fn row_log_records_not_listed() {
    let (_g, filter) = setup();
    dyndbg::control("module log_filter::unlisted +p").unwrap();
    unlisted::run();
    assert_eq!(messages(filter), ["not listed"]);
    assert!(!dyndbg::listing().contains("log_filter::unlisted"));
}

/// A record built at runtime (no static file) is decided without the
/// cache, by the same queries.
#[test]
fn records_without_a_static_file_are_decided_too() {
    let (_g, filter) = setup();
    let record = |line| {
        let file = String::from("src/dynamic.rs");
        let record = log::Record::builder()
            .args(format_args!("built"))
            .target("built")
            .module_path(Some("log_filter::built"))
            .file(Some(&file))
            .line(Some(line))
            .build();
        filter.passes(&record)
    };
    assert!(!record(3));
    dyndbg::control("file dynamic.rs line 3 +p").unwrap();
    assert!(record(3));
    assert!(!record(4));
    dyndbg::control("file dynamic.rs -p").unwrap();
    assert!(!record(3));
}

fn pr_debug_site() {
    dyndbg::pr_debug!("from pr_debug");
}

/// A pr_debug! line that dyndbg's `Log` sink (the `log` feature's
/// default) sends to `log` passes the filter: pr_debug!'s own flags
/// decided (`func` selects it although a `log` record has no function).
#[test]
fn pr_debug_lines_sent_to_log_pass_the_filter() {
    let (_g, filter) = setup();
    pr_debug_site();
    assert!(messages(filter).is_empty());
    dyndbg::control("func pr_debug_site +p").unwrap();
    pr_debug_site();
    assert_eq!(messages(filter), ["from pr_debug"]);
    dyndbg::control("func pr_debug_site -p").unwrap();
}
