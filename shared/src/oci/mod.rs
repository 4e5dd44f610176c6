//! The OCI runtime specification: bundles, `config.json`, and the
//! create / start / state / kill / delete lifecycle.
//!
//! Introduced by rung 04; chapter 4 explains it.
//!
//! Rungs 01 to 03 took their orders from command-line flags. Real container
//! engines (Docker, Podman, containerd) do not call a runtime that way: they
//! write a **bundle** — a directory with the root filesystem and a
//! `config.json` describing everything else — and drive the runtime through
//! the verbs of the [OCI runtime specification], with runc's command line.
//! Speaking that contract is what lets an engine swap runc for another
//! runtime.
//!
//! The verbs form a small state machine. `create` sets the container up —
//! namespaces, cgroup, mounts, `pivot_root` — and leaves its process blocked
//! *just before* it runs the user's program; `start` releases it; `state`
//! reports where it is; `kill` signals it; `delete` removes what is left.
//! Create and start are separate so that an engine can do things between
//! them: attach networking to the new namespaces, say, before the program
//! runs.
//!
//! ```text
//!            create            start            (the program exits)
//!   (none) ─────────▶ created ───────▶ running ─────────────────▶ stopped
//!                        │                                           │
//!                        └──── kill / delete --force ────────────────┤
//!                                                          delete    ▼
//!                                                                  (none)
//! ```
//!
//! The runtime itself does not stay around: every verb is a separate run
//! of it. What one run knows, the next learns from the **state directory**
//! ([`state`]), one per container under the runtime's `--root`.
//!
//! [OCI runtime specification]: https://github.com/opencontainers/runtime-spec

pub mod bundle;
pub mod cli;
pub mod create;
pub mod delete;
pub mod exec;
pub mod generate;
pub mod hooks;
pub mod inroot;
pub mod kill;
pub mod mounts;
pub mod process;
pub mod resources;
pub mod run;
pub mod scheduling;
pub mod seccomp;
pub mod start;
pub mod state;
pub mod tty;

pub use bundle::Bundle;
pub use state::{State, Status, Store};
