//! The kit's end-to-end tests. This crate has no library code of its own:
//! see `tests/book.rs` (the book's terminal sessions, run for real).
