//! `real_program` with `System` as the global allocator: the baseline.

fn main() {
    benches::real_programs::main_of_example();
}
