//! Container images: what a registry serves and a runtime runs.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! An image is a handful of JSON documents and a stack of tarballs, every
//! one of them named by the sha256 of its bytes (its **digest**):
//!
//! ```text
//!   index (optional)          one manifest per platform
//!     └─ manifest             the config and the layers, by digest
//!          ├─ config          Entrypoint, Cmd, Env, WorkingDir, User…
//!          └─ layers          tarballs of files, lowest first
//! ```
//!
//! - [`reference`](mod@reference): `busybox` → `docker.io/library/busybox:latest`.
//! - [`bundle`]: a pulled image as an OCI bundle for rung 04.
//! - [`cli`]: the image verbs rung 05 adds to runc's (`pull`, `images`,
//!   `rmi`, `run-image`).
//! - [`digest`]: sha256 digests, checked while the bytes stream past.
//! - [`pull`]: a registry into the store: manifest, blobs, layers, name.
//! - [`store`]: the content-addressed store on disk.
//!
//! Layers are unpacked by rung 03's [`crate::unpack`], with what layers
//! add in [`crate::unpack::layer`]: the media type, the `diff_id` check,
//! an atomic unpack.

pub mod bundle;
pub mod cli;
pub mod digest;
pub mod pull;
pub mod reference;
pub mod store;
