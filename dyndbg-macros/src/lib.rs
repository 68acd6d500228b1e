//! The proc macros of dyndbg and markers. Thin: parse, check, emit statics.
//! All behaviour lives in the runtime crates' `__private` modules.

use proc_macro::TokenStream;

mod marker;
mod pr_debug;

/// Places a dynamic-debug callsite. See the `dyndbg` crate.
///
/// The forms (`log::debug!`'s, see `dyndbg::docs::migration`):
///
/// ```text
/// pr_debug!("sent {} bytes", n);                    // a format and its arguments
/// pr_debug!(concat!("sent ", "{}"), n);             // any format format_args! takes
/// pr_debug!(class = "WIRE", "sent");                // a class (queries: `class WIRE`)
/// pr_debug!(target: "wire", "sent");                // log's target: the same as class
/// pr_debug!(peer, len = n, st:? = s; "sent");       // key-values, printed ` peer=.. len=.. st=..`
/// ```
///
/// A disabled callsite costs one relaxed load and a branch; its arguments
/// and key-values are evaluated only when it prints.
#[proc_macro]
pub fn pr_debug(input: TokenStream) -> TokenStream {
    pr_debug::expand(input.into()).into()
}

/// Places a marker site with typed arguments. See the `markers` crate.
#[proc_macro]
pub fn marker(input: TokenStream) -> TokenStream {
    marker::expand(input.into()).into()
}

/// Places entry and return markers on a function. See the `markers` crate.
#[proc_macro_attribute]
pub fn marker_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    marker::function::expand(attr.into(), item.into()).into()
}
