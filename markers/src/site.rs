//! The static record each `marker!` places, the listing of all of them, and
//! what a hit of an armed site does: call each probe of the array the site
//! holds ([`ProbeArray`] of [`ErasedProbe`]s, with their [`ProbeId`]s).

use std::any::{Any, TypeId};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use linkme::distributed_slice;

use crate::args::{Args, ErasedArgs};

/// Every marker site of the program. The name carries the crate's
/// semver-major (0.1), so that two incompatible copies of markers in one
/// binary each get a slice of their own instead of mixing layouts.
#[distributed_slice]
pub static MARKERS_SITES_0_1: [Site];

/// One marker site as compiled into the program.
///
/// The head is the `armed` flag, the only thing a disarmed site reads; the
/// probe array (behind arc-swap) is read only when the flag is set.
#[repr(C)]
pub struct Site {
    armed: AtomicBool,
    pub(crate) probes: ArcSwapOption<ProbeArray>,
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
            probes: ArcSwapOption::const_empty(),
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
        self.probes.load().as_ref().map_or(0, |array| array.len())
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
}

/// The probes of one name, in call order, each with the id it was
/// connected under: what a site holds and a hit calls. Built by the
/// registry, replaced whole, never changed in place.
pub(crate) struct ProbeArray {
    entries: Box<[(ProbeId, Arc<dyn ErasedProbe>)]>,
}

impl ProbeArray {
    pub(crate) fn new(entries: Box<[(ProbeId, Arc<dyn ErasedProbe>)]>) -> ProbeArray {
        ProbeArray { entries }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn contains(&self, id: ProbeId) -> bool {
        self.entries.iter().any(|(e, _)| *e == id)
    }
}

thread_local! {
    /// How many probe calls this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Marks the thread as inside a probe call until dropped (also on unwind).
struct InsideProbe;

impl InsideProbe {
    fn enter() -> InsideProbe {
        DEPTH.with(|d| d.set(d.get() + 1));
        InsideProbe
    }
}

impl Drop for InsideProbe {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Whether this thread is inside a probe call (where `disconnect` must not
/// wait).
pub(crate) fn inside_probe() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(false)
}

/// Calls every probe of an armed site, in order, with its arguments.
#[cold]
#[inline(never)]
pub(crate) fn fire<A: Args>(site: &'static Site, args: &A) {
    let guard = site.probes.load();
    if let Some(array) = guard.as_ref() {
        let _inside = InsideProbe::enter();
        for (_, probe) in &array.entries {
            probe.call(site, args);
        }
    }
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
