//! # berth: the library every rung of the ladder is built from
//!
//! A container is not a thing the kernel knows about. It is an ordinary
//! process that the runtime has set up with care: put in its own
//! *namespaces* (what it can see), its own *cgroup* (what it may use) and
//! its own *root filesystem* (which files exist). Each rung of the kit adds
//! one of those pieces, and each piece lives here in a module named for it.
//!
//! The modules appear in the order the book teaches them. Every rung turns
//! on the cargo feature of its own step (`step-01` … `step-08`), and each
//! feature turns on the one before it, so the library a rung compiles
//! against holds exactly what has been taught by then:
//!
//! | module | rung | chapter |
//! |---|---|---|
//! | [`ns`] namespaces, and the stages that set them up | 01 | 1 |
//! | [`clone`] clone3(2): fork with a list of namespaces | 01 | 1 |
//! | [`sync`] the handshake between the runtime and its child | 01 | 1 |
//! | [`container`] a container as a list of set-up stages | 01 | 1 |
//! | [`init`] what PID 1 owes the processes under it | 01 | 1 |
//! | [`mount`] private mount propagation and a fresh `/proc` | 01 | 1 |
//! | [`cli`] the command-line pieces rungs share | 01 | 1 |
//! | [`error`] the library's errors, and the exit statuses they become | 01 | 1 |
//! | [`warning`] warnings, handed to the binary instead of printed | 01 | 1 |
//! | [`cgroup`] cgroups v2 and v1: limits, joining, counters, removal | 02 | 2 |
//! | [`rootfs`] layers, overlayfs, /dev and /proc, pivot_root, volumes | 03 | 3 |
//! | [`unpack`] a tarball into a directory, with no way out of it | 03 | 3, 5 |
//! | [`dirs`] where state and data go: /run and /var/lib, or XDG for a user | 03 | 3 |
//! | [`oci`] bundles, config.json, the create/start/state/kill/delete lifecycle, runc's command line | 04 | 4 |
//! | [`net`] a network namespace's loopback (rung 07 adds the rest) | 04 | 4 |
//! | [`image`] references, digests, the content-addressed store, layers, bundles from images | 05 | 5 |
//! | [`registry`] the distribution protocol: manifests, blobs, tokens | 05 | 5 |
//! | [`userns`] user namespaces: ID maps, subordinate IDs, writing the maps | 06 | 6 |
//!
//! Rung 04 also adds to rung 01's set-up sequence (`container::lifecycle`,
//! `sync`'s round trips): what an OCI runtime needs and rung 01 does not.
//!
//! `cargo doc -p step-01 --open` shows this page as a learner at rung 01
//! sees it.

#[cfg(feature = "step-02")]
pub mod cgroup;
#[cfg(feature = "step-01")]
pub mod cli;
#[cfg(feature = "step-01")]
pub mod clone;
#[cfg(feature = "step-01")]
pub mod container;
#[cfg(feature = "step-03")]
pub mod dirs;
#[cfg(feature = "step-01")]
pub mod error;
#[cfg(feature = "step-05")]
pub mod image;
#[cfg(feature = "step-01")]
pub mod init;
#[cfg(feature = "step-01")]
pub mod mount;
#[cfg(feature = "step-04")]
pub mod net;
#[cfg(feature = "step-01")]
pub mod ns;
#[cfg(feature = "step-04")]
pub mod oci;
#[cfg(feature = "step-05")]
pub mod registry;
#[cfg(feature = "step-03")]
pub mod rootfs;
#[cfg(feature = "step-01")]
pub mod sync;
#[cfg(feature = "step-03")]
pub mod unpack;
#[cfg(feature = "step-06")]
pub mod userns;
#[cfg(feature = "step-01")]
pub mod warning;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "step-01")]
pub use error::{Error, Result};
