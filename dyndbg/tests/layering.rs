//! The modules of `src/` form layers (the list in `src/docs/internals.rs`):
//! a module may name (`crate::module`) only the modules below it, so
//! there is no cycle. This test reads the sources and fails on a path
//! that names a module above its own, or on a module missing from the
//! list (a new module must take a place in it).

#[path = "support/layering.rs"]
mod support;

use std::path::Path;

use support::check;

/// Bottom first. Keep in step with the list in `src/docs/internals.rs`.
const LAYERS: &[&str] = &[
    "flags",
    "function_name",
    "output",
    "query",
    "env",
    "callsite",
    "registry",
    "pool",
    "store",
    "foreign",
    "control",
    "tracing",
    "log_filter",
    "debugfs",
    "private",
    "docs",
];

#[test]
fn no_module_names_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = check(&src, LAYERS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker itself: an upward path and an unknown module are caught.
#[test]
fn the_check_catches_an_upward_path() {
    let dir = std::env::temp_dir().join(format!("dyndbg-layering-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("low")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod low; mod high;\n").unwrap();
    std::fs::write(
        dir.join("low/mod.rs"),
        "// crate::high in a comment is fine\nuse crate::{high::X, low};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("high.rs"),
        "use crate::low::Y;\nfn f() { crate::Root::new(); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("stray.rs"), "fn g() {}\n").unwrap();
    let problems = check(&dir, &["low", "high"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("high.rs:2") && problems[0].contains("crate::Root"));
    assert!(problems[1].contains("low/mod.rs:2") && problems[1].contains("`high`"));
    assert!(problems[2].contains("stray.rs") && problems[2].contains("not in the layer list"));
}
