//! The grammar, every error, and one test per row of
//! [`crate::docs::kernel_differences`] (named `row_*` after the row).

use proptest::prelude::*;

use super::error::ErrorKind;
use super::*;

/// A callsite for matching, without the registry.
#[derive(Debug, Clone)]
struct Site {
    module: &'static str,
    file: &'static str,
    function: &'static str,
    line: u32,
    format: &'static str,
    class: Option<&'static str>,
}

impl SiteInfo for Site {
    fn module(&self) -> &str {
        self.module
    }
    fn file(&self) -> &str {
        self.file
    }
    fn function(&self) -> &str {
        self.function
    }
    fn line(&self) -> u32 {
        self.line
    }
    fn format(&self) -> &str {
        self.format
    }
    fn class(&self) -> Option<&str> {
        self.class
    }
}

const CONNECT: Site = Site {
    module: "app::net",
    file: "app/src/net/tcp.rs",
    function: "Client::connect",
    line: 42,
    format: "connecting to {host}",
    class: None,
};

const RECV: Site = Site {
    module: "app::net",
    file: "app/src/net/tcp.rs",
    function: "Client::recv",
    line: 60,
    format: "received {} bytes",
    class: Some("WIRE"),
};

const MAIN: Site = Site {
    module: "app",
    file: "app/src/main.rs",
    function: "main",
    line: 7,
    format: "starting",
    class: None,
};

fn query(text: &str) -> Query {
    let mut batch = parse_batch(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(batch.len(), 1, "{text:?}");
    batch.remove(0)
}

fn hits(text: &str, site: &Site) -> bool {
    query(text).matches(site)
}

fn error(text: &str) -> QueryError {
    match parse_batch(text) {
        Ok(batch) => panic!("{text:?} parsed: {batch:?}"),
        Err(e) => e,
    }
}

/// What `control()` does, over fake sites: the matches summed over queries.
fn run(batch: &str, sites: &[Site], flags: &mut [Flags]) -> Result<usize, QueryError> {
    let batch = parse_batch(batch)?;
    let mut matched = 0;
    for q in &batch {
        for (site, flags) in sites.iter().zip(flags.iter_mut()) {
            if q.matches(site) {
                matched += 1;
                *flags = q.apply(*flags);
            }
        }
    }
    Ok(matched)
}

fn f(letters: &str) -> Flags {
    letters
        .chars()
        .map(|c| Flags::from_letter(c).unwrap())
        .fold(Flags::NONE, |a, b| a | b)
}

// === the error type ===

#[test]
fn error_display_names_query_offset_and_expectation() {
    let e = error("file tcp.rs +p; func foo +x");
    assert_eq!(e.query_number(), 2);
    assert_eq!(e.query(), "func foo +x");
    assert_eq!(e.offset(), 26);
    assert_eq!(
        e.message(),
        "unknown flag 'x', expected one of p m f s l t _"
    );
    assert_eq!(
        e.to_string(),
        "query 2 \"func foo +x\": at byte 26: unknown flag 'x', expected one of p m f s l t _"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
    assert_eq!(boxed.to_string(), e.to_string());
}

#[test]
fn every_message_is_lowercase_without_trailing_period() {
    let inputs = [
        "format 'x +p",
        "a b c d e f g h i j",
        "func main",
        "func main +q",
        "func +p",
        "wtf 1 +p",
        "func a func b +p",
        "line 1 line 2 +p",
        "line x +p",
        "line 9-1 +p",
        "\"\"",
    ];
    for input in inputs {
        let message = error(input).message();
        assert!(message.starts_with(char::is_lowercase), "{message}");
        assert!(!message.ends_with('.'), "{message}");
        assert!(message.contains("expected"), "{message}");
    }
}

#[test]
fn query_numbers_count_queries_not_comments() {
    let e = error("# header\n\n+p ; ; module a +p\nfunc x +y");
    assert_eq!(e.query_number(), 3);
    assert_eq!(e.query(), "func x +y");
}

#[test]
fn query_text_is_trimmed_and_quoted_in_display() {
    let e = error("  format \"a b\" +Q  ");
    assert_eq!(e.query(), "format \"a b\" +Q");
    assert!(
        e.to_string()
            .starts_with(r#"query 1 "format \"a b\" +Q": at byte 16: "#),
        "{e}"
    );
}

// === grammar: flags ===

#[test]
fn flags_only_query_selects_every_unclassed_callsite() {
    let q = query("+p");
    assert!(q.matches(&CONNECT));
    assert!(q.matches(&MAIN));
    assert!(!q.matches(&RECV));
}

#[test]
fn apply_add_remove_set() {
    assert_eq!(query("+pf").apply(f("l")), f("pfl"));
    assert_eq!(query("-pf").apply(f("pfl")), f("l"));
    assert_eq!(query("=m").apply(f("pfl")), f("m"));
    assert_eq!(query("=_").apply(f("pmfslt")), Flags::NONE);
    assert_eq!(query("-pmfslt").apply(f("pmfslt")), Flags::NONE);
    assert_eq!(query("+_").apply(f("p")), f("p"));
}

#[test]
fn quoted_flags_and_keywords() {
    assert!(hits("\"func\" 'Client::connect' \"+p\"", &CONNECT));
}

// === grammar: keywords ===

#[test]
fn module_keyword() {
    assert!(hits("module app::net +p", &CONNECT));
    assert!(hits("module app::* +p", &CONNECT));
    assert!(!hits("module app::* +p", &MAIN));
    assert!(hits("module app* +p", &MAIN));
}

#[test]
fn func_keyword() {
    assert!(hits("func Client::connect +p", &CONNECT));
    assert!(hits("func connect +p", &CONNECT));
    assert!(hits("func app::net::Client::connect +p", &CONNECT));
    assert!(hits("func *::connect +p", &CONNECT));
    assert!(hits("func conn* +p", &CONNECT));
    assert!(!hits("func Client +p", &CONNECT));
    assert!(!hits("func net::Client::connect +p", &CONNECT));
}

#[test]
fn file_keyword() {
    assert!(hits("file app/src/net/tcp.rs +p", &CONNECT));
    assert!(hits("file tcp.rs +p", &CONNECT));
    assert!(hits("file src/net/tcp.rs +p", &CONNECT));
    assert!(hits("file *net* +p", &CONNECT));
    assert!(!hits("file main.rs +p", &CONNECT));
}

#[test]
fn format_keyword() {
    assert!(hits("format connecting +p", &CONNECT));
    assert!(hits("format 'to {host}' +p", &CONNECT));
    assert!(hits("format ^connecting +p", &CONNECT));
    assert!(!hits("format ^to +p", &CONNECT));
    assert!(!hits("format Connecting +p", &CONNECT));
}

#[test]
fn line_keyword() {
    assert!(hits("line 42 +p", &CONNECT));
    assert!(hits("line 40-50 +p", &CONNECT));
    assert!(!hits("line 43- +p", &CONNECT));
    assert!(hits("line -42 +p", &CONNECT));
    assert!(!hits("line -41 +p", &CONNECT));
}

#[test]
fn class_keyword() {
    assert!(hits("class WIRE +p", &RECV));
    assert!(!hits("class WIRE +p", &CONNECT));
}

#[test]
fn four_pairs_and_flags() {
    assert!(hits(
        "module app::net file tcp.rs func connect line 1-100 +p",
        &CONNECT
    ));
}

#[test]
fn batch_of_several_queries() {
    let batch = parse_batch("func connect +p; module app -p\nline 7 =_").unwrap();
    assert_eq!(batch.len(), 3);
}

// === errors ===

#[test]
fn error_unclosed_quote() {
    let e = error("func 'connect +p");
    assert_eq!(e.kind(), &ErrorKind::UnclosedQuote { quote: '\'' });
    assert_eq!(e.offset(), 5);
}

#[test]
fn error_too_many_words() {
    let e = error("func a file b module c line 1 format d +p");
    assert_eq!(e.kind(), &ErrorKind::TooManyWords);
    assert_eq!(e.offset(), 37);
}

#[test]
fn error_bad_flag_op() {
    let e = error("func main");
    assert_eq!(
        e.kind(),
        &ErrorKind::BadFlagOp {
            word: "main".into()
        }
    );
    assert_eq!(e.offset(), 5);
    assert!(e.message().contains("bad flag-op 'm'"), "{e}");
    let e = error("func main \"\"");
    assert_eq!(
        e.kind(),
        &ErrorKind::BadFlagOp {
            word: String::new()
        }
    );
    assert_eq!(e.offset(), 11);
}

#[test]
fn error_unknown_flag() {
    let e = error("func main +pq");
    assert_eq!(e.kind(), &ErrorKind::UnknownFlag { flag: 'q' });
    assert_eq!(e.offset(), 12);
}

#[test]
fn error_unpaired_word() {
    let e = error("module app func +p");
    assert_eq!(
        e.kind(),
        &ErrorKind::UnpairedWord {
            word: "func".into()
        }
    );
    assert_eq!(e.offset(), 11);
}

#[test]
fn error_unknown_keyword() {
    let e = error("file svcsock.c wtf 1 +p");
    assert_eq!(e.kind(), &ErrorKind::UnknownKeyword { word: "wtf".into() });
    assert_eq!(e.offset(), 15);
}

#[test]
fn error_duplicate_keyword() {
    for kw in ["func", "file", "module", "format", "class"] {
        let e = error(&format!("{kw} a {kw} b +p"));
        assert_eq!(
            e.kind(),
            &ErrorKind::Duplicate {
                keyword: kw,
                first: "a".into(),
                second: "b".into()
            }
        );
        assert_eq!(e.offset(), kw.len() + 3);
    }
}

#[test]
fn error_line_twice() {
    let e = error("line 1 line 2 +p");
    assert_eq!(e.kind(), &ErrorKind::LineTwice);
    assert_eq!(e.offset(), 12);
}

#[test]
fn error_bad_line_number() {
    let e = error("line 10a +p");
    assert_eq!(e.kind(), &ErrorKind::BadLineNumber { text: "10a".into() });
    assert_eq!(e.offset(), 5);
}

#[test]
fn error_reversed_range() {
    let e = error("line 20-10 +p");
    assert_eq!(
        e.kind(),
        &ErrorKind::ReversedRange {
            first: 20,
            last: 10
        }
    );
    assert_eq!(e.offset(), 5);
    assert!(e.message().starts_with("last-line 10 < 1st-line 20"), "{e}");
}

#[test]
fn errors_come_in_word_order() {
    // The first bad pair wins, whatever follows.
    let e = error("line x wtf 1 +p");
    assert!(matches!(e.kind(), ErrorKind::BadLineNumber { .. }), "{e}");
}

// === §1.2 splitting ===

#[test]
fn row_semicolon_inside_quotes() {
    let e = error("format \"a;b\" +p");
    assert_eq!(e.kind(), &ErrorKind::UnclosedQuote { quote: '"' });
    assert_eq!(e.query_number(), 1);
    let site = Site {
        format: "a;b",
        ..CONNECT
    };
    assert!(hits(r"format a\073b +p", &site));
}

#[test]
fn row_blank_and_comment_pieces() {
    assert_eq!(parse_batch(" ; \n\t\n# all off\n  #x +p").unwrap().len(), 0);
    let mut flags = [Flags::NONE; 2];
    assert_eq!(run(";;# c\n+p;\n", &[CONNECT, MAIN], &mut flags), Ok(2));
}

#[test]
fn row_error_applies_nothing() {
    let mut flags = [Flags::NONE; 2];
    let e = run("+p; func x +x; func y +y", &[CONNECT, MAIN], &mut flags).unwrap_err();
    // The first failing query is reported, and the good first query did not run.
    assert_eq!(e.query_number(), 2);
    assert_eq!(flags, [Flags::NONE; 2]);
}

#[test]
fn row_match_count_includes_unchanged() {
    let mut flags = [f("p"), Flags::NONE];
    // Both match twice; CONNECT's flags never change.
    assert_eq!(run("+p; +p", &[CONNECT, MAIN], &mut flags), Ok(4));
    assert_eq!(flags, [f("p"), f("p")]);
}

#[test]
fn row_no_match_is_not_an_error() {
    let mut flags = [Flags::NONE];
    assert_eq!(run("func nothing_here +p", &[CONNECT], &mut flags), Ok(0));
}

// === §1.3 tokenizing ===

#[test]
fn row_whitespace_separators() {
    assert!(hits("func\tconnect\x0B+p\r", &CONNECT));
    let e = error("func\u{a0}connect +p");
    assert!(matches!(e.kind(), ErrorKind::UnpairedWord { .. }), "{e}");
}

#[test]
fn row_hash_comment_at_word_start() {
    assert!(hits("func connect +p # a comment", &CONNECT));
    let site = Site {
        function: "a#b",
        ..CONNECT
    };
    assert!(hits("func a#b +p", &site));
    let site = Site {
        format: "#c",
        ..CONNECT
    };
    assert!(hits("format \"#c\" +p", &site));
    // The howto's example: a comment ends at `;`.
    let batch = parse_batch("module params +p #cmt ; module sys +p").unwrap();
    assert_eq!(batch.len(), 2);
}

#[test]
fn row_quotes() {
    // Any value can be quoted, a closing quote ends the word, `""` is empty.
    assert!(hits("func 'connect' line \"42\" +p", &CONNECT));
    let e = error("format \"write\"block +p");
    assert!(matches!(e.kind(), ErrorKind::UnpairedWord { .. }), "{e}");
    let site = Site {
        format: "it's",
        ..CONNECT
    };
    assert!(hits("format it's +p", &site));
    assert!(hits("format \"\" +p", &CONNECT));
    assert!(!hits("func \"\" +p", &CONNECT));
}

#[test]
fn row_unclosed_quote() {
    let e = error("+p; format 'abc");
    assert_eq!(e.kind(), &ErrorKind::UnclosedQuote { quote: '\'' });
    assert_eq!((e.query_number(), e.offset()), (2, 11));
}

#[test]
fn row_too_many_words() {
    assert!(parse_batch("func a file b module c line 1 +p").is_ok());
    assert_eq!(
        error("func a file b module c line 1 class d +p").kind(),
        &ErrorKind::TooManyWords
    );
    // `file F:func` carries two constraints in one pair.
    assert!(hits(
        "file tcp.rs:connect module app::net line 40-50 format to +p",
        &CONNECT
    ));
}

#[test]
fn row_tokenize_failed() {
    // Every piece that is not skipped has a first word, so the kernel's
    // "tokenize failed" and "parse err after word" cannot happen.
    for input in ["x", " x ", "'x'", "\"\"", "x#"] {
        let e = error(input);
        assert!(matches!(e.kind(), ErrorKind::BadFlagOp { .. }), "{e}");
    }
}

// === §1.4 flags first ===

#[test]
fn row_flags_parsed_first() {
    assert!(matches!(
        error("func main").kind(),
        ErrorKind::BadFlagOp { .. }
    ));
    assert_eq!(
        error("wtf 1 +x").kind(),
        &ErrorKind::UnknownFlag { flag: 'x' }
    );
}

// === §1.5 flags ===

#[test]
fn row_flag_letters() {
    for (letter, flag) in [
        ('p', Flags::PRINT),
        ('m', Flags::MODULE),
        ('f', Flags::FUNCTION),
        ('s', Flags::SOURCE),
        ('l', Flags::LINE),
        ('t', Flags::THREAD),
        ('_', Flags::NONE),
    ] {
        assert_eq!(query(&format!("={letter}")).apply(Flags::ALL), flag);
    }
    assert_eq!(error("+P").kind(), &ErrorKind::UnknownFlag { flag: 'P' });
}

#[test]
fn row_flag_ops() {
    assert_eq!(query("+p").apply(f("m")), f("pm"));
    assert_eq!(query("-p").apply(f("pm")), f("m"));
    assert_eq!(query("=p").apply(f("m")), f("p"));
}

#[test]
fn row_bad_flag_op() {
    for bad in ["p", "*p", "pm+"] {
        let e = error(&format!("func x {bad}"));
        assert_eq!(e.kind(), &ErrorKind::BadFlagOp { word: bad.into() });
    }
}

#[test]
fn row_unknown_flag() {
    for (bad, c) in [
        ("++p", '+'),
        ("+p-m", '-'),
        ("+P", 'P'),
        ("+x", 'x'),
        ("=pé", 'é'),
    ] {
        assert_eq!(
            error(bad).kind(),
            &ErrorKind::UnknownFlag { flag: c },
            "{bad}"
        );
    }
}

#[test]
fn row_bare_flag_op() {
    assert_eq!(query("=").apply(Flags::ALL), Flags::NONE);
    assert_eq!(query("+").apply(f("pm")), f("pm"));
    assert_eq!(query("-").apply(f("pm")), f("pm"));
    let mut flags = [f("l"), Flags::NONE];
    assert_eq!(run("+", &[CONNECT, MAIN], &mut flags), Ok(2));
    assert_eq!(flags, [f("l"), Flags::NONE]);
}

#[test]
fn row_flags_display_order() {
    assert_eq!(query("+tlsfmp").apply(Flags::NONE).to_string(), "pmfslt");
    assert_eq!(query("=_").apply(Flags::ALL).to_string(), "_");
}

// === §1.6 keywords ===

#[test]
fn row_keywords_exact() {
    for bad in ["Func", "FILE", "function", "lines", "fmt", "mod"] {
        let e = error(&format!("{bad} x +p"));
        assert_eq!(e.kind(), &ErrorKind::UnknownKeyword { word: bad.into() });
    }
}

#[test]
fn row_unpaired_word() {
    let e = error("file tcp.rs func +p");
    assert_eq!(
        e.kind(),
        &ErrorKind::UnpairedWord {
            word: "func".into()
        }
    );
}

#[test]
fn row_duplicate_keyword() {
    let e = error("func a func b +p");
    assert!(
        e.message()
            .contains("match-spec func given twice (\"a\" overridden by \"b\")"),
        "{e}"
    );
}

#[test]
fn row_line_twice() {
    assert_eq!(error("line 0 line 5 +p").kind(), &ErrorKind::LineTwice);
    assert_eq!(error("line 1 line 5 +p").kind(), &ErrorKind::LineTwice);
    assert_eq!(
        error("file tcp.rs:1-9 line 5 +p").kind(),
        &ErrorKind::LineTwice
    );
}

#[test]
fn row_file_tail_func() {
    assert!(hits("file tcp.rs:connect +p", &CONNECT));
    assert!(hits("file tcp.rs:Client::connect +p", &CONNECT));
    assert!(hits("file tcp.rs:*conn* +p", &CONNECT));
    assert!(hits("file tcp.rs:?lient::connect +p", &CONNECT));
    assert!(!hits("file main.rs:connect +p", &CONNECT));
    let site = Site {
        function: "_private",
        ..CONNECT
    };
    assert!(hits("file tcp.rs:_private +p", &site));
    let site = Site {
        function: "étoile",
        ..CONNECT
    };
    assert!(hits("file tcp.rs:étoile +p", &site));
    let e = error("file tcp.rs:connect func recv +p");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Duplicate {
                keyword: "func",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.offset(), 20);
}

#[test]
fn row_file_tail_lines() {
    assert!(hits("file tcp.rs:40-50 +p", &CONNECT));
    assert!(hits("file tcp.rs:42 +p", &CONNECT));
    assert!(!hits("file tcp.rs:43- +p", &CONNECT));
    // An empty tail adds nothing, so a `line` may follow it.
    assert!(hits("file tcp.rs: +p", &CONNECT));
    assert!(hits("file tcp.rs: line 42 +p", &CONNECT));
    let e = error("file tcp.rs:4x +p");
    assert_eq!(e.kind(), &ErrorKind::BadLineNumber { text: "4x".into() });
    assert_eq!(e.offset(), 12);
}

#[test]
fn row_keywords_after_file() {
    // 5.x ignored everything after a `file` without `:` (`break`).
    assert!(!hits("file tcp.rs func recv +p", &CONNECT));
}

#[test]
fn row_implied_module() {
    // No `$module.dyndbg`: an explicit `module` is always allowed, once.
    assert!(hits("module app::net +p", &CONNECT));
    assert!(parse_batch("module app +p; module app::net +p").is_ok());
}

// === §1.7 matching ===

#[test]
fn row_constraints_anded() {
    assert!(hits("func connect line 42 +p", &CONNECT));
    assert!(!hits("func connect line 43 +p", &CONNECT));
    assert!(!hits("func main module app::net +p", &MAIN));
}

#[test]
fn row_module_whole_string() {
    assert!(!hits("module app +p", &CONNECT));
    assert!(!hits("module net +p", &CONNECT));
    assert!(hits("module *net +p", &CONNECT));
}

#[test]
fn row_class() {
    // Only callsites of exactly that class; never classed ones without it.
    assert!(hits("class WIRE +p", &RECV));
    assert!(!hits("+p", &RECV));
    assert!(!hits("func recv +p", &RECV));
    assert!(!hits("class WIRE +p", &CONNECT));
    assert!(!hits("class JUNK +p", &RECV));
    assert!(!hits("class W* +p", &RECV));
    assert!(!hits("class wire +p", &RECV));
    assert!(hits("class WIRE func recv +p", &RECV));
}

#[test]
fn row_file_names() {
    assert!(hits("file app/src/net/tcp.rs +p", &CONNECT));
    assert!(hits("file tcp.rs +p", &CONNECT));
    assert!(hits("file src/net/tcp.rs +p", &CONNECT));
    assert!(!hits("file net/tcp.rs +p", &CONNECT));
    assert!(hits("file */net/* +p", &CONNECT));
}

#[test]
fn row_func_names() {
    assert!(hits("func connect +p", &CONNECT));
    assert!(hits("func Client::connect +p", &CONNECT));
    assert!(hits("func app::net::Client::connect +p", &CONNECT));
    assert!(hits("func Client::* +p", &CONNECT));
    assert!(hits("func app::net::* +p", &CONNECT));
    assert!(!hits("func Client::conn +p", &CONNECT));
}

#[test]
fn row_format_substring_and_anchor() {
    assert!(hits("format to +p", &CONNECT));
    assert!(hits("format ^conn +p", &CONNECT));
    assert!(!hits("format ^to +p", &CONNECT));
    assert!(hits("format ^ +p", &CONNECT));
    assert!(hits("format '' +p", &CONNECT));
    assert!(!hits("format TO +p", &CONNECT));
}

#[test]
fn row_format_escaped_caret() {
    let site = Site {
        format: "^x marks",
        ..CONNECT
    };
    assert!(hits(r"format \136x +p", &site));
    assert!(!hits(r"format \136conn +p", &CONNECT));
    assert!(hits("format ^^x +p", &site));
}

// === §1.8 wildcards ===

#[test]
fn row_wildcard_basics() {
    assert!(hits("func * +p", &CONNECT));
    assert!(hits("func ?onnect +p", &CONNECT));
    assert!(!hits("func connect? +p", &CONNECT));
    let site = Site {
        function: "café",
        ..CONNECT
    };
    assert!(hits("func caf? +p", &site));
}

#[test]
fn row_trailing_stars() {
    assert!(hits("func main** +p", &MAIN));
    assert!(hits("func ***C*c*n*t*** +p", &CONNECT));
}

#[test]
fn row_wildcards_only_in_names() {
    assert!(!hits("format conn* +p", &CONNECT));
    let site = Site {
        format: "conn* literal",
        ..CONNECT
    };
    assert!(hits("format conn* +p", &site));
    assert!(!hits("class * +p", &RECV));
    assert!(matches!(
        error("line 4? +p").kind(),
        ErrorKind::BadLineNumber { .. }
    ));
}

// === §1.9 line ranges ===

fn at_line(line: u32) -> Site {
    Site { line, ..CONNECT }
}

fn lines_hit(range: &str, lines: &[u32]) -> Vec<u32> {
    let q = query(&format!("line {range} +p"));
    lines
        .iter()
        .copied()
        .filter(|&l| q.matches(&at_line(l)))
        .collect()
}

const SOME_LINES: [u32; 6] = [1, 9, 10, 20, 21, u32::MAX];

#[test]
fn row_line_single() {
    assert_eq!(lines_hit("10", &SOME_LINES), [10]);
}

#[test]
fn row_line_range() {
    assert_eq!(lines_hit("10-20", &SOME_LINES), [10, 20]);
    assert_eq!(lines_hit("10-10", &SOME_LINES), [10]);
}

#[test]
fn row_line_reversed() {
    assert_eq!(
        error("line 20-10 +p").kind(),
        &ErrorKind::ReversedRange {
            first: 20,
            last: 10
        }
    );
}

#[test]
fn row_line_open_end() {
    assert_eq!(lines_hit("20-", &SOME_LINES), [20, 21, u32::MAX]);
}

#[test]
fn row_line_open_start() {
    assert_eq!(lines_hit("-10", &SOME_LINES), [1, 9, 10]);
}

#[test]
fn row_line_zero() {
    assert_eq!(lines_hit("0", &SOME_LINES), SOME_LINES);
}

#[test]
fn row_line_dash_zero() {
    for range in ["-", "0-0", "-0", "''"] {
        assert_eq!(lines_hit(range, &SOME_LINES), SOME_LINES, "{range}");
    }
}

#[test]
fn row_line_n_zero() {
    assert_eq!(lines_hit("20-0", &SOME_LINES), [20, 21, u32::MAX]);
}

#[test]
fn row_line_two_dashes() {
    let e = error("line 1-2-3 +p");
    assert_eq!(e.kind(), &ErrorKind::BadLineNumber { text: "2-3".into() });
    assert_eq!(e.offset(), 7);
}

#[test]
fn row_line_garbage() {
    for bad in ["10a", "0x10", "ten", "1.0", "-x"] {
        assert!(
            matches!(
                error(&format!("line {bad} +p")).kind(),
                ErrorKind::BadLineNumber { .. }
            ),
            "{bad}"
        );
    }
}

#[test]
fn row_line_plus() {
    assert_eq!(lines_hit("+10", &SOME_LINES), [10]);
    assert_eq!(lines_hit("+9-+10", &SOME_LINES), [9, 10]);
}

#[test]
fn row_line_leading_zeros() {
    assert_eq!(lines_hit("009-010", &SOME_LINES), [9, 10]);
}

#[test]
fn row_line_overflow() {
    assert_eq!(lines_hit("4294967295", &SOME_LINES), [u32::MAX]);
    assert_eq!(
        error("line 4294967296 +p").kind(),
        &ErrorKind::BadLineNumber {
            text: "4294967296".into()
        }
    );
}

#[test]
fn row_line_spaces() {
    assert_eq!(
        error("line 1 - 30 +p").kind(),
        &ErrorKind::UnknownKeyword { word: "-".into() }
    );
}

#[test]
fn row_line_bits() {
    // The kernel stores 18 bits of line number; we keep all 32.
    assert_eq!(lines_hit("300000", &[300_000, 37_856]), [300_000]);
}

// === §1.10 escapes ===

#[test]
fn row_format_escapes() {
    let site = Site {
        format: "a b\tc\n\"q\" \\ \x07\x1B café",
        ..CONNECT
    };
    assert!(hits(r#"format a\040b\tc\n\"q\"\040\\\040\a\e +p"#, &site));
    assert!(hits(r"format caf\303\251 +p", &site));
    // No hex escapes; unknown escapes keep their backslash.
    let site = Site {
        format: r"\x41 \q",
        ..CONNECT
    };
    assert!(hits(r"format '\x41 \q' +p", &site));
}

#[test]
fn row_octal_nul() {
    let site = Site {
        format: "ab\0cd",
        ..CONNECT
    };
    assert!(hits(r"format ab\0cd +p", &site));
    let other = Site {
        format: "abXcd",
        ..CONNECT
    };
    assert!(!hits(r"format ab\0cd +p", &other));
}

#[test]
fn row_escapes_only_in_format() {
    let site = Site {
        function: r"a\040b",
        ..CONNECT
    };
    assert!(hits(r"func a\040b +p", &site));
    assert!(!hits(
        r"func a\040b +p",
        &Site {
            function: "a b",
            ..CONNECT
        }
    ));
}

// === §1.11 results ===

#[test]
fn row_empty_batch() {
    assert_eq!(parse_batch(""), Ok(vec![]));
    let mut flags = [Flags::NONE];
    assert_eq!(run("", &[CONNECT], &mut flags), Ok(0));
}

#[test]
fn row_batch_size_limit() {
    let batch = "func connect +p;".repeat(1000);
    assert!(batch.len() > 4095);
    assert_eq!(parse_batch(&batch).unwrap().len(), 1000);
}

#[test]
fn row_error_values() {
    // One error type for every parse error; it says which query, where, why.
    let e = error("func x +p\nline 9-1 +p");
    assert_eq!(
        e.to_string(),
        "query 2 \"line 9-1 +p\": at byte 15: last-line 1 < 1st-line 9, \
         expected a range N-M with N <= M"
    );
}

// === properties ===

/// Words and fragments that reach deep into the grammar.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "func",
            "file",
            "module",
            "format",
            "line",
            "class",
            "+p",
            "-p",
            "=_",
            "=",
            "+",
            "+pmfslt",
            "+x",
            "*",
            "?",
            "**",
            "'",
            "\"",
            "#",
            ";",
            "\n",
            " ",
            "\t",
            ":",
            "-",
            "0",
            "1-",
            "-9",
            "10-20",
            "4294967296",
            "\\",
            "\\0",
            "\\377",
            "^",
            "é",
            "\u{a0}",
            "tcp.rs:",
            "connect",
            "Client::connect",
            "app::*",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
        "[ -~]{0,6}",
    ]
}

fn batch() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.join(" ")),
        prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_errors_point_inside_the_input(input in batch()) {
        match parse_batch(&input) {
            Ok(batch) => {
                for q in &batch {
                    for site in [&CONNECT, &RECV, &MAIN] {
                        let _ = q.matches(site);
                    }
                    let _ = q.apply(Flags::ALL);
                }
            }
            Err(e) => {
                prop_assert!(e.offset() < input.len(), "{e} in {input:?}");
                prop_assert!(input.is_char_boundary(e.offset()), "{e} in {input:?}");
                prop_assert!(e.query_number() >= 1);
                prop_assert!(!e.query().is_empty());
                prop_assert!(input.contains(e.query()), "{e} in {input:?}");
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn glob_star_matches_everything(subject in any::<String>()) {
        prop_assert!(matcher::glob("*", &subject));
        prop_assert!(matcher::glob("**", &subject));
        prop_assert!(matcher::glob(&subject.replace(['*', '?'], "x"), &subject.replace(['*', '?'], "x")));
    }

    #[test]
    fn glob_question_marks_count_characters(subject in "\\PC{0,8}") {
        let n = subject.chars().count();
        let pattern = "?".repeat(n);
        prop_assert!(matcher::glob(&pattern, &subject));
        let longer = "?".repeat(n + 1);
        prop_assert!(!matcher::glob(&longer, &subject));
    }
}
