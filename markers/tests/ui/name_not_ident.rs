fn main() {
    markers::marker!("net_rx", len: usize = 1);
}
