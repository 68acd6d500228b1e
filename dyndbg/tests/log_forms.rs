//! The `log` macros' forms `pr_debug!` takes (issue #20): formats built by
//! macros, `target:` and key-values, as listed and as printed.

use std::sync::atomic::{AtomicUsize, Ordering};

use dyndbg::pr_debug;

#[path = "support/capture.rs"]
mod capture;

use capture::{lines, setup};

/// The listing line of this file's callsite whose format contains `needle`.
fn listed(needle: &str) -> String {
    dyndbg::listing()
        .lines()
        .find(|l| l.contains("log_forms.rs") && l.contains(needle))
        .unwrap_or_else(|| panic!("no callsite with {needle:?} in:\n{}", dyndbg::listing()))
        .to_owned()
}

macro_rules! my_debug {
    ($fmt:expr $(, $arg:expr)*) => {
        pr_debug!($fmt $(, $arg)*)
    };
}

macro_rules! prefixed {
    ($fmt:literal $(, $arg:expr)*) => {
        pr_debug!(concat!("[wire] ", $fmt) $(, $arg)*)
    };
}

fn concat_site(n: u32) {
    pr_debug!(concat!("concat ", "joined {}", " ", stringify!(tail)), n);
}

fn through_expr(n: u32) {
    my_debug!("through expr {}", n);
}

fn through_expr_concat(n: u32) {
    my_debug!(concat!("through expr ", "concat {}"), n);
}

fn through_literal(n: u32) {
    prefixed!("prefixed {}", n);
}

fn target_site() {
    pr_debug!(target: "wire", "target form");
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn counted() -> usize {
    EVALUATED.fetch_add(1, Ordering::SeqCst)
}

fn kv_site(peer: &str, len: usize) {
    let id = 7;
    pr_debug!(target: "wire", peer, len = len + 1, state:? = Some("up"), id:%, n = counted(); "kv form {}", len);
}

#[test]
fn listing_shows_the_expanded_format() {
    let _g = setup();
    assert!(listed("concat joined {} tail").ends_with("\"concat joined {} tail\""));
    assert!(listed("through expr {}").contains("]through_expr ="));
    assert!(listed("through expr concat {}").contains("]through_expr_concat ="));
    assert!(listed("[wire] prefixed {}").contains("]through_literal ="));
}

#[test]
fn formats_built_by_macros_print() {
    let _g = setup();
    dyndbg::control("file log_forms.rs +p").unwrap();
    concat_site(1);
    through_expr(2);
    through_expr_concat(3);
    through_literal(4);
    assert_eq!(
        lines(),
        [
            "concat joined 1 tail",
            "through expr 2",
            "through expr concat 3",
            "[wire] prefixed 4",
        ]
    );
}

#[test]
fn target_is_the_class() {
    let _g = setup();
    let line = listed("target form");
    assert!(line.ends_with("\"target form\" class:wire"), "{line}");
    let cs = dyndbg::callsites()
        .find(|c| c.format() == "target form")
        .unwrap();
    assert_eq!(cs.class(), Some("wire"));
    assert_eq!(dyndbg::control("class wire +p").unwrap(), 2);
    target_site();
    assert_eq!(lines(), ["target form"]);
}

#[test]
fn key_values_follow_the_message() {
    let _g = setup();
    assert!(listed("kv form {}").ends_with("\"kv form {}\" class:wire"));
    let before = EVALUATED.load(Ordering::SeqCst);
    kv_site("a", 1);
    assert!(lines().is_empty());
    assert_eq!(
        EVALUATED.load(Ordering::SeqCst),
        before,
        "a disabled callsite evaluated a key-value"
    );
    assert_eq!(
        dyndbg::control("class wire func kv_site +p").unwrap(),
        1,
        "{}",
        dyndbg::listing()
    );
    kv_site("b", 2);
    assert_eq!(
        lines(),
        [format!(
            "kv form 2 peer=b len=3 state=Some(\"up\") id=7 n={before}"
        )]
    );
}
