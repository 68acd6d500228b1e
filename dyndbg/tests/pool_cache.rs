//! Bodies of enabled callsites stay cached decompressed: an enabled print
//! never decompresses a pool block, and disabling drops the cached body.
//! One test, in order, because the pool and its cache are per process.
//! Needs the pool (the default `pool` feature); without it, see `no_pool.rs`.
#![cfg(feature = "pool")]

use std::sync::Mutex;

use dyndbg::{Record, Sink};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Collect;

impl Sink for Collect {
    fn write(&self, record: &Record<'_>) {
        LINES.lock().unwrap().push(format!(
            "{}|{}|{}|{}|{}",
            record.module(),
            record.file(),
            record.function(),
            record.line(),
            record.args()
        ));
    }
}

mod net {
    pub(crate) struct Conn(pub(crate) usize);
    impl Conn {
        pub(crate) fn send(&self, n: usize) {
            dyndbg::pr_debug!("pool cache send {}", n + self.0);
        }
    }
    pub(crate) fn recv(n: usize) {
        dyndbg::pr_debug!(class = "WIRE", "pool cache recv {n}");
    }
}

fn blocks_read() -> usize {
    dyndbg::__private::pool_check::blocks_read()
}

#[test]
fn enabled_prints_read_the_cache_never_the_pool() {
    dyndbg::set_sink(Collect);
    let before = dyndbg::stats();
    assert!(before.pooled);
    assert!(before.pool_bytes > 0);
    assert_eq!(before.cached_bodies, 0);
    assert_eq!(before.callsites, dyndbg::callsites().len());

    assert_eq!(dyndbg::control("func Conn::send +pmfl").unwrap(), 1);
    let stats = dyndbg::stats();
    assert_eq!(stats.cached_bodies, 1);
    assert!(stats.cached_bytes > "pool cache send {}".len());

    let read = blocks_read();
    for n in 0..100 {
        net::Conn(0).send(n);
        net::recv(n);
    }
    assert_eq!(blocks_read(), read, "an enabled print decompressed");
    let lines = LINES.lock().unwrap().clone();
    assert_eq!(lines.len(), 100);
    assert_eq!(
        lines[7],
        "pool_cache::net|dyndbg/tests/pool_cache.rs|Conn::send|32|pool cache send 7"
    );

    // A classed callsite: enabled by class, cached too.
    assert_eq!(dyndbg::control("class WIRE +p").unwrap(), 1);
    assert_eq!(dyndbg::stats().cached_bodies, 2);
    // Flags that keep `p` keep the cached body; removing `p` drops it.
    dyndbg::control("func Conn::send -m").unwrap();
    assert_eq!(dyndbg::stats().cached_bodies, 2);
    dyndbg::control("func Conn::send -p").unwrap();
    assert_eq!(dyndbg::stats().cached_bodies, 1);
    net::Conn(0).send(1000);
    assert_eq!(LINES.lock().unwrap().len(), 100);

    // A query that matches nothing still reads the pool, block by block.
    let read = blocks_read();
    assert_eq!(dyndbg::control("func no_such_function +p").unwrap(), 0);
    assert_eq!(blocks_read() - read, dyndbg::stats().pool_blocks);

    dyndbg::reset();
    assert_eq!(dyndbg::stats().cached_bodies, 0);
    net::recv(1);
    assert_eq!(LINES.lock().unwrap().len(), 100);

    // The accessors of one callsite still answer.
    let cs = dyndbg::callsites()
        .find(|cs| cs.format() == "pool cache recv {n}")
        .unwrap();
    assert_eq!(cs.function(), "recv");
    assert_eq!(cs.class(), Some("WIRE"));
    assert_eq!(cs.line(), 36);
}
