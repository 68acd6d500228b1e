//! pr_debug! lines as `tracing` events: one `tracing` callsite per
//! pr_debug! callsite, made (and leaked) at its first enabled print while a
//! dispatcher is in force, with target = module, file and line set, and the
//! message, function and class as fields.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};

use tracing_core::callsite::Identifier;
use tracing_core::field::{Field, FieldSet, Value};
use tracing_core::metadata::Kind;
use tracing_core::subscriber::NoSubscriber;
use tracing_core::{Event, Interest, Level, Metadata, dispatcher};

use crate::callsite::Callsite;
use crate::foreign::tracing_sites::PR_DEBUG_EVENT;
use crate::registry;

/// The fields of every pr_debug! event, in this order.
const FIELDS: &[&str] = &["message", "function", "class"];

/// The `tracing` callsite of one pr_debug! callsite.
struct EventSite {
    meta: OnceLock<Metadata<'static>>,
    fields: OnceLock<[Field; 3]>,
    /// The pr_debug! callsite's function, computed once.
    function: &'static str,
    /// The interest `tracing` cached: 0 never, 1 sometimes, 2 always.
    interest: AtomicU8,
}

impl tracing_core::Callsite for EventSite {
    fn set_interest(&self, interest: Interest) {
        let value = if interest.is_never() {
            0
        } else if interest.is_always() {
            2
        } else {
            1
        };
        // Relaxed: a cached hint, as tracing's own callsites keep it.
        self.interest.store(value, Ordering::Relaxed);
    }

    fn metadata(&self) -> &Metadata<'_> {
        // Set before the callsite is registered, and so before tracing
        // can ask.
        self.meta.get().expect("metadata set before registration")
    }
}

/// pr_debug! callsite index -> its tracing callsite. Read on every print
/// routed to tracing, written once per callsite.
static SITES: RwLock<Vec<Option<&'static EventSite>>> = RwLock::new(Vec::new());

thread_local! {
    /// Set while this thread registers a callsite: a pr_debug! inside a
    /// subscriber's `register_callsite` must not register again.
    static REGISTERING: Cell<bool> = const { Cell::new(false) };
}

/// Whether a dispatcher other than the no-op one is in force on this
/// thread.
fn dispatcher_set() -> bool {
    dispatcher::get_default(|d| !d.is::<NoSubscriber>())
}

/// The tracing callsite of the pr_debug! callsite at `index`, if made.
fn lookup(index: usize) -> Option<&'static EventSite> {
    SITES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(index)
        .copied()
        .flatten()
}

/// The tracing callsite of `cs`, made and registered now. `None` inside a
/// registration on this thread (re-entry).
fn make(cs: &'static Callsite, index: usize) -> Option<&'static EventSite> {
    if REGISTERING.with(Cell::get) {
        return None;
    }
    REGISTERING.with(|r| r.set(true));
    let site: &'static EventSite = Box::leak(Box::new(EventSite {
        meta: OnceLock::new(),
        fields: OnceLock::new(),
        function: cs.function(),
        interest: AtomicU8::new(1),
    }));
    let meta = site.meta.get_or_init(|| {
        Metadata::new(
            PR_DEBUG_EVENT,
            cs.module(),
            Level::DEBUG,
            Some(cs.file()),
            Some(cs.line()),
            Some(cs.module()),
            FieldSet::new(FIELDS, Identifier(site)),
            Kind::EVENT,
        )
    });
    let field = |name: &str| meta.fields().field(name).expect("declared in FIELDS");
    let _ = site
        .fields
        .set([field("message"), field("function"), field("class")]);
    // Registered outside the table's lock: tracing calls every subscriber.
    tracing_core::callsite::register(site);
    REGISTERING.with(|r| r.set(false));
    let mut sites = SITES.write().unwrap_or_else(PoisonError::into_inner);
    if sites.len() <= index {
        sites.resize(index + 1, None);
    }
    // Two threads may both have made one: the first stored is kept (the
    // other stays registered, never used).
    Some(*sites[index].get_or_insert(site))
}

/// Sends an enabled pr_debug! line to the `tracing` dispatcher in force;
/// `false` (nothing sent) when there is none, so the line goes to the sink.
pub(crate) fn emit(cs: &'static Callsite, args: fmt::Arguments<'_>) -> bool {
    let index = registry::index_of(cs);
    let site = match lookup(index) {
        Some(site) => site,
        // Made only while a dispatcher is in force: a program without
        // tracing never registers one.
        None if dispatcher_set() => match make(cs, index) {
            Some(site) => site,
            None => return false,
        },
        None => return false,
    };
    let (Some(meta), Some([message, function, class])) = (site.meta.get(), site.fields.get())
    else {
        return false;
    };
    let function_name = site.function;
    let class_name = cs.class();
    let values: [(&Field, Option<&dyn Value>); 3] = [
        (message, Some(&args)),
        (function, Some(&function_name)),
        (class, class_name.as_ref().map(|c| c as &dyn Value)),
    ];
    let values = meta.fields().value_set(&values);
    dispatcher::get_default(|d| {
        if d.is::<NoSubscriber>() {
            return false;
        }
        // As tracing's macros: `never` drops the event, `always` skips the
        // per-event question. Relaxed: as in set_interest.
        match site.interest.load(Ordering::Relaxed) {
            0 => {}
            2 => d.event(&Event::new(meta, &values)),
            _ => {
                if d.enabled(meta) {
                    d.event(&Event::new(meta, &values));
                }
            }
        }
        true
    })
}
