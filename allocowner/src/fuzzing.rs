//! Not public API. Used by the fuzz targets (`fuzz/fuzz_targets/
//! allocowner_env.rs`, `access_control.rs`) and by the property test
//! `tests/parsers_never_panic.rs`: thin wrappers that reach the parsers of
//! `ALLOCOWNER` and `ALLOCOWNER_ACCESS`, which are otherwise crate-private
//! or only reached through the environment at startup.
//!
//! The wrappers call exactly what the crate calls: [`parse_allocowner`]
//! is what the first allocation does with `ALLOCOWNER`, [`parse_options`]
//! what [`crate::enable_with`] does with its argument, and
//! `parse_access_control` (with the `access` feature) what the
//! `ALLOCOWNER_ACCESS` constructor and `access::Monitor::set_recording`
//! do with the control string.
//! The `ALLOCOWNER` parsers allocate nothing (they run inside the first
//! allocation); only [`Options::render`] allocates.

// The wrappers return the crate's own `ConfigError`, which is large because
// it is allocation-free (the offending text is kept inline).
#![allow(clippy::result_large_err)]

use core::fmt;

use crate::config::{Capture, Config};
pub use crate::config::{ConfigError, ConfigErrorKind};
use crate::limits::MAX_PATH;

/// Deepest accepted `depth=N`.
pub const MAX_DEPTH: usize = crate::limits::MAX_DEPTH;
/// Longest accepted `report=PATH`, in bytes.
pub const MAX_REPORT_PATH: usize = MAX_PATH;
/// Smallest accepted `depot_cap=BYTES`: one depot pool.
pub const MIN_DEPOT_CAP: usize = crate::limits::MIN_DEPOT_CAP;
/// Largest accepted `depot_cap=BYTES`: 1 TiB.
pub const MAX_DEPOT_CAP: usize = crate::limits::MAX_DEPOT_CAP;

/// What an `ALLOCOWNER` value (or [`crate::enable_with`] options) parsed
/// to: a copy of the crate's parsed options.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `depth=N`.
    pub depth: usize,
    report: [u8; MAX_PATH],
    report_len: usize,
    /// `report_children`.
    pub report_children: bool,
    /// `thread`.
    pub thread: bool,
    /// `sample=N`.
    pub sample: u64,
    /// `depot_cap=BYTES`.
    pub depot_cap: usize,
    /// `capture=`: `"auto"`, `"fp"` or `"unwind"`.
    pub capture: &'static str,
}

impl Options {
    fn of(c: &Config) -> Options {
        let mut report = [0u8; MAX_PATH];
        let report_len = c.report().map_or(0, |p| {
            report[..p.len()].copy_from_slice(p);
            p.len()
        });
        Options {
            depth: c.depth,
            report,
            report_len,
            report_children: c.report_children,
            thread: c.thread,
            sample: c.sample,
            depot_cap: c.depot_cap,
            capture: match c.capture {
                Capture::Auto => "auto",
                Capture::FramePointers => "fp",
                Capture::Unwind => "unwind",
            },
        }
    }

    /// `report=PATH`, if given.
    pub fn report(&self) -> Option<&[u8]> {
        (self.report_len > 0).then(|| &self.report[..self.report_len])
    }

    /// The options written out in full (without the leading `on`), in a
    /// form [`parse_options`] reads back to the same options.
    pub fn render(&self) -> Vec<u8> {
        let mut out = format!(
            "depth={},sample={},depot_cap={},capture={}",
            self.depth, self.sample, self.depot_cap, self.capture
        )
        .into_bytes();
        if self.thread {
            out.extend_from_slice(b",thread");
        }
        if let Some(path) = self.report() {
            out.extend_from_slice(b",report=");
            out.extend_from_slice(path);
        }
        if self.report_children {
            out.extend_from_slice(b",report_children");
        }
        out
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("depth", &self.depth)
            .field(
                "report",
                &self.report().map(|p| p.escape_ascii().to_string()),
            )
            .field("report_children", &self.report_children)
            .field("thread", &self.thread)
            .field("sample", &self.sample)
            .field("depot_cap", &self.depot_cap)
            .field("capture", &self.capture)
            // `report` above is the path's bytes up to `report_len`.
            .finish_non_exhaustive()
    }
}

/// Parses a whole `ALLOCOWNER` value, as the first allocation does:
/// `Ok(None)` is off (empty, `off`, `0`), `Ok(Some(_))` on.
pub fn parse_allocowner(value: &[u8]) -> Result<Option<Options>, ConfigError> {
    Config::parse_env(value).map(|c| c.as_ref().map(Options::of))
}

/// Parses options without the leading `on`, as [`crate::enable_with`]
/// does (over the defaults).
pub fn parse_options(options: &[u8]) -> Result<Options, ConfigError> {
    Config::DEFAULT
        .parse_options(options)
        .map(|c| Options::of(&c))
}

/// Parses an `ALLOCOWNER_ACCESS` control string `"<buffer_len> <path>"`,
/// as the constructor and [`crate::access::Monitor::set_recording`] do.
/// With the `access` feature only.
#[cfg(all(target_os = "linux", feature = "access"))]
pub fn parse_access_control(
    value: &str,
) -> Result<crate::access::RecordControl, crate::access::AccessError> {
    value.parse()
}

/// The option kinds a parse can refuse with (the others come from
/// enabling: the report file, the OS, the platform).
const PARSE_ERRORS: &[ConfigErrorKind] = &[
    ConfigErrorKind::NotOn,
    ConfigErrorKind::UnknownOption,
    ConfigErrorKind::BadDepth,
    ConfigErrorKind::BadReport,
    ConfigErrorKind::NoReport,
    ConfigErrorKind::BadSample,
    ConfigErrorKind::BadDepotCap,
    ConfigErrorKind::BadCapture,
];

/// Whether `needle` occurs in `haystack` (the empty slice always does).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks the properties of an `ALLOCOWNER` value and of the same bytes as
/// [`crate::enable_with`] options; panics, saying which, if one fails:
/// - no panic in the parser;
/// - an error names the offending option (its text, a piece of the input
///   of at most 64 bytes, is quoted in the message), is one line, and is
///   one of the parse errors;
/// - parsed options are within their bounds (depth 1..=64, sample >= 1,
///   depot_cap 16 KiB..=1 TiB, report path 1..=255 bytes without NUL or
///   comma, `report_children` only with a report, capture one of three);
/// - parsed options written out in full parse back to the same options;
/// - `on,` followed by options parses as the options alone do.
pub fn check_allocowner(value: &[u8]) {
    match parse_allocowner(value) {
        Ok(None) => assert!(
            matches!(value.trim_ascii(), b"" | b"off" | b"0"),
            "{:?} parsed as off",
            value.escape_ascii().to_string()
        ),
        Ok(Some(o)) => check_options(&o),
        Err(e) => check_error(&e, value),
    }
    let as_options = parse_options(value);
    match &as_options {
        Ok(o) => check_options(o),
        Err(e) => check_error(e, value),
    }
    let mut on = b"on,".to_vec();
    on.extend_from_slice(value);
    assert_eq!(
        parse_allocowner(&on),
        as_options.map(Some),
        "'on,' + options differs from the options alone: {:?}",
        value.escape_ascii().to_string()
    );
}

fn check_options(o: &Options) {
    assert!((1..=MAX_DEPTH).contains(&o.depth), "{o:?}");
    assert!(o.sample >= 1, "{o:?}");
    assert!(
        (MIN_DEPOT_CAP..=MAX_DEPOT_CAP).contains(&o.depot_cap),
        "{o:?}"
    );
    assert!(["auto", "fp", "unwind"].contains(&o.capture), "{o:?}");
    if let Some(p) = o.report() {
        assert!((1..=MAX_REPORT_PATH).contains(&p.len()), "{o:?}");
        assert!(!p.contains(&0) && !p.contains(&b','), "{o:?}");
    }
    assert!(!o.report_children || o.report().is_some(), "{o:?}");
    let text = o.render();
    assert_eq!(
        parse_options(&text),
        Ok(*o),
        "written out as {:?}, parsed back differently",
        text.escape_ascii().to_string()
    );
}

fn check_error(e: &ConfigError, input: &[u8]) {
    assert!(PARSE_ERRORS.contains(&e.kind()), "{e:?} from a parse");
    let tok = e.token();
    assert!(
        !tok.is_empty() || e.kind() == ConfigErrorKind::NotOn,
        "{e:?} names nothing"
    );
    assert!(tok.len() <= 64, "{e:?}: token longer than 64 bytes");
    assert!(
        contains(input, tok),
        "{e:?}: token not in the input {:?}",
        input.escape_ascii().to_string()
    );
    let msg = e.to_string();
    assert!(!msg.contains(['\n', '\r']), "not one line: {msg:?}");
    assert!(msg.starts_with("allocowner: "), "{msg:?}");
    assert!(
        msg.contains(&format!("'{}'", tok.escape_ascii())),
        "{msg:?} does not quote the option {:?}",
        tok.escape_ascii().to_string()
    );
    assert!(msg.ends_with("tracking stays off"), "{msg:?}");
}

/// Checks the properties of an `ALLOCOWNER_ACCESS` control string; panics,
/// saying which, if one fails:
/// - no panic in the parser;
/// - a setting is within DAMON's bounds (buffer_len 0 or 1024..=4 MiB,
///   path 1..=255 bytes without whitespace or NUL), is the input's two
///   words, and its text (as DAMON's `record` file reads back) parses back
///   to the same setting;
/// - an error is `EINVAL`, one line, and names the offending value: the
///   control string quoted (as given, or as its two words), the buffer
///   length, or the path length.
///
/// With the `access` feature only.
#[cfg(all(target_os = "linux", feature = "access"))]
pub fn check_access_control(value: &str) {
    use crate::access::AccessError;
    use crate::access::{MAX_BUFFER_LEN, MAX_PATH_LEN, MIN_BUFFER_LEN};

    match parse_access_control(value) {
        Ok(c) => {
            let len = c.buffer_len();
            assert!(
                len == 0 || (MIN_BUFFER_LEN..=MAX_BUFFER_LEN).contains(&len),
                "{c:?} from {value:?}"
            );
            let path = c.path();
            assert!(
                !path.is_empty() && path.len() < MAX_PATH_LEN,
                "{c:?} from {value:?}"
            );
            assert!(
                !path.contains(char::is_whitespace) && !path.contains('\0'),
                "{c:?} from {value:?}"
            );
            let words: Vec<&str> = value.split_ascii_whitespace().collect();
            assert_eq!(words.len(), 2, "{c:?} from {value:?}");
            assert_eq!(words[0].parse::<u64>().ok(), Some(u64::from(len)));
            assert_eq!(words[1], path, "{value:?}");
            let text = c.to_string();
            assert_eq!(
                parse_access_control(&text).ok().as_ref(),
                Some(&c),
                "{c:?} reads back as {text:?}, which parses differently"
            );
        }
        Err(e) => {
            assert_eq!(e.errno(), libc::EINVAL, "{e:?} from {value:?}");
            let msg = e.to_string();
            assert!(!msg.contains(['\n', '\r']), "not one line: {msg:?}");
            match &e {
                AccessError::InvalidControl(s) => {
                    // The input, or its two words as `"<len> <path>"`.
                    assert!(
                        s == value || s.split(' ').all(|w| value.contains(w)),
                        "{e:?} from {value:?}"
                    );
                    assert!(msg.contains(&format!("{s:?}")), "{msg:?}");
                }
                AccessError::BufferLen(n) => {
                    assert!(
                        *n != 0
                            && !(u64::from(MIN_BUFFER_LEN)..=u64::from(MAX_BUFFER_LEN)).contains(n),
                        "{e:?} from {value:?}"
                    );
                    assert!(value.contains(&n.to_string()), "{e:?} from {value:?}");
                    assert!(msg.contains(&n.to_string()), "{msg:?}");
                }
                AccessError::PathTooLong(n) => {
                    assert!(*n >= MAX_PATH_LEN, "{e:?}");
                    assert!(
                        value.split_ascii_whitespace().nth(1).map(str::len) == Some(*n),
                        "{e:?} from {value:?}"
                    );
                    assert!(msg.contains(&n.to_string()), "{msg:?}");
                }
                other => panic!("unexpected error {other:?} from {value:?}"),
            }
        }
    }
}
