//! A self-contained SVG flame graph of the live heap, written here (inferno
//! is CDDL-licensed): one rectangle per frame, width by live bytes, the
//! root at the bottom, a `<title>` on each for the hover tooltip.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Report, SortBy, capture_line};

const WIDTH: f64 = 1200.0;
const XPAD: f64 = 10.0;
const FRAME_HEIGHT: f64 = 16.0;
const TOP: f64 = 54.0;
const BOTTOM: f64 = 10.0;
const FONT_SIZE: f64 = 12.0;
/// Approximate glyph width of the monospace font, for label truncation.
const CHAR_WIDTH: f64 = FONT_SIZE * 0.6;
/// Frames narrower than this (in pixels) are not drawn, as flamegraph.pl's
/// `--minwidth` default; nor are their callees.
pub(super) const MIN_WIDTH: f64 = 0.1;

#[derive(Default)]
struct Node {
    bytes: u64,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn depth(&self) -> usize {
        self.children
            .values()
            .map(|c| 1 + c.depth())
            .max()
            .unwrap_or(0)
    }
}

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A warm colour derived from the name (stable across runs), as
/// flamegraph.pl's "hot" palette; special owners (`[...]`) are grey-blue.
fn colour(name: &str) -> (u8, u8, u8) {
    // FNV-1a, 32-bit.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let v1 = (h & 0xff) as u8;
    let v2 = ((h >> 8) & 0xff) as u8;
    let v3 = ((h >> 16) & 0xff) as u8;
    if name.starts_with('[') {
        return (150 + v1 / 8, 160 + v2 / 8, 190 + v3 / 8);
    }
    // saturating: 205 + 255 / 5 is 256
    (
        205u8.saturating_add(v1 / 5),
        (u16::from(v2) * 230 / 255) as u8,
        v3 / 5,
    )
}

struct Svg {
    out: String,
    total: u64,
    scale: f64,
    height: f64,
}

impl Svg {
    fn frame(&mut self, name: &str, bytes: u64, left: f64, depth: usize) {
        let width = bytes as f64 * self.scale;
        let top = self.height - BOTTOM - (depth as f64 + 1.0) * FRAME_HEIGHT;
        let pct = 100.0 * bytes as f64 / self.total as f64;
        let (red, green, blue) = colour(name);
        let fit = ((width - 6.0) / CHAR_WIDTH).floor().max(0.0) as usize;
        let label: String = if name.chars().count() <= fit {
            name.to_owned()
        } else if fit >= 3 {
            name.chars().take(fit - 2).chain("..".chars()).collect()
        } else {
            String::new()
        };
        let _ = writeln!(
            self.out,
            "<g class=\"frame\"><title>{} ({bytes} bytes, {pct:.2}%)</title>\
             <rect x=\"{left:.2}\" y=\"{top:.1}\" width=\"{width:.2}\" height=\"{:.1}\" \
             fill=\"rgb({red},{green},{blue})\" rx=\"2\" ry=\"2\"/>\
             <text x=\"{:.2}\" y=\"{:.1}\">{}</text></g>",
            escape(name),
            FRAME_HEIGHT - 1.0,
            left + 3.0,
            top + FRAME_HEIGHT - 4.5,
            escape(&label),
        );
    }

    fn node(&mut self, name: &str, node: &Node, x: f64, depth: usize) {
        if node.bytes as f64 * self.scale < MIN_WIDTH {
            return;
        }
        self.frame(name, node.bytes, x, depth);
        let mut cx = x;
        for (child_name, child) in &node.children {
            self.node(child_name, child, cx, depth + 1);
            cx += child.bytes as f64 * self.scale;
        }
    }
}

impl Report<'_> {
    /// A self-contained SVG flame graph of the program's live bytes (the
    /// [`Report::folded`] stacks): the root frame `all` at the bottom,
    /// callers below callees, each frame as wide as the live bytes
    /// allocated under it, siblings in name order. Hovering a frame shows
    /// its name, bytes and share (`<title>`). The title says the capture
    /// mode, the totals, and allocowner's own memory, which is not drawn.
    /// Frames narrower than 0.1 pixel are not drawn (nor their callees).
    pub fn flamegraph_svg(&self) -> String {
        crate::guard::inside(|| {
            let mut root = Node::default();
            for (names, bytes) in self.folded_stacks() {
                root.bytes += bytes;
                let mut node = &mut root;
                for name in names {
                    node = node.children.entry(name).or_default();
                    node.bytes += bytes;
                }
            }
            let groups = self.groups(SortBy::Bytes);
            let count: u64 = groups
                .iter()
                .filter(|g| g.is_program())
                .filter_map(|g| g.count)
                .sum();
            let height = TOP + (root.depth() as f64 + 1.0) * FRAME_HEIGHT + BOTTOM;
            let mut svg = Svg {
                out: String::new(),
                total: root.bytes,
                scale: if root.bytes == 0 {
                    0.0
                } else {
                    (WIDTH - 2.0 * XPAD) / root.bytes as f64
                },
                height,
            };
            let _ = writeln!(
                svg.out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
             <svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
             height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">\n\
             <style>text {{ font-family: monospace; font-size: {FONT_SIZE}px; fill: #000; }} \
             .frame:hover rect {{ stroke: #000; stroke-width: 1; }} \
             .head {{ text-anchor: middle; }} .title {{ font-size: 17px; }}</style>\n\
             <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#f8f8f0\"/>\n\
             <text class=\"head title\" x=\"{:.1}\" y=\"22\">allocowner: live heap by owner stack</text>\n\
             <text class=\"head\" x=\"{:.1}\" y=\"40\">{}</text>",
                WIDTH / 2.0,
                WIDTH / 2.0,
                escape(&format!(
                    "capture: {}; {} bytes live in {count} allocations; allocowner's own {} bytes \
                 mapped from the OS not included",
                    capture_line(self.snapshot.mode),
                    root.bytes,
                    self.snapshot.own_mapped_bytes
                )),
            );
            if root.bytes > 0 {
                svg.node("all", &root, XPAD, 0);
            }
            svg.out.push_str("</svg>\n");
            svg.out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_colour() {
        assert_eq!(
            escape("<a & 'b'> \"c\""),
            "&lt;a &amp; &apos;b&apos;&gt; &quot;c&quot;"
        );
        assert_eq!(colour("x"), colour("x"));
        assert!(colour("myapp::f").0 >= 205);
    }
}
