fn main() {
    dyndbg::pr_debug!(len = 3, "sent");
}
