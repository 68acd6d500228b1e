//! Dynamic debug for Rust programs: `pr_debug!` callsites compiled in,
//! switched on and off one by one at runtime by the Linux kernel's
//! dynamic-debug query language.
//!
//! ```
//! use dyndbg::pr_debug;
//!
//! struct Client;
//! impl Client {
//!     fn connect(&self, host: &str) {
//!         pr_debug!("connecting to {host}");
//!     }
//! }
//!
//! // Off by default: the line above costs one relaxed load and a branch.
//! Client.connect("example.org");
//! // Switch it on, with the function name and line in the prefix.
//! let matched = dyndbg::control("func connect +pfl").unwrap();
//! assert_eq!(matched, 1);
//! Client.connect("example.org"); // stderr: "Client::connect:8: connecting to example.org"
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod callsite;
mod control;
pub mod docs;
mod env;
mod flags;
mod function_name;
mod output;
mod query;
mod registry;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use callsite::Callsite;
pub use control::{callsites, control, listing, reset};
pub use dyndbg_macros::pr_debug;
pub use env::ENV_VAR;
pub use flags::Flags;
pub use output::{Discard, Record, Sink, Stderr, emit, set_sink};
#[cfg(feature = "log")]
pub use output::Log;
pub use query::QueryError;
