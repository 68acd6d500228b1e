//! The one parser of `/proc/self/maps` (the format of `proc(5)`): the
//! report's module map and the access sampler's target both read their
//! mappings through it.
//!
//! A low layer, above nothing but the standard library. It allocates (a
//! `Vec`, a `String` per line), so it is never called from inside the
//! allocator: its callers run on the program's threads or on the access
//! monitor's, under [`crate::guard::inside`] where their allocations must
//! be owned by allocowner.

use std::fmt;
use std::io;

/// One line of a maps file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Mapping {
    /// First address.
    pub start: usize,
    /// One past the last address (always above `start`).
    pub end: usize,
    /// The four permission characters, e.g. `rw-p`.
    pub perms: [u8; 4],
    /// The offset in the mapped file.
    pub offset: u64,
    /// The path or pseudo-name (`[heap]`, `[stack]`, `/lib/x.so
    /// (deleted)`), as the kernel prints it; empty for anonymous memory.
    pub name: String,
}

impl Mapping {
    /// Whether the mapping may be executed (`x`).
    pub(crate) fn is_executable(&self) -> bool {
        self.perms[2] == b'x'
    }
}

/// A line of a maps file that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapsError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for MapsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid maps line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for MapsError {}

/// Parses the text of a `/proc/PID/maps` file: one [`Mapping`] per
/// non-blank line, in the file's order. The first bad line is an error
/// naming it and the field that was wrong; nothing is returned then.
pub(crate) fn parse(text: &str) -> Result<Vec<Mapping>, MapsError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |reason: String| MapsError {
            line: i + 1,
            reason,
        };
        let mut rest = line;
        let mut field = || {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (f, r) = rest.split_at(end);
            rest = r;
            f
        };
        let range = field();
        let perms = field();
        let offset = field();
        let _dev = field();
        let inode = field();
        let name = rest.trim();
        let (start, end) = range
            .split_once('-')
            .and_then(|(s, e)| {
                Some((
                    usize::from_str_radix(s, 16).ok()?,
                    usize::from_str_radix(e, 16).ok()?,
                ))
            })
            .filter(|(s, e)| s < e)
            .ok_or_else(|| err(format!("bad address range {range:?}")))?;
        let perms: [u8; 4] = perms
            .as_bytes()
            .try_into()
            .ok()
            .filter(|p: &[u8; 4]| p.iter().all(|c| b"rwxsp-".contains(c)))
            .ok_or_else(|| err(format!("bad permissions {perms:?}")))?;
        let offset = u64::from_str_radix(offset, 16)
            .map_err(|_| err(format!("bad file offset {offset:?}")))?;
        if inode.parse::<u64>().is_err() {
            return Err(err(format!("bad inode {inode:?}")));
        }
        out.push(Mapping {
            start,
            end,
            perms,
            offset,
            name: name.to_owned(),
        });
    }
    Ok(out)
}

/// This process's mappings now, from `/proc/self/maps`.
pub(crate) fn read() -> io::Result<Vec<Mapping>> {
    let text = std::fs::read_to_string("/proc/self/maps")?;
    parse(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_read_and_names_keep_their_spaces() {
        let text = "\
55d0c0000000-55d0c0001000 r-xp 00002000 08:01 123                        /usr/bin/with space
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000600000-7f0000700000 rw-s 00000000 00:01 9 /dev/zero (deleted)

7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
";
        let maps = parse(text).unwrap();
        assert_eq!(maps.len(), 4);
        assert_eq!(
            maps[0],
            Mapping {
                start: 0x55d0_c000_0000,
                end: 0x55d0_c000_1000,
                perms: *b"r-xp",
                offset: 0x2000,
                name: "/usr/bin/with space".to_owned(),
            }
        );
        assert!(maps[0].is_executable() && !maps[1].is_executable());
        assert_eq!(maps[1].name, "");
        assert_eq!(maps[2].name, "/dev/zero (deleted)");
        assert_eq!(maps[3].name, "[stack]");
    }

    #[test]
    fn the_first_bad_line_is_named_with_its_field() {
        let cases = [
            (
                "0-1000 r-xp 0 0:0 0 /a\nzz-10 r-xp 0 0:0 0 /b\n",
                2,
                "address range",
            ),
            ("2000-1000 rw-p 0 0:0 0\n", 1, "address range"),
            ("1000-1000 rw-p 0 0:0 0\n", 1, "address range"),
            ("0-1000 rwq 0 0:0 0 /a", 1, "permissions"),
            ("0-1000 rwxq 0 0:0 0 /a", 1, "permissions"),
            ("0-1000 r-xp 0g 0:0 0 /a", 1, "file offset"),
            ("0-1000 r-xp 0 0:0 x /a", 1, "inode"),
            ("1000-2000 rw-p\n", 1, "file offset"),
        ];
        for (text, line, field) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(field), "{text:?}: {e}");
        }
        assert_eq!(
            parse("zz-10 rw-p 0 0:0 0").unwrap_err().to_string(),
            "invalid maps line 1: bad address range \"zz-10\""
        );
    }

    /// The one parser: no other module of allocowner opens the maps file
    /// (the report's module map and the access sampler's target each had a
    /// parser of their own before).
    #[test]
    fn only_this_module_reads_the_maps_file() {
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        assert!(
            files.len() > 10,
            "{} sources in {}",
            files.len(),
            src.display()
        );
        let literal = ["\"/proc/", "self/maps\""].concat();
        let readers: Vec<String> = files
            .iter()
            .filter(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .any(|l| !l.trim_start().starts_with("//") && l.contains(&literal))
            })
            .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
            .collect();
        assert_eq!(readers, ["maps.rs"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_maps_hold_this_function() {
        let here = this_process_maps_hold_this_function as *const () as usize;
        let maps = read().unwrap();
        assert!(
            maps.iter()
                .any(|m| m.start <= here && here < m.end && m.is_executable())
        );
    }
}
