//! Fuzzes the `ALLOCOWNER_ACCESS` control-string parser
//! (`"<buffer_len> <path>"`, DAMON's `record` file) with the properties of
//! `allocowner::fuzzing::check_access_control`: no panic; a setting is
//! within DAMON's bounds (buffer_len 0 or 1024..=4 MiB, path shorter than
//! 256 bytes, no whitespace or NUL), is the input's two words, and reads
//! back to itself; an error is EINVAL, one line, and names the value.
//!
//! The environment gives the constructor a `String` (`std::env::var`), so
//! inputs that are not UTF-8 are skipped here.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        allocowner::fuzzing::check_access_control(value);
    }
});
