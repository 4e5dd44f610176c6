//! The registry client: the OCI distribution protocol over HTTP.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! - [`client`]: manifests and blobs — an index resolved to one platform,
//!   every byte checked against its sha256 digest while it streams, retries
//!   with backoff, resumed downloads, plain HTTP only for this machine.
//! - [`auth`]: anonymous and credentialed access, Bearer tokens and Basic,
//!   credentials from Docker's and Podman's auth files.
//! - [`local`]: a registry of your own on 127.0.0.1 and the kit's images,
//!   for the demo, `just registry` and the tests.
//!
//! The API takes plain strings (a registry host, a repository, a tag or
//! digest) so it does not depend on how a reference was parsed.

pub mod auth;
pub mod client;
pub mod local;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
