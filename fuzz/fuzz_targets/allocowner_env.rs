//! Fuzzes the `ALLOCOWNER` option parser: every input is parsed as a whole
//! `ALLOCOWNER` value (what the first allocation reads) and as
//! `allocowner::enable_with` options, and the properties of
//! `allocowner::fuzzing::check_allocowner` are checked: no panic; an error
//! is one line that quotes the offending option (a piece of the input);
//! parsed options are within their bounds (depth 1..=64, sample >= 1,
//! depot_cap 16 KiB..=1 TiB, report path 1..=255 bytes) and parse back to
//! themselves once written out; `on,` + options parses as the options do.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    allocowner::fuzzing::check_allocowner(data);
});
