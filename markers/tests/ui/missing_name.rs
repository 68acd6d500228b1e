fn main() {
    markers::marker!();
}
