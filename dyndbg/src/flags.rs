//! The flag word of a callsite: which decorations are on and whether it prints.

use std::fmt;

/// The flags of one callsite, as the kernel's `_DPRINTK_FLAGS_*` bits.
///
/// Displays like the kernel's control file: the letters in the order
/// `pmfslt`, or `_` when none is set.
///
/// ```
/// use dyndbg::Flags;
/// assert_eq!((Flags::PRINT | Flags::FUNCTION | Flags::LINE).to_string(), "pfl");
/// assert_eq!(Flags::NONE.to_string(), "_");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flag: `_`.
    pub const NONE: Flags = Flags(0);
    /// `p`: the callsite prints.
    pub const PRINT: Flags = Flags(1 << 0);
    /// `m`: prefix the module path.
    pub const MODULE: Flags = Flags(1 << 1);
    /// `f`: prefix the function name.
    pub const FUNCTION: Flags = Flags(1 << 2);
    /// `l`: prefix the line number.
    pub const LINE: Flags = Flags(1 << 3);
    /// `t`: prefix the thread id.
    pub const THREAD: Flags = Flags(1 << 4);
    /// `s`: prefix the source file name.
    pub const SOURCE: Flags = Flags(1 << 5);
    /// Every flag a query can set.
    pub const ALL: Flags = Flags(0b11_1111);

    /// The letters in display order (`opt_array` order in lib/dynamic_debug.c).
    pub(crate) const LETTERS: [(char, Flags); 6] = [
        ('p', Flags::PRINT),
        ('m', Flags::MODULE),
        ('f', Flags::FUNCTION),
        ('s', Flags::SOURCE),
        ('l', Flags::LINE),
        ('t', Flags::THREAD),
    ];

    /// The flag a letter stands for (`_` is [`Flags::NONE`]).
    pub fn from_letter(letter: char) -> Option<Flags> {
        if letter == '_' {
            return Some(Flags::NONE);
        }
        Flags::LETTERS
            .iter()
            .find(|(c, _)| *c == letter)
            .map(|&(_, f)| f)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits; bits outside [`Flags::ALL`] are dropped.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits & Flags::ALL.0)
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl std::ops::BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl std::ops::Not for Flags {
    type Output = Flags;
    fn not(self) -> Flags {
        Flags(!self.0 & Flags::ALL.0)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("_");
        }
        for (letter, flag) in Flags::LETTERS {
            if self.contains(flag) {
                fmt::Write::write_char(f, letter)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_order_is_pmfslt() {
        assert_eq!(Flags::ALL.to_string(), "pmfslt");
        assert_eq!((Flags::THREAD | Flags::PRINT).to_string(), "pt");
        assert_eq!(Flags::NONE.to_string(), "_");
    }

    #[test]
    fn letters_round_trip() {
        for (c, f) in Flags::LETTERS {
            assert_eq!(Flags::from_letter(c), Some(f));
        }
        assert_eq!(Flags::from_letter('_'), Some(Flags::NONE));
        assert_eq!(Flags::from_letter('P'), None);
    }
}
