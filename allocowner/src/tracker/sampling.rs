//! Sampled mode: one allocation per `sample_bytes` bytes on average is
//! recorded, the others cost a per-thread counter decrement, as tcmalloc
//! samples. Each thread counts down the bytes it allocates; when the
//! count crosses zero the allocation that crossed it is sampled and a new
//! count is drawn from an exponential distribution of mean
//! `sample_bytes` (so sampling is a Poisson process over the bytes
//! allocated: an allocation of `s` bytes is sampled with probability
//! `1 - exp(-s / sample_bytes)`, whatever came before it), from a cheap
//! per-thread generator (splitmix64).
//!
//! A sampled allocation is recorded exactly, against the sampled twin of
//! its stack (the same frames, stored apart in the depot, so that a
//! record says by its handle whether it was sampled; see
//! `capture::sampled_twin`); reports scale it by the inverse of its
//! probability ([`crate::Snapshot::weight`]). A free learns whether its
//! block has a record from the table's filter (`table::filter`).

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};

/// The mean bytes between samples while sampled; also the period the
/// sampled records were taken at (kept when exact again, until `stop`),
/// 0 if none.
static PERIOD: AtomicU64 = AtomicU64::new(0);
/// Mixed into each thread's generator seed.
static SEED: AtomicU64 = AtomicU64::new(0);
static THREADS: AtomicU64 = AtomicU64::new(0);

struct Sampler {
    /// Bytes left before the next sample (at most 0: sample now).
    left: Cell<isize>,
    /// splitmix64 state; 0: not seeded yet.
    rng: Cell<u64>,
}

thread_local! {
    // Destructor-free, so usable while the thread's TLS is torn down.
    static SAMPLER: Sampler = const {
        Sampler { left: Cell::new(0), rng: Cell::new(0) }
    };
}

/// Sets the period (under the tracker's enable lock); 0 forgets it (stop).
pub(crate) fn set_period(sample_bytes: u64) {
    if SEED.load(Ordering::Relaxed) == 0 {
        // Relaxed: a seed, read by threads that start to sample later.
        SEED.store(
            (crate::sys::now_ns() ^ (u64::from(std::process::id()) << 32)) | 1,
            Ordering::Relaxed,
        );
    }
    // Relaxed: read by the sampling slow path; a thread may finish the
    // interval it drew with the old period.
    PERIOD.store(sample_bytes, Ordering::Relaxed);
}

/// The period of the sampled records, 0 if there are none.
pub(crate) fn period() -> u64 {
    // Relaxed: see `set_period`.
    PERIOD.load(Ordering::Relaxed)
}

/// Counts `size` bytes off the thread's interval; true if it crossed zero
/// (then [`crossed`] says whether to sample). The sampled mode's fast
/// path: a load, a subtract and a store.
#[inline(always)]
pub(crate) fn take(size: usize) -> bool {
    SAMPLER
        .try_with(|s| {
            let left = s.left.get().wrapping_sub(size.cast_signed());
            s.left.set(left);
            left <= 0
        })
        .unwrap_or(false)
}

/// After [`take`] returned true for `size` bytes: whether to sample this
/// allocation. A thread's first call seeds its generator and draws its
/// first interval (then `size` counts against that). Never allocates.
#[cold]
#[inline(never)]
pub(crate) fn crossed(size: usize) -> bool {
    SAMPLER
        .try_with(|s| {
            let mut rng = s.rng.get();
            if rng == 0 {
                // Relaxed: a seed and a counter.
                let n = THREADS.fetch_add(1, Ordering::Relaxed);
                rng =
                    splitmix(&mut (SEED.load(Ordering::Relaxed) ^ n.wrapping_mul(0x9e37_79b9))) | 1;
                let left = draw(&mut rng).wrapping_sub(size.cast_signed());
                s.rng.set(rng);
                s.left.set(left);
                return left <= 0;
            }
            s.left.set(draw(&mut rng));
            s.rng.set(rng);
            true
        })
        .unwrap_or(false)
}

/// splitmix64: the next output of the generator at `state`.
#[inline]
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An interval in bytes, exponential with mean [`period`], at least 1.
fn draw(rng: &mut u64) -> isize {
    let mean = period().max(1) as f64;
    // A uniform in (0, 1]: 53 random bits, never 0.
    let u = ((splitmix(rng) >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
    let x = -u.ln() * mean;
    // Capped far beyond any allocation (and `as` saturates).
    #[expect(clippy::cast_possible_truncation, reason = "capped below isize::MAX")]
    let bytes = x.min(9.0e18) as isize;
    bytes.max(1)
}

/// The probability that an allocation of `size` bytes is sampled at
/// period `sample_bytes`: `1 - exp(-size / sample_bytes)`.
pub(crate) fn probability(size: u64, sample_bytes: u64) -> f64 {
    if sample_bytes == 0 {
        return 1.0;
    }
    -(-(size.max(1) as f64) / sample_bytes as f64).exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_average_the_period() {
        set_period(4096);
        let mut rng = 12345u64;
        let n = 200_000;
        let sum: isize = (0..n).map(|_| draw(&mut rng)).sum();
        let mean = sum as f64 / f64::from(n);
        assert!((mean - 4096.0).abs() < 4096.0 * 0.02, "mean {mean}");
    }

    #[test]
    fn probabilities() {
        assert!((probability(1 << 20, 1 << 19) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        assert!((probability(1, 1 << 19) - 1.0 / f64::from(1 << 19)).abs() < 1e-9);
        assert!((probability(10, 0) - 1.0).abs() < f64::EPSILON);
    }
}
