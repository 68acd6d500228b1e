//! Every input `marker!` and `#[marker_fn]` refuse, with its message
//! (`tests/ui/*.stderr`; refresh with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
