//! # Migrating from `log` (or `tracing`) to `pr_debug!`
//!
//! This guide replaces the `debug!` and `trace!` calls of an existing crate
//! by [`pr_debug!`](crate::pr_debug), says what changes for the crate's
//! users, and how [`DYNDBG`](crate::ENV_VAR) relates to `RUST_LOG`. The
//! table at the end maps every `log` and `tracing` macro form to its
//! `pr_debug!` form, or says why there is none.
//!
//! ## Replacing the calls
//!
//! 1. Add the dependency: `dyndbg = "0.1"` under `[dependencies]`.
//! 2. Replace the import. `pr_debug!` takes `log`'s `debug!` arguments
//!    (formats, `target:`, key-values), so a module that imports the macro
//!    needs only its `use` line changed:
//!
//!    ```standalone_crate
//!    // was: use log::debug;
//!    use dyndbg::pr_debug as debug;
//!
//!    fn connect(addr: &str) {
//!        debug!("connecting to {addr}");
//!        debug!(target: "wire", "handshake sent");
//!    }
//!    connect("10.0.0.1:80");
//!    ```
//!
//!    Calls written with a path (`log::debug!(...)`) become
//!    `dyndbg::pr_debug!(...)`; a search and replace of `log::debug!` and
//!    `log::trace!` does it. `#[macro_use] extern crate log;` crates add
//!    `use dyndbg::pr_debug as debug;` to each module that calls `debug!`.
//! 3. `trace!` becomes `pr_debug!` too: the kernel's dynamic debug has one
//!    level, switched per callsite. To keep trace lines apart, give them a
//!    class (`pr_debug!(class = "TRACE", ...)`) or switch them by function,
//!    file or line.
//! 4. Keep `info!`, `warn!` and `error!` on `log`: they are messages the
//!    user sees by default, filtered by level. `pr_debug!` lines are off
//!    until someone switches them on.
//! 5. Build and run the tests: every format `format_args!` takes is taken,
//!    including formats built by `concat!`, `stringify!` or your own
//!    macros, and formats passed through a `macro_rules!` as `$fmt:expr`.
//!
//! A disabled `pr_debug!` costs one relaxed load and a branch, whatever its
//! form: key-values and arguments are evaluated only when the callsite
//! prints.
//!
//! ## What changes for the crate's users
//!
//! - **Off by default, switched per callsite.** Nothing prints until a
//!   query switches callsites on, through the `DYNDBG` environment variable
//!   at startup, [`control`](fn@crate::control) at run time, or the
//!   process's debugfs socket from outside.
//! - **Output goes to stderr** (the prefix chosen by the flags `m f l t`),
//!   not to the program's logger. With the crate feature `log` and
//!   `dyndbg::set_sink(dyndbg::Log)`, lines go to the `log` facade at
//!   `Debug` level with the module path as target, so a program that
//!   configured a logger keeps its files and formats (its own level filter
//!   then applies too).
//! - **Listing.** Every callsite is listed with file, line, module,
//!   function and format before it has run: [`listing`](crate::listing)
//!   (the kernel's `control` file).
//! - **`target:` becomes a class.** `debug!(target: "wire", ...)` is
//!   `pr_debug!(class = "wire", ...)`: `target:` is accepted as a synonym.
//!   As in the kernel, a classed callsite is switched only by a query that
//!   names its class: `class wire +p`, not a bare `+p`. The listing shows
//!   ` class:wire` after the format. A class name is a string literal
//!   without spaces or wildcards (`*`, `?`); `::` is fine.
//! - **Key-values** (`debug!(peer = addr, len; "sent")`) are printed after
//!   the message as ` key=value` (log's `key=value` convention, as
//!   `env_logger` shows them), in the order written: `sent peer=10.0.0.1
//!   len=3`. `key = v` and `key:% = v` show the value with `Display`,
//!   `key:? = v` with `Debug`; `key` alone takes the variable of that name.
//!   The listing shows the message's format only. `log`'s `key:serde`,
//!   `key:sval` and `key:err` captures are refused with an error naming the
//!   two that work. A key named `class` or a keyword needs a raw identifier
//!   (`r#type = 1`, shown as `type=1`).
//! - **Formats built by macros.** The listing shows the literal after
//!   expansion: `pr_debug!(concat!("a", "b {}"), x)` is listed as
//!   `"ab {}"`. Every format `format_args!` accepts is a literal once
//!   expanded, so the listing always knows it; a `const` or a variable as
//!   format is refused, as `format_args!` refuses it.
//!
//! ## `DYNDBG` and `RUST_LOG`
//!
//! `RUST_LOG` is read by the program's logger (`env_logger` and friends)
//! and filters records by target and level after the macro has run.
//! `DYNDBG` is read by dyndbg itself, before the first callsite runs, and
//! switches callsites on in the kernel's query language; a callsite that is
//! off never formats anything. The two are independent: `RUST_LOG` does not
//! switch a `pr_debug!` on, and `DYNDBG` does not touch `log` calls (unless
//! the `log` bridge is used, where a line must pass both). Equivalents:
//!
//! | `RUST_LOG` | `DYNDBG` |
//! |---|---|
//! | `debug` (everything) | `+p` (every unclassed callsite) |
//! | `my_crate=debug` | `module my_crate* +p` |
//! | `my_crate::net=debug` | `module my_crate::net* +p` |
//! | `wire=debug` (a target) | `class wire +p` |
//! | `my_crate=debug,my_crate::db=off` | `module my_crate* +p; module my_crate::db* -p` |
//! | no equivalent | `func Client::connect +p`, `file src/net.rs line 40-80 +p`, `format "retry" +p` |
//! | (the logger's format) | flags `m f l t`: `+pmfl` adds module, function, line |
//!
//! ## Every `log` and `tracing` form
//!
//! | `log` / `tracing` | `pr_debug!` | note |
//! |---|---|---|
//! | `log::debug!("x {}", a)`, `log::trace!(...)` | `pr_debug!("x {}", a)` | one level, per-callsite switch |
//! | `log::debug!("x {a}")` (inline captures) | `pr_debug!("x {a}")` | |
//! | `log::debug!(concat!("a", "{}"), x)`, `$fmt:expr` | `pr_debug!(concat!("a", "{}"), x)` | listed expanded |
//! | `log::debug!(target: "t", "x")` | `pr_debug!(target: "t", "x")` = `pr_debug!(class = "t", "x")` | switched by `class t` |
//! | `log::debug!(k = v, k2:? = w; "x")` | same | printed `x k=v k2=w` |
//! | `log::debug!(k; "x")`, `k:%`, `k:?` | same | the variable `k` |
//! | `log::debug!(target: "t", k = v; "x")` | same | |
//! | `log::log!(Level::Debug, "x")` | `pr_debug!("x")` | the level is fixed: none for other levels |
//! | `log::debug!(logger: l, "x")` | none | output goes to the sink ([`set_sink`](crate::set_sink)), one per process |
//! | `log::info!`, `warn!`, `error!` | none | not debug output: keep `log` |
//! | `log::log_enabled!(Level::Debug)` | none | the callsite's own check is the enabled test; guard expensive work inside the arguments (they run only when on) |
//! | `k:serde`, `k:sval`, `k:err` | none | use `k:? = v` or `k:% = v` |
//! | `tracing::debug!("x {}", a)`, `trace!` | `pr_debug!("x {}", a)` | |
//! | `tracing::debug!(target: "t", "x")` | `pr_debug!(target: "t", "x")` | |
//! | `tracing::debug!(k = v, "x")` | `pr_debug!(k = v; "x")` | `;` instead of `,` after the fields |
//! | `tracing::debug!(?k, %j, "x")` | `pr_debug!(k:?, j:%; "x")` | |
//! | `tracing::debug!(k = v)` (no message) | `pr_debug!(k = v; "")` | |
//! | `tracing::event!(Level::DEBUG, ...)` | as `debug!` | |
//! | `tracing::debug!(name: "n", ...)`, `parent: s` | none | no event names or span tree |
//! | `tracing::span!`, `#[instrument]`, `Span::enter` | none | spans have no callsite output; `markers::marker_fn` places entry/return sites |
//! | `tracing::enabled!` | none | as `log_enabled!` |
//!
//! The forms with an equivalent, checked:
//!
//! ```standalone_crate
//! use dyndbg::pr_debug;
//!
//! macro_rules! my_debug {
//!     ($fmt:expr $(, $arg:expr)*) => { pr_debug!($fmt $(, $arg)*) };
//! }
//!
//! let (a, k, j) = (1, 2, "three");
//! pr_debug!("x {}", a);
//! pr_debug!("x {a}");
//! pr_debug!(concat!("a", "{}"), a);
//! my_debug!(concat!("b", "{}"), a);
//! pr_debug!(target: "t", "x");
//! pr_debug!(class = "t", "x");
//! pr_debug!(k = 1, k2:? = Some(2); "x");
//! pr_debug!(k; "x");
//! pr_debug!(k:?, j:%; "x");
//! pr_debug!(target: "t", k = 1; "x");
//! pr_debug!(k = 1; "");
//!
//! let listing = dyndbg::listing();
//! assert!(listing.contains("\"a{}\""));
//! assert!(listing.contains("\"b{}\""));
//! assert!(listing.contains("\"x\" class:t"));
//!
//! dyndbg::set_sink(dyndbg::Discard);
//! assert_eq!(dyndbg::control("class t +p"), Ok(3));
//! // The `DYNDBG` column of the `RUST_LOG` table parses.
//! for query in [
//!     "+p",
//!     "module my_crate* +p; module my_crate::db* -p",
//!     "func Client::connect +p",
//!     "file src/net.rs line 40-80 +p",
//!     "format \"retry\" +p",
//!     "+pmfl",
//! ] {
//!     assert!(dyndbg::control(query).is_ok(), "{query}");
//! }
//! ```
//!
//! What a line with key-values prints, captured with a sink:
//!
//! ```standalone_crate
//! use std::sync::Mutex;
//!
//! static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
//!
//! struct Collect;
//!
//! impl dyndbg::Sink for Collect {
//!     fn write(&self, record: &dyndbg::Record<'_>) {
//!         LINES.lock().unwrap().push(record.to_string());
//!     }
//! }
//!
//! fn send(peer: &str, len: usize) {
//!     dyndbg::pr_debug!(peer, len, state:? = Some("up"); "sent");
//! }
//!
//! dyndbg::set_sink(Collect);
//! dyndbg::control("func send +p").unwrap();
//! send("10.0.0.1", 3);
//! assert_eq!(*LINES.lock().unwrap(), ["sent peer=10.0.0.1 len=3 state=Some(\"up\")"]);
//! ```
