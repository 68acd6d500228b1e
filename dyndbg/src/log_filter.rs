//! [`LogFilter`]: the query language on `log` records, in front of any
//! `log::Log` (the `log` feature).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{PoisonError, RwLock};

use crate::foreign::{self, Site};

/// A `log::Log` that passes to `inner` exactly the records whose callsites
/// the queries switched on (`+p`), by `file`, `line`, `module` (the
/// record's module path), `class` (its target) and `format` (its message
/// when it is a literal, `Arguments::as_str`). Records of callsites no
/// query switched on are dropped, as pr_debug! callsites are off until a
/// query says `+p`.
///
/// The same [`control`](fn@crate::control) batches, `DYNDBG` and
/// [`reset`](crate::reset) switch these records and pr_debug! callsites.
/// `log` has no registry of callsites, so they are not listed.
///
/// Each decision is cached per callsite (the record's static file and line,
/// and its target) until the next [`control`](fn@crate::control) or
/// [`reset`](crate::reset), which bump a generation: a record costs one
/// atomic load (the generation) and one look at a per-thread table
/// indexed by the callsite (a miss reads the filter's shared cache under
/// a read lock). A record without a static file
/// (`Record::file_static` is `None`, as in records built at runtime) is
/// decided without the cache.
///
/// `cargo bench -p benches --features log-filter --bench log_filter`
/// (2026-12-04, instructions under Callgrind, in one run): a disabled
/// record through `LogFilter` 99 instructions, through `env_logger`'s
/// filter at `info` 90 (1.10x; 0.70x the time); an enabled record through
/// `LogFilter` in front of `env_logger` 1.03x `env_logger` alone. Both
/// figures include building the record.
///
/// `log`'s own max level still applies before any logger sees a record:
/// set it to `Trace` so that every record reaches the filter. The inner
/// logger's own filter applies after this one; give it one that lets
/// everything through.
///
/// ```
/// struct Print;
/// impl log::Log for Print {
///     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
///     fn log(&self, record: &log::Record<'_>) { println!("{}", record.args()) }
///     fn flush(&self) {}
/// }
/// log::set_boxed_logger(Box::new(dyndbg::LogFilter::new(Print))).unwrap();
/// log::set_max_level(log::LevelFilter::Trace);
/// log::debug!("dropped: no query switched this callsite on");
/// dyndbg::control("module rust_out* +p").unwrap();
/// log::debug!("printed");
/// ```
#[derive(Debug)]
pub struct LogFilter<L> {
    inner: L,
    cache: RwLock<Cache>,
}

/// Decisions by callsite, valid for one generation.
#[derive(Debug, Default)]
struct Cache {
    generation: u64,
    decisions: HashMap<Key, bool, BuildHasherDefault<KeyHasher>>,
}

/// A callsite: the address and length of its static file name, its line,
/// the address of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    file: usize,
    file_len: usize,
    line: u32,
    target: usize,
}

/// A multiplicative hash of the key's words (no SipHash: the keys are
/// addresses the program's own code supplies).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

impl<L: log::Log> LogFilter<L> {
    /// A filter in front of `inner`. Runs dyndbg's start-up work
    /// (`DYNDBG`) now, so the variable's queries apply to the first record.
    pub fn new(inner: L) -> LogFilter<L> {
        crate::control::init();
        LogFilter {
            inner,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The logger records are passed to.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Whether the queries switched on the callsite of `record`.
    pub fn passes(&self, record: &log::Record<'_>) -> bool {
        let generation = foreign::generation();
        let Some(file) = record.file_static() else {
            return decide(record);
        };
        let key = Key {
            file: file.as_ptr() as usize,
            file_len: file.len(),
            line: record.line().unwrap_or(0),
            target: record.target().as_ptr() as usize,
        };
        // This thread's decisions first: no lock, no atomic write.
        let local = LOCAL.try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return None; // re-entered from the inner logger
            };
            let slot = &mut local[key.slot()];
            if slot.generation == generation && slot.key == key {
                return Some(slot.on);
            }
            let on = self.shared(key, generation, record);
            *slot = Slot {
                key,
                generation,
                on,
            };
            Some(on)
        });
        match local {
            Ok(Some(on)) => on,
            _ => self.shared(key, generation, record),
        }
    }

    /// The decision from the filter's shared cache, taken and cached there
    /// when missing.
    fn shared(&self, key: Key, generation: u64, record: &log::Record<'_>) -> bool {
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if cache.generation == generation
                && let Some(&on) = cache.decisions.get(&key)
            {
                return on;
            }
        }
        let on = decide(record);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.generation < generation {
            cache.decisions.clear();
            cache.generation = generation;
        }
        // A decision taken under an older generation is not cached.
        if cache.generation == generation {
            cache.decisions.insert(key, on);
        }
        on
    }
}

/// Slots of the per-thread cache (a power of two).
const SLOTS: usize = 256;

/// One decision of the per-thread cache.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: Key,
    generation: u64,
    on: bool,
}

impl Key {
    /// The slot of the per-thread cache this callsite goes to.
    fn slot(&self) -> usize {
        let mixed =
            (self.file ^ (self.line as usize).rotate_left(20) ^ self.target.rotate_left(40)) as u64;
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SLOTS
    }
}

thread_local! {
    /// Each thread's decisions, direct-mapped by callsite, each under the
    /// generation it was taken in: the hit path of a record takes no lock.
    /// (Decisions depend only on the queries, never on the filter
    /// instance, so one table serves every `LogFilter`.) Generation
    /// `u64::MAX` is never reached: an empty slot never hits.
    static LOCAL: RefCell<[Slot; SLOTS]> = const {
        RefCell::new(
            [Slot {
                key: Key {
                    file: 0,
                    file_len: 0,
                    line: 0,
                    target: 0,
                },
                generation: u64::MAX,
                on: false,
            }; SLOTS],
        )
    };
}

/// The decision for one record, from the queries so far.
fn decide(record: &log::Record<'_>) -> bool {
    let site = Site {
        module: record.module_path().unwrap_or(""),
        file: record.file().unwrap_or(""),
        line: record.line().unwrap_or(0),
        target: record.target(),
        message: record.args().as_str(),
    };
    foreign::lock().passes(&site)
}

impl<L: log::Log> log::Log for LogFilter<L> {
    /// `true`: `log`'s metadata has no file or line, so the decision is
    /// taken per record, in [`log`](log::Log::log).
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    /// Passes `record` to the inner logger if the queries switched its
    /// callsite on, or if it is a pr_debug! line that dyndbg's own [`Log`]
    /// sink sends (the `log` feature's default): pr_debug!'s flags already
    /// decided.
    ///
    /// [`Log`]: crate::Log
    fn log(&self, record: &log::Record<'_>) {
        if crate::output::in_log_sink() || self.passes(record) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}
