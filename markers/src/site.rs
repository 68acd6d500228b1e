//! The static record each `marker!` places, the listing of all of them, and
//! what a hit of an armed site does: call each probe of the array the site
//! points to ([`ProbeArray`] of [`ErasedProbe`]s, with their [`ProbeId`]s),
//! read under a hazard pointer.

use std::any::{Any, TypeId};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use linkme::distributed_slice;

use crate::args::{Args, ErasedArgs};
use crate::hazard;

/// Every marker site of the program. The name carries the crate's
/// semver-major (0.1), so that two incompatible copies of markers in one
/// binary each get a slice of their own instead of mixing layouts.
#[distributed_slice]
pub static MARKERS_SITES_0_1: [Site];

/// One marker site as compiled into the program.
///
/// The head is the `armed` flag, the only thing a disarmed site reads; the
/// probe array is read (under a hazard pointer) only when the flag is set.
/// The site holds no reference of its own: the registry keeps the array
/// alive while it is current, the retired list after (see `hazard`).
#[repr(C)]
pub struct Site {
    armed: AtomicBool,
    pub(crate) probes: AtomicPtr<ProbeArray>,
    function: OnceLock<&'static str>,
    meta: &'static SiteMeta,
}

/// The cold part of a site: what `list()` and `connect` read.
// Not public API. Used by generated code.
#[doc(hidden)]
#[derive(Debug)]
pub struct SiteMeta {
    /// The marker's name: sites with the same name share their probes.
    pub name: &'static str,
    /// The arguments as written: `len: usize, proto: u8`.
    pub signature: &'static str,
    /// The argument names, in order.
    pub arg_names: &'static [&'static str],
    /// `module_path!()` of the site.
    pub module: &'static str,
    /// `file!()` of the site.
    pub file: &'static str,
    /// `line!()` of the site.
    pub line: u32,
    /// A function whose `type_name` names the enclosing function.
    pub function: fn() -> &'static str,
    /// The `TypeId` of the argument tuple typed probes receive.
    pub args_type: fn() -> TypeId,
    /// The name of that tuple type, for error messages.
    pub args_type_name: fn() -> &'static str,
}

impl Site {
    // Not public API. Used by generated code.
    #[doc(hidden)]
    pub const fn private_new(meta: &'static SiteMeta) -> Site {
        Site {
            armed: AtomicBool::new(false),
            probes: AtomicPtr::new(std::ptr::null_mut()),
            function: OnceLock::new(),
            meta,
        }
    }

    /// Whether a probe is connected: the whole fast path.
    // The fast path: inlined into every site, in every profile.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn is_armed(&self) -> bool {
        // Relaxed: the flag guards no memory (the array is read through
        // arc-swap, which orders itself); a stale read only misses or takes
        // one hit around a connect, as with the kernel's marker state.
        self.armed.load(Ordering::Relaxed)
    }

    pub(crate) fn set_armed(&self, armed: bool) {
        self.armed.store(armed, Ordering::Relaxed);
    }

    /// The marker's name.
    pub fn name(&self) -> &'static str {
        self.meta.name
    }

    /// The arguments as written in the source: `len: usize, proto: u8`.
    pub fn signature(&self) -> &'static str {
        self.meta.signature
    }

    /// The argument names, in order.
    pub fn arg_names(&self) -> &'static [&'static str] {
        self.meta.arg_names
    }

    /// The tuple type a typed probe of this site receives a reference to:
    /// `(usize, u8)`; borrowed arguments appear as `markers::Ref<T>`.
    pub fn args_type_name(&self) -> &'static str {
        (self.meta.args_type_name)()
    }

    pub(crate) fn args_type(&self) -> TypeId {
        (self.meta.args_type)()
    }

    /// `module_path!()` where the site is.
    pub fn module(&self) -> &'static str {
        self.meta.module
    }

    /// `file!()` where the site is.
    pub fn file(&self) -> &'static str {
        self.meta.file
    }

    /// The line of the site.
    pub fn line(&self) -> u32 {
        self.meta.line
    }

    /// The enclosing function, qualified within its module, named as
    /// dyndbg names a callsite's: `handle`, `Client::connect`, `Client::fmt`
    /// for a trait impl; closures and async blocks fold into the function
    /// around them. The rule: [the crate docs](crate#function-names).
    pub fn function(&self) -> &'static str {
        self.function.get_or_init(|| {
            let name = dyndbg::__private::function_name((self.meta.function)(), self.meta.module);
            Box::leak(name.into_boxed_str())
        })
    }

    /// How many probes are connected to this site now.
    pub fn probes(&self) -> usize {
        hazard::read(&self.probes, |array| array.map_or(0, ProbeArray::len))
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.name())
            .field("signature", &self.signature())
            .field("module", &self.module())
            .field("file", &self.file())
            .field("line", &self.line())
            .field("probes", &self.probes())
            .finish()
    }
}

/// One line of a listing: `net_rx(len: usize, proto: u8) src/net.rs:42 [app::net] probes=1`.
impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}) {}:{} [{}] probes={}",
            self.name(),
            self.signature(),
            self.file(),
            self.line(),
            self.module(),
            self.probes()
        )
    }
}

/// Every marker site compiled into the program, sorted by name, file and
/// line, whether or not it has ever been reached.
///
/// ```
/// markers::marker!(doc_list_example, n: u32 = 1);
/// let site = markers::list()
///     .into_iter()
///     .find(|s| s.name() == "doc_list_example")
///     .unwrap();
/// assert_eq!(site.signature(), "n: u32");
/// assert_eq!(site.probes(), 0);
/// ```
pub fn list() -> Vec<&'static Site> {
    let mut sites: Vec<&'static Site> = MARKERS_SITES_0_1.iter().collect();
    sites.sort_by_key(|s| (s.name(), s.file(), s.line()));
    sites
}

// === the armed path ===

/// A connected probe, as returned by [`connect`](crate::connect) and taken
/// by [`disconnect`](crate::disconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub(crate) u64);

impl fmt::Display for ProbeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probe #{}", self.0)
    }
}

/// A probe behind a vtable, as the probe array holds it: what a hit calls.
/// Implemented by the typed and generic probes (a [`Probe`](crate::Probe)
/// wraps one) and by the built-in probes.
pub(crate) trait ErasedProbe: Send + Sync + 'static {
    fn call(&self, site: &Site, args: &dyn ErasedArgs);
    fn data(&self) -> &dyn Any;
    fn data_eq(&self, other: &dyn Any) -> bool;
    /// The argument tuple of a typed probe.
    fn args(&self) -> Option<(TypeId, &'static str)>;
    /// The count a built-in counter adds each hit to: the hit then adds
    /// to it directly, with no call.
    fn counter(&self) -> Option<&AtomicU64> {
        None
    }
}

/// The probes of one name, in call order, each with the id it was
/// connected under: what a site points to and a hit calls. Built by the
/// registry, replaced whole, never changed in place.
///
/// A hit works through `calls`, resolved once when the array is built: a
/// pointer to each probe, or for a built-in counter the count itself,
/// added to without a call; with one probe, through `first`, inline (the
/// kernel's `single` probe of a marker: no walk over the array).
pub(crate) struct ProbeArray {
    first: Call,
    calls: Box<[Call]>,
    owned: Box<[(ProbeId, Arc<dyn ErasedProbe>)]>,
}

/// What a hit does for one probe.
#[derive(Clone, Copy)]
enum Call {
    Count(NonNull<AtomicU64>),
    Probe(NonNull<dyn ErasedProbe>),
}

// SAFETY: the pointers in `first` and `calls` point into the probes that
// `owned` keeps alive, which are `Send + Sync` (a bound of `ErasedProbe`);
// a count is an atomic, and nothing else is written through them.
unsafe impl Send for ProbeArray {}
// SAFETY: as for `Send`: shared access only reads the probes and adds to
// atomics.
unsafe impl Sync for ProbeArray {}

impl ProbeArray {
    /// `None` for no probe: a site with none points to no array.
    pub(crate) fn new(owned: Box<[(ProbeId, Arc<dyn ErasedProbe>)]>) -> Option<ProbeArray> {
        let calls: Box<[Call]> = owned
            .iter()
            .map(|(_, probe)| match probe.counter() {
                Some(count) => Call::Count(NonNull::from(count)),
                None => Call::Probe(NonNull::from(&**probe)),
            })
            .collect();
        Some(ProbeArray {
            first: *calls.first()?,
            calls,
            owned,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.owned.len()
    }

    pub(crate) fn contains(&self, id: ProbeId) -> bool {
        self.owned.iter().any(|(e, _)| *e == id)
    }

    /// Calls each probe, in order.
    #[inline]
    fn call_all(&self, site: &Site, args: &dyn ErasedArgs) {
        if self.calls.len() == 1 {
            self.first.run(site, args);
        } else {
            for call in &self.calls {
                call.run(site, args);
            }
        }
    }
}

impl Call {
    #[inline]
    fn run(self, site: &Site, args: &dyn ErasedArgs) {
        match self {
            Call::Count(count) => {
                // SAFETY: the count belongs to a probe of the array's
                // `owned`, alive as long as the array the caller reads.
                let count = unsafe { count.as_ref() };
                // Relaxed: a statistic, as `Counter::get` reads it.
                count.fetch_add(1, Ordering::Relaxed);
            }
            Call::Probe(probe) => {
                // SAFETY: as above, the probe is one of the array's `owned`.
                unsafe { probe.as_ref() }.call(site, args);
            }
        }
    }
}

/// Whether this thread is inside a probe call (where `disconnect` must not
/// wait).
pub(crate) fn inside_probe() -> bool {
    hazard::inside()
}

/// Calls every probe of an armed site, in order, with its arguments.
#[cold]
#[inline(never)]
pub(crate) fn fire<A: Args>(site: &'static Site, args: &A) {
    hazard::read(&site.probes, |array| {
        if let Some(array) = array {
            array.call_all(site, args);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn slice_name_follows_the_semver_major() {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        let minor = env!("CARGO_PKG_VERSION_MINOR");
        let compat = if major == "0" {
            format!("0_{minor}")
        } else {
            major.to_owned()
        };
        assert_eq!(
            compat, "0_1",
            "rename MARKERS_SITES_0_1 after a semver-major bump"
        );
    }
}
