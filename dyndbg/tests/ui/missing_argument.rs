fn main() {
    dyndbg::pr_debug!("{} and {}", 1);
}
