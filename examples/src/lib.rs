//! Runnable programs a new user starts with: `examples/demo/` is the README's demo.
