//! The registry client: the OCI distribution protocol over HTTP.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! - [`client`]: manifests and blobs, redirects, retries, resumes.
//! - [`auth`]: anonymous and credentialed access, Bearer tokens and Basic.

pub mod auth;
pub mod client;
