//! Whether a query selects a callsite, as the kernel's `ddebug_change()`:
//! every given constraint must hold.

use super::{FormatPattern, Query, SiteInfo};

/// Whether `query` selects `site`.
pub(crate) fn matches(query: &Query, site: &impl SiteInfo) -> bool {
    // A query without `class` never touches classed callsites; one with
    // `class` selects only callsites of exactly that class (no wildcards).
    query.class.as_deref() == site.class()
        && query
            .module
            .as_deref()
            .is_none_or(|pattern| glob(pattern, site.module()))
        && query
            .file
            .as_deref()
            .is_none_or(|pattern| file_names(site.file()).any(|name| glob(pattern, name)))
        && query
            .function
            .as_deref()
            .is_none_or(|pattern| function_matches(pattern, site.module(), site.function()))
        && query
            .format
            .as_ref()
            .is_none_or(|format| format.matches(site.format()))
        && query
            .lines
            .is_none_or(|lines| (lines.first..=lines.last).contains(&site.line()))
}

/// `func` tries the qualified name, its last segment, and the name
/// qualified with the module.
fn function_matches(pattern: &str, module: &str, function: &str) -> bool {
    let last = function.rsplit("::").next().unwrap_or(function);
    glob(pattern, function) || glob(pattern, last) || glob_joined(pattern, module, function)
}

impl FormatPattern {
    /// A substring of the format, or its start when anchored. An empty
    /// pattern matches every format.
    fn matches(&self, format: &str) -> bool {
        let format = format.as_bytes();
        if self.anchored {
            format.starts_with(&self.needle)
        } else {
            self.needle.is_empty() || format.windows(self.needle.len()).any(|w| w == self.needle)
        }
    }
}

/// The names a `file` pattern is tried against: the path as `file!()`
/// gives it, its basename, and its path within the crate
/// ([`crate_relative`]), each once.
fn file_names(path: &str) -> impl Iterator<Item = &str> {
    let base = basename(path);
    let relative = crate_relative(path).filter(|r| *r != path && *r != base);
    std::iter::once(path)
        .chain((base != path).then_some(base))
        .chain(relative)
}

fn is_separator(c: char) -> bool {
    c == '/' || (cfg!(windows) && c == '\\')
}

/// The kernel's `kbasename()`: after the last separator.
fn basename(path: &str) -> &str {
    path.rsplit(is_separator).next().unwrap_or(path)
}

/// The path relative to the crate's root, the kernel's `trim_prefix()`:
/// from the first `src`, `tests`, `examples` or `benches` directory, so
/// `dyndbg/src/net/tcp.rs` (a workspace member) and
/// `/opt/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/foo-1.0.0/src/net/tcp.rs`
/// (a dependency) both give `src/net/tcp.rs`. In Cargo's registry and git
/// checkouts the search starts inside the crate's own directory.
pub(crate) fn crate_relative(path: &str) -> Option<&str> {
    let mut search_from = 0;
    for (marker, skip) in [("/registry/src/", 2), ("/git/checkouts/", 2)] {
        if let Some(at) = path.find(marker) {
            // Skip the index (or repository) and the crate (or revision) dirs.
            let mut from = at + marker.len();
            for _ in 0..skip {
                from += path[from..].find('/').map_or(path.len() - from, |i| i + 1);
            }
            search_from = from;
        }
    }
    let mut start = search_from;
    for component in path[search_from..].split(is_separator) {
        if matches!(component, "src" | "tests" | "examples" | "benches")
            && start + component.len() < path.len()
        {
            return Some(&path[start..]);
        }
        start += component.len() + 1;
    }
    None
}

/// `glob(pattern, "{module}::{function}")`. Only a pattern with `::` or a
/// wildcard can match a path joined with `::`, so the others skip the join.
fn glob_joined(pattern: &str, module: &str, function: &str) -> bool {
    if module.is_empty() || !(pattern.contains("::") || pattern.contains(['*', '?'])) {
        return false;
    }
    let joined = format!("{module}::{function}");
    glob(pattern, &joined)
}

/// Glob matching over the whole subject: `*` matches any run of characters
/// (also none), `?` exactly one character (not one byte), anything else
/// itself. True glob semantics: any number of trailing `*` match the empty
/// rest, so `main**` matches `main` (the kernel's `match_wildcard()` skips
/// only one).
pub(crate) fn glob(pattern: &str, subject: &str) -> bool {
    let (mut p, mut s) = (0, 0);
    // Where to resume after the last `*`: (pattern after it, subject start).
    let mut resume: Option<(usize, usize)> = None;
    while s < subject.len() {
        let subject_char = next_char(subject, s);
        match pattern[p..].chars().next() {
            Some('*') => {
                p += 1;
                resume = Some((p, s));
                continue;
            }
            Some('?') => {
                p += 1;
                s += subject_char.len_utf8();
                continue;
            }
            Some(c) if c == subject_char => {
                p += c.len_utf8();
                s += c.len_utf8();
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character.
        let Some((star_p, star_s)) = resume else {
            return false;
        };
        let star_s = star_s + next_char(subject, star_s).len_utf8();
        resume = Some((star_p, star_s));
        p = star_p;
        s = star_s;
    }
    pattern[p..].bytes().all(|b| b == b'*')
}

fn next_char(text: &str, at: usize) -> char {
    text[at..].chars().next().unwrap_or('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_literals() {
        assert!(glob("", ""));
        assert!(!glob("", "a"));
        assert!(!glob("a", ""));
        assert!(glob("tcp_connect", "tcp_connect"));
        assert!(!glob("tcp", "tcp_connect"));
        assert!(!glob("Tcp", "tcp"));
    }

    #[test]
    fn glob_star() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("tcp_*", "tcp_connect"));
        assert!(glob("*connect", "tcp_connect"));
        assert!(glob("t*c*p*t", "tcp_connect"));
        assert!(glob("a*b*c", "aXbXbXc"));
        assert!(!glob("a*b*c", "aXbXbX"));
        assert!(glob("app::net::*", "app::net::tcp"));
        assert!(!glob("app::net::*", "app::netx"));
    }

    #[test]
    fn glob_question_mark() {
        assert!(glob("?", "a"));
        assert!(!glob("?", ""));
        assert!(!glob("a?", "a"));
        assert!(glob("?*?", "ab"));
        assert!(!glob("?*?", "a"));
        assert!(glob("caf?", "café"));
        assert!(glob("?", "é"));
    }

    #[test]
    fn glob_trailing_stars() {
        assert!(glob("main**", "main"));
        assert!(glob("***t*c*p*c*t***", "tcp_connect"));
        assert!(glob("**", ""));
    }

    #[test]
    fn basenames() {
        assert_eq!(basename("src/net/tcp.rs"), "tcp.rs");
        assert_eq!(basename("tcp.rs"), "tcp.rs");
        assert_eq!(basename("/abs/x.rs"), "x.rs");
    }

    #[test]
    fn crate_relative_paths() {
        assert_eq!(
            crate_relative("dyndbg/src/net/tcp.rs"),
            Some("src/net/tcp.rs")
        );
        assert_eq!(crate_relative("src/main.rs"), Some("src/main.rs"));
        assert_eq!(
            crate_relative("dyndbg/tests/query.rs"),
            Some("tests/query.rs")
        );
        assert_eq!(
            crate_relative("/w/app/examples/demo/main.rs"),
            Some("examples/demo/main.rs")
        );
        assert_eq!(
            crate_relative(
                "/opt/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/foo-1.0.0/src/net/tcp.rs"
            ),
            Some("src/net/tcp.rs")
        );
        assert_eq!(
            crate_relative("/opt/cargo/git/checkouts/foo-0123/abcdef0/foo/src/lib.rs"),
            Some("src/lib.rs")
        );
        assert_eq!(crate_relative("lib.rs"), None);
        assert_eq!(crate_relative("a/src"), None);
    }
}
