//! `set_sink` flushes the sink it replaces: a buffering sink does not lose
//! the records it holds when the program switches to another sink.

use std::sync::{Arc, Mutex};

use dyndbg::{Record, Sink, pr_debug};

/// Holds records until flushed, as a buffered writer does.
struct Buffered {
    pending: Mutex<Vec<String>>,
    written: Arc<Mutex<Vec<String>>>,
}

impl Buffered {
    fn new() -> (Buffered, Arc<Mutex<Vec<String>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        (
            Buffered {
                pending: Mutex::new(Vec::new()),
                written: written.clone(),
            },
            written,
        )
    }
}

impl Sink for Buffered {
    fn write(&self, record: &Record<'_>) {
        self.pending.lock().unwrap().push(record.to_string());
    }

    fn flush(&self) {
        let mut pending = self.pending.lock().unwrap();
        self.written.lock().unwrap().append(&mut pending);
    }
}

fn say(n: u32) {
    pr_debug!("set_sink line {n}");
}

#[test]
fn the_replaced_sink_is_flushed() {
    assert_eq!(dyndbg::control("format set_sink +p").unwrap(), 1);
    let (first, first_written) = Buffered::new();
    dyndbg::set_sink(first);
    say(1);
    say(2);
    assert!(first_written.lock().unwrap().is_empty(), "still buffered");

    let (second, second_written) = Buffered::new();
    dyndbg::set_sink(second);
    assert_eq!(
        *first_written.lock().unwrap(),
        ["set_sink line 1", "set_sink line 2"]
    );
    say(3);
    assert!(second_written.lock().unwrap().is_empty());
    // Back to the default: the second is flushed too, the first untouched.
    dyndbg::set_sink(dyndbg::Discard);
    assert_eq!(*second_written.lock().unwrap(), ["set_sink line 3"]);
    assert_eq!(first_written.lock().unwrap().len(), 2);
}
