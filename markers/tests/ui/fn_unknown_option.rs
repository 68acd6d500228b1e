#[markers::marker_fn(label = "x")]
fn double(n: u32) -> u32 {
    n * 2
}

fn main() {}
