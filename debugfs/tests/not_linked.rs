//! A dependency no code names is not linked: no constructor, no server (why a program needs `use dyndbg_debugfs as _;`).
//! No other code of this binary names the crate.

// dyndbg_debugfs is a dev-dependency, but no code names it.

#[path = "support/link_check.rs"]
mod link_check;

#[test]
fn constructor_serves_only_when_linked() {
    let Some(served) = link_check::child_served("not_linked") else {
        return;
    };
    assert!(!served, "a socket: the crate was linked after all");
}
