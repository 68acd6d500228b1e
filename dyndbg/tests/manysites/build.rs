//! Generates the fixture program: in release at least 20,000 `pr_debug!`
//! callsites over at least 200 files and hundreds of modules and functions;
//! in other profiles (debug, clippy) a small slice of the same program.
//!
//! The format strings are sentences of a generated log corpus: a dozen
//! sentence shapes (events, failures, key=value dumps, progress, state
//! changes, fallbacks, timings...) filled from per-domain vocabularies of
//! nouns, verbs with their inflections, adjectives, error texts and keys,
//! with clauses, qualifiers and placeholders of every `format!` kind mixed
//! in at random. A fixed seed keeps the program the same on every build.

use std::fmt::Write as _;
use std::path::Path;

/// splitmix64: small, good enough, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

struct Domain {
    name: &'static str,
    nouns: &'static [&'static str],
    adjectives: &'static [&'static str],
}

const DOMAINS: &[Domain] = &[
    Domain {
        name: "net",
        nouns: &[
            "socket",
            "connection",
            "packet",
            "peer",
            "handshake",
            "listener",
            "route",
            "frame",
            "window",
            "keepalive",
            "backlog",
            "address",
            "interface",
            "datagram",
            "stream",
        ],
        adjectives: &[
            "half-open",
            "idle",
            "congested",
            "stale",
            "remote",
            "local",
            "duplicate",
            "fragmented",
            "out-of-order",
        ],
    },
    Domain {
        name: "storage",
        nouns: &[
            "extent",
            "block",
            "journal",
            "superblock",
            "inode",
            "segment",
            "snapshot",
            "volume",
            "checkpoint",
            "stripe",
            "bitmap",
            "sector",
            "tier",
            "replica",
        ],
        adjectives: &[
            "dirty",
            "clean",
            "torn",
            "compacted",
            "orphaned",
            "sealed",
            "mirrored",
            "degraded",
            "sparse",
        ],
    },
    Domain {
        name: "sched",
        nouns: &[
            "task", "runqueue", "worker", "timer", "deadline", "quantum", "thread", "affinity",
            "waker", "slice", "epoch", "priority",
        ],
        adjectives: &[
            "runnable",
            "blocked",
            "starved",
            "preempted",
            "pinned",
            "migrated",
            "parked",
            "overdue",
            "throttled",
        ],
    },
    Domain {
        name: "crypto",
        nouns: &[
            "cipher",
            "nonce",
            "key",
            "signature",
            "certificate",
            "digest",
            "session ticket",
            "handshake transcript",
            "keystore",
            "entropy pool",
            "tag",
        ],
        adjectives: &[
            "expired",
            "revoked",
            "weak",
            "ephemeral",
            "wrapped",
            "rotated",
            "untrusted",
            "pinned",
            "truncated",
        ],
    },
    Domain {
        name: "db",
        nouns: &[
            "transaction",
            "row",
            "index",
            "cursor",
            "table",
            "lock",
            "savepoint",
            "query plan",
            "tuple",
            "page",
            "vacuum",
            "statistic",
            "constraint",
        ],
        adjectives: &[
            "committed",
            "aborted",
            "uncommitted",
            "visible",
            "bloated",
            "unique",
            "deferred",
            "serializable",
            "phantom",
        ],
    },
    Domain {
        name: "http",
        nouns: &[
            "request",
            "response",
            "header",
            "cookie",
            "redirect",
            "upstream",
            "route",
            "body",
            "chunk",
            "status line",
            "origin",
            "preflight",
        ],
        adjectives: &[
            "malformed",
            "cached",
            "chunked",
            "gzipped",
            "cross-origin",
            "idempotent",
            "conditional",
            "keep-alive",
            "oversized",
        ],
    },
    Domain {
        name: "cache",
        nouns: &[
            "entry",
            "shard",
            "eviction",
            "slab",
            "bucket",
            "generation",
            "hit",
            "miss",
            "tombstone",
            "lease",
            "hot set",
        ],
        adjectives: &[
            "warm",
            "cold",
            "evicted",
            "pinned",
            "expired",
            "refreshed",
            "negative",
            "shared",
            "admitted",
        ],
    },
    Domain {
        name: "auth",
        nouns: &[
            "token",
            "principal",
            "role",
            "grant",
            "credential",
            "session",
            "claim",
            "policy",
            "scope",
            "audit record",
            "challenge",
        ],
        adjectives: &[
            "anonymous",
            "elevated",
            "delegated",
            "revoked",
            "forged",
            "refreshed",
            "federated",
            "missing",
            "denied",
        ],
    },
    Domain {
        name: "fs",
        nouns: &[
            "directory",
            "file handle",
            "mount",
            "symlink",
            "watch",
            "lease",
            "permission",
            "xattr",
            "dentry",
            "quota",
            "path",
        ],
        adjectives: &[
            "readonly",
            "dangling",
            "locked",
            "hidden",
            "truncated",
            "renamed",
            "recursive",
            "mounted",
            "busy",
        ],
    },
    Domain {
        name: "gpu",
        nouns: &[
            "command buffer",
            "fence",
            "shader",
            "texture",
            "queue",
            "descriptor",
            "pipeline",
            "surface",
            "swapchain",
            "heap",
            "barrier",
        ],
        adjectives: &[
            "signaled",
            "resident",
            "evicted",
            "compiled",
            "stalled",
            "coherent",
            "mapped",
            "lost",
            "suboptimal",
        ],
    },
    Domain {
        name: "audio",
        nouns: &[
            "buffer",
            "period",
            "stream",
            "mixer",
            "sample",
            "codec",
            "channel map",
            "underrun",
            "latency",
            "device",
        ],
        adjectives: &[
            "muted",
            "clipped",
            "resampled",
            "interleaved",
            "xrun",
            "paused",
            "drained",
            "mono",
            "stereo",
        ],
    },
    Domain {
        name: "config",
        nouns: &[
            "setting",
            "override",
            "profile",
            "schema",
            "default",
            "reload",
            "secret",
            "environment",
            "layer",
            "key path",
        ],
        adjectives: &[
            "deprecated",
            "unknown",
            "invalid",
            "inherited",
            "shadowed",
            "required",
            "redacted",
            "empty",
            "merged",
        ],
    },
    Domain {
        name: "rpc",
        nouns: &[
            "call",
            "stub",
            "deadline",
            "metadata",
            "channel",
            "service",
            "retry budget",
            "stream",
            "codec",
            "interceptor",
            "backoff",
        ],
        adjectives: &[
            "unary",
            "streaming",
            "cancelled",
            "hedged",
            "throttled",
            "unavailable",
            "pending",
            "half-closed",
            "slow",
        ],
    },
    Domain {
        name: "metrics",
        nouns: &[
            "counter",
            "gauge",
            "histogram",
            "label",
            "exporter",
            "scrape",
            "series",
            "bucket",
            "exemplar",
            "aggregation",
        ],
        adjectives: &[
            "cumulative",
            "delta",
            "stale",
            "high-cardinality",
            "dropped",
            "sampled",
            "monotonic",
            "reset",
            "exported",
        ],
    },
    Domain {
        name: "power",
        nouns: &[
            "governor",
            "frequency",
            "idle state",
            "thermal zone",
            "battery",
            "wakeup source",
            "suspend",
            "regulator",
            "clock",
        ],
        adjectives: &[
            "throttled",
            "boosted",
            "sleeping",
            "critical",
            "charging",
            "discharging",
            "gated",
            "nominal",
            "overheated",
        ],
    },
    Domain {
        name: "ui",
        nouns: &[
            "widget",
            "layout",
            "frame",
            "input event",
            "focus",
            "animation",
            "glyph",
            "viewport",
            "theme",
            "accessibility tree",
        ],
        adjectives: &[
            "dirty",
            "visible",
            "clipped",
            "hovered",
            "disabled",
            "animated",
            "scaled",
            "offscreen",
            "focused",
        ],
    },
];

/// Verbs: base, past, -ing.
const VERBS: &[(&str, &str, &str)] = &[
    ("open", "opened", "opening"),
    ("close", "closed", "closing"),
    ("flush", "flushed", "flushing"),
    ("allocate", "allocated", "allocating"),
    ("release", "released", "releasing"),
    ("queue", "queued", "queueing"),
    ("drop", "dropped", "dropping"),
    ("retry", "retried", "retrying"),
    ("resolve", "resolved", "resolving"),
    ("parse", "parsed", "parsing"),
    ("validate", "validated", "validating"),
    ("reject", "rejected", "rejecting"),
    ("schedule", "scheduled", "scheduling"),
    ("cancel", "cancelled", "cancelling"),
    ("merge", "merged", "merging"),
    ("split", "split", "splitting"),
    ("replay", "replayed", "replaying"),
    ("evict", "evicted", "evicting"),
    ("promote", "promoted", "promoting"),
    ("demote", "demoted", "demoting"),
    ("encode", "encoded", "encoding"),
    ("decode", "decoded", "decoding"),
    ("sync", "synced", "syncing"),
    ("map", "mapped", "mapping"),
    ("unmap", "unmapped", "unmapping"),
    ("register", "registered", "registering"),
    ("attach", "attached", "attaching"),
    ("detach", "detached", "detaching"),
    ("refresh", "refreshed", "refreshing"),
    ("compact", "compacted", "compacting"),
    ("restore", "restored", "restoring"),
    ("snapshot", "snapshotted", "snapshotting"),
    ("throttle", "throttled", "throttling"),
    ("wake", "woke", "waking"),
    ("park", "parked", "parking"),
    ("spawn", "spawned", "spawning"),
    ("sign", "signed", "signing"),
    ("verify", "verified", "verifying"),
    ("negotiate", "negotiated", "negotiating"),
    ("rebalance", "rebalanced", "rebalancing"),
    ("checkpoint", "checkpointed", "checkpointing"),
    ("rotate", "rotated", "rotating"),
];

const ERRORS: &[&str] = &[
    "connection reset by peer",
    "timed out",
    "no space left on device",
    "permission denied",
    "resource temporarily unavailable",
    "invalid argument",
    "broken pipe",
    "operation would block",
    "checksum mismatch",
    "unexpected end of file",
    "out of memory",
    "already exists",
    "not found",
    "too many open files",
    "protocol error",
    "value out of range",
    "deadline exceeded",
    "quota exceeded",
    "interrupted system call",
    "device or resource busy",
    "stale handle",
    "version mismatch",
    "corrupt header",
    "lock poisoned",
    "channel closed",
    "bad magic number",
];

const KEYS: &[&str] = &[
    "len", "cap", "id", "gen", "seq", "off", "count", "state", "mask", "err", "flags", "epoch",
    "ttl", "rtt", "cwnd", "prio", "lvl", "idx", "tag", "owner", "refs", "pending", "budget",
    "limit", "addr",
];

const STATES: &[&str] = &[
    "idle",
    "ready",
    "running",
    "draining",
    "closed",
    "degraded",
    "recovering",
    "suspended",
    "active",
    "standby",
    "initializing",
    "failed",
    "quiescent",
    "stopping",
    "warming up",
];

const QUALIFIERS: &[&str] = &[
    "after a short delay",
    "on the slow path",
    "under memory pressure",
    "while holding the lock",
    "for the second time",
    "before the deadline",
    "without waiting",
    "in the background",
    "from the retry loop",
    "during shutdown",
    "at startup",
    "on behalf of the caller",
    "again",
    "lazily",
    "eagerly",
    "speculatively",
    "in batch mode",
    "as a fallback",
    "out of band",
];

const TIME_UNITS: &[&str] = &["ns", "us", "ms", "s"];

/// Arguments the generated functions have, by placeholder kind.
struct Args {
    list: Vec<String>,
}

impl Args {
    fn new() -> Args {
        Args { list: Vec::new() }
    }
    /// A placeholder and its argument, of a random kind.
    fn any(&mut self, rng: &mut Rng) -> String {
        match rng.below(10) {
            0 | 1 => self.push("{}", "id"),
            2 => self.push("{:#x}", "id"),
            3 => self.push("{:08x}", "id ^ 0x5a5a"),
            4 => self.push("{:?}", "name"),
            5 => self.push("{}", "name"),
            6 => self.push("{:.3}", "ratio"),
            7 => self.push("{:>8.2}", "ratio * 100.0"),
            8 => self.push("{}", "ok"),
            _ => self.push("{}", "name.len()"),
        }
    }
    fn number(&mut self, rng: &mut Rng) -> String {
        match rng.below(4) {
            0 => self.push("{}", "id"),
            1 => self.push("{}", "id % 97"),
            2 => self.push("{}", "name.len()"),
            _ => self.push("{:>6}", "id / 3"),
        }
    }
    fn push(&mut self, placeholder: &str, arg: &str) -> String {
        self.list.push(arg.to_owned());
        placeholder.to_owned()
    }
}

fn noun_phrase(rng: &mut Rng, d: &Domain) -> String {
    let mut s = String::new();
    if rng.chance(35) {
        s.push_str(rng.pick(&["the ", "a ", "this ", "every ", "one ", "the last ", "no "]));
    }
    if rng.chance(40) {
        s.push_str(rng.pick(d.adjectives));
        s.push(' ');
    }
    s.push_str(rng.pick(d.nouns));
    if rng.chance(20) {
        s.push_str(" of ");
        s.push_str(rng.pick(&["the ", "its ", "a ", ""]));
        s.push_str(rng.pick(d.nouns));
    }
    s
}

/// `min` to `min + spread - 1` key=value pairs.
fn kv(rng: &mut Rng, args: &mut Args, min: usize, spread: usize) -> String {
    let n = min + rng.below(spread);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str(rng.pick(&[" ", ", ", " "]));
        }
        s.push_str(rng.pick(KEYS));
        s.push('=');
        s.push_str(&args.any(rng));
    }
    s
}

fn tail(rng: &mut Rng, args: &mut Args, d: &Domain) -> String {
    match rng.below(12) {
        0 => format!(" ({})", kv(rng, args, 1, 3)),
        1 => format!(" {}", rng.pick(QUALIFIERS)),
        2 => format!(" after {} retries", args.number(rng)),
        3 => format!(" in {}{}", args.any(rng), rng.pick(TIME_UNITS)),
        4 => format!(": {}", rng.pick(ERRORS)),
        5 => format!(", {} left", args.number(rng)),
        6 => format!(" for {}", noun_phrase(rng, d)),
        7 => format!(" [{}]", kv(rng, args, 1, 2)),
        8 => format!(
            " because {} was {}",
            noun_phrase(rng, d),
            rng.pick(d.adjectives)
        ),
        9 => format!(" -> {}", rng.pick(STATES)),
        _ => String::new(),
    }
}

/// One sentence of the corpus, with its arguments.
fn sentence(rng: &mut Rng, d: &Domain) -> (String, Vec<String>) {
    let mut args = Args::new();
    let (verb, past, ing) = VERBS[rng.below(VERBS.len())];
    let mut s = match rng.below(14) {
        0 => format!("{} {} {}", noun_phrase(rng, d), past, args.any(rng)),
        1 => format!("{} {} {}", ing, noun_phrase(rng, d), args.any(rng)),
        2 => format!(
            "failed to {} {} {}: {}",
            verb,
            noun_phrase(rng, d),
            args.any(rng),
            rng.pick(ERRORS)
        ),
        3 => format!("{}: {}", noun_phrase(rng, d), kv(rng, &mut args, 2, 4)),
        4 => format!(
            "{} {} of {} {}",
            past,
            args.number(rng),
            args.number(rng),
            noun_phrase(rng, d)
        ),
        5 => format!(
            "{} {} -> {}",
            noun_phrase(rng, d),
            rng.pick(STATES),
            rng.pick(STATES)
        ),
        6 => format!(
            "no {} for {}, falling back to {}",
            noun_phrase(rng, d),
            args.any(rng),
            noun_phrase(rng, d)
        ),
        7 => format!(
            "will {} {} {}",
            verb,
            noun_phrase(rng, d),
            rng.pick(QUALIFIERS)
        ),
        8 => format!(
            "{} took {}{} (budget {}{})",
            ing,
            args.any(rng),
            rng.pick(TIME_UNITS),
            args.number(rng),
            rng.pick(TIME_UNITS)
        ),
        9 => format!("skip {}: already {}", noun_phrase(rng, d), past),
        10 => format!(
            "{} {} is {}, {} it",
            noun_phrase(rng, d),
            args.any(rng),
            rng.pick(d.adjectives),
            ing
        ),
        11 => format!("enter: {}", kv(rng, &mut args, 1, 3)),
        12 => format!(
            "{} \"{}\" with {}",
            past,
            args.any(rng),
            noun_phrase(rng, d)
        ),
        _ => format!(
            "{} {} {}",
            rng.pick(&[
                "could not",
                "refusing to",
                "about to",
                "trying to",
                "unable to"
            ]),
            verb,
            noun_phrase(rng, d)
        ),
    };
    s.push_str(&tail(rng, &mut args, d));
    if rng.chance(10) {
        s.push_str(&tail(rng, &mut args, d));
    }
    if rng.chance(2) {
        s.push_str("\\t(tab-separated)");
    }
    if rng.chance(3) {
        s.push_str(" {{literal braces}}");
    }
    if rng.chance(15) {
        // Capitalised, as half the world's log lines are.
        let mut c = s.chars();
        if let Some(first) = c.next() {
            s = first.to_uppercase().chain(c).collect();
        }
    }
    (s, args.list)
}

fn ident(words: &str) -> String {
    words
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn camel(words: &str) -> String {
    words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Escapes a format sentence into a Rust string literal body.
fn literal(s: &str) -> String {
    // The corpus writes `\t` already escaped; quotes need escaping.
    s.replace('"', "\\\"")
}

struct Counts {
    callsites: usize,
    modules: usize,
    functions: usize,
}

/// One callsite line.
fn callsite(rng: &mut Rng, d: &Domain, out: &mut String, indent: &str, counts: &mut Counts) {
    let (format, args) = sentence(rng, d);
    let class = if rng.chance(8) {
        format!("class = \"{}\", ", d.name.to_uppercase())
    } else {
        String::new()
    };
    let mut call = format!("{indent}pr_debug!({class}\"{}\"", literal(&format));
    for a in args {
        call.push_str(", ");
        call.push_str(&a);
    }
    call.push_str(");\n");
    out.push_str(&call);
    counts.callsites += 1;
}

const PARAMS: &str = "id: u64, name: &str, ratio: f64, ok: bool";

fn function(
    rng: &mut Rng,
    d: &Domain,
    out: &mut String,
    indent: &str,
    name: &str,
    sites: usize,
    counts: &mut Counts,
) {
    let _ = writeln!(out, "{indent}pub fn {name}({PARAMS}) {{");
    let inner = format!("{indent}    ");
    for i in 0..sites {
        if i == sites / 2 && rng.chance(20) {
            // A closure folds into its function's name.
            let _ = writeln!(out, "{inner}let step = |id: u64| {{");
            callsite(rng, d, out, &format!("{inner}    "), counts);
            let _ = writeln!(out, "{inner}}};\n{inner}step(id);");
        } else {
            callsite(rng, d, out, &inner, counts);
        }
    }
    let _ = writeln!(out, "{indent}}}");
    counts.functions += 1;
}

/// One generated file: a struct, free functions, methods, inner modules
/// and a trait impl. Returns the code and the path (from the file's module)
/// of its first free function.
fn file(rng: &mut Rng, d: &Domain, stem: &str, counts: &mut Counts) -> (String, Option<String>) {
    let mut code = String::from("use dyndbg::pr_debug;\n\n");
    counts.modules += 1;
    let ty = camel(rng.pick(d.nouns));
    let _ = writeln!(code, "pub struct {ty};\n");
    // Free functions, methods, an inner module or two, a trait impl.
    let fns = 8 + rng.below(5);
    let mut first_fn = None;
    for i in 0..fns {
        let (verb, _, _) = VERBS[rng.below(VERBS.len())];
        let name = format!("{}_{}_{i}", verb, ident(rng.pick(d.nouns)));
        let sites = 5 + rng.below(8);
        match i % 4 {
            0 | 1 => {
                function(rng, d, &mut code, "", &name, sites, counts);
                first_fn.get_or_insert(format!("{stem}::{name}"));
            }
            2 => {
                let _ = writeln!(code, "impl {ty} {{");
                function(rng, d, &mut code, "    ", &name, sites, counts);
                let _ = writeln!(code, "}}");
            }
            _ => {
                let m = format!("{}_{i}", ident(rng.pick(d.adjectives)));
                let _ = writeln!(code, "pub mod {m} {{\n    use dyndbg::pr_debug;");
                counts.modules += 1;
                function(rng, d, &mut code, "    ", &name, sites, counts);
                let _ = writeln!(code, "}}");
            }
        }
    }
    let _ = writeln!(
        code,
        "impl std::fmt::Display for {ty} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{"
    );
    let _ = writeln!(
        code,
        "        let (id, name, ratio, ok) = (7u64, \"x\", 0.5f64, true);"
    );
    for _ in 0..=rng.below(4) {
        callsite(rng, d, &mut code, "        ", counts);
    }
    counts.functions += 1;
    let _ = writeln!(code, "        f.write_str(\"{ty}\")\n    }}\n}}");
    (code, first_fn)
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let full = std::env::var("PROFILE").as_deref() == Ok("release");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let src = Path::new(&out_dir).join("src");
    let _ = std::fs::remove_dir_all(&src);
    // Debug: enough files that the body strings span ~70 pages. The
    // kernel maps up to 16 neighbouring pages of a file around each fault
    // (fault-around, 64 KiB), so with fewer pages every string page is
    // resident before anything reads it, and `pool_memory` could not see
    // what the pool saves (it failed in debug with 12 files, 20 pages).
    let files_wanted = if full { 240 } else { 48 };
    let mut rng = Rng(0x00d1_bd6b_0000_0001);
    let mut counts = Counts {
        callsites: 0,
        modules: 0,
        functions: 0,
    };
    let mut tree = String::new();
    let mut touch = String::new();
    let mut used = std::collections::HashSet::new();
    for f in 0..files_wanted {
        let d = &DOMAINS[f % DOMAINS.len()];
        // A file name from the domain's vocabulary, unique.
        let mut stem = ident(&format!(
            "{}_{}",
            rng.pick(d.nouns),
            rng.pick(&[
                "core", "io", "state", "table", "proto", "pool", "util", "policy", "driver",
                "codec", "manager", "queue"
            ])
        ));
        while !used.insert(format!("{}/{}", d.name, stem)) {
            stem = format!("{stem}{}", rng.below(10));
        }
        let dir = src.join(d.name);
        std::fs::create_dir_all(&dir).expect("create generated dir");
        let path = dir.join(format!("{stem}.rs"));
        let (code, first_fn) = file(&mut rng, d, &stem, &mut counts);
        std::fs::write(&path, code).expect("write generated file");
        let _ = writeln!(
            tree,
            "    #[path = {:?}]\n    pub mod {stem};",
            path.display().to_string()
        );
        if let Some(first) = first_fn {
            let _ = writeln!(touch, "    {}::{first}(1, \"touch\", 0.25, true);", d.name);
        }
    }
    // Group files by domain module.
    let mut by_domain = String::new();
    for d in DOMAINS {
        let members: Vec<&str> = tree
            .split_inclusive('\n')
            .collect::<Vec<_>>()
            .chunks(2)
            .filter(|pair| pair[0].contains(&format!("/src/{}/", d.name)))
            .flat_map(|pair| pair.iter().copied())
            .collect();
        if members.is_empty() {
            continue;
        }
        // The domain module holds files, no callsite: not counted.
        let _ = writeln!(by_domain, "pub mod {} {{", d.name);
        for line in members {
            by_domain.push_str(line);
        }
        let _ = writeln!(by_domain, "}}");
    }
    let mut generated = by_domain;
    let _ = writeln!(
        generated,
        "pub const CALLSITES: usize = {};",
        counts.callsites
    );
    let _ = writeln!(generated, "pub const FILES: usize = {files_wanted};");
    let _ = writeln!(generated, "pub const MODULES: usize = {};", counts.modules);
    let _ = writeln!(
        generated,
        "pub const FUNCTIONS: usize = {};",
        counts.functions
    );
    let first = touch.lines().next().unwrap_or_default().to_owned();
    let _ = writeln!(generated, "pub fn touch_all() {{\n{touch}}}");
    let _ = writeln!(generated, "pub fn touch_one() {{\n{first}\n}}");
    std::fs::write(Path::new(&out_dir).join("generated.rs"), generated)
        .expect("write generated.rs");
}
