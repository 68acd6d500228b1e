//! Bad `pr_debug!` input is a compile error with the right span; the
//! tricky accepted forms (formats built by macros, `log`'s `target:` and
//! key-values) compile.

#[test]
#[cfg_attr(miri, ignore = "runs rustc")]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
