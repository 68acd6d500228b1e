//! The generated program is as big and varied as the issue asks, and its
//! pool is at most a third of the raw bodies.

use std::collections::HashSet;

#[test]
fn fixture_is_full_size_in_release() {
    // The full program is generated for the release profile only (CI runs
    // `cargo test --workspace --release`); debug builds get a slice of it.
    assert_eq!(dyndbg_manysites::FULL, !cfg!(debug_assertions));
}

#[test]
fn callsites_are_spread_and_varied() {
    dyndbg_manysites::touch_all();
    let sites: Vec<_> = dyndbg::callsites()
        .filter(|cs| cs.module().starts_with("dyndbg_manysites::"))
        .collect();
    assert_eq!(sites.len(), dyndbg_manysites::CALLSITES);
    let files: HashSet<_> = sites.iter().map(|cs| cs.file()).collect();
    let modules: HashSet<_> = sites.iter().map(|cs| cs.module()).collect();
    let functions: HashSet<_> = sites
        .iter()
        .map(|cs| (cs.module(), cs.function()))
        .collect();
    let formats: HashSet<_> = sites.iter().map(|cs| cs.format()).collect();
    assert_eq!(files.len(), dyndbg_manysites::FILES);
    assert_eq!(modules.len(), dyndbg_manysites::MODULES);
    assert_eq!(functions.len(), dyndbg_manysites::FUNCTIONS);
    if dyndbg_manysites::FULL {
        assert!(sites.len() >= 20_000, "{}", sites.len());
        assert!(files.len() >= 200, "{}", files.len());
        // Hundreds of modules and functions.
        assert!(modules.len() >= 200, "{}", modules.len());
        assert!(functions.len() >= 200, "{}", functions.len());
    }
    // A corpus, not a few templates: almost every format string is unique.
    assert!(
        formats.len() * 100 >= sites.len() * 95,
        "{} of {}",
        formats.len(),
        sites.len()
    );
}

#[test]
fn pool_is_at_most_a_third_of_the_raw_bodies() {
    let stats = dyndbg::stats();
    eprintln!("{stats:#?}");
    assert!(stats.pooled);
    assert!(stats.callsites >= dyndbg_manysites::CALLSITES);
    assert!(stats.pool_bytes * 3 <= stats.raw_body_bytes, "{stats:?}");
}
