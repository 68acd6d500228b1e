fn main() {
    struct S; dyndbg::pr_debug!("{:?}", S);
}
