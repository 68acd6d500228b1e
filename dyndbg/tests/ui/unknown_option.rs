fn main() {
    dyndbg::pr_debug!(level = 3, "x");
}
