//! Queries give exactly the same results with the pool and without: random
//! batches over the generated program's own names, formats and lines, run
//! on the raw records and on the pool (in one process, changing no flag),
//! must match the same callsites, set the same flags and list the same
//! text; and the same batch through `control` in two child processes, one
//! with `DYNDBG_POOL=off`, lists the same.

use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// The vocabulary queries are drawn from: the program's own callsites.
struct Vocab {
    modules: Vec<String>,
    files: Vec<String>,
    functions: Vec<String>,
    words: Vec<String>,
    lines: u32,
}

fn vocab() -> &'static Vocab {
    static V: OnceLock<Vocab> = OnceLock::new();
    V.get_or_init(|| {
        // Links the generated program in (and runs a callsite per file).
        dyndbg_manysites::touch_all();
        let sites: Vec<_> = dyndbg::callsites().collect();
        assert!(sites.len() >= dyndbg_manysites::CALLSITES);
        let mut v = Vocab {
            modules: sites.iter().map(|c| c.module().to_owned()).collect(),
            files: sites.iter().map(|c| c.file().to_owned()).collect(),
            functions: sites.iter().map(|c| c.function().to_owned()).collect(),
            words: sites
                .iter()
                .flat_map(|c| c.format().split_whitespace())
                .filter(|w| w.len() > 2 && w.chars().all(|ch| ch.is_ascii_alphabetic()))
                .map(str::to_owned)
                .collect(),
            lines: sites.iter().map(|c| c.line()).max().unwrap_or(1),
        };
        for list in [&mut v.modules, &mut v.files, &mut v.functions, &mut v.words] {
            list.sort();
            list.dedup();
        }
        v
    })
}

/// Cuts a name and puts a wildcard in, or not: `tcp_*`, `*::Client::*`.
fn globbed(name: &str, how: u8, at: usize) -> String {
    let cut = name
        .char_indices()
        .map(|(i, _)| i)
        .nth(at % name.chars().count().max(1))
        .unwrap_or(0);
    match how % 5 {
        0 => name.to_owned(),
        1 => format!("{}*", &name[..cut]),
        2 => format!("*{}", &name[cut..]),
        3 => format!(
            "{}?{}",
            &name[..cut],
            name[cut..].chars().skip(1).collect::<String>()
        ),
        _ => format!("*{}*", &name[cut..]),
    }
}

/// One match-spec of keyword `kind`.
fn spec(kind: u8) -> impl Strategy<Value = String> {
    (
        any::<prop::sample::Index>(),
        any::<u8>(),
        0usize..64,
        0u32..400,
    )
        .prop_map(move |(pick, how, at, span)| {
            let v = vocab();
            match kind {
                0 => format!(
                    "module {}",
                    globbed(pick.get::<String>(&v.modules), how, at)
                ),
                1 => {
                    let file = pick.get::<String>(&v.files);
                    let base = file.rsplit('/').next().unwrap_or(file);
                    if how % 2 == 0 {
                        format!("file {}", globbed(base, how / 2, at))
                    } else {
                        format!("file {}", globbed(file, how / 2, at))
                    }
                }
                2 => format!(
                    "func {}",
                    globbed(pick.get::<String>(&v.functions), how, at)
                ),
                3 if how % 2 == 0 => format!("format {}", pick.get::<String>(&v.words)),
                4 => {
                    let first = (at as u32 * 7) % v.lines + 1;
                    match how % 3 {
                        0 => format!("line {first}"),
                        1 => format!("line {first}-{}", first + span),
                        _ => format!("line -{}", first + span),
                    }
                }
                5 => format!(
                    "class {}",
                    ["NET", "DB", "HTTP", "GPU", "NONE"][how as usize % 5]
                ),
                _ => format!(
                    "format '{} {}'",
                    pick.get::<String>(&v.words),
                    v.words[at % v.words.len()]
                ),
            }
        })
}

fn query() -> impl Strategy<Value = String> {
    // Each keyword at most once per query, as the language wants.
    (
        prop::sample::subsequence(vec![0u8, 1, 2, 3, 4, 5], 0..4)
            .prop_flat_map(|kinds| kinds.into_iter().map(spec).collect::<Vec<_>>()),
        prop::sample::select(vec!["+p", "-p", "=pf", "+lm", "=_", "+pt", "-fl"]),
    )
        .prop_map(|(specs, flags)| format!("{} {flags}", specs.join(" ")))
}

fn batch() -> impl Strategy<Value = String> {
    prop::collection::vec(query(), 1..4).prop_map(|qs| qs.join("; "))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pool_and_raw_records_agree(batch in batch()) {
        vocab();
        let (raw, pool) = dyndbg::__private::pool_check::stores()
            .run(&batch)
            .map_err(|e| TestCaseError::fail(format!("{batch}: {e}")))?;
        prop_assert_eq!(raw.matched, pool.matched, "{}", batch);
        prop_assert!(raw.flags == pool.flags, "flags differ for {}", batch);
        prop_assert!(raw.listing == pool.listing, "listings differ for {}", batch);
    }
}

#[test]
fn random_batches_do_match_something() {
    // The generator is not vacuous: most batches select some callsites.
    vocab();
    let stores = dyndbg::__private::pool_check::stores();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut matching = 0;
    for _ in 0..40 {
        let b = batch().new_tree(&mut runner).unwrap().current();
        if stores.run(&b).unwrap().0.matched > 0 {
            matching += 1;
        }
    }
    assert!(matching >= 10, "{matching} of 40 batches matched");
}

const CHILD: &str = "DYNDBG_EQUIV_CHILD";

#[test]
fn child() {
    let Ok(batch) = std::env::var(CHILD) else {
        return;
    };
    dyndbg_manysites::touch_all();
    let matched = dyndbg::control(&batch).unwrap();
    let listing = dyndbg::listing();
    let hash = listing.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    println!(
        "RESULT matched={matched} lines={} hash={hash:x} pooled={}",
        listing.lines().count(),
        dyndbg::stats().pooled
    );
}

fn run_child(batch: &str, pool: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, batch)
        .env("DYNDBG_POOL", pool)
        .env_remove("DYNDBG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| panic!("no result in {stdout}"))
}

#[test]
fn control_in_processes_with_and_without_the_pool_agrees() {
    let batch = "module dyndbg_manysites::net::* +p; func *_1 format the +mfl; line 10-40 -p";
    let raw = run_child(batch, "off");
    let pool = run_child(batch, "on");
    assert!(raw.ends_with("pooled=false"), "{raw}");
    assert!(pool.ends_with("pooled=true"), "{pool}");
    assert_eq!(
        raw.replace("pooled=false", ""),
        pool.replace("pooled=true", "")
    );
    assert!(!raw.starts_with("matched=0 "), "{raw}");
}
