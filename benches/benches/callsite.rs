//! `pr_debug!` against the peers a user would pick instead, in one run:
//! disabled callsites (`log::debug!` at max level Info, `tracing::debug!`
//! filtered out by an `EnvFilter`), and enabled ones (`pr_debug!` with a
//! prefix to a sink that formats and drops, `tracing` to a fmt subscriber
//! writing to `io::sink`).
//!
//! `cargo bench -p benches --bench callsite`

#![allow(clippy::inline_always)]

use std::hint::black_box;

use benches::{Case, compare};

mod disabled {
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn pr_debug(x: u64) {
        dyndbg::pr_debug!("request {x} took {}us", x * 3);
    }
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn log(x: u64) {
        log::debug!("request {x} took {}us", x * 3);
    }
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn tracing(x: u64) {
        tracing::debug!(target: "disabled", "request {x} took {}us", x * 3);
    }
}

mod enabled {
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn pr_debug(x: u64) {
        dyndbg::pr_debug!("request {x} took {}us", x * 3);
    }
    #[inline(always)] // measure the callsite inside its caller, not a call
    pub(crate) fn tracing(x: u64) {
        tracing::debug!(target: "enabled", "request {x} took {}us", x * 3);
    }
}

struct NopLogger;

impl log::Log for NopLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        false
    }
    fn log(&self, _: &log::Record<'_>) {}
    fn flush(&self) {}
}

fn main() {
    log::set_logger(&NopLogger).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,enabled=debug"))
        .init();
    dyndbg::set_sink(dyndbg::Discard);
    dyndbg::control("module callsite::enabled +pmfl").unwrap();

    compare(
        "disabled callsite",
        &mut [
            Case::new("log::debug! (max level Info)", |n| {
                (0..n).for_each(|i| disabled::log(black_box(i)));
            }),
            Case::new("pr_debug! (off)", |n| {
                (0..n).for_each(|i| disabled::pr_debug(black_box(i)));
            }),
            Case::new("tracing::debug! (EnvFilter info)", |n| {
                (0..n).for_each(|i| disabled::tracing(black_box(i)));
            }),
        ],
    );

    compare(
        "enabled callsite, formatted and discarded",
        &mut [
            Case::new("tracing fmt -> io::sink", |n| {
                (0..n).for_each(|i| enabled::tracing(black_box(i)));
            }),
            Case::new("pr_debug! +pmfl -> Discard", |n| {
                (0..n).for_each(|i| enabled::pr_debug(black_box(i)));
            }),
            Case::new("format! of the same line", |n| {
                for i in 0..n {
                    black_box(format!(
                        "callsite::enabled:pr_debug:27: request {i} took {}us",
                        i * 3
                    ));
                }
            }),
        ],
    );
}
