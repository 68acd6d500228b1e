//! Real programs from crates.io, for the allocator benches: the jq clone
//! jaq (`jaq-core`, `jaq-json`) running a filter over generated JSON, and
//! `syn` parsing a generated Rust file and printing it back with `quote`.
//! Both allocate on every step, from deep, recursive call stacks (a jq
//! filter's evaluation, a recursive-descent parser). Each returns a digest
//! of its output, so that a run under another allocator can be checked to
//! produce the same output.
//!
//! Run by `examples/real_program.rs` (with `OwnerAlloc` in the global
//! allocator slot) and `examples/real_program_system.rs` (with `System`);
//! `benches/real_programs.sh` compares them.

use std::fmt::Write as _;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

/// What a program printed: its length and FNV-1a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Bytes of output.
    pub len: usize,
    /// FNV-1a 64 of the output.
    pub fnv: u64,
}

impl Digest {
    fn of(bytes: &[u8]) -> Digest {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Digest {
            len: bytes.len(),
            fnv: h,
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, fnv {:016x}", self.len, self.fnv)
    }
}

/// A deterministic xorshift generator for the inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// A JSON array of about `bytes` bytes: orders with items, tags and a
/// nested tree each.
#[must_use]
pub fn jaq_input(bytes: usize) -> String {
    fn tree(out: &mut String, rng: &mut Rng, depth: u32) {
        if depth == 0 || rng.next(4) == 0 {
            let _ = write!(out, "{}", rng.next(1000));
            return;
        }
        if rng.next(2) == 0 {
            out.push('[');
            for i in 0..=rng.next(3) {
                if i > 0 {
                    out.push(',');
                }
                tree(out, rng, depth - 1);
            }
            out.push(']');
        } else {
            out.push('{');
            for i in 0..=rng.next(3) {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"k{i}\":");
                tree(out, rng, depth - 1);
            }
            out.push('}');
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(bytes + 4096);
    out.push('[');
    let mut id = 0;
    while out.len() < bytes {
        if id > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{id},\"name\":\"customer-{}\",\"tags\":[",
            rng.next(10_000)
        );
        for t in 0..rng.next(5) {
            if t > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"tag{}\"", rng.next(50));
        }
        out.push_str("],\"items\":[");
        for i in 0..=rng.next(6) {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"sku\":\"sku-{}\",\"price\":{}.{:02},\"qty\":{}}}",
                rng.next(100_000),
                rng.next(500),
                rng.next(100),
                1 + rng.next(9)
            );
        }
        out.push_str("],\"tree\":");
        tree(&mut out, &mut rng, 6);
        out.push('}');
        id += 1;
    }
    out.push(']');
    out
}

/// The jq program: per order, totals, a recursive depth and the numbers
/// in its tree; then sorted, filtered and summed.
pub const JAQ_FILTER: &str = r#"
def add: reduce .[] as $x (0; . + $x);
def maxof: reduce .[] as $x (0; if $x > . then $x else . end);
# arrays and objects sort after everything else; numbers after booleans
# and before strings (jq's order, without jaq-std's `type`)
def depth: if . >= [] then 1 + ([.[] | depth] | maxof) else 0 end;
[ .[]
  | { id,
      name: (.name + "/" + (.tags | join(","))),
      total: ([.items[] | .price * .qty] | add),
      skus: [.items[] | .sku] | sort,
      depth: (.tree | depth),
      leaves: [.tree | .. | select(. > true and . < "")] }
  | .sum = (.leaves | add) ]
| sort_by(.total)
| map(select(.depth > 1))
| { n: length, sum: (map(.sum) | add), top: .[-3:], by_depth: (group_by(.depth) | map(length)) }
"#;

/// Runs [`JAQ_FILTER`] over `input` (JSON text) with jaq; returns the
/// digest of its output, one value per line.
///
/// # Panics
/// If the input is not JSON or the filter fails (neither happens with
/// [`jaq_input`] and [`JAQ_FILTER`]).
#[inline(never)]
#[must_use]
pub fn jaq(input: &str) -> Digest {
    let input = jaq_json::read::parse_single(input.as_bytes()).expect("JSON input");
    let program = File {
        code: JAQ_FILTER,
        path: (),
    };
    let loader = Loader::new(jaq_core::defs());
    let arena = Arena::default();
    let modules = loader.load(&arena, program).expect("jq program");
    let filter = Compiler::default()
        .with_funs(
            jaq_core::funs()
                .chain(jaq_std::base_funs())
                .chain(jaq_json::funs()),
        )
        .compile(modules)
        .expect("jq program compiles");
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = String::new();
    for v in filter.id.run((ctx, input)).map(unwrap_valr) {
        let _ = writeln!(out, "{}", v.expect("jq filter runs"));
    }
    Digest::of(out.as_bytes())
}

/// A Rust source file of about `bytes` bytes: structs, enums and impls
/// whose methods nest expressions, matches and closures.
#[must_use]
pub fn syn_input(bytes: usize) -> String {
    fn expr(out: &mut String, rng: &mut Rng, depth: u32) {
        if depth == 0 {
            let _ = write!(out, "x{}", rng.next(4));
            return;
        }
        match rng.next(6) {
            0 => {
                let _ = write!(out, "f{}(", rng.next(20));
                expr(out, rng, depth - 1);
                out.push_str(", ");
                expr(out, rng, depth - 1);
                out.push(')');
            }
            1 => {
                out.push('(');
                expr(out, rng, depth - 1);
                out.push_str(" + ");
                expr(out, rng, depth - 1);
                out.push_str(") * 2");
            }
            2 => {
                out.push_str("if ");
                expr(out, rng, depth - 1);
                out.push_str(" > 3 { ");
                expr(out, rng, depth - 1);
                out.push_str(" } else { ");
                expr(out, rng, depth - 1);
                out.push_str(" }");
            }
            3 => {
                out.push_str("match ");
                expr(out, rng, depth - 1);
                out.push_str(" { 0 => 1, n if n > 9 => ");
                expr(out, rng, depth - 1);
                out.push_str(", _ => 3 }");
            }
            4 => {
                out.push_str("v.iter().map(|x0| ");
                expr(out, rng, depth - 1);
                out.push_str(").sum::<u64>()");
            }
            _ => {
                let _ = write!(out, "self.field{}", rng.next(8));
            }
        }
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = String::with_capacity(bytes + 4096);
    let mut n = 0;
    while out.len() < bytes {
        let _ = writeln!(
            out,
            "/// Item {n}.\n#[derive(Clone, Debug)]\npub struct S{n} {{"
        );
        for f in 0..8 {
            let _ = writeln!(out, "    pub field{f}: u64,");
        }
        let _ = writeln!(
            out,
            "}}\npub enum E{n} {{ A(u64), B {{ x: u64, y: Vec<u64> }}, C }}"
        );
        let _ = writeln!(out, "impl S{n} {{");
        for m in 0..4 {
            let _ = write!(
                out,
                "    pub fn m{m}(&self, x0: u64, x1: u64, x2: u64, x3: u64, v: &[u64]) -> u64 {{\n        let y = "
            );
            expr(&mut out, &mut rng, 6);
            out.push_str(";\n        y + ");
            expr(&mut out, &mut rng, 4);
            out.push_str("\n    }\n");
        }
        out.push_str("}\n");
        n += 1;
    }
    out
}

/// Parses `source` with `syn` (every item, expression and token kept in
/// its syntax tree) and prints it back with `quote`; returns the digest
/// of the printed tokens.
///
/// # Panics
/// If `source` does not parse ([`syn_input`]'s does).
#[inline(never)]
#[must_use]
pub fn syn(source: &str) -> Digest {
    let file = syn::parse_file(source).expect("the generated source parses");
    let printed = quote::ToTokens::to_token_stream(&file).to_string();
    Digest::of(printed.as_bytes())
}

/// Runs program `name` (`jaq` or `syn`) once on `input`.
///
/// # Panics
/// On an unknown name.
#[must_use]
pub fn run(name: &str, input: &str) -> Digest {
    match name {
        "jaq" => jaq(input),
        "syn" => syn(input),
        other => panic!("PROGRAM={other}: expected jaq or syn"),
    }
}

/// The input of program `name`, of about `bytes` bytes.
///
/// # Panics
/// On an unknown name.
#[must_use]
pub fn input(name: &str, bytes: usize) -> String {
    match name {
        "jaq" => jaq_input(bytes),
        "syn" => syn_input(bytes),
        other => panic!("PROGRAM={other}: expected jaq or syn"),
    }
}

/// The whole run of an example: `PROGRAM` (`jaq` or `syn`) on an input of
/// `SIZE` bytes (default 4000000), once to warm up, then `ITERS` times
/// (default 1; `ZERO=1`: none, for Callgrind's difference), printing the
/// output's digest.
///
/// # Panics
/// On a bad `PROGRAM`, `SIZE` or `ITERS`.
pub fn main_of_example() {
    let program = std::env::var("PROGRAM").unwrap_or_else(|_| "jaq".to_owned());
    let size: usize = std::env::var("SIZE").map_or(4_000_000, |v| v.parse().expect("SIZE"));
    let iters: usize = std::env::var("ITERS").map_or(1, |v| v.parse().expect("ITERS"));
    let threads: usize = std::env::var("THREADS").map_or(1, |v| v.parse().expect("THREADS"));
    let input = input(&program, size);
    let digest = run(&program, &input);
    let measured = || {
        for _ in 0..iters {
            assert_eq!(run(&program, &input), digest, "same output every run");
        }
    };
    if std::env::var_os("ZERO").is_none() {
        if threads <= 1 {
            measured();
        } else {
            // The measured iterations on `threads` threads at once, each
            // over the same input (the warm-up above ran on this one).
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(measured);
                }
            });
        }
    }
    println!("{program}: {digest}");
}
