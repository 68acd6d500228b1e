fn main() {
    dyndbg::pr_debug!("value is {nope}");
}
