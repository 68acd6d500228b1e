fn main() {
    markers::marker!(net_rx, len: impl std::fmt::Debug = 1);
}
