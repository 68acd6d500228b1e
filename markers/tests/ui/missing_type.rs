fn main() {
    let len = 3usize;
    markers::marker!(net_rx, len);
}
