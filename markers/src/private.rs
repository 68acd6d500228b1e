//! Not public API. Used by generated code.
//!
//! /!\ WARNING: nothing here is a stable API! /!\

use std::any::TypeId;

pub use crate::args::{Args, DebugArg, Ref};
pub use crate::site::{MARKERS_SITES_0_1, Site, SiteMeta};
pub use core::any::{type_name, type_name_of_val};
pub use core::fmt::Debug;
pub use core::{file, line, module_path};
pub use linkme;

/// The `TypeId` of a site's argument tuple, as a fn pointer for a static.
// Not public API. Used by generated code.
pub fn type_id_of<A: 'static>() -> TypeId {
    TypeId::of::<A>()
}

/// Fails to compile, at the argument's type, for an argument a probe
/// cannot receive.
// Not public API. Used by generated code.
pub fn assert_arg<T: core::fmt::Debug + 'static>() {}

/// The fast path: one relaxed load and a branch.
// Not public API. Used by generated code.
// Inlined into every site, in every profile.
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn armed(site: &'static Site) -> bool {
    site.is_armed()
}

/// The slow path of an armed site: call its probes.
// Not public API. Used by generated code.
#[inline]
pub fn fire<A: Args>(site: &'static Site, args: &A) {
    crate::site::fire(site, args);
}

/// Expands a site: the static, the flag check, and, only when armed, the
/// arguments and the probe calls.
///
/// `$bind` declares the typed argument variables (with the user's spans);
/// each argument is then passed as `val`ue, as a lent `ref`erence
/// ([`Ref`]), or as a lent `dbg` view ([`DebugArg`]).
// Not public API. Used by generated code.
#[doc(hidden)]
#[macro_export]
macro_rules! __markers_site {
    ($site:ident { $($decl:tt)* } { $($bind:tt)* } ($($kind:ident $arg:ident),*)) => {{
        $($decl)*
        if $crate::__private::armed(&$site) {
            $($bind)*
            $crate::__private::fire(&$site, &($($crate::__private::site!(@arg $kind $arg),)*));
        }
    }};
    (@arg val $arg:ident) => { $arg };
    // SAFETY: the Ref / DebugArg lives in the argument tuple, a temporary
    // dropped at the end of the `fire` statement, while `$arg` is a local
    // of the enclosing block; `fire` hands the tuple to probes only by
    // shared reference.
    (@arg ref $arg:ident) => { unsafe { $crate::__private::Ref::private_lend($arg) } };
    (@arg dbg $arg:ident) => { unsafe { $crate::__private::DebugArg::private_lend($arg) } };
}

pub use crate::__markers_site as site;
