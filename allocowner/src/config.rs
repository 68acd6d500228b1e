//! The `ALLOCOWNER` option syntax, parsed without allocating (it runs inside
//! the first allocation): `on[,depth=N][,report=PATH][,report_children]
//! [,thread][,sample=N][,sample_bytes[=N]][,depot_cap=BYTES][,capture=fp|unwind]`.

use core::fmt;

use crate::limits::{MAX_DEPOT_CAP, MAX_DEPTH, MAX_PATH, MIN_DEPOT_CAP};
/// Default stack depth (the kernel's `PAGE_OWNER_STACK_DEPTH`).
pub(crate) const DEFAULT_DEPTH: usize = 16;
/// Default depot cap: 64 MiB of stack records.
pub(crate) const DEFAULT_DEPOT_CAP: usize = 64 << 20;
/// Default sampling period of the unwinder fallback.
pub(crate) const DEFAULT_SAMPLE: u64 = 64;
/// Mean bytes between sampled allocations when `sample_bytes` is given
/// without a value: tcmalloc's, jemalloc's and Go's 512 KiB.
pub(crate) const DEFAULT_SAMPLE_BYTES: u64 = 512 << 10;
/// Largest accepted `sample_bytes=N`: 1 TiB.
pub(crate) const MAX_SAMPLE_BYTES: u64 = 1 << 40;

/// How to capture stacks, as asked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Capture {
    /// Frame pointers if the program has them, else the sampling unwinder.
    Auto,
    /// Frame pointers only (no stacks if the program has none).
    FramePointers,
    /// The sampling unwinder even if frame pointers work.
    Unwind,
}

/// Parsed options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) depth: usize,
    report: [u8; MAX_PATH],
    report_len: usize,
    /// Forked children write their exit report to `PATH.<pid>`.
    pub(crate) report_children: bool,
    pub(crate) thread: bool,
    pub(crate) sample: u64,
    /// Sampled mode's mean bytes between sampled allocations; 0: exact.
    pub(crate) sample_bytes: u64,
    pub(crate) depot_cap: usize,
    pub(crate) capture: Capture,
}

impl Config {
    pub(crate) const DEFAULT: Config = Config {
        depth: DEFAULT_DEPTH,
        report: [0; MAX_PATH],
        report_len: 0,
        report_children: false,
        thread: false,
        sample: DEFAULT_SAMPLE,
        sample_bytes: 0,
        depot_cap: DEFAULT_DEPOT_CAP,
        capture: Capture::Auto,
    };

    /// The `report=PATH`, if given.
    pub(crate) fn report(&self) -> Option<&[u8]> {
        (self.report_len > 0).then(|| &self.report[..self.report_len])
    }

    /// Parses comma-separated options (no leading `on`) on top of `self`.
    /// Nothing is changed unless every option is valid.
    pub(crate) fn parse_options(&self, options: &[u8]) -> Result<Config, ConfigError> {
        let mut c = *self;
        for opt in options.split(|&b| b == b',') {
            let opt = trim(opt);
            if opt.is_empty() {
                continue;
            }
            let (key, value) = match opt.iter().position(|&b| b == b'=') {
                Some(i) => (&opt[..i], Some(&opt[i + 1..])),
                None => (opt, None),
            };
            match (key, value) {
                (b"depth", Some(v)) => match parse_u64(v) {
                    Some(n) if (1..=MAX_DEPTH as u64).contains(&n) => c.depth = n as usize,
                    _ => return Err(ConfigError::new(ConfigErrorKind::BadDepth, opt)),
                },
                (b"report", Some(v)) => {
                    if v.is_empty() || v.len() > MAX_PATH || v.contains(&0) {
                        return Err(ConfigError::new(ConfigErrorKind::BadReport, opt));
                    }
                    c.report[..v.len()].copy_from_slice(v);
                    c.report_len = v.len();
                }
                (b"report_children", None) => c.report_children = true,
                (b"thread", None) => c.thread = true,
                (b"sample", Some(v)) => match parse_u64(v) {
                    Some(n) if n >= 1 => c.sample = n,
                    _ => return Err(ConfigError::new(ConfigErrorKind::BadSample, opt)),
                },
                (b"sample_bytes", None) => c.sample_bytes = DEFAULT_SAMPLE_BYTES,
                (b"sample_bytes", Some(v)) => match parse_bytes(v) {
                    Some(n) if n <= MAX_SAMPLE_BYTES => c.sample_bytes = n,
                    _ => return Err(ConfigError::new(ConfigErrorKind::BadSampleBytes, opt)),
                },
                (b"depot_cap", Some(v)) => match parse_bytes(v) {
                    Some(n) if n >= MIN_DEPOT_CAP as u64 && n <= MAX_DEPOT_CAP as u64 => {
                        c.depot_cap = n as usize;
                    }
                    _ => return Err(ConfigError::new(ConfigErrorKind::BadDepotCap, opt)),
                },
                (b"capture", Some(b"fp")) => c.capture = Capture::FramePointers,
                (b"capture", Some(b"unwind")) => c.capture = Capture::Unwind,
                (b"capture", Some(b"auto")) => c.capture = Capture::Auto,
                (b"capture", Some(_)) => {
                    return Err(ConfigError::new(ConfigErrorKind::BadCapture, opt));
                }
                _ => return Err(ConfigError::new(ConfigErrorKind::UnknownOption, opt)),
            }
        }
        if c.report_children && c.report_len == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::NoReport,
                b"report_children",
            ));
        }
        Ok(c)
    }

    /// Parses a whole `ALLOCOWNER` value: `Ok(None)` means off (unset,
    /// empty, `0` or `off`), `Ok(Some(_))` on with these options.
    pub(crate) fn parse_env(value: &[u8]) -> Result<Option<Config>, ConfigError> {
        let value = trim(value);
        if value.is_empty() || value == b"off" || value == b"0" {
            return Ok(None);
        }
        let (head, rest) = match value.iter().position(|&b| b == b',') {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, &b""[..]),
        };
        if trim(head) != b"on" && trim(head) != b"1" {
            return Err(ConfigError::new(ConfigErrorKind::NotOn, head));
        }
        Config::DEFAULT.parse_options(rest).map(Some)
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end]
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// `N`, `NK`, `NM` or `NG` (powers of 1024), case-insensitive, optional `B`/`iB`.
fn parse_bytes(s: &[u8]) -> Option<u64> {
    let mut s = s;
    for suffix in [&b"iB"[..], b"ib", b"B", b"b"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
            break;
        }
    }
    let (digits, shift) = match s.last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = parse_u64(digits)?;
    n.checked_mul(1u64 << shift)
}

/// What was wrong with an `ALLOCOWNER` value or [`crate::enable_with`]
/// options. Allocation-free, so it can be made inside the allocator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    token: [u8; MAX_PATH],
    len: usize,
    /// The OS error (`errno`) of [`ConfigErrorKind::ReportUnwritable`].
    errno: i32,
}

/// Longest option text an error keeps (a report path is kept whole).
const MAX_TOKEN: usize = 64;

/// The kinds of [`ConfigError`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The value does not start with `on` (or `off`).
    NotOn,
    /// An option allocowner does not know.
    UnknownOption,
    /// `depth=N` outside 1..=64.
    BadDepth,
    /// `report=PATH` empty or longer than 255 bytes.
    BadReport,
    /// `report_children` without `report=PATH`.
    NoReport,
    /// The `report=PATH` file cannot be opened for writing (checked when
    /// tracking is enabled, by creating it if missing, never truncating):
    /// [`ConfigError::token`] is the path, [`ConfigError::os_error`] why.
    ReportUnwritable,
    /// `sample=N` not a positive integer.
    BadSample,
    /// `sample_bytes=N` not a byte count up to 1 TiB.
    BadSampleBytes,
    /// `sample_bytes=N` asks for another period while allocations sampled
    /// at the one in force are recorded: [`crate::stop`] first.
    SampleBytesChanged,
    /// `depot_cap=BYTES` not a size of at least one 16 KiB pool.
    BadDepotCap,
    /// `capture=` other than `fp`, `unwind` or `auto`.
    BadCapture,
    /// The option can no longer change: tracking already set up its tables.
    TooLate,
    /// Tracking is not supported on this platform.
    Unsupported,
    /// The OS refused the memory for the side table or the depot.
    OutOfMemory,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, token: &[u8]) -> Self {
        Self::with_token(kind, &token[..token.len().min(MAX_TOKEN)], 0)
    }

    /// The report file `path` cannot be written: `errno` says why.
    pub(crate) fn unwritable(path: &[u8], errno: i32) -> Self {
        Self::with_token(ConfigErrorKind::ReportUnwritable, path, errno)
    }

    fn with_token(kind: ConfigErrorKind, token: &[u8], errno: i32) -> Self {
        let mut t = [0u8; MAX_PATH];
        let len = token.len().min(MAX_PATH);
        t[..len].copy_from_slice(&token[..len]);
        ConfigError {
            kind,
            token: t,
            len,
            errno,
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The offending option text (cut at 64 bytes), or the whole report
    /// path for [`ConfigErrorKind::ReportUnwritable`].
    pub fn token(&self) -> &[u8] {
        &self.token[..self.len]
    }

    /// The OS error code (`errno`) for [`ConfigErrorKind::ReportUnwritable`].
    pub fn os_error(&self) -> Option<i32> {
        (self.kind == ConfigErrorKind::ReportUnwritable).then_some(self.errno)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tok = self.token().escape_ascii();
        match self.kind {
            ConfigErrorKind::NotOn => write!(
                f,
                "allocowner: ALLOCOWNER must be 'on' or 'on,<options>', not '{tok}'; tracking stays off"
            ),
            ConfigErrorKind::UnknownOption => write!(
                f,
                "allocowner: unknown option '{tok}' (known: depth=N, report=PATH, report_children, thread, sample=N, sample_bytes[=N], depot_cap=BYTES, capture=fp|unwind|auto); tracking stays off"
            ),
            ConfigErrorKind::BadDepth => write!(
                f,
                "allocowner: bad option '{tok}': depth must be 1 to {MAX_DEPTH}; tracking stays off"
            ),
            ConfigErrorKind::BadReport => write!(
                f,
                "allocowner: bad option '{tok}': report needs a path of 1 to {MAX_PATH} bytes; tracking stays off"
            ),
            ConfigErrorKind::NoReport => write!(
                f,
                "allocowner: option '{tok}' needs report=PATH; tracking stays off"
            ),
            ConfigErrorKind::ReportUnwritable => {
                let mut buf = [0u8; 128];
                let why = crate::sys::strerror(self.errno, &mut buf).escape_ascii();
                write!(
                    f,
                    "allocowner: cannot write report {tok}: {why}; tracking stays off"
                )
            }
            ConfigErrorKind::BadSample => write!(
                f,
                "allocowner: bad option '{tok}': sample must be a positive integer; tracking stays off"
            ),
            ConfigErrorKind::BadSampleBytes => write!(
                f,
                "allocowner: bad option '{tok}': sample_bytes must be a byte count (K/M/G suffix allowed) up to 1T, 0 for exact, or no value for 512K; tracking stays off"
            ),
            ConfigErrorKind::SampleBytesChanged => write!(
                f,
                "allocowner: option '{tok}' changes the sampling period while sampled allocations are recorded at another (stop() first); tracking unchanged"
            ),
            ConfigErrorKind::BadDepotCap => write!(
                f,
                "allocowner: bad option '{tok}': depot_cap must be a byte count (K/M/G suffix allowed) of at least 16K; tracking stays off"
            ),
            ConfigErrorKind::BadCapture => write!(
                f,
                "allocowner: bad option '{tok}': capture must be fp, unwind or auto; tracking stays off"
            ),
            ConfigErrorKind::TooLate => write!(
                f,
                "allocowner: option '{tok}' can only be set before tracking is first enabled"
            ),
            ConfigErrorKind::OutOfMemory => write!(
                f,
                "allocowner: the OS refused memory for the {tok}; tracking stays off"
            ),
            ConfigErrorKind::Unsupported => write!(
                f,
                "allocowner: tracking is not supported on this platform (Linux only)"
            ),
        }
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigError")
            .field("kind", &self.kind)
            .field("token", &self.token().escape_ascii().to_string())
            .finish_non_exhaustive()
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        assert!(Config::parse_env(b"").unwrap().is_none());
        assert!(Config::parse_env(b"off").unwrap().is_none());
        let c = Config::parse_env(b"on").unwrap().unwrap();
        assert_eq!(c.depth, DEFAULT_DEPTH);
        assert!(c.report().is_none());
        let c = Config::parse_env(
            b"on,depth=8,report=/tmp/x.txt,thread,sample=10,depot_cap=1M,capture=unwind",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.depth, 8);
        assert_eq!(c.report(), Some(&b"/tmp/x.txt"[..]));
        assert!(c.thread);
        assert_eq!(c.sample, 10);
        assert_eq!(c.depot_cap, 1 << 20);
        assert_eq!(c.capture, Capture::Unwind);
        assert!(!c.report_children);
        let c = Config::parse_env(b"on,report=/tmp/r,report_children")
            .unwrap()
            .unwrap();
        assert!(c.report_children);
        assert_eq!(
            Config::parse_env(b"on,report_children").unwrap_err().kind(),
            ConfigErrorKind::NoReport
        );
        assert_eq!(
            Config::parse_env(b"on,report=/tmp/r,report_children=1")
                .unwrap_err()
                .kind(),
            ConfigErrorKind::UnknownOption
        );
    }

    #[test]
    fn unwritable_report_names_the_whole_path() {
        let long = [b'x'; 200];
        let e = ConfigError::unwritable(&long, libc::ENOTDIR);
        assert_eq!(e.token(), &long[..]);
        assert_eq!(e.os_error(), Some(libc::ENOTDIR));
        let e = ConfigError::unwritable(b"/x/y", libc::ENOTDIR);
        assert_eq!(
            e.to_string(),
            "allocowner: cannot write report /x/y: Not a directory; tracking stays off"
        );
    }

    #[test]
    fn errors_name_the_option() {
        let e = Config::parse_env(b"on,depth=4,colour=red").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::UnknownOption);
        assert_eq!(e.token(), b"colour=red");
        assert!(e.to_string().contains("unknown option 'colour=red'"));
        assert_eq!(
            Config::parse_env(b"yes").unwrap_err().kind(),
            ConfigErrorKind::NotOn
        );
        assert_eq!(
            Config::parse_env(b"on,depth=0").unwrap_err().kind(),
            ConfigErrorKind::BadDepth
        );
        assert_eq!(
            Config::parse_env(b"on,depth=65").unwrap_err().kind(),
            ConfigErrorKind::BadDepth
        );
        assert_eq!(
            Config::parse_env(b"on,depth=x").unwrap_err().kind(),
            ConfigErrorKind::BadDepth
        );
        assert_eq!(
            Config::parse_env(b"on,report=").unwrap_err().kind(),
            ConfigErrorKind::BadReport
        );
        assert_eq!(
            Config::parse_env(b"on,sample=0").unwrap_err().kind(),
            ConfigErrorKind::BadSample
        );
        assert_eq!(
            Config::parse_env(b"on,depot_cap=1K").unwrap_err().kind(),
            ConfigErrorKind::BadDepotCap
        );
        assert_eq!(
            Config::parse_env(b"on,capture=dwarf").unwrap_err().kind(),
            ConfigErrorKind::BadCapture
        );
        assert_eq!(
            Config::parse_env(b"on,thread=1").unwrap_err().kind(),
            ConfigErrorKind::UnknownOption
        );
    }

    #[test]
    fn sample_bytes_spellings() {
        assert_eq!(Config::parse_env(b"on").unwrap().unwrap().sample_bytes, 0);
        let c = Config::parse_env(b"on,sample_bytes").unwrap().unwrap();
        assert_eq!(c.sample_bytes, 524_288, "no value: the 512 KiB default");
        let c = Config::parse_env(b"on,sample_bytes=64K").unwrap().unwrap();
        assert_eq!(c.sample_bytes, 65_536);
        let c = Config::parse_env(b"on,sample_bytes=0").unwrap().unwrap();
        assert_eq!(c.sample_bytes, 0, "0: exact");
        for bad in [
            &b"on,sample_bytes="[..],
            b"on,sample_bytes=2T",
            b"on,sample_bytes=x",
        ] {
            let e = Config::parse_env(bad).unwrap_err();
            assert_eq!(e.kind(), ConfigErrorKind::BadSampleBytes);
            assert!(e.to_string().contains("sample_bytes must be"), "{e}");
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes(b"16384"), Some(16384));
        assert_eq!(parse_bytes(b"16K"), Some(16384));
        assert_eq!(parse_bytes(b"2MiB"), Some(2 << 20));
        assert_eq!(parse_bytes(b"1g"), Some(1 << 30));
        assert_eq!(parse_bytes(b"k"), None);
        assert_eq!(parse_bytes(b"99999999999999999999"), None);
    }
}
