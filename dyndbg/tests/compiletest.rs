//! Bad `pr_debug!` input is a compile error with the right span.

#[test]
#[cfg_attr(miri, ignore = "runs rustc")]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
