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
    crate::control::init();
    let flags = cs.flags();
    if !flags.contains(crate::flags::Flags::PRINT) {
        return;
    }
    // With the `tracing` feature and the default sink, a dispatcher in
    // force takes the line instead of the sink.
    #[cfg(feature = "tracing")]
    if crate::output::sink_is_default() && crate::tracing::emit(cs, args) {
        return;
    }
    // The cached body (never the pool): an enabled print never decompresses.
    crate::store::with_enabled_body(cs, |body| {
        crate::output::emit(&crate::output::Record::new(
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

/// The function name of a listing from the `type_name` of a marker fn
/// placed in the function (`app::net::Client::connect::__markers_fn`) and
/// the site's module: the one rule of the crate docs' "Function names".
// Not public API. Used by markers (pinned to this exact version), so that
// both listings name functions alike.
pub fn function_name(type_name: &str, module: &str) -> String {
    crate::function_name::qualified_name(type_name, module)
}

/// The glob of queries (`*` any run, `?` one character, over the whole
/// subject).
// Not public API. Used by markers' connect-by-glob (pinned to this exact
// version), so that both crates match patterns alike.
pub fn glob(pattern: &str, subject: &str) -> bool {
    crate::query::glob(pattern, subject)
}

/// Not public API: the body pool checked against the raw records in one
/// process, for the equivalence tests (`dyndbg-manysites`) and the bench.
#[cfg(feature = "pool")]
pub mod pool_check {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use crate::flags::Flags;
    use crate::pool::Params;
    use crate::query::{self, QueryError};
    use crate::registry;
    use crate::store::{self, Store};

    /// Pool blocks decompressed since the start of the process.
    pub fn blocks_read() -> usize {
        crate::pool::BLOCKS_READ.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the process's store (pool or raw records) has been built.
    pub fn store_built() -> bool {
        store::store_built()
    }

    /// What one batch did on one store.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Run {
        /// Matches summed over the batch, as [`control`](fn@crate::control) returns.
        pub matched: usize,
        /// Every callsite's flags after the batch, as raw bits.
        pub flags: Vec<u8>,
        /// The listing with those flags.
        pub listing: String,
    }

    /// A raw store and a pool of this program, built apart from the
    /// process's own store.
    #[derive(Debug)]
    pub struct Stores {
        raw: Store,
        pool: Store,
    }

    impl std::fmt::Debug for Store {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Store::Raw(_) => f.write_str("Raw"),
                Store::Pool(pool) => pool.fmt(f),
            }
        }
    }

    /// The two stores, built at the first call.
    pub fn stores() -> &'static Stores {
        static STORES: OnceLock<Stores> = OnceLock::new();
        STORES.get_or_init(|| Stores {
            raw: Store::Raw(store::build_raw()),
            pool: Store::Pool(store::build_pool(Params::default()).expect("pool builds")),
        })
    }

    impl Stores {
        /// Runs `queries` on the raw records and on the pool from the
        /// program's current flags, changing no flag.
        pub fn run(&self, queries: &str) -> Result<(Run, Run), QueryError> {
            crate::control::init();
            let batch = query::parse_batch(queries)?;
            let old: Vec<Flags> = registry::all()
                .iter()
                .map(crate::callsite::Callsite::flags)
                .collect();
            let run = |store: &Store| {
                let (matched, flags) = crate::control::simulate(store, &batch, &old);
                let listing = crate::control::write_listing(store, |i| flags[i]);
                Run {
                    matched,
                    flags: flags.iter().map(|f| f.bits()).collect(),
                    listing,
                }
            };
            Ok((run(&self.raw), run(&self.pool)))
        }

        /// A batch's match count on the raw records (`pooled` false) or the
        /// pool, from the current flags, changing nothing: what a query
        /// costs without the flag stores.
        pub fn matched(&self, pooled: bool, queries: &str) -> Result<usize, QueryError> {
            crate::control::init();
            let batch = query::parse_batch(queries)?;
            let old: Vec<Flags> = registry::all()
                .iter()
                .map(crate::callsite::Callsite::flags)
                .collect();
            let store = if pooled { &self.pool } else { &self.raw };
            Ok(crate::control::simulate(store, &batch, &old).0)
        }

        /// The listing of the raw records or of the pool.
        pub fn listing(&self, pooled: bool) -> String {
            let sites = registry::all();
            let store = if pooled { &self.pool } else { &self.raw };
            crate::control::write_listing(store, |i| sites[i].flags())
        }
    }

    /// One pool built with chosen parameters, measured.
    #[derive(Debug, Clone, Copy)]
    pub struct Trial {
        /// Raw bytes per block.
        pub block_target: usize,
        /// Largest dictionary (0: none).
        pub dict_max: usize,
        /// zstd level.
        pub level: i32,
        /// The bodies as raw records.
        pub raw_body_bytes: usize,
        /// Compressed blocks, index and dictionary.
        pub pool_bytes: usize,
        /// Blocks.
        pub blocks: usize,
        /// Time to build the pool (serialize, train, compress).
        pub build: Duration,
        /// Time to read every body once (what a query costs).
        pub read_all: Duration,
        /// Time to read one body (decompress its block).
        pub read_one: Duration,
    }

    /// Builds a pool of this program's bodies with the given parameters and
    /// measures it.
    pub fn trial(block_target: usize, dict_max: usize, level: i32) -> Trial {
        let params = Params {
            block_target,
            dict_max,
            level,
        };
        let t = Instant::now();
        let pool = store::build_pool(params).expect("pool builds");
        let build = t.elapsed();
        let t = Instant::now();
        let mut bytes = 0usize;
        pool.for_each(|_, body| bytes += body.format.len());
        std::hint::black_box(bytes);
        let read_all = t.elapsed();
        let t = Instant::now();
        let n = registry::all().len();
        let probes = 64.min(n);
        for k in 0..probes {
            std::hint::black_box(pool.get(k * n / probes));
        }
        let read_one = t.elapsed() / probes.max(1) as u32;
        Trial {
            block_target,
            dict_max,
            level,
            raw_body_bytes: pool.raw_body_bytes(),
            pool_bytes: pool.bytes(),
            blocks: pool.blocks(),
            build,
            read_all,
            read_one,
        }
    }
}

/// Not public API: where a callsite's `Body` struct lies, for the memory
/// measurements of the pool.
pub fn body_addr(cs: &Callsite) -> usize {
    std::ptr::from_ref(cs.body()) as usize
}
