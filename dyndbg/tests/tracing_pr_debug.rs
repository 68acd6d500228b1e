//! With the `tracing` feature, an enabled pr_debug! line becomes a
//! `tracing` event while a dispatcher is in force and the sink is the
//! default; otherwise it goes to the sink as before.

#[path = "support/tracing_collect.rs"]
mod collect;

use collect::Collect;
use tracing_subscriber::prelude::*;

fn connect() -> u32 {
    let line = line!() + 1;
    dyndbg::pr_debug!("connecting to {}", "example.org");
    line
}

fn wire() {
    dyndbg::pr_debug!(class = "WIRE", "sent {} bytes", 42);
}

#[derive(Default)]
struct Lines(std::sync::Mutex<Vec<String>>);
impl dyndbg::Sink for &'static Lines {
    fn write(&self, record: &dyndbg::Record<'_>) {
        self.0.lock().unwrap().push(record.to_string());
    }
}

/// One test: the sink is process-wide.
#[test]
fn pr_debug_lines_become_tracing_events() {
    dyndbg::control("func connect +pfl; class WIRE func wire +p").unwrap();

    // A dispatcher in force: the line is a tracing event (with a
    // `QueryFilter` in the subscriber too: it leaves these events alone).
    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry().with(
        collect
            .clone()
            .with_filter(dyndbg::tracing::QueryFilter::new()),
    );
    let line = tracing::subscriber::with_default(subscriber, || {
        wire();
        connect()
    });
    let seen = collect.take();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (wire_event, connect_event) = (&seen[0], &seen[1]);
    assert_eq!(connect_event.name, "dyndbg::pr_debug");
    assert_eq!(connect_event.target, "tracing_pr_debug");
    assert_eq!(connect_event.basename(), "tracing_pr_debug.rs");
    assert_eq!(connect_event.line, line);
    assert_eq!(connect_event.message(), "connecting to example.org");
    assert_eq!(connect_event.field("function"), Some("connect"));
    assert_eq!(connect_event.field("class"), None);
    assert_eq!(wire_event.message(), "sent 42 bytes");
    assert_eq!(wire_event.field("function"), Some("wire"));
    assert_eq!(wire_event.field("class"), Some("WIRE"));
    // pr_debug!'s event callsites are not listed as tracing's.
    assert!(!dyndbg::listing().contains("[tracing]"));

    // No dispatcher: the line goes to the sink (stderr by default), not to
    // tracing.
    connect();
    assert!(collect.take().is_empty());

    // A sink set: the sink gets the line, even with a dispatcher.
    let lines: &'static Lines = Box::leak(Box::default());
    dyndbg::set_sink(lines);
    let subscriber = tracing_subscriber::registry().with(collect.clone());
    tracing::subscriber::with_default(subscriber, connect);
    assert!(collect.take().is_empty());
    assert_eq!(
        *lines.0.lock().unwrap(),
        [format!("connect:{line}: connecting to example.org")]
    );
}
