//! The words of one query to a [`Query`], as the kernel's
//! `ddebug_exec_query()`, `ddebug_parse_flags()` and `ddebug_parse_query()`.
//!
//! The last word is the flags, parsed first (so a flags error hides a
//! keyword error, as in the kernel); the words before it are
//! `keyword value` pairs, each keyword at most once.

use crate::flags::Flags;

use super::error::{ErrorKind, Fault};
use super::escape::unescape;
use super::lexer::Word;
use super::{FlagOp, FlagsChange, FormatPattern, LineRange, Query};

/// The kernel's `MAXWORDS`: four keyword/value pairs and the flags.
pub(crate) const MAX_WORDS: usize = 9;

/// Parses the words of one query (at least one word).
pub(crate) fn parse_query(words: &[Word<'_>]) -> Result<Query, Fault> {
    let Some((flags, specs)) = words.split_last() else {
        unreachable!("the lexer never yields a query without words");
    };
    let change = parse_flags(*flags)?;
    if specs.len() % 2 != 0 {
        let word = specs[specs.len() - 1];
        return Err(Fault::new(
            ErrorKind::UnpairedWord {
                word: word.text.to_owned(),
            },
            word.offset,
        ));
    }
    let mut specs_seen = Specs::default();
    for pair in specs.chunks_exact(2) {
        specs_seen.add(pair[0], pair[1])?;
    }
    Ok(specs_seen.into_query(change))
}

/// `[+-=][pmfslt_]*`: the operator, then any number of flag letters. A bare
/// operator is accepted, as in mainline: `=` clears, `+` and `-` change
/// nothing (and so only count matches).
fn parse_flags(word: Word<'_>) -> Result<FlagsChange, Fault> {
    let mut chars = word.text.char_indices();
    let op = match chars.next() {
        Some((_, '+')) => FlagOp::Add,
        Some((_, '-')) => FlagOp::Remove,
        Some((_, '=')) => FlagOp::Set,
        _ => {
            return Err(Fault::new(
                ErrorKind::BadFlagOp {
                    word: word.text.to_owned(),
                },
                word.offset,
            ));
        }
    };
    let mut flags = Flags::NONE;
    for (at, letter) in chars {
        let Some(flag) = Flags::from_letter(letter) else {
            return Err(Fault::new(
                ErrorKind::UnknownFlag { flag: letter },
                word.offset + at,
            ));
        };
        flags = flags | flag;
    }
    Ok(FlagsChange { op, flags })
}

/// The match-specs seen so far, as the raw words (for the duplicate error).
#[derive(Default)]
struct Specs<'a> {
    func: Option<&'a str>,
    file: Option<&'a str>,
    module: Option<&'a str>,
    format: Option<&'a str>,
    class: Option<&'a str>,
    line_seen: bool,
    lines: Option<LineRange>,
}

impl<'a> Specs<'a> {
    fn add(&mut self, keyword: Word<'a>, value: Word<'a>) -> Result<(), Fault> {
        let (slot, name) = match keyword.text {
            "func" => (&mut self.func, "func"),
            "file" => return self.add_file(keyword, value),
            "module" => (&mut self.module, "module"),
            "format" => (&mut self.format, "format"),
            "line" => return self.add_lines(value.text, value.offset),
            "class" => (&mut self.class, "class"),
            other => {
                return Err(Fault::new(
                    ErrorKind::UnknownKeyword {
                        word: other.to_owned(),
                    },
                    keyword.offset,
                ));
            }
        };
        set_once(slot, name, value.text, keyword.offset)
    }

    /// `file F`, `file F:func` or `file F:N-M`: the tail after the first `:`
    /// is a function pattern when it starts like a Rust identifier or a
    /// wildcard (letter, `_`, `*`, `?`), else a line range. An empty tail
    /// adds nothing.
    fn add_file(&mut self, keyword: Word<'a>, value: Word<'a>) -> Result<(), Fault> {
        let (name, tail) = match value.text.split_once(':') {
            Some((name, tail)) => (name, Some(tail)),
            None => (value.text, None),
        };
        set_once(&mut self.file, "file", name, keyword.offset)?;
        let Some(tail) = tail.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let tail_offset = value.offset + name.len() + 1;
        let starts_func = tail
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | '*' | '?'));
        if starts_func {
            set_once(&mut self.func, "func", tail, tail_offset)
        } else {
            self.add_lines(tail, tail_offset)
        }
    }

    fn add_lines(&mut self, text: &str, offset: usize) -> Result<(), Fault> {
        if self.line_seen {
            return Err(Fault::new(ErrorKind::LineTwice, offset));
        }
        self.line_seen = true;
        self.lines = parse_line_range(text, offset)?;
        Ok(())
    }

    fn into_query(self, change: FlagsChange) -> Query {
        Query {
            module: self.module.map(str::to_owned),
            file: self.file.map(str::to_owned),
            function: self.func.map(str::to_owned),
            format: self.format.map(parse_format),
            lines: self.lines,
            class: self.class.map(str::to_owned),
            change,
        }
    }
}

/// The kernel's `check_set()`: each keyword at most once per query.
fn set_once<'a>(
    slot: &mut Option<&'a str>,
    keyword: &'static str,
    value: &'a str,
    offset: usize,
) -> Result<(), Fault> {
    if let Some(first) = *slot {
        return Err(Fault::new(
            ErrorKind::Duplicate {
                keyword,
                first: first.to_owned(),
                second: value.to_owned(),
            },
            offset,
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// A `format` value: `^` at the start (before unescaping) anchors the match
/// at the start of the format; the rest is unescaped.
fn parse_format(value: &str) -> FormatPattern {
    match value.strip_prefix('^') {
        Some(rest) => FormatPattern {
            anchored: true,
            needle: unescape(rest),
        },
        None => FormatPattern {
            anchored: false,
            needle: unescape(value),
        },
    }
}

/// `N`, `N-M`, `N-`, `-M`, split at the first `-`. A bound that is empty or
/// 0 is open, as in the kernel, so `0`, `-`, `0-0` and `-0` constrain
/// nothing (`None`), and `N-0` means `N-`.
fn parse_line_range(text: &str, offset: usize) -> Result<Option<LineRange>, Fault> {
    let (first_text, last) = match text.split_once('-') {
        Some((first, last)) => (first, Some((last, offset + first.len() + 1))),
        None => (text, None),
    };
    let first = parse_line_number(first_text, offset)?;
    let last = match last {
        None => first,
        Some((last_text, last_offset)) => {
            let last = parse_line_number(last_text, last_offset)?;
            if last != 0 && last < first {
                return Err(Fault::new(ErrorKind::ReversedRange { first, last }, offset));
            }
            last
        }
    };
    let last = if last == 0 { u32::MAX } else { last };
    Ok((first > 1 || last < u32::MAX).then_some(LineRange { first, last }))
}

/// The kernel's `parse_lineno()`: empty is 0; else `kstrtouint(s, 10)`,
/// which takes one optional leading `+` and decimal digits (leading zeros
/// are decimal) that fit a `u32`.
fn parse_line_number(text: &str, offset: usize) -> Result<u32, Fault> {
    if text.is_empty() {
        return Ok(0);
    }
    let digits = text.strip_prefix('+').unwrap_or(text);
    let decimal = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    // `u32::from_str` would take a second `+` itself: check the digits first.
    decimal
        .then(|| digits.parse::<u32>().ok())
        .flatten()
        .ok_or_else(|| {
            Fault::new(
                ErrorKind::BadLineNumber {
                    text: text.to_owned(),
                },
                offset,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Result<Option<(u32, u32)>, ErrorKind> {
        parse_line_range(text, 0)
            .map(|r| r.map(|r| (r.first, r.last)))
            .map_err(|f| f.kind)
    }

    fn flags(text: &str) -> Result<FlagsChange, Fault> {
        parse_flags(Word { text, offset: 0 })
    }

    #[test]
    fn line_ranges() {
        assert_eq!(range("10"), Ok(Some((10, 10))));
        assert_eq!(range("10-20"), Ok(Some((10, 20))));
        assert_eq!(range("10-10"), Ok(Some((10, 10))));
        assert_eq!(range("10-"), Ok(Some((10, u32::MAX))));
        assert_eq!(range("-20"), Ok(Some((0, 20))));
        assert_eq!(range("007"), Ok(Some((7, 7))));
        assert_eq!(range("4294967295"), Ok(Some((u32::MAX, u32::MAX))));
    }

    #[test]
    fn zero_and_empty_bounds_are_open() {
        assert_eq!(range("0"), Ok(None));
        assert_eq!(range(""), Ok(None));
        assert_eq!(range("-"), Ok(None));
        assert_eq!(range("0-0"), Ok(None));
        assert_eq!(range("-0"), Ok(None));
        assert_eq!(range("1-"), Ok(None));
        assert_eq!(range("5-0"), Ok(Some((5, u32::MAX))));
        assert_eq!(range("0-5"), Ok(Some((0, 5))));
    }

    #[test]
    fn bad_line_numbers() {
        for bad in ["10a", "0x10", "a", "+", "1.5", " 1", "4294967296", "--1"] {
            assert!(
                matches!(range(bad), Err(ErrorKind::BadLineNumber { .. })),
                "{bad}: {:?}",
                range(bad)
            );
        }
        assert_eq!(
            range("1-2-3"),
            Err(ErrorKind::BadLineNumber { text: "2-3".into() })
        );
    }

    #[test]
    fn bad_line_number_points_at_the_bad_bound() {
        let fault = parse_line_range("1-x", 40).unwrap_err();
        assert_eq!(fault.offset, 42);
    }

    #[test]
    fn reversed_range() {
        assert_eq!(
            range("20-10"),
            Err(ErrorKind::ReversedRange {
                first: 20,
                last: 10
            })
        );
    }

    #[test]
    fn flag_ops() {
        let f = flags("+pm").unwrap();
        assert_eq!(f.op, FlagOp::Add);
        assert_eq!(f.flags, Flags::PRINT | Flags::MODULE);
        assert_eq!(flags("-p").unwrap().op, FlagOp::Remove);
        assert_eq!(flags("=_").unwrap().op, FlagOp::Set);
        assert_eq!(flags("=_").unwrap().flags, Flags::NONE);
        assert_eq!(flags("+pmfslt_").unwrap().flags, Flags::ALL);
    }

    #[test]
    fn unknown_flag_points_at_the_letter() {
        let fault = flags("+pmx").unwrap_err();
        assert_eq!(fault.kind, ErrorKind::UnknownFlag { flag: 'x' });
        assert_eq!(fault.offset, 3);
    }

    #[test]
    fn flags_are_case_sensitive_and_single_op() {
        for bad in ["+P", "++p", "+p-m", "+p=", "+ p"] {
            assert!(
                matches!(flags(bad).unwrap_err().kind, ErrorKind::UnknownFlag { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_flag_op() {
        for bad in ["p", "main", "*p", ""] {
            assert_eq!(
                flags(bad).unwrap_err().kind,
                ErrorKind::BadFlagOp { word: bad.into() }
            );
        }
    }
}
