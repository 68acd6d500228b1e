//! `dyndbg_debugfs::link!();` links the crate: its constructor serves `DYNDBG_CONTROL=on`.
//! No other code of this binary names the crate.

dyndbg_debugfs::link!();

#[path = "support/link_check.rs"]
mod link_check;

#[test]
fn constructor_serves_only_when_linked() {
    let Some(served) = link_check::child_served("link_macro") else {
        return;
    };
    assert!(served, "no socket: the constructor did not run");
}
