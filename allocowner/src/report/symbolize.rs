//! Addresses to functions and lines, at report time only (never on the
//! allocation path), cached per address; and the trimming of the allocator's
//! own frames at the top of stacks.

use std::collections::HashMap;
use std::ffi::c_void;
use std::path::PathBuf;

use super::ModuleMap;
use super::elf;

/// One logical frame of an owner stack. A return address expands to
/// several frames when functions were inlined there: the inlined ones come
/// first (innermost first, like the stack), marked [`Frame::inlined`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// The return address as captured.
    pub addr: usize,
    /// Demangled function name (without the hash suffix), when symbols are
    /// available.
    pub function: Option<String>,
    /// Source file, when debug info is available.
    pub file: Option<String>,
    /// Source line, when debug info is available.
    pub line: Option<u32>,
    /// This function was inlined into the next frame (same address).
    pub inlined: bool,
}

impl Frame {
    /// A frame that only knows its address.
    pub const fn unresolved(addr: usize) -> Frame {
        Frame {
            addr,
            function: None,
            file: None,
            line: None,
            inlined: false,
        }
    }

    /// Whether the frame has a function name and a source line.
    pub fn has_debug_info(&self) -> bool {
        self.function.is_some() && self.file.is_some()
    }
}

/// Resolves return addresses with the `backtrace` crate (which reads the
/// DWARF debug info of the mapped files), caching the answer per address.
///
/// The function of each return address (the outermost frame of an inline
/// chain) is named from the file's symbol table (`.symtab`, else
/// `.dynsym`), demangled: the linker's names carry the full path
/// (`myapp::load::parse`), which line-tables-only debug info (the
/// workspace's profiles) lacks. Functions inlined there keep the debug
/// info's name, which may be short (`push`); their file and line say where
/// they are.
///
/// Symbolization takes the `backtrace` crate's global lock, reads files and
/// allocates: call it only outside the allocator, when making a report.
#[derive(Debug, Default)]
pub struct Symbolizer {
    raw: bool,
    cache: HashMap<usize, Vec<Frame>>,
    /// Loaded on first use.
    modules: Option<ModuleMap>,
    symbols: HashMap<PathBuf, Vec<elf::Symbol>>,
}

impl Symbolizer {
    /// A symbolizer that reads the program's symbols and debug info.
    pub fn new() -> Symbolizer {
        Symbolizer::default()
    }

    /// A symbolizer that resolves nothing: reports show raw addresses and
    /// the module map, for offline symbolization (or as a stripped binary's
    /// report would look).
    pub fn raw() -> Symbolizer {
        Symbolizer {
            raw: true,
            ..Symbolizer::default()
        }
    }

    /// The logical frames at return address `addr`, innermost first; never
    /// empty (an unknown address gives one [`Frame::unresolved`]).
    pub fn resolve(&mut self, addr: usize) -> &[Frame] {
        if !self.cache.contains_key(&addr) {
            let frames = crate::guard::inside(|| self.lookup(addr));
            self.cache.insert(addr, frames);
        }
        &self.cache[&addr]
    }

    fn lookup(&mut self, addr: usize) -> Vec<Frame> {
        if self.raw || addr == 0 {
            return vec![Frame::unresolved(addr)];
        }
        let mut frames = Vec::new();
        // `resolve` looks up `addr - 1`: a return address points after the
        // call, which may be the next line or function.
        backtrace::resolve(addr as *mut c_void, |sym| {
            frames.push(Frame {
                addr,
                function: sym.name().map(|n| format!("{n:#}")),
                file: sym.filename().map(|p| p.display().to_string()),
                line: sym.lineno(),
                inlined: true,
            });
        });
        if frames.is_empty() {
            frames.push(Frame::unresolved(addr));
        }
        let last = frames.len() - 1;
        frames[last].inlined = false;
        if let Some(name) = self.linker_name(addr - 1) {
            frames[last].function = Some(name);
        }
        frames
    }

    /// The demangled symbol-table name of the function holding `addr`.
    fn linker_name(&mut self, addr: usize) -> Option<String> {
        let map = self
            .modules
            .get_or_insert_with(|| ModuleMap::current().unwrap_or_default());
        let (module, file_addr) = map.lookup(addr)?;
        if !module.is_file() {
            return None;
        }
        let symbols = self
            .symbols
            .entry(module.path.clone())
            .or_insert_with(|| elf::read_symbols(&module.path).unwrap_or_default());
        let sym = elf::symbol_at(symbols, file_addr)?;
        Some(format!(
            "{:#}",
            backtrace::SymbolName::new(sym.name.as_bytes())
        ))
    }

    /// The logical frames of a whole stack (return addresses innermost
    /// first), with the allocator's frames trimmed at the top and the
    /// runtime's start-up frames at the bottom: see [`trim`].
    pub fn stack(&mut self, addrs: &[usize]) -> Vec<Frame> {
        crate::guard::inside(|| {
            let mut frames = Vec::with_capacity(addrs.len());
            for &a in addrs {
                frames.extend_from_slice(self.resolve(a));
            }
            trim(frames)
        })
    }
}

/// Whether `function` belongs to the allocation machinery: allocowner
/// itself, the `alloc` crate (Box, Vec, String, RawVec...), `std::alloc`,
/// `core::alloc`, and the `__rust_alloc`/`__rdl_*`/`__rg_*` shims.
pub fn is_allocator_frame(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "allocowner::",
        "alloc::",
        "std::alloc::",
        "core::alloc::",
        "__rust_alloc",
        "__rust_realloc",
        "__rust_dealloc",
        "__rustc::",
        "__rdl_",
        "__rg_",
    ];
    let is = |s: &str| PREFIXES.iter().any(|p| s.starts_with(p));
    // `<alloc::vec::Vec<T> as Clone>::clone` or `<[T] as alloc::slice::...>`
    match function.strip_prefix('<') {
        Some(inner) => is(inner) || inner.split_once(" as ").is_some_and(|(_, tr)| is(tr)),
        None => is(function),
    }
}

/// Whether the source file is the allocation machinery's: the `alloc`
/// crate, `std::alloc`, `core::alloc`, or allocowner's own sources.
fn in_allocator_file(file: &str) -> bool {
    let file = file.replace('\\', "/");
    if file.contains("/library/alloc/src/")
        || file.ends_with("/library/std/src/alloc.rs")
        || file.contains("/library/core/src/alloc/")
    {
        return true;
    }
    let parts: Vec<&str> = file.split('/').collect();
    parts
        .windows(2)
        .any(|w| (w[0] == "allocowner" || w[0].starts_with("allocowner-")) && w[1] == "src")
}

/// A frame of the allocation machinery, by name or (for the short names of
/// line-tables-only debug info) by source file.
fn in_allocator(f: &Frame) -> bool {
    f.function.as_deref().is_some_and(is_allocator_frame)
        || f.file.as_deref().is_some_and(in_allocator_file)
}

/// Whether `function` is the entry of the global allocator: the
/// `__rust_alloc` family of shims (`__rustc::__rust_alloc` in recent
/// toolchains) or the `__rg_*` functions behind them. Everything called
/// from there is the allocator's implementation, whatever it is.
fn is_allocator_entry(function: &str) -> bool {
    let f = function.strip_prefix("__rustc::").unwrap_or(function);
    ["__rust_alloc", "__rust_realloc", "__rust_dealloc", "__rg_"]
        .iter()
        .any(|p| f.starts_with(p))
}

/// Trims a symbolized stack (innermost first), so that the first frame is
/// the user's:
/// - the runtime's start-up frames go, from `__rust_begin_short_backtrace`
///   outwards (as std's short backtraces do);
/// - everything up to the global allocator's entry (`__rust_alloc` and its
///   kin, often inlined) goes: that is the allocator's implementation,
///   allocowner's or any other;
/// - then the leading frames of the allocation machinery go: by name
///   ([`is_allocator_frame`]), or, for the short names of line-tables-only
///   debug info, by source file (the `alloc` crate, `std/src/alloc.rs`,
///   `core/src/alloc/`, allocowner's `src/`).
///
/// A stack made only of such frames is kept whole.
pub fn trim(mut frames: Vec<Frame>) -> Vec<Frame> {
    if let Some(mut i) = frames.iter().position(|f| {
        f.function
            .as_deref()
            .is_some_and(|n| n.contains("__rust_begin_short_backtrace"))
    }) {
        // Functions inlined into it go with it.
        while i > 0 && frames[i - 1].addr == frames[i].addr {
            i -= 1;
        }
        frames.truncate(i);
    }
    let entry = frames
        .iter()
        .rposition(|f| f.function.as_deref().is_some_and(is_allocator_entry))
        .map_or(0, |i| i + 1);
    let top = entry
        + frames[entry..]
            .iter()
            .take_while(|f| in_allocator(f))
            .count();
    if top < frames.len() {
        frames.drain(..top);
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Frame {
        Frame {
            function: Some(name.to_owned()),
            ..Frame::unresolved(1)
        }
    }

    #[test]
    fn allocator_frames() {
        for yes in [
            "<allocowner::OwnerAlloc<A> as core::alloc::global::GlobalAlloc>::alloc",
            "alloc::raw_vec::finish_grow",
            "__rustc::__rust_alloc",
            "__rust_alloc",
            "__rdl_alloc",
            "alloc::alloc::alloc",
            "<alloc::vec::Vec<T> as core::clone::Clone>::clone",
            "<[T] as alloc::slice::hack::ConvertVec>::to_vec",
            "std::alloc::__default_lib_allocator::__rdl_alloc",
        ] {
            assert!(is_allocator_frame(yes), "{yes}");
        }
        for no in [
            "myapp::alloc_things",
            "<myapp::Thing as core::clone::Clone>::clone",
            "hashbrown::raw::RawTable<T>::reserve_rehash",
            "allocator_api2::x",
        ] {
            assert!(!is_allocator_frame(no), "{no}");
        }
    }

    #[test]
    fn trim_top_and_bottom() {
        let stack = vec![
            named("__rustc::__rust_alloc"),
            named("alloc::raw_vec::finish_grow"),
            named("app::work"),
            named("alloc::vec::Vec<T>::push"),
            named("app::main"),
            Frame {
                addr: 9,
                inlined: true,
                ..named("<fn() as FnOnce>::call_once")
            },
            Frame {
                addr: 9,
                ..named("std::sys::backtrace::__rust_begin_short_backtrace")
            },
            named("main"),
        ];
        let names: Vec<_> = trim(stack)
            .into_iter()
            .map(|f| f.function.unwrap())
            .collect();
        assert_eq!(
            names,
            ["app::work", "alloc::vec::Vec<T>::push", "app::main"]
        );
        let only = vec![named("alloc::alloc::alloc")];
        assert_eq!(trim(only.clone()), only);
        let raw = vec![Frame::unresolved(5), named("alloc::x")];
        assert_eq!(trim(raw.clone()), raw);
        let short = Frame {
            file: Some("/rustc/abc/library/alloc/src/vec/mod.rs".to_owned()),
            ..named("push")
        };
        let own = Frame {
            file: Some("/opt/cargo/registry/src/x/allocowner-0.1.0/src/alloc.rs".to_owned()),
            ..named("capture")
        };
        let user = Frame {
            file: Some("/srv/ws/allocowner/tests/x.rs".to_owned()),
            ..named("known")
        };
        assert_eq!(
            trim(vec![own, short.clone(), user.clone()]),
            std::slice::from_ref(&user)
        );
        // A user's own global allocator, inlined with short names: all
        // of it is above the `__rust_alloc` entry.
        let user_alloc = Frame {
            file: Some("/srv/app/src/main.rs".to_owned()),
            ..named("alloc")
        };
        assert_eq!(
            trim(vec![user_alloc, named("__rust_alloc"), short, user.clone()]),
            [user]
        );
    }

    #[test]
    fn raw_symbolizer_resolves_nothing() {
        let mut s = Symbolizer::raw();
        assert_eq!(s.resolve(0x1234), [Frame::unresolved(0x1234)]);
    }
}
