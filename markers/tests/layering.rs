//! The modules of `src/` form layers (the list in `src/docs/internals.rs`):
//! a module may name (`crate::module`) only the modules below it, so
//! there is no cycle. The checker is dyndbg's (its tests also check the
//! checker itself).

#[path = "../../dyndbg/tests/support/layering.rs"]
mod support;

use std::path::Path;

/// Bottom first. Keep in step with the list in `src/docs/internals.rs`.
const LAYERS: &[&str] = &[
    "args", "hazard", "site", "probe", "error", "registry", "builtin", "debugfs", "private", "docs",
];

#[test]
fn no_module_names_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = support::check(&src, LAYERS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
