//! The kit's end-to-end tests. This crate has no library code of its own:
//! see `tests/book.rs` (the book's terminal sessions, run for real) and
//! `tests/setup.rs`, which runs the probes in `src/bin/` (small programs
//! that drive the library's set-up sequence directly).
