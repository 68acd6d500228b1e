//! Probes as users build them: typed (they receive the site's argument
//! tuple) or generic (they receive the site and every argument as
//! `&dyn Debug`), each with an identity (its type plus its private data)
//! and a priority. Each erases into the [`ErasedProbe`] a site calls.

use std::any::{Any, TypeId, type_name};
use std::fmt::{self, Debug};
use std::marker::PhantomData;
use std::sync::Arc;

use crate::args::{Args, ErasedArgs};
use crate::site::{ErasedProbe, Site};

/// The priority of a probe that does not choose one (the kernel's
/// `TRACEPOINT_DEFAULT_PRIO`).
pub const DEFAULT_PRIORITY: i32 = 10;

/// A probe ready to connect: built with [`Probe::typed`],
/// [`Probe::typed_with`], [`Probe::generic`], [`Probe::generic_with`], or from
/// a built-in probe ([`Counter`](crate::Counter), [`Printer`](crate::Printer),
/// [`RingBuffer`](crate::RingBuffer)).
///
/// Its identity is the type of its function plus its private data: the
/// same function with equal data cannot be connected twice to one marker
/// (the kernel's `EBUSY`), with other data it can.
#[derive(Clone)]
pub struct Probe {
    pub(crate) inner: Arc<dyn ErasedProbe>,
    pub(crate) key: TypeId,
    pub(crate) key_name: &'static str,
    pub(crate) priority: i32,
}

impl Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("function", &self.key_name)
            .field(
                "args",
                &self.inner.args().map_or("any (generic)", |(_, name)| name),
            )
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// A typed probe: `f` receives the site's arguments as a tuple.
    ///
    /// ```
    /// use markers::Probe;
    /// let probe = Probe::typed(|&(len, proto): &(usize, u8)| {
    ///     assert!(len > 0 && proto != 0);
    /// });
    /// # let _ = probe;
    /// ```
    pub fn typed<A, F>(f: F) -> Probe
    where
        A: Args,
        F: Fn(&A) + Send + Sync + 'static,
    {
        Probe::new::<F>(Typed {
            data: (),
            f: move |(): &(), args: &A| f(args),
            _args: PhantomData,
        })
    }

    /// A typed probe with private data, which it receives first. Two probes
    /// with the same function and equal data are the same probe.
    pub fn typed_with<A, D, F>(data: D, f: F) -> Probe
    where
        A: Args,
        D: PartialEq + Send + Sync + 'static,
        F: Fn(&D, &A) + Send + Sync + 'static,
    {
        Probe::new::<F>(Typed {
            data,
            f,
            _args: PhantomData,
        })
    }

    /// A generic probe: works on any site, and receives the site and every
    /// argument as `&dyn Debug`.
    pub fn generic<F>(f: F) -> Probe
    where
        F: Fn(&Site, &[&dyn Debug]) + Send + Sync + 'static,
    {
        Probe::new::<F>(Generic {
            data: (),
            f: move |(): &(), site: &Site, args: &[&dyn Debug]| f(site, args),
        })
    }

    /// A generic probe with private data, which it receives first.
    pub fn generic_with<D, F>(data: D, f: F) -> Probe
    where
        D: PartialEq + Send + Sync + 'static,
        F: Fn(&D, &Site, &[&dyn Debug]) + Send + Sync + 'static,
    {
        Probe::new::<F>(Generic { data, f })
    }

    /// The same probe with another priority: higher priorities are called
    /// first, equal ones in connect order. The default is
    /// [`DEFAULT_PRIORITY`] (10).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Probe {
        self.priority = priority;
        self
    }

    /// The tuple type a typed probe takes, or `None` for a generic probe.
    pub fn args_type_name(&self) -> Option<&'static str> {
        self.inner.args().map(|(_, name)| name)
    }

    /// A probe from its erased form; `K` is the type that names it.
    pub(crate) fn new<K: 'static>(inner: impl ErasedProbe) -> Probe {
        Probe {
            inner: Arc::new(inner),
            key: TypeId::of::<K>(),
            key_name: type_name::<K>(),
            priority: DEFAULT_PRIORITY,
        }
    }

    /// Whether two probes have the same identity: function type and data.
    pub(crate) fn same_identity(&self, other: &Probe) -> bool {
        self.key == other.key && self.inner.data_eq(other.inner.data())
    }
}

struct Typed<A, D, F> {
    data: D,
    f: F,
    _args: PhantomData<fn(&A)>,
}

impl<A, D, F> ErasedProbe for Typed<A, D, F>
where
    A: Args,
    D: PartialEq + Send + Sync + 'static,
    F: Fn(&D, &A) + Send + Sync + 'static,
{
    fn call(&self, _site: &Site, args: &dyn ErasedArgs) {
        // `connect` refuses a site with other arguments; the check here
        // keeps that a logic rule rather than a safety one.
        if let Some(args) = args.as_any().downcast_ref::<A>() {
            (self.f)(&self.data, args);
        }
    }
    fn data(&self) -> &dyn Any {
        &self.data
    }
    fn data_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<D>() == Some(&self.data)
    }
    fn args(&self) -> Option<(TypeId, &'static str)> {
        Some((TypeId::of::<A>(), type_name::<A>()))
    }
}

struct Generic<D, F> {
    data: D,
    f: F,
}

impl<D, F> ErasedProbe for Generic<D, F>
where
    D: PartialEq + Send + Sync + 'static,
    F: Fn(&D, &Site, &[&dyn Debug]) + Send + Sync + 'static,
{
    fn call(&self, site: &Site, args: &dyn ErasedArgs) {
        args.with_debug(&mut |args| (self.f)(&self.data, site, args));
    }
    fn data(&self) -> &dyn Any {
        &self.data
    }
    fn data_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<D>() == Some(&self.data)
    }
    fn args(&self) -> Option<(TypeId, &'static str)> {
        None
    }
}
