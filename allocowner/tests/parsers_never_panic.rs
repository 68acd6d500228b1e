//! The properties the fuzz targets `allocowner_env` and `access_control`
//! (in `fuzz/`) check, on random and structured inputs, on stable: the
//! `ALLOCOWNER` and `ALLOCOWNER_ACCESS` parsers never panic, refuse bad
//! input with one line naming it, keep their bounds, and read back what
//! they print. The checks themselves are `allocowner::fuzzing::check_*`,
//! shared with the fuzz targets. Inputs the fuzzers found worth keeping
//! are regression tests at the end.
use allocowner::fuzzing::{
    ConfigErrorKind, check_access_control, check_allocowner, parse_access_control,
    parse_allocowner, parse_options,
};
use proptest::prelude::*;

/// One option, mostly well-formed, sometimes not.
fn option() -> impl Strategy<Value = String> {
    prop_oneof![
        "depth=[0-9]{0,3}",
        "depth=[0-9]{18,21}",
        "report=[ -~]{0,12}",
        "report=/[a-z]{250,260}",
        Just("report_children".to_owned()),
        Just("thread".to_owned()),
        "sample=[0-9]{0,20}",
        "depot_cap=[0-9]{0,14}(|k|K|m|M|g|G)(|b|B|ib|iB)",
        "capture=(fp|unwind|auto|dwarf|)",
        "[ \t]*[a-z_]{0,16}(=[ -~]{0,8})?[ \t]*",
        "\\PC{0,8}",
    ]
}

/// An `ALLOCOWNER` value: a head (`on` mostly), then options.
fn allocowner_value() -> impl Strategy<Value = String> {
    (
        prop_oneof!["on", "1", "off", "0", " on ", "[a-z]{0,3}", ""],
        prop::collection::vec(option(), 0..6),
    )
        .prop_map(|(head, opts)| {
            let mut v = head;
            for o in opts {
                v.push(',');
                v.push_str(&o);
            }
            v
        })
}

/// An `ALLOCOWNER_ACCESS` control string, mostly two words.
fn access_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            "[ \t\n]{0,2}",
            "[0-9]{0,11}|-[0-9]{1,3}|0x[0-9a-f]{1,4}",
            "[ \t\n\u{a0}]{0,2}",
            "[!-~]{0,8}|/[a-z]{250,260}|[ -~\u{a0}é]{0,10}",
            "[ \t\n]{0,2}([!-~]{0,3})?",
        )
            .prop_map(|(a, n, b, p, c)| format!("{a}{n}{b}{p}{c}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        // An integration test has no lib.rs beside it to persist into.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn allocowner_values(value in allocowner_value()) {
        check_allocowner(value.as_bytes());
    }

    #[test]
    fn allocowner_arbitrary_bytes(value in prop::collection::vec(any::<u8>(), 0..80)) {
        check_allocowner(&value);
    }

    #[test]
    fn access_control_strings(value in access_value()) {
        check_access_control(&value);
    }
}

#[test]
fn the_checks_see_what_they_should() {
    // Sanity of the harness: good values parse, bad ones are refused.
    let o = parse_allocowner(b"on,depth=8,report=/tmp/r,thread,depot_cap=1M")
        .unwrap()
        .unwrap();
    assert_eq!((o.depth, o.thread, o.depot_cap), (8, true, 1 << 20));
    assert_eq!(o.report(), Some(&b"/tmp/r"[..]));
    assert_eq!(parse_options(&o.render()), Ok(o));
    assert_eq!(
        parse_options(b"depth=65").unwrap_err().kind(),
        ConfigErrorKind::BadDepth
    );
    assert_eq!(parse_allocowner(b" off ").unwrap(), None);
    // The value of an option is taken as written: a report path may start
    // with a space (and is then checked, by that name, at enable).
    let o = parse_options(b"report= a").unwrap();
    assert_eq!(o.report(), Some(&b" a"[..]));
    let c = parse_access_control("4096 /tmp/x.data\n").unwrap();
    assert_eq!((c.buffer_len(), c.path()), (4096, "/tmp/x.data"));
    assert!(parse_access_control("1023 /x").is_err());
}

/// Edge inputs kept as regression tests (bounds, separators, escapes).
#[test]
fn kept_inputs() {
    for v in [
        &b""[..],
        b"on",
        b"on,",
        b",",
        b"on,,,",
        b"on,depth=1,depth=64",
        b"on,depth=0",
        b"on,depth=65",
        b"on,depth=9999999999999999999",
        b"on,depth=99999999999999999999",
        b"on,sample=18446744073709551615",
        b"on,depot_cap=16K",
        b"on,depot_cap=16383",
        b"on,depot_cap=1024G",
        b"on,depot_cap=1025G",
        b"on,depot_cap=17179869184G",
        b"on,report==",
        b"on,report= ",
        b"on,report= a",
        b"on,report=a\0b",
        b"on,report=\xff\xfe",
        b"on,report=a\nb",
        b"on,report_children",
        b"on,report=/r,report_children=1",
        b"on,capture=",
        b"on,\x1b[31m",
        b"\n",
        b"on\n,depth=3\n",
        b"of",
    ] {
        check_allocowner(v);
    }
    let long = format!("on,report=/{}", "a".repeat(254));
    check_allocowner(long.as_bytes());
    let too_long = format!("on,report=/{}", "a".repeat(255));
    check_allocowner(too_long.as_bytes());
    let long_option = format!("on,{}", "x".repeat(300));
    check_allocowner(long_option.as_bytes());

    for v in [
        "",
        " ",
        "0 none",
        "0 /x",
        "1023 /x",
        "1024 /x",
        "4194304 /x",
        "4194305 /x",
        "4294967296 /x",
        "99999999999999999999999 /x",
        "+1024 /x",
        "1024 /x\n",
        "1024\t/x",
        "1024 /x y",
        "1024 /a\u{a0}b",
        "2967\t\u{a0}'4",
        "1024 /\0",
        "\u{a0}1024 /x",
    ] {
        check_access_control(v);
    }
    check_access_control(&format!("1024 /{}", "a".repeat(254)));
    check_access_control(&format!("1024 /{}", "a".repeat(255)));
}
