//! Probes a user attaches without writing one: a counter, a printer to
//! dyndbg's output, and a ring buffer that can be read back.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::fmt::{self, Debug, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use dyndbg::Flags;

use crate::args::ErasedArgs;
use crate::probe::Probe;
use crate::site::{ErasedProbe, Site};

/// Counts the hits of every site it is connected to. Clones share the count;
/// each `Counter::new()` is a distinct probe.
///
/// ```
/// markers::marker!(doc_counter_example);
/// let hits = markers::Counter::new();
/// let id = markers::connect("doc_counter_example", hits.clone()).unwrap();
/// for _ in 0..3 {
///     markers::marker!(doc_counter_example);
/// }
/// assert_eq!(hits.get(), 3);
/// markers::disconnect(id).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// A counter at zero.
    pub fn new() -> Counter {
        Counter::default()
    }

    /// The hits counted so far.
    pub fn get(&self) -> u64 {
        // Relaxed: a plain statistic, read after the hits it counts.
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the count back to zero and returns what it was.
    pub fn reset(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// Identity by handle: clones are the same counter.
impl PartialEq for Counter {
    fn eq(&self, other: &Counter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Counter> for Probe {
    fn from(counter: Counter) -> Probe {
        Probe::new::<Counter>(counter)
    }
}

/// A generic probe without the `&dyn Debug` view of the arguments it does
/// not read: the cheapest probe there is.
impl ErasedProbe for Counter {
    fn call(&self, _: &Site, _: &dyn ErasedArgs) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn data(&self) -> &dyn Any {
        self
    }
    fn data_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<Counter>() == Some(self)
    }
    fn args(&self) -> Option<(TypeId, &'static str)> {
        None
    }
    fn counter(&self) -> Option<&AtomicU64> {
        Some(&self.0)
    }
}

/// Prints each hit as one line through dyndbg's output
/// ([`dyndbg::emit`]): the marker's name and its arguments' `Debug`,
/// `net_rx: len=1500 proto=6`, with the prefix its flags ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printer {
    flags: Flags,
}

impl Printer {
    /// A printer with no prefix.
    pub fn new() -> Printer {
        Printer {
            flags: Flags::PRINT,
        }
    }

    /// A printer whose lines carry the prefix `flags` choose, as dyndbg's
    /// (`Flags::FUNCTION | Flags::LINE` gives `Client::connect:42: `).
    pub fn with_flags(flags: Flags) -> Printer {
        Printer {
            flags: flags | Flags::PRINT,
        }
    }
}

impl Default for Printer {
    fn default() -> Printer {
        Printer::new()
    }
}

impl From<Printer> for Probe {
    fn from(printer: Printer) -> Probe {
        Probe::generic_with(
            printer,
            |printer: &Printer, site: &Site, args: &[&dyn Debug]| {
                dyndbg::emit(&dyndbg::Record::new(
                    site.module(),
                    site.file(),
                    site.function(),
                    site.line(),
                    printer.flags,
                    format_args!("{}", Line { site, args }),
                ));
            },
        )
    }
}

/// `net_rx: len=1500 proto=6`.
struct Line<'a> {
    site: &'a Site,
    args: &'a [&'a dyn Debug],
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.site.name())?;
        f.write_char(':')?;
        for (name, value) in self.site.arg_names().iter().zip(self.args) {
            write!(f, " {name}={value:?}")?;
        }
        Ok(())
    }
}

/// One hit recorded by a [`RingBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The marker's name.
    pub marker: &'static str,
    /// `file:line` of the site.
    pub location: String,
    /// The arguments' `Debug`, with their names: `len=1500 proto=6`.
    pub args: String,
}

/// Keeps the last `capacity` hits of every site it is connected to, oldest
/// dropped first, for reading back with [`RingBuffer::read`]. Clones share
/// the buffer; each `RingBuffer::new` is a distinct probe.
#[derive(Debug, Clone)]
pub struct RingBuffer {
    inner: Arc<Ring>,
}

#[derive(Debug)]
struct Ring {
    capacity: usize,
    hits: Mutex<VecDeque<Hit>>,
}

impl RingBuffer {
    /// A buffer of the last `capacity` hits (at least one).
    pub fn new(capacity: usize) -> RingBuffer {
        let capacity = capacity.max(1);
        RingBuffer {
            inner: Arc::new(Ring {
                capacity,
                hits: Mutex::new(VecDeque::with_capacity(capacity)),
            }),
        }
    }

    /// How many hits it keeps.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The hits kept, oldest first.
    pub fn read(&self) -> Vec<Hit> {
        self.hits().iter().cloned().collect()
    }

    /// The hits kept, oldest first, leaving the buffer empty.
    pub fn drain(&self) -> Vec<Hit> {
        self.hits().drain(..).collect()
    }

    fn hits(&self) -> std::sync::MutexGuard<'_, VecDeque<Hit>> {
        // A probe that panicked while pushing leaves a valid deque.
        self.inner
            .hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Identity by handle: clones are the same buffer.
impl PartialEq for RingBuffer {
    fn eq(&self, other: &RingBuffer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl From<RingBuffer> for Probe {
    fn from(ring: RingBuffer) -> Probe {
        Probe::generic_with(
            ring,
            |ring: &RingBuffer, site: &Site, args: &[&dyn Debug]| {
                let mut text = String::new();
                for (name, value) in site.arg_names().iter().zip(args) {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    let _ = write!(text, "{name}={value:?}");
                }
                let hit = Hit {
                    marker: site.name(),
                    location: format!("{}:{}", site.file(), site.line()),
                    args: text,
                };
                let mut hits = ring.hits();
                if hits.len() == ring.inner.capacity {
                    hits.pop_front();
                }
                hits.push_back(hit);
            },
        )
    }
}
