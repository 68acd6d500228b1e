//! Not public API. Used by generated code.
//!
//! /!\ WARNING: nothing here is a stable API! /!\

use std::fmt;

pub use crate::callsite::{Body, Callsite};
pub use crate::registry::CALLSITES;
pub use core::any::type_name_of_val;
pub use core::{file, format_args, line, module_path};
pub use linkme;

/// The fast path: one relaxed load and a branch.
// Not public API. Used by generated code.
// The fast path: inlined into every callsite, in every profile.
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn enabled(cs: &'static Callsite) -> bool {
    cs.is_hot()
}

/// The slow path of an enabled (or not yet registered) callsite.
// Not public API. Used by generated code.
#[cold]
#[inline(never)]
pub fn emit(cs: &'static Callsite, args: fmt::Arguments<'_>) {
    crate::registry::init();
    let flags = cs.flags();
    if !flags.contains(crate::Flags::PRINT) {
        return;
    }
    // The cached body (never the pool): an enabled print never decompresses.
    crate::registry::with_enabled_body(cs, |body| {
        crate::output::emit(&crate::Record::new(
            body.module,
            body.file,
            body.function,
            body.line,
            flags,
            args,
        ));
    });
}

/// Expands a callsite: the static record and the fast path, or, with the
/// `compile_out` feature, only a type check of the arguments.
// Not public API. Used by generated code.
#[cfg(not(feature = "compile_out"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __dyndbg_callsite {
    ($name:ident { $($decl:tt)* } { $($args:tt)* }) => {{
        $($decl)*
        if $crate::__private::enabled(&$name) {
            $crate::__private::emit(&$name, $crate::__private::format_args!($($args)*));
        }
    }};
}

// Not public API. Used by generated code.
#[cfg(feature = "compile_out")]
#[doc(hidden)]
#[macro_export]
macro_rules! __dyndbg_callsite {
    ($name:ident { $($decl:tt)* } { $($args:tt)* }) => {{
        if false {
            let _ = $crate::__private::format_args!($($args)*);
        }
    }};
}

pub use crate::__dyndbg_callsite as callsite;
