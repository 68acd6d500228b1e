//! The proc macros of dyndbg and markers. Thin: parse, check, emit statics.
//! All behaviour lives in the runtime crates' `__private` modules.

use proc_macro::TokenStream;

mod pr_debug;

/// Places a dynamic-debug callsite. See the `dyndbg` crate.
#[proc_macro]
pub fn pr_debug(input: TokenStream) -> TokenStream {
    pr_debug::expand(input.into()).into()
}
