//! A sink that collects what enabled callsites write, for the tests that
//! check output (`#[path]`-included by each test binary that needs it).

use std::sync::{Mutex, MutexGuard};

use dyndbg::{Record, Sink};

/// Tests in this binary share the callsites' flags and the sink.
static SERIAL: Mutex<()> = Mutex::new(());

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Collect;

impl Sink for Collect {
    fn write(&self, record: &Record<'_>) {
        LINES.lock().unwrap().push(record.to_string());
    }
}

/// Serialises the test, routes output to the collector, switches every
/// callsite off and empties what was collected.
pub(crate) fn setup() -> MutexGuard<'static, ()> {
    let guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    dyndbg::set_sink(Collect);
    dyndbg::reset();
    LINES.lock().unwrap().clear();
    guard
}

/// What was written since the last call, in order.
pub(crate) fn lines() -> Vec<String> {
    std::mem::take(&mut *LINES.lock().unwrap())
}
