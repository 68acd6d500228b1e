//! The harness shared by the side-by-side benchmarks in `benches/`.
//!
//! [`compare`] runs every case of a table interleaved, round after round, so
//! the noise of this machine (2 shared cores) falls on all cases alike, and
//! prints the median time per operation with its ratio to the first case.
//! When `valgrind` is installed it also re-runs the bench binary under
//! Callgrind once per case, twice (0 and N iterations, each after one warm-up
//! iteration), and prints the instructions per operation: a count that does
//! not depend on the load of the machine. Set `BENCH_NO_CALLGRIND=1` to skip
//! that part.

pub mod alloc_work;
pub mod real_programs;

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

/// One variant of a table: a closure that performs the operation `iters`
/// times, and optionally what sets the variant up before each round and
/// tears it down after, outside the timed part.
pub struct Case<'a> {
    name: String,
    run: Box<dyn FnMut(u64) + 'a>,
    enter: Option<Box<dyn FnMut() + 'a>>,
    leave: Option<Box<dyn FnMut() + 'a>>,
}

impl std::fmt::Debug for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a> Case<'a> {
    /// A case named `name`; `run(iters)` performs the operation `iters` times.
    pub fn new(name: impl Into<String>, run: impl FnMut(u64) + 'a) -> Case<'a> {
        Case {
            name: name.into(),
            run: Box::new(run),
            enter: None,
            leave: None,
        }
    }

    /// Runs `enter` before each round of the case and `leave` after it,
    /// outside the timed part (and outside the instruction count, where the
    /// two runs of 0 and N iterations cancel them out anyway).
    #[must_use]
    pub fn around(mut self, enter: impl FnMut() + 'a, leave: impl FnMut() + 'a) -> Case<'a> {
        self.enter = Some(Box::new(enter));
        self.leave = Some(Box::new(leave));
        self
    }

    /// One round of `iters` iterations: its wall-clock time.
    fn round(&mut self, iters: u64) -> Duration {
        if let Some(enter) = &mut self.enter {
            enter();
        }
        let start = Instant::now();
        (self.run)(iters);
        let took = start.elapsed();
        if let Some(leave) = &mut self.leave {
            leave();
        }
        took
    }
}

/// The environment variable that tells a child run which case to execute
/// (`title/index/iters`) under Callgrind.
const CHILD_VAR: &str = "BENCH_CALLGRIND_CASE";

/// Wall-clock time per round of each case.
const ROUND_TARGET: Duration = Duration::from_millis(20);
const ROUNDS: usize = 15;

/// The figures of one case.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The case's name.
    pub name: String,
    /// Median nanoseconds per operation over the interleaved rounds.
    pub ns_per_op: f64,
    /// Instructions per operation under Callgrind, when measured.
    pub instructions_per_op: Option<f64>,
}

/// Runs the cases of one table and prints it; the first case is the
/// baseline of the ratios. Returns the figures.
pub fn compare(title: &str, cases: &mut [Case<'_>]) -> Vec<Figures> {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        run_child(title, cases, &spec);
        return Vec::new();
    }
    let iters: Vec<u64> = cases.iter_mut().map(calibrate).collect();
    let mut samples = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for (i, case) in cases.iter_mut().enumerate() {
            let took = case.round(iters[i]);
            samples[i].push(took.as_secs_f64() * 1e9 / iters[i] as f64);
        }
    }
    let callgrind = callgrind_available();
    let figures: Vec<Figures> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let ns = median(&mut samples[i]);
            let instructions_per_op = callgrind.then(|| instructions(title, i, ns)).flatten();
            Figures {
                name: case.name.clone(),
                ns_per_op: ns,
                instructions_per_op,
            }
        })
        .collect();
    print!("{}", table(title, &figures));
    figures
}

/// The printed table.
fn table(title: &str, figures: &[Figures]) -> String {
    let mut out = format!("\n## {title}\n\n");
    let width = figures
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "| {:width$} | {:>12} | {:>8} | {:>12} | {:>8} |",
        "case", "ns/op", "ratio", "instr/op", "ratio"
    );
    let _ = writeln!(
        out,
        "|{}|{}|{}|{}|{}|",
        "-".repeat(width + 2),
        "-".repeat(14),
        "-".repeat(10),
        "-".repeat(14),
        "-".repeat(10)
    );
    let base = &figures[0];
    for f in figures {
        let (instr, instr_ratio) = match (f.instructions_per_op, base.instructions_per_op) {
            (Some(i), Some(b)) if b > 0.0 => (format!("{i:.1}"), format!("{:.2}x", i / b)),
            (Some(i), _) => (format!("{i:.1}"), "-".to_owned()),
            _ => ("-".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {:width$} | {:>12.2} | {:>7.2}x | {:>12} | {:>8} |",
            f.name,
            f.ns_per_op,
            f.ns_per_op / base.ns_per_op,
            instr,
            instr_ratio
        );
    }
    out
}

/// Iterations that make one round last about `ROUND_TARGET`.
fn calibrate(case: &mut Case<'_>) -> u64 {
    let mut iters = 1u64;
    loop {
        let took = case.round(iters);
        if took >= ROUND_TARGET / 4 || iters >= 1 << 32 {
            let per_op = took.as_secs_f64() / iters as f64;
            return ((ROUND_TARGET.as_secs_f64() / per_op.max(1e-12)) as u64).max(1);
        }
        iters *= 4;
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn callgrind_available() -> bool {
    std::env::var_os("BENCH_NO_CALLGRIND").is_none()
        && Command::new("valgrind")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Instructions per operation: two Callgrind runs of this binary executing
/// only case `index` of `title`, one warm-up iteration and then 0 or N
/// iterations; the difference over N leaves out start-up, set-up and what
/// a first iteration alone pays (caches filled, tables grown): a steady
/// state, as the wall-clock rounds measure after calibration.
fn instructions(title: &str, index: usize, ns_per_op: f64) -> Option<f64> {
    // About 5 ms of native work: half a second or so under Callgrind.
    let n = ((5e6 / ns_per_op.max(0.1)) as u64).clamp(1, 1_000_000);
    let zero = callgrind_run(title, index, 0)?;
    let full = callgrind_run(title, index, n)?;
    Some(full.saturating_sub(zero) as f64 / n as f64)
}

fn callgrind_run(title: &str, index: usize, iters: u64) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .env(CHILD_VAR, format!("{title}\u{1f}{index}\u{1f}{iters}"))
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

fn run_child(title: &str, cases: &mut [Case<'_>], spec: &str) {
    let mut parts = spec.split('\u{1f}');
    let (Some(t), Some(i), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if t != title {
        return;
    }
    let (Ok(i), Ok(n)) = (i.parse::<usize>(), n.parse::<u64>()) else {
        return;
    };
    if let Some(case) = cases.get_mut(i) {
        case.round(black_box(1));
        case.round(black_box(n));
    }
}
