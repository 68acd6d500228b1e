//! `dyndbg::LogFilter` against `env_logger`'s filter, in one run, on the
//! same records (a `log::debug!` callsite's record, static file and line):
//! a disabled record (env_logger filtering at `info`; no query switched
//! the callsite on: one cached lookup), and an enabled one (LogFilter in
//! front of the same env_logger at `trace`, writing to `io::sink`).
//!
//! Both loggers are called directly (`Log::log`), so both see every
//! record: in a program `log`'s max level, which env_logger sets to its
//! most verbose directive, stops a disabled `log::debug!` before any
//! logger for 9 instructions (the callsite bench); LogFilter needs the
//! max level at `Trace`, since any record may be switched on at runtime.
//!
//! `cargo bench -p benches --features log-filter --bench log_filter`

#![allow(clippy::inline_always)]

use std::hint::black_box;

use benches::{Case, compare};
use log::Log;

#[inline(always)] // measure the record inside its caller, not a call
fn record(logger: &dyn Log, x: u64) {
    logger.log(
        &log::Record::builder()
            .level(log::Level::Debug)
            .target(module_path!())
            .module_path_static(Some(module_path!()))
            .file_static(Some(file!()))
            .line(Some(line!()))
            .args(format_args!("request {x} took {}us", x * 3))
            .build(),
    );
}

fn env_logger(filter: &str) -> env_logger::Logger {
    env_logger::Builder::new()
        .parse_filters(filter)
        .target(env_logger::Target::Pipe(Box::new(std::io::sink())))
        .build()
}

fn main() {
    let env_info = env_logger("info");
    let query_off = dyndbg::LogFilter::new(env_logger("trace"));
    let env_trace = env_logger("trace");
    let query_on = dyndbg::LogFilter::new(env_logger("trace"));

    compare(
        "disabled log record",
        &mut [
            Case::new("env_logger filter (info)", |n| {
                (0..n).for_each(|i| record(&env_info, black_box(i)));
            }),
            Case::new("dyndbg LogFilter (off, cached)", |n| {
                (0..n).for_each(|i| record(&query_off, black_box(i)));
            }),
        ],
    );

    dyndbg::control("module log_filter +p").unwrap();
    compare(
        "enabled log record, formatted to io::sink",
        &mut [
            Case::new("env_logger (trace)", |n| {
                (0..n).for_each(|i| record(&env_trace, black_box(i)));
            }),
            Case::new("dyndbg LogFilter (+p) -> env_logger (trace)", |n| {
                (0..n).for_each(|i| record(&query_on, black_box(i)));
            }),
        ],
    );
}
