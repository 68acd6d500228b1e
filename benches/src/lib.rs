//! Side-by-side benchmarks of dyndbg against its peers.
