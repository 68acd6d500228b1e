//! `log`'s `target: "x"`: a synonym of `class = "x"`.

fn main() {
    dyndbg::pr_debug!(target: "wire", "sent {}", 3);
    dyndbg::pr_debug!(target: "app::net", "module-like target");
}
