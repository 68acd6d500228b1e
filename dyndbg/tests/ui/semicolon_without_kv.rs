fn main() {
    dyndbg::pr_debug!(class = "A"; "x");
}
