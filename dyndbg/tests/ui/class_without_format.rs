fn main() {
    dyndbg::pr_debug!(class = "NET");
}
