fn main() {
    dyndbg::pr_debug!(class = "A", target: "B", "x");
}
