//! Formats passed through a `macro_rules!` as `$fmt:expr` or `$fmt:literal`.

macro_rules! my_debug {
    ($fmt:expr $(, $arg:expr)* $(,)?) => {
        dyndbg::pr_debug!($fmt $(, $arg)*)
    };
}

macro_rules! prefixed {
    ($fmt:literal $(, $arg:tt)*) => {
        dyndbg::pr_debug!(concat!("[p] ", $fmt) $(, $arg)*)
    };
}

macro_rules! fmt_of {
    () => {
        "from a user macro {}"
    };
}

fn main() {
    let x = 1;
    my_debug!("x is {}", x);
    my_debug!(concat!("x ", "is {}"), x);
    prefixed!("x is {}", x);
    dyndbg::pr_debug!(fmt_of!(), x);
}
