//! # The kernel's errors and quirks, and what dyndbg does
//!
//! dyndbg speaks the query language of the Linux kernel's dynamic debug
//! (`Documentation/admin-guide/dynamic-debug-howto.rst`, implemented by
//! `lib/dynamic_debug.c`, mainline v6.x). This page lists every error and
//! every quirk of the kernel's implementation, what the kernel does and
//! what dyndbg does, side by side. Where we differ, the reason follows the
//! row. Each row is checked by a unit test of the same name
//! (`row_*` in `dyndbg/src/query/tests.rs`).
//!
//! The short version: a query written for the kernel means the same here,
//! except that a batch with an error changes nothing (the kernel applies its
//! good queries), a few inputs the kernel accepts by accident are errors or
//! mean what they say, and names are matched the Rust way
//! (`Client::connect`, `_private`, UTF-8).
//!
//! ```standalone_crate
//! fn connect() {
//!     dyndbg::pr_debug!("connecting");
//! }
//! connect();
//! // The kernel would apply `+p` to every callsite and then fail: here the
//! // batch fails whole and nothing changes.
//! let err = dyndbg::control("+p; func connect +q").unwrap_err();
//! assert_eq!(err.query_number(), 2);
//! assert!(dyndbg::callsites().all(|cs| !cs.flags().contains(dyndbg::Flags::PRINT)));
//! // Fixed, both queries apply: one match each.
//! assert_eq!(dyndbg::control("+p; func connect +p"), Ok(2));
//! ```
//!
//! ## Splitting a batch into queries (`ddebug_exec_queries`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_semicolon_inside_quotes` | `format "a;b" +p` | split on `;` and `\n` before tokenizing: two broken queries | same (the error says so); match a `;` with `\073` |
//! | `row_blank_and_comment_pieces` | `;;`, blank lines, `# note` | skipped, not counted | same; also not counted in the query number of an error |
//! | `row_error_applies_nothing` | `+p; func x +q` | applies the good queries, returns the **last** error (-EINVAL) | **differs**: parses the whole batch first; on error nothing applies and the **first** failing query is the error |
//! | `row_match_count_includes_unchanged` | `+p; +p` | returns matches summed over queries, counting callsites whose flags did not change | same: [`control`](fn@crate::control) returns that sum |
//! | `row_no_match_is_not_an_error` | `func nothing +p` | 0, success | same: `Ok(0)` |
//!
//! Why the first difference: a program can't see which half of a batch
//! applied, and `DYNDBG` must change nothing on a typo; the kernel reports
//! the last error because it keeps going, we stop at the first because
//! nothing ran.
//!
//! ## Words (`ddebug_tokenize`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_whitespace_separators` | tab, `\v`, `\f`, `\r`, NBSP | `isspace()`: space `\t \n \v \f \r` **and byte 0xA0** | **differs**: ASCII ones only; 0xA0 is part of UTF-8 characters (NBSP is `C2 A0`), so it is never a separator |
//! | `row_hash_comment_at_word_start` | `+p # note`, `a#b`, `"#c"`, `+p #c ; module sys +p` | `#` starts a comment only at the start of a word, to the end of the query (so the next `;` ends it) | same |
//! | `row_quotes` | `func 'connect'`, `"write"block`, `it's`, `""` | `"` or `'` only at a word start, no escapes or nesting; the closing quote ends the word; a quote mid-word is literal; `""` is an empty value; any value may be quoted | same |
//! | `row_unclosed_quote` | `format 'abc` | "unclosed quote", -EINVAL | error at the opening quote: `unclosed quote ', expected a closing ' ...` |
//! | `row_too_many_words` | five keyword/value pairs | `MAXWORDS` 9: "too many words, legal max <=9" | same limit, error at the tenth word |
//! | `row_tokenize_failed` | | "tokenize failed", "parse err after word" | cannot happen (in the kernel either): a piece that is not skipped always has a first word |
//!
//! ## Flags (`ddebug_parse_flags`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_flags_parsed_first` | `func main`, `wtf 1 +x` | the last word is parsed first: "bad flag-op m, at start of main"; a flags error hides a keyword error | same |
//! | `row_flag_letters` | `p m f s l t _`, `+P` | those letters, case-sensitive; `_` is no flag | same bits ([`Flags`](crate::Flags)) |
//! | `row_flag_ops` | `+p`, `-p`, `=p` | add, remove, set exactly | same |
//! | `row_bad_flag_op` | `func x pm+` | "bad flag-op" | error at the word: `bad flag-op 'p' at start of "pm+", expected ...` |
//! | `row_unknown_flag` | `++p`, `+p-m`, `+P`, `+x` | "unknown flag" | error at the letter: `unknown flag 'x', expected one of p m f s l t _` |
//! | `row_bare_flag_op` | `=`, `+`, `-` | mainline accepts (no "at least one flag" check since 2011), though the documented regex `^[-+=][fslmpt_]+$` requires a letter | accepted, as mainline: `=` clears all flags, `+` and `-` change nothing and so only count matches (`control("module app::* +")` counts callsites) |
//! | `row_flags_display_order` | | `pmfslt`, `_` for none | same |
//!
//! ## Keywords (`ddebug_parse_query`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_keywords_exact` | `Func x`, `lines 5` | exact, case-sensitive: "unknown keyword" | same |
//! | `row_unpaired_word` | `file tcp.rs func +p` | "expecting pairs of match-spec \<value\>" | same, at the unpaired word |
//! | `row_duplicate_keyword` | `func a func b` | "match-spec:func val:a overridden by b" | same, at the second keyword |
//! | `row_line_twice` | `line 0 line 5`, `file F:1-9 line 5` | "line used 2x", but only if the first range was not 0, so `line 0 line 5` is accepted | **differs**: any second line range is an error |
//! | `row_file_tail_func` | `file tcp.rs:connect`, `file tcp.rs:_private` | the tail after the first `:` is a function if it starts with an ASCII letter, `*` or `?`; `_x` is a "bad line-number" | **differs**: also `_` and any Unicode letter, since Rust functions may start with them; `file F:Client::connect` works (split at the first `:`) |
//! | `row_file_tail_lines` | `file tcp.rs:40-50`, `file tcp.rs:` | else a line range; an empty tail is line 0, no constraint | same; an empty tail is no line spec at all, so a `line` may follow it |
//! | `row_keywords_after_file` | `file tcp.rs func recv` | 5.x ignored the rest of the query after a `file` without `:`; mainline goes on | same as mainline |
//! | `row_implied_module` | `$module.dyndbg=...` | the module is implied unless the query names one (5.x: naming one was an error) | not applicable: `DYNDBG` is for the whole program; `module` is always allowed, once |
//!
//! ## Matching (`ddebug_change`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_constraints_anded` | `func connect line 42` | all given constraints ANDed; none selects everything | same |
//! | `row_module_whole_string` | `module app` | wildcard match of the whole module name | same, over `module_path!()`: `app` does not select `app::net`; use `app::*` or `app*` |
//! | `row_class` | `class WIRE`, `class W*`, `class JUNK` | exact name, no wildcards; only modules that declared the class; a query without `class` never touches classed callsites; unknown class: silent non-match | same; class names are global (no per-module class maps) |
//! | `row_file_names` | `file tcp.rs`, `file net/tcp.rs` | the full path, its basename, or the path relative to the source root; no other suffix | the full `file!()` path, its basename, or its path in its crate (from the first `src/`, `tests/`, `examples/` or `benches/`; inside Cargo's registry or git checkouts, within the crate's directory); no other suffix |
//! | `row_func_names` | `func connect`, `func Client::*` | the C function name | the function qualified in its module (`Client::connect`), its last segment (`connect`), or module-qualified (`app::net::Client::connect`) |
//! | `row_format_substring_and_anchor` | `format to`, `format ^conn`, `format ^`, `format ''` | substring; leading `^` anchors at the start; case-sensitive; empty and lone `^` match all | same, over the format string as written in `pr_debug!` |
//! | `row_format_escaped_caret` | `format \136x` | `^` is tested after unescaping, so `\136` anchors too and a literal leading `^` cannot be matched | **differs**: only a written `^` anchors; `\136` is a literal `^` |
//!
//! ## Wildcards (`match_wildcard`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_wildcard_basics` | `*`, `?onnect`, `connect?`, `caf?` | `*` any run (also empty), `?` exactly one **byte** | `?` is one **character** (`caf?` matches `café`) |
//! | `row_trailing_stars` | `main**` vs `main` | only one trailing `*` is skipped after the subject ends: no match (and some multi-star patterns fail) | **differs**: true glob semantics, matches |
//! | `row_wildcards_only_in_names` | `format conn*`, `class *`, `line 4?` | wildcards only in `func`, `file`, `module` | same: literal in `format` and `class`, an error in `line` |
//!
//! ## Line ranges (`parse_linerange`, `parse_lineno`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_line_single` | `10` | line 10 | same |
//! | `row_line_range` | `10-20` | 10 to 20 inclusive | same |
//! | `row_line_reversed` | `20-10` | "last-line:10 < 1st-line:20" | same, `last-line 10 < 1st-line 20, expected ...` |
//! | `row_line_open_end` | `20-` | 20 and after | same |
//! | `row_line_open_start` | `-10` | up to 10 | same |
//! | `row_line_zero` | `0` | no line constraint (0 is "don't care") | same (Rust has no line 0) |
//! | `row_line_dash_zero` | `-`, `0-0`, `-0`, `''` | every line | same |
//! | `row_line_n_zero` | `20-0` | 20 and after (0 is "not given") | same |
//! | `row_line_two_dashes` | `1-2-3` | split at the first `-`: "bad line-number: 2-3" | same |
//! | `row_line_garbage` | `10a`, `0x10`, `-x` | "bad line-number" | same |
//! | `row_line_plus` | `+10`, `+9-+10` | accepted (`kstrtouint` takes one `+`) | same |
//! | `row_line_leading_zeros` | `009-010` | decimal, 9 to 10 | same |
//! | `row_line_overflow` | `4294967296` | -ERANGE, reported as -EINVAL | "bad line-number" |
//! | `row_line_spaces` | `line 1 - 30` | three words: unknown keyword `-` | same |
//! | `row_line_bits` | `line 300000` | the callsite stores 18 bits of line (max 262143) | all 32 bits |
//!
//! ## Escapes in `format` (`string_unescape_inplace`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_format_escapes` | `\040 \t \n \" \\ \a \e \303\251 \x41 \q` | SPACE (`\n \r \t \v \f`), OCTAL (1-3 digits), SPECIAL (`\" \\ \a \e`); no hex; unknown escapes and a trailing `\` keep the backslash; never an error | same; octal escapes build bytes, so `\303\251` matches `é` |
//! | `row_octal_nul` | `ab\0cd` | the NUL ends the C string: matches like `ab` | **differs**: matches a NUL byte (Rust strings may hold one) |
//! | `row_escapes_only_in_format` | `func a\040b` | `func`, `file`, `module` values verbatim | same |
//!
//! ## Results (`ddebug_proc_write`)
//!
//! | row (test) | input | kernel | dyndbg |
//! |---|---|---|---|
//! | `row_empty_batch` | `""` | a write of 0 bytes returns 0 | `Ok(0)` |
//! | `row_batch_size_limit` | a 16 000-byte batch | -E2BIG over 4095 bytes (255 in 5.x; 1023 at boot) | **differs**: no limit; the limit only bounds the kernel's copy from user space, and a long generated batch is legitimate |
//! | `row_error_values` | any error | -EINVAL (or -E2BIG), details only in the kernel log | a [`QueryError`](crate::QueryError) naming the query (number and text), the byte offset in the batch and what was expected: `query 2 "line 9-1 +p": at byte 15: last-line 1 < 1st-line 9, expected a range N-M with N <= M` |
//!
//! ## `tracing` and `log` callsites (the `tracing` and `log` features)
//!
//! `dyndbg::tracing::QueryFilter` and `dyndbg::LogFilter` (the `log`
//! feature) apply the same queries to callsites dyndbg does not own. The
//! kernel has nothing like them; the rows compare with pr_debug!'s
//! semantics here. Tests are in `dyndbg/tests/tracing_filter.rs` and
//! `dyndbg/tests/log_filter.rs`.
//!
//! | row (test) | input | pr_debug! | tracing event / log record |
//! |---|---|---|---|
//! | `row_tracing_class_is_the_target` | `class wire` | the class named in `pr_debug!(class = ..)` | the event's (record's) target, exact, no wildcards |
//! | `row_tracing_no_class_selects_any_target` | `module app::* +p` | a query without `class` leaves classed callsites alone | **differs**: selects events whatever their target (every event has one) |
//! | `row_tracing_func_never_selects`, `row_log_func_never_selects` | `func run` | the enclosing function | **differs**: never selects: tracing's and log's metadata have no function (a span is not a function); `control` counts no match |
//! | `row_tracing_format_is_the_formatted_message` | `format ready` | the format string as written | **differs**: the `message` field as formatted, decided per event (the callsite's interest becomes `sometimes`); for a literal message it is the literal; an event without a message never matches; listed with ` format?` |
//! | `row_log_format_only_literal_messages` | `format ready` | the format string | **differs**: the record's message where it is a literal (`Arguments::as_str`); a message with arguments never matches |
//! | `row_tracing_flags_other_than_p_are_listed_only` | `+pmflt` | `p` prints, `m f s l t` choose the prefix | `p` lets the event through; the others are kept and listed, the layer formats the event its own way |
//! | `row_tracing_spans_always_enabled` | any query | | spans are always enabled and never listed: a switched-on event keeps its span context |
//! | `a_query_before_registration_applies_when_the_callsite_registers` | `module app::net +p` before the first request | every callsite is listed from the start | a tracing callsite is known only from its first run (tracing#969): every query is kept and replayed, in order, when it registers; the listing shows the callsites seen, marked `[tracing]`, after a `# tracing: N callsites seen` line; `control` counts only those seen |
//! | `row_log_records_not_listed` | | listed | `log` has no registry of callsites: records are decided per callsite (cached until the next `control`), never listed |
//!
//! Not carried over: the `dynamic_debug.verbose` logging levels (errors are
//! returned instead), and the out-of-tree extensions (`,` and `%`
//! separators, the `T` flag, `label`, `open`/`close`).
