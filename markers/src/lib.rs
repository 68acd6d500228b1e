//! Static marker sites with typed probes connected at runtime, after the
//! kernel's markers with several probes per site (seed 002).
//!
//! Not built yet: this crate will hold `marker!`, `connect`, `disconnect`
//! and `list`.
