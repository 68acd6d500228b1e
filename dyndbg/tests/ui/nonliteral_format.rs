fn main() {
    let s = "x"; dyndbg::pr_debug!(s);
}
