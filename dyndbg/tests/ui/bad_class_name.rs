fn main() {
    dyndbg::pr_debug!(class = "A B", "x");
}
