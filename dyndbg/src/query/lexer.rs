//! Splitting a batch into queries and a query into words, as the kernel's
//! `ddebug_exec_queries()` and `ddebug_tokenize()` do.
//!
//! Splitting on `;` and `\n` happens before tokenizing, so a `;` inside
//! quotes still ends the query. Words are separated by whitespace; a word
//! starting with `"` or `'` runs to the next same quote (no escapes, no
//! nesting) and the closing quote ends it even with no space after it; a
//! word starting with `#` starts a comment that runs to the end of the query.

use super::error::{ErrorKind, Fault};
use super::parser::MAX_WORDS;

/// One query of a batch, without its surrounding whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    pub(crate) text: &'a str,
    /// Byte offset of `text` in the batch.
    pub(crate) offset: usize,
}

/// One word of a query: a keyword, a value or the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    /// The word without its quotes.
    pub(crate) text: &'a str,
    /// Byte offset of `text` in the batch (after an opening quote).
    pub(crate) offset: usize,
}

/// The kernel's `isspace()` on ASCII: space, `\t \n \v \f \r`. (The kernel
/// also counts byte 0xA0, Latin-1 NBSP; in UTF-8 that byte only occurs
/// inside multi-byte characters, so it is not a separator here.)
pub(crate) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

fn trim(text: &str) -> (usize, &str) {
    let start = text
        .bytes()
        .position(|b| !is_space(b))
        .unwrap_or(text.len());
    let end = text
        .bytes()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    (start, &text[start..end])
}

/// The queries of a batch: split on `;` and `\n`, skipping pieces that are
/// empty, blank, or whose first non-blank character is `#`.
pub(crate) fn split_batch(input: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut start = 0;
    input.split([';', '\n']).filter_map(move |raw| {
        let raw_start = start;
        start += raw.len() + 1;
        let (lead, text) = trim(raw);
        (!text.is_empty() && !text.starts_with('#')).then_some(Piece {
            text,
            offset: raw_start + lead,
        })
    })
}

/// The words of one query, at most [`MAX_WORDS`].
pub(crate) fn tokenize(piece: Piece<'_>) -> Result<Vec<Word<'_>>, Fault> {
    let text = piece.text;
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut at = 0;
    loop {
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        if at == bytes.len() || bytes[at] == b'#' {
            break;
        }
        let word_start = at;
        let word = if let quote @ (b'"' | b'\'') = bytes[at] {
            let start = at + 1;
            let Some(len) = bytes[start..].iter().position(|&b| b == quote) else {
                return Err(Fault::new(
                    ErrorKind::UnclosedQuote {
                        quote: char::from(quote),
                    },
                    piece.offset + at,
                ));
            };
            // Past the closing quote: it ends the word even if a letter follows.
            at = start + len + 1;
            Word {
                text: &text[start..start + len],
                offset: piece.offset + start,
            }
        } else {
            let len = bytes[at..]
                .iter()
                .position(|&b| is_space(b))
                .unwrap_or(bytes.len() - at);
            at += len;
            Word {
                text: &text[word_start..at],
                offset: piece.offset + word_start,
            }
        };
        if words.len() == MAX_WORDS {
            return Err(Fault::new(
                ErrorKind::TooManyWords,
                piece.offset + word_start,
            ));
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(input: &str) -> Vec<(&str, usize)> {
        split_batch(input).map(|p| (p.text, p.offset)).collect()
    }

    fn words(input: &str) -> Result<Vec<&str>, Fault> {
        let piece = Piece {
            text: input,
            offset: 0,
        };
        Ok(tokenize(piece)?.into_iter().map(|w| w.text).collect())
    }

    #[test]
    fn batch_splits_on_semicolon_and_newline() {
        assert_eq!(
            pieces("a +p;b +p\nc +p"),
            [("a +p", 0), ("b +p", 5), ("c +p", 10)]
        );
    }

    #[test]
    fn batch_skips_empty_blank_and_comment_pieces() {
        assert_eq!(pieces(""), []);
        assert_eq!(pieces(" ;; \t\n\n"), []);
        assert_eq!(pieces("  # a comment; +p"), [("+p", 15)]);
        assert_eq!(pieces("\n  +p  \n"), [("+p", 3)]);
    }

    #[test]
    fn batch_splits_inside_quotes() {
        assert_eq!(
            pieces("format \"a;b\" +p"),
            [("format \"a", 0), ("b\" +p", 10)]
        );
    }

    #[test]
    fn words_split_on_every_kernel_space() {
        assert_eq!(
            words("a\tb\x0Bc\x0Cd\re  f").unwrap(),
            ["a", "b", "c", "d", "e", "f"]
        );
    }

    #[test]
    fn non_breaking_space_is_not_a_separator() {
        assert_eq!(words("a\u{a0}b +p").unwrap(), ["a\u{a0}b", "+p"]);
    }

    #[test]
    fn quotes_group_words_and_keep_inner_spaces() {
        assert_eq!(
            words("format \"a b\" 'c d' +p").unwrap(),
            ["format", "a b", "c d", "+p"]
        );
        assert_eq!(words("'say \"hi\"'").unwrap(), ["say \"hi\""]);
    }

    #[test]
    fn closing_quote_ends_the_word() {
        assert_eq!(words("\"write\"block").unwrap(), ["write", "block"]);
    }

    #[test]
    fn quote_inside_a_word_is_literal() {
        assert_eq!(words("a\"b c'd").unwrap(), ["a\"b", "c'd"]);
    }

    #[test]
    fn empty_quotes_are_an_empty_word() {
        assert_eq!(words("func \"\" +p").unwrap(), ["func", "", "+p"]);
    }

    #[test]
    fn hash_starts_a_comment_only_at_a_word_start() {
        assert_eq!(words("func a#b +p #c d").unwrap(), ["func", "a#b", "+p"]);
        assert_eq!(words("format \"#c\" +p").unwrap(), ["format", "#c", "+p"]);
    }

    #[test]
    fn word_offsets_point_into_the_batch() {
        let piece = Piece {
            text: "func 'x y' +p",
            offset: 7,
        };
        let offsets: Vec<usize> = tokenize(piece).unwrap().iter().map(|w| w.offset).collect();
        assert_eq!(offsets, [7, 13, 18]);
    }

    #[test]
    fn unclosed_quote_points_at_the_quote() {
        let err = words("format 'abc +p").unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnclosedQuote { quote: '\'' });
        assert_eq!(err.offset, 7);
    }

    #[test]
    fn nine_words_pass_and_the_tenth_fails() {
        assert_eq!(words("a b c d e f g h i").unwrap().len(), 9);
        let err = words("a b c d e f g h i j").unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooManyWords);
        assert_eq!(err.offset, 18);
        // A comment after nine words is not a tenth word.
        assert!(words("a b c d e f g h i # j").is_ok());
    }
}
