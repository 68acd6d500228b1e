//! # The kernel's errors and quirks, and what dyndbg does
//!
//! (table to be written with the query language)
