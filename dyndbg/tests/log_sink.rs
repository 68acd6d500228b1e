//! With the `log` feature, records go to the `log` facade with target,
//! module, file and line set. Run: `cargo test -p dyndbg --features log --test log_sink`.
#![cfg(feature = "log")]

use std::sync::Mutex;

struct Capture;

/// target, module path, file, line, "LEVEL message"
type Seen = (String, String, String, u32, String);

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        SEEN.lock().unwrap().push((
            r.target().to_owned(),
            r.module_path().unwrap_or("").to_owned(),
            r.file().unwrap_or("").to_owned(),
            r.line().unwrap_or(0),
            format!("{} {}", r.level(), r.args()),
        ));
    }
    fn flush(&self) {}
}

mod storage {
    pub(crate) fn flush(n: u32) {
        dyndbg::pr_debug!("flushing {n} pages");
    }
}

#[test]
fn records_reach_the_log_facade() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    storage::flush(1);
    assert!(SEEN.lock().unwrap().is_empty());
    dyndbg::control("func flush +pfl").unwrap();
    storage::flush(2);
    let seen = SEEN.lock().unwrap().clone();
    let line = dyndbg::callsites()
        .find(|cs| cs.format() == "flushing {n} pages")
        .unwrap()
        .line();
    assert_eq!(
        seen,
        [(
            "log_sink::storage".to_owned(),
            "log_sink::storage".to_owned(),
            "dyndbg/tests/log_sink.rs".to_owned(),
            line,
            "DEBUG flushing 2 pages".to_owned()
        )]
    );
}
