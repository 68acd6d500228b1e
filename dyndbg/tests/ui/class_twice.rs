fn main() {
    dyndbg::pr_debug!(class = "A", class = "B", "x");
}
