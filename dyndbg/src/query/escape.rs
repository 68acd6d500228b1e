//! Escapes in `format` values, as the kernel's
//! `string_unescape_inplace(arg, UNESCAPE_SPACE | UNESCAPE_OCTAL | UNESCAPE_SPECIAL)`.
//!
//! - space: `\n \r \t \v \f`
//! - octal: `\N`, `\NN`, `\NNN` (one to three octal digits; a third digit is
//!   taken only while the value is below 32, so the result fits a byte)
//! - special: `\" \\ \a \e`
//!
//! Anything else keeps its backslash (`\q` stays `\q`, `\x41` stays
//! `\x41`: hex is not enabled), and a trailing lone `\` is kept. Unescaping
//! never fails. The result is bytes: `\303\251` is the UTF-8 of `é`, and a
//! lone `\351` is a byte no UTF-8 format contains.

/// Unescapes a `format` value.
pub(crate) fn unescape(value: &str) -> Vec<u8> {
    let src = value.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        if src[i] != b'\\' || i + 1 == src.len() {
            out.push(src[i]);
            i += 1;
            continue;
        }
        let next = src[i + 1];
        let simple = match next {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(b'\x0B'),
            b'f' => Some(b'\x0C'),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'a' => Some(b'\x07'),
            b'e' => Some(b'\x1B'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
        } else if is_octal(next) {
            let digits = &src[i + 1..];
            let mut value = digits[0] & 7;
            let mut len = 1;
            while value < 32 && len < 3 && digits.get(len).copied().is_some_and(is_octal) {
                value = (value << 3) | (digits[len] & 7);
                len += 1;
            }
            out.push(value);
            i += 1 + len;
        } else {
            // Unknown escape: keep the backslash; the next byte is copied as is.
            out.push(b'\\');
            i += 1;
        }
    }
    out
}

fn is_octal(byte: u8) -> bool {
    matches!(byte, b'0'..=b'7')
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn space_escapes() {
        assert_eq!(unescape(r"a\nb\rc\td\ve\f"), b"a\nb\rc\td\x0Be\x0C");
    }

    #[test]
    fn special_escapes() {
        assert_eq!(unescape(r#"\"\\\a\e"#), b"\"\\\x07\x1B");
    }

    #[test]
    fn octal_takes_one_to_three_digits() {
        assert_eq!(unescape(r"\040"), b" ");
        assert_eq!(unescape(r"\073"), b";");
        assert_eq!(unescape(r"\7x"), b"\x07x");
        assert_eq!(unescape(r"\12x"), b"\nx");
        assert_eq!(unescape(r"\1234"), b"S4");
        assert_eq!(unescape(r"\377"), b"\xFF");
    }

    #[test]
    fn octal_stops_before_overflowing_a_byte() {
        // \4 then 4: 36 >= 32, so the third digit 5 is not taken.
        assert_eq!(unescape(r"\445"), b"\x245");
        assert_eq!(unescape(r"\0"), b"\0");
    }

    #[test]
    fn octal_escapes_of_utf8_bytes_rebuild_the_character() {
        assert_eq!(unescape(r"caf\303\251"), "café".as_bytes());
    }

    #[test]
    fn unknown_escapes_keep_the_backslash() {
        assert_eq!(unescape(r"\q"), b"\\q");
        assert_eq!(unescape(r"\x41"), b"\\x41");
        assert_eq!(unescape(r"\8"), b"\\8");
        assert_eq!(unescape(r"\é"), "\\é".as_bytes());
    }

    #[test]
    fn trailing_backslash_is_kept() {
        assert_eq!(unescape("ab\\"), b"ab\\");
        assert_eq!(unescape("\\"), b"\\");
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(unescape("connecting to {host}"), b"connecting to {host}");
        assert_eq!(unescape(""), b"");
    }
}
