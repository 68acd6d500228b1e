const FORMAT: &str = "x is {}";

fn main() {
    dyndbg::pr_debug!(FORMAT, 1);
}
