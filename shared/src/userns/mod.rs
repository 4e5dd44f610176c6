//! User namespaces: a container whose root is an ordinary user outside.
//!
//! Introduced by rung 06; chapter 6 explains it.
//!
//! A user namespace has its own user and group IDs. A process in it can be
//! uid 0 — with every capability, *over the namespaces this one owns* —
//! while the kernel, everywhere outside, sees an unprivileged uid. Which
//! inside ID is which outside ID is the namespace's **map**
//! (`/proc/PID/uid_map`, `/proc/PID/gid_map`): lines of `INSIDE OUTSIDE
//! COUNT`, written once, by a process that is allowed to.
//!
//! - [`map`]: the map type, its text format, and what makes a map valid.
//! - [`subid`]: `/etc/subuid` and `/etc/subgid`, the ranges of IDs an
//!   unprivileged user may map besides its own.
//! - [`stage`]: the set-up stage that has the runtime write the child's
//!   maps — itself, for a single mapping of its own IDs, or through the
//!   setuid helpers `newuidmap`/`newgidmap` for a whole range — in a round
//!   trip, while the child waits, dumpable for just that long.

pub mod map;
pub mod stage;
pub mod subid;

pub use map::IdMap;
pub use stage::UserNamespace;
