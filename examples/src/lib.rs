//! Runnable programs a new user starts with: see `examples/`.
