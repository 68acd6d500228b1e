//! With the `compile_out` feature a callsite is only a type check: no
//! record, no branch, arguments never evaluated.
//! Run: `cargo test -p dyndbg --features compile_out --test compile_out`.
#![cfg(feature = "compile_out")]

use std::cell::Cell;

#[test]
fn callsites_compile_to_nothing() {
    let evaluated = Cell::new(0);
    let bump = || {
        evaluated.set(evaluated.get() + 1);
        1
    };
    dyndbg::pr_debug!("value {}", bump());
    dyndbg::pr_debug!(class = "NET", "inline {evaluated:?}");
    assert_eq!(dyndbg::callsites().count(), 0);
    assert_eq!(dyndbg::control("+p").unwrap(), 0);
    dyndbg::pr_debug!("value {}", bump());
    assert_eq!(evaluated.get(), 0);
}
