//! Folded stacks (`outer;caller;callee bytes`), the input of inferno,
//! flamegraph.pl and speedscope.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Owner, Report, SortBy, capture_line};

/// A frame name made safe for the folded format, which has no escaping:
/// `;` separates frames (replaced by `,`), a line ends the record (line
/// breaks replaced by spaces).
pub(super) fn sanitize(name: &str) -> String {
    name.replace(';', ",").replace(['\n', '\r'], " ")
}

impl Report<'_> {
    /// The program's live bytes per distinct folded stack, outermost frame
    /// first, sorted by stack. Special owners are one frame each
    /// ([`Owner::name`]); allocowner's own allocations are left out.
    pub(super) fn folded_stacks(&self) -> Vec<(Vec<String>, u64)> {
        let mut merged: BTreeMap<Vec<String>, u64> = BTreeMap::new();
        for g in self.groups(SortBy::Bytes) {
            if !g.is_program() || g.bytes == 0 {
                continue;
            }
            let mut names: Vec<String> = g
                .frames
                .iter()
                .rev()
                .map(|f| sanitize(&self.frame_label(f)))
                .collect();
            if g.owner != Owner::Stack {
                names.insert(0, g.owner.name().to_owned());
            } else if names.is_empty() {
                names.push("[no frames]".to_owned());
            }
            *merged.entry(names).or_default() += g.bytes;
        }
        merged.into_iter().collect()
    }

    /// Folded stacks weighted by live bytes, one line per distinct stack:
    /// `outermost;...;innermost BYTES`. The first line says the capture
    /// mode; it starts with `#` and is itself a stack of weight 0, so that
    /// every line ends with a number (speedscope detects the format by
    /// that; flamegraph.pl and inferno draw nothing for it).
    /// Semicolons in frame names are replaced by commas. Special owners are
    /// stacks of one frame (`[early (estimated)]`, `[depot failure]`,
    /// `[unsampled]`); allocowner's own allocations are not included.
    ///
    /// ```text
    /// # allocowner folded stacks of live bytes, capture: frame pointers (every allocation) 0
    /// [early (estimated)] 4096
    /// myapp::main;myapp::load 64000
    /// ```
    ///
    /// View it with `inferno-flamegraph < stacks.folded > heap.svg`,
    /// `flamegraph.pl --countname=bytes`, or by loading it in speedscope;
    /// or use [`Report::flamegraph_svg`].
    pub fn folded(&self) -> String {
        crate::guard::inside(|| {
            let mut out = format!(
                "# allocowner folded stacks of live bytes, capture: {} 0\n",
                sanitize(&capture_line(self.snapshot.mode))
            );
            for (names, bytes) in self.folded_stacks() {
                let _ = writeln!(out, "{} {bytes}", names.join(";"));
            }
            out
        })
    }
}
