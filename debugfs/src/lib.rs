//! The process's own debugfs.
