fn main() {
    markers::marker!(
        wide,
        a: u8 = 0, b: u8 = 0, c: u8 = 0, d: u8 = 0, e: u8 = 0, f: u8 = 0, g: u8 = 0,
        h: u8 = 0, i: u8 = 0, j: u8 = 0, k: u8 = 0, l: u8 = 0, m: u8 = 0
    );
}
