#[markers::marker_fn]
async fn fetch(n: u32) -> u32 {
    n
}

fn main() {}
