fn main() {
    let buf = [0u8; 4];
    markers::marker!(net_rx, len: u8 = buf.len());
}
