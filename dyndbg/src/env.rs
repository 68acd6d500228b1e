//! The `DYNDBG` environment variable: a query applied at first use.

use crate::{control, query};

/// The environment variable read once, before the first callsite prints.
pub const ENV_VAR: &str = "DYNDBG";

/// Called by the registry's one-time initialisation, with the writer lock
/// held. A query that parses builds the store (the pool) here, inside the
/// slow path of the first callsite to run. A bad query changes nothing and is reported on one stderr line.
pub(crate) fn apply_startup_query(writer: &std::sync::MutexGuard<'static, ()>) {
    let Some(value) = std::env::var_os(ENV_VAR) else {
        return;
    };
    let Some(value) = value.to_str() else {
        eprintln!("dyndbg: {ENV_VAR} is not valid UTF-8; ignored");
        return;
    };
    match query::parse_batch(value) {
        Ok(batch) => {
            control::apply_locked(&batch, writer);
        }
        Err(err) => eprintln!("dyndbg: {ENV_VAR} ignored: {err}"),
    }
}
