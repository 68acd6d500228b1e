fn main() {
    let len = 3;
    dyndbg::pr_debug!(len:serde; "sent");
}
