//! The static record each `pr_debug!` places: a hot head and a cold body.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::flags::Flags;

/// Set in a head until the start-up work (`control::init`) has applied
/// `DYNDBG`: it sends the first execution of every callsite down the slow
/// path, where that work runs (tracing's "unregistered" interest, without a
/// constructor).
pub(crate) const UNREGISTERED: u8 = 1 << 7;

/// One `pr_debug!` callsite as compiled into the program.
///
/// The record is split like the kernel's `_ddebug` after its head/body
/// split: the head is the flag word the fast path loads; the body holds the
/// names and the format. Queries and listings read the bodies from the
/// compressed pool built at first use (see the crate docs, "Memory"); the
/// accessors below read this callsite's static record, which is always
/// there (after the pool is built its pages may have been given back to the
/// OS: an accessor then faults the same bytes back in from the executable).
#[repr(C)]
pub struct Callsite {
    head: AtomicU8,
    body: &'static Body,
}

/// The cold part of a callsite: everything a query or a listing reads.
#[doc(hidden)]
#[derive(Debug)]
#[repr(C)]
pub struct Body {
    /// `module_path!()` of the callsite.
    pub module: &'static str,
    /// `file!()` of the callsite.
    pub file: &'static str,
    /// The format string, as written (a `concat!` or other macro expanded).
    pub format: &'static str,
    /// The class named with `class = "..."`, or "" for none.
    pub class: &'static str,
    /// A function whose `type_name` names the enclosing function.
    pub function: fn() -> &'static str,
    /// `line!()` of the callsite.
    pub line: u32,
    /// Flags at startup (`p` when the callsite says `enabled = true`).
    pub default_flags: u8,
}

impl Callsite {
    // Not public API. Used by generated code.
    #[doc(hidden)]
    pub const fn private_new(body: &'static Body) -> Callsite {
        Callsite {
            head: AtomicU8::new(body.default_flags | UNREGISTERED),
            body,
        }
    }

    /// Whether the fast path must take the slow path: the callsite prints,
    /// or the start-up work has not run yet.
    // The fast path: inlined into every callsite, in every profile.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn is_hot(&self) -> bool {
        // Relaxed: the flag word guards no other memory; a stale read only
        // prints one line late or one line too many, as in the kernel.
        self.head.load(Ordering::Relaxed) & (Flags::PRINT.bits() | UNREGISTERED) != 0
    }

    pub(crate) fn head_bits(&self) -> u8 {
        self.head.load(Ordering::Relaxed)
    }

    pub(crate) fn store_head(&self, bits: u8) {
        self.head.store(bits, Ordering::Relaxed);
    }

    pub(crate) fn body(&self) -> &'static Body {
        self.body
    }

    /// The current flags.
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.head_bits())
    }

    /// The flags this callsite had at startup, before any query.
    pub fn default_flags(&self) -> Flags {
        Flags::from_bits(self.body.default_flags)
    }

    /// `module_path!()` where the callsite is.
    pub fn module(&self) -> &'static str {
        self.body.module
    }

    /// `file!()` where the callsite is.
    pub fn file(&self) -> &'static str {
        self.body.file
    }

    /// The line of the callsite.
    pub fn line(&self) -> u32 {
        self.body.line
    }

    /// The format string as written in the source; one built by a macro
    /// (`concat!("a", "{}")`) is the literal it expands to (`"a{}"`).
    pub fn format(&self) -> &'static str {
        self.body.format
    }

    /// The class named by `pr_debug!(class = "NAME", ...)`, if any.
    pub fn class(&self) -> Option<&'static str> {
        (!self.body.class.is_empty()).then_some(self.body.class)
    }
}
