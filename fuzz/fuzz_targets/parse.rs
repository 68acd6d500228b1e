//! Fuzzes the query language through the public API: every input is parsed
//! by `dyndbg::control` and, if it parses, matched against and applied to
//! this binary's callsites, which then run into a discarding sink.
//!
//! Checked on every input: no panic, and an error points inside the input
//! (at a character boundary) and quotes a query that is in the input.

#![no_main]

use std::sync::Once;

use dyndbg::pr_debug;
use libfuzzer_sys::fuzz_target;

mod net {
    use dyndbg::pr_debug;

    pub struct Client(pub u32);

    impl Client {
        pub fn connect(&self, host: &str) {
            pr_debug!("connecting to {host} as {}", self.0);
        }

        pub fn recv(&self, n: usize) {
            pr_debug!(class = "WIRE", "received {n} bytes on {}", self.0);
        }
    }
}

fn _private(step: u8) {
    pr_debug!("step {step}; \"quoted\"\tand tabbed ^anchor é");
}

fn run_callsites() {
    net::Client(1).connect("example.org");
    net::Client(1).recv(3);
    _private(2);
}

static SETUP: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    SETUP.call_once(|| {
        // The matcher has something to match: the three callsites above.
        assert_eq!(dyndbg::callsites().len(), 3);
        dyndbg::set_sink(dyndbg::Discard);
    });
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match dyndbg::control(input) {
        Ok(matched) => {
            // At most every callsite per query, and no more queries than pieces.
            let pieces = input.split([';', '\n']).count();
            assert!(matched <= pieces * dyndbg::callsites().len());
            run_callsites();
        }
        Err(err) => {
            assert!(err.offset() < input.len(), "{err}");
            assert!(input.is_char_boundary(err.offset()), "{err}");
            assert!(err.query_number() >= 1, "{err}");
            assert!(input.contains(err.query()), "{err}");
            assert!(!err.message().is_empty(), "{err}");
        }
    }
});
