fn main() {
    dyndbg::pr_debug!();
}
