struct Opaque;

fn main() {
    markers::marker!(opaque, value: Opaque = Opaque);
}
