fn main() {
    dyndbg::pr_debug!(target: WIRE, "sent");
}
