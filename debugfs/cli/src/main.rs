//! dyndbgctl.
fn main() {}
