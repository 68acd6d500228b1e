//! A format built by `concat!` and `stringify!`, as `format_args!` takes it.

fn main() {
    let x = 1;
    dyndbg::pr_debug!(concat!("a", "b {}"), x);
    dyndbg::pr_debug!(concat!("nested ", concat!("{} ", stringify!(done))), x);
    dyndbg::pr_debug!(stringify!(plain));
    dyndbg::pr_debug!(class = "NET", concat!("classed {}"), x);
}
