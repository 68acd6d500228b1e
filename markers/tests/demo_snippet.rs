//! The snippet handed to the demo (issue 4, item 8), kept compiling here:
//! a marker with the counter probe attached by name, and a printer on a
//! glob writing through dyndbg's output.

use std::sync::{Arc, Mutex};

struct Client {
    host: String,
}

impl Client {
    fn recv(&mut self) -> Vec<u8> {
        let reply = vec![0u8; 64];
        markers::marker!(net_rx, len: usize = reply.len(), host: &str = &self.host);
        reply
    }
}

struct Lines(Arc<Mutex<Vec<String>>>);

impl dyndbg::Sink for Lines {
    fn write(&self, record: &dyndbg::Record<'_>) {
        self.0.lock().unwrap().push(record.to_string());
    }
}

#[test]
fn counter_attached_by_name() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    dyndbg::set_sink(Lines(lines.clone()));
    let mut client = Client {
        host: "db.internal:5432".into(),
    };

    // --- the demo snippet ---
    for site in markers::list() {
        eprintln!("{site}");
    }
    let hits = markers::Counter::new();
    let counter = markers::connect("net_rx", hits.clone()).expect("net_rx is compiled in");
    let printer = markers::connect(
        "net_*",
        markers::Printer::with_flags(dyndbg::Flags::FUNCTION),
    )
    .expect("net_* matches net_rx");
    for _ in 0..3 {
        client.recv();
    }
    eprintln!("net_rx fired {} times", hits.get());
    markers::disconnect(printer).unwrap();
    markers::disconnect(counter).unwrap();
    client.recv(); // disarmed again: not counted
    // --- end ---

    assert_eq!(hits.get(), 3);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        "Client::recv: net_rx: len=64 host=\"db.internal:5432\""
    );
}
