//! Networking: what a container's network namespace holds.
//!
//! Introduced by rung 04 with one piece, [`loopback`]: a new network
//! namespace starts with its `lo` down, and an OCI runtime brings it up.
//! Rung 07 adds the rest here — a veth pair, pasta, published ports —
//! and chapter 7 explains it.

pub mod loopback;
