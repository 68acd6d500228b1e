//! The arguments a site passes: a tuple of `'static` types, and the two
//! lifetime-erased views ([`Ref`], [`DebugArg`]) that let a site pass borrowed
//! values without letting a probe keep them.

use std::any::Any;
use std::fmt::{self, Debug};
use std::ops::Deref;
use std::ptr::NonNull;

/// The argument tuple of a site: `(usize, u8)` for
/// `marker!(net_rx, len: usize = .., proto: u8 = ..)`.
///
/// Implemented for tuples of up to 12 elements whose types are `Debug` and
/// `'static`; a typed probe names this tuple, a generic probe sees each
/// element as `&dyn Debug`.
pub trait Args: Any {
    /// Calls `f` with every argument seen as `&dyn Debug`, in order.
    fn with_debug(&self, f: &mut dyn FnMut(&[&dyn Debug]));
}

macro_rules! tuple_args {
    ($($name:ident)*) => {
        impl<$($name: Debug + 'static),*> Args for ($($name,)*) {
            #[allow(non_snake_case)]
            fn with_debug(&self, f: &mut dyn FnMut(&[&dyn Debug])) {
                let ($($name,)*) = self;
                f(&[$($name as &dyn Debug),*]);
            }
        }
    };
}

tuple_args!();
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);

/// The most arguments a site takes (the largest tuple with [`Args`]).
pub const MAX_ARGS: usize = 12;

/// [`Args`] behind a vtable, as the probe array sees them.
pub(crate) trait ErasedArgs {
    fn as_any(&self) -> &dyn Any;
    fn with_debug(&self, f: &mut dyn FnMut(&[&dyn Debug]));
}

impl<A: Args> ErasedArgs for A {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn with_debug(&self, f: &mut dyn FnMut(&[&dyn Debug])) {
        Args::with_debug(self, f);
    }
}

/// A borrowed argument: a site that takes `name: &str` passes a `Ref<str>`,
/// which derefs to the `str` for the duration of the call.
///
/// A probe only ever receives a `Ref` behind a shared reference that lives
/// for one call, and `Ref` is neither `Clone`, `Copy`, `Send` nor `Sync`, so
/// the borrowed value cannot be kept past the call. This is what lets typed
/// probes name a `'static` tuple type while the site borrows locals.
pub struct Ref<T: ?Sized + 'static> {
    ptr: NonNull<T>,
}

impl<T: ?Sized + 'static> Ref<T> {
    /// Lends `value` to the probes of one site hit.
    ///
    /// # Safety
    ///
    /// The `Ref` must be dropped before `value`'s borrow ends, and only be
    /// handed to probes by shared reference (so none can move it out).
    // Not public API. Used by generated code.
    #[doc(hidden)]
    pub unsafe fn private_lend(value: &T) -> Ref<T> {
        Ref {
            ptr: NonNull::from(value),
        }
    }
}

impl<T: ?Sized + 'static> Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `private_lend`'s contract: the value outlives this Ref,
        // and a probe cannot hold `&self` (hence the result) past the call.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized + Debug + 'static> Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(&**self, f)
    }
}

/// An argument seen only through its `Debug`: what `#[marker_fn]` passes for
/// arguments of generic or `impl Trait` types, and what a site passes for an
/// argument declared `&dyn Debug`. Same lending rules as [`Ref`].
pub struct DebugArg {
    ptr: NonNull<dyn Debug + 'static>,
}

impl DebugArg {
    /// Lends `value` to the probes of one site hit.
    ///
    /// # Safety
    ///
    /// As [`Ref::private_lend`]: dropped before `value`'s borrow ends, only
    /// handed out by shared reference.
    // Not public API. Used by generated code.
    #[doc(hidden)]
    pub unsafe fn private_lend<'a>(value: &'a (dyn Debug + 'a)) -> DebugArg {
        let ptr: NonNull<dyn Debug + 'a> = NonNull::from(value);
        // SAFETY: only the trait object's lifetime bound changes (same
        // layout); the caller guarantees the value outlives this DebugArg and
        // `fmt` below is the only use of the pointer.
        let ptr: NonNull<dyn Debug + 'static> = unsafe { std::mem::transmute(ptr) };
        DebugArg { ptr }
    }
}

impl Debug for DebugArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: `private_lend`'s contract: the value outlives this DebugArg,
        // and a probe cannot hold `&self` past the call.
        unsafe { self.ptr.as_ref() }.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_show_each_argument() {
        let mut seen = Vec::new();
        Args::with_debug(&(1500usize, 6u8, "x"), &mut |args| {
            seen = args.iter().map(|a| format!("{a:?}")).collect();
        });
        assert_eq!(seen, ["1500", "6", "\"x\""]);
    }

    #[test]
    fn lent_values_debug_like_the_value() {
        let s = String::from("eth0");
        // SAFETY: dropped at the end of this scope, before `s`.
        let r = unsafe { Ref::<str>::private_lend(&s) };
        assert_eq!(&*r, "eth0");
        assert_eq!(format!("{r:?}"), "\"eth0\"");
        let v = vec![1, 2];
        // SAFETY: dropped at the end of this scope, before `v`.
        let d = unsafe { DebugArg::private_lend(&v) };
        assert_eq!(format!("{d:?}"), "[1, 2]");
    }
}
