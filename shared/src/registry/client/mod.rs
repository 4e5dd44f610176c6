//! The OCI distribution protocol: manifests and blobs over HTTP.
//!
//! A registry is a small HTTP API (the [OCI distribution spec]) over a
//! content-addressed store. A pull is three kinds of `GET`:
//!
//! ```text
//!   GET /v2/NAME/manifests/TAG-or-DIGEST   → an index (one manifest per platform)
//!                                            or a manifest (config + layers)
//!   GET /v2/NAME/manifests/DIGEST          → the manifest for our platform
//!   GET /v2/NAME/blobs/DIGEST              → the config, then every layer
//! ```
//!
//! Everything after the first request is named by its sha256 digest, so the
//! client never has to *trust* the registry, a mirror or a CDN: it hashes
//! what arrives and refuses what does not match. That is why a blob is
//! hashed *while* it streams to disk — a layer can be gigabytes and is never
//! held in memory — and why a blob whose digest does not match is deleted
//! instead of kept.
//!
//! The network fails in ordinary ways, and a pull should survive them:
//! a `5xx` or a reset connection is retried after 100, 400 and 1600 ms; a
//! blob cut off halfway is resumed with `Range: bytes=N-` instead of being
//! fetched again from byte 0.
//!
//! ```no_run
//! # fn main() -> berth::Result<()> {
//! use berth::registry::client::{Client, Options, Quiet};
//!
//! let mut client = Client::new("127.0.0.1:5000", &Options::default())?;
//! let image = client.resolve("busybox", "latest")?;
//! for layer in &image.layers {
//!     let digest = layer.digest().to_string();
//!     let partial = std::path::PathBuf::from(format!("/tmp/{}", digest.replace(':', "-")));
//!     client.blob_to_file("busybox", &digest, Some(layer.size()), &partial, &mut Quiet)?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [OCI distribution spec]: https://github.com/opencontainers/distribution-spec/blob/main/spec.md

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, Platform};

use super::auth::{Auth, Challenge};
use crate::image::digest::{Digest, Verifier};
use crate::{Error, Result};

mod download;
mod platform;
mod trace;

pub use platform::{choose_platform, host_platform, parse_platform, platform, platform_name};
use trace::{trace_request, trace_response};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (one manifest per platform).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's image manifest, "schema 2" — the OCI manifest's parent.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list — the OCI index's parent.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest or index accepted: they are small JSON documents,
/// and a server that sends more is broken or hostile.
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// How long to wait before each retry of a request that failed in a way
/// that may pass (a `5xx`, a reset connection): three retries, growing
/// fourfold, 2.1 s in all.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1600),
];

/// How a [`Client`] talks to a registry.
#[derive(Debug, Clone)]
pub struct Options {
    /// Registries (`host` or `host:port`) to reach over plain HTTP, as
    /// Docker's `insecure-registries`. Loopback hosts always are.
    pub insecure: Vec<String>,
    /// The one auth file to read credentials from, instead of the usual
    /// places (see [`auth_files`](super::auth::auth_files)).
    pub auth_file: Option<PathBuf>,
    /// The platform to choose from an index; `None` for this host's
    /// ([`host_platform`]).
    pub platform: Option<Platform>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Print each request and the registry's answer on standard error:
    /// the protocol as it happens (`pull --trace`, chapter 5).
    pub trace: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure: Vec::new(),
            auth_file: None,
            platform: None,
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
            trace: false,
        }
    }
}

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The document's bytes, exactly as received (their sha256 is the digest).
    pub bytes: Vec<u8>,
    /// Its media type (one of the four this client understands).
    pub media_type: String,
    /// `sha256:…` of `bytes`, checked against what was asked for.
    pub digest: String,
}

impl Fetched {
    /// Whether this is an index (OCI) or manifest list (Docker).
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_MANIFEST_LIST
    }
}

/// An image resolved to one platform: what a pull must download.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The digest of the index the tag pointed at, if it was one.
    pub index_digest: Option<String>,
    /// The digest of the platform's manifest: the image's identity.
    pub manifest_digest: String,
    /// The manifest's media type (OCI or Docker schema 2).
    pub manifest_media_type: String,
    /// The manifest's bytes, to store as they are.
    pub manifest_bytes: Vec<u8>,
    /// The manifest, parsed.
    pub manifest: ImageManifest,
    /// The image configuration's descriptor.
    pub config: Descriptor,
    /// The layers' descriptors, lowest first.
    pub layers: Vec<Descriptor>,
    /// The platform the image was resolved for.
    pub platform: Platform,
}

/// Told how a download is going. Implemented for closures
/// `FnMut(done, total)`; see [`progress_bar`](crate::image::cli::progress_bar)
/// for a terminal bar.
pub trait Progress {
    /// `done` bytes of `total` (if known) are on disk.
    fn update(&mut self, done: u64, total: Option<u64>);
    /// The download ended (successfully or not).
    fn finish(&mut self) {}
}

impl<F: FnMut(u64, Option<u64>)> Progress for F {
    fn update(&mut self, done: u64, total: Option<u64>) {
        self(done, total)
    }
}

/// A [`Progress`] that says nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: u64, _: Option<u64>) {}
}

/// A client for one registry.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    /// `http://host:port` or `https://host`.
    base: String,
    host: String,
    auth: Auth,
    platform: Option<Platform>,
    trace: bool,
}

/// Whether `host` (`name`, `name:port`, `[v6]:port`) is this machine:
/// `localhost`, 127.0.0.0/8 or `::1`. Only such hosts are spoken to over
/// plain HTTP without being listed as insecure.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or("")
    } else {
        host
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `registry_host` (`host[:port]`, as in an image
    /// reference; Docker Hub's API host is `registry-1.docker.io`).
    pub fn new(registry_host: &str, options: &Options) -> Result<Client> {
        if registry_host.is_empty() || registry_host.contains('/') {
            return Err(Error::Invalid(format!(
                "{registry_host:?} is not a registry host (host or host:port)"
            )));
        }
        let host_only = registry_host
            .rsplit_once(':')
            .map_or(registry_host, |(h, _)| h);
        let plain = is_loopback(registry_host)
            || options
                .insecure
                .iter()
                .any(|i| i == registry_host || i == host_only);
        let scheme = if plain { "http" } else { "https" };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are answers we handle (401 → auth, 404 → not found).
            .http_status_as_error(false)
            .user_agent(options.user_agent.as_str())
            // A layer is already compressed: ask for the bytes as they are,
            // so that what we hash is what the digest names.
            .accept_encoding("identity")
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Client {
            agent,
            base: format!("{scheme}://{registry_host}"),
            host: registry_host.to_string(),
            auth: Auth::new(registry_host, options.auth_file.as_deref())?.traced(options.trace),
            platform: options.platform.clone(),
            trace: options.trace,
        })
    }

    /// The registry's base URL (`https://host` or `http://host:port`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Send a GET, answering authentication challenges, retrying what may
    /// pass, and return the response whatever its status.
    ///
    /// Two challenges in a row for the same request mean the credentials
    /// or the fresh token were refused: that ends with an error rather than
    /// asking the token server forever.
    fn get(
        &mut self,
        path: &str,
        scope: &str,
        headers: &[(&str, String)],
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let url = format!("{}{path}", self.base);
        let mut answered = 0;
        let mut attempt = 0;
        loop {
            let mut request = self.agent.get(&url);
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            let authorization = self.auth.header(scope);
            if let Some(authorization) = &authorization {
                request = request.header("Authorization", authorization);
            }
            if self.trace {
                trace_request(path, headers, authorization.as_deref());
            }
            let response = match request.call() {
                Ok(response) => response,
                Err(e) if retryable(&e) && attempt < RETRY_DELAYS.len() => {
                    std::thread::sleep(RETRY_DELAYS[attempt]);
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Invalid(format!(
                        "GET {url}: {e}{}",
                        retried(attempt)
                    )))
                }
            };
            let status = response.status().as_u16();
            if self.trace {
                trace_response(&response);
            }
            if status == 401 {
                if answered == 2 {
                    return Err(self.auth.refused(scope));
                }
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(Challenge::parse)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "{}: 401 Unauthorized for {path} without a Basic or Bearer challenge",
                            self.host
                        ))
                    })?;
                if answered == 1 {
                    // The header we just sent was refused: a fresh token
                    // gets one more chance, then we stop.
                    self.auth.forget(scope);
                }
                self.auth.answer(&self.agent, &challenge, scope)?;
                answered += 1;
                continue;
            }
            if matches!(status, 429 | 500 | 502 | 503 | 504) && attempt < RETRY_DELAYS.len() {
                std::thread::sleep(RETRY_DELAYS[attempt]);
                attempt += 1;
                continue;
            }
            return Ok(response);
        }
    }

    /// Fetch the manifest or index `reference` (a tag or `sha256:` digest)
    /// of `repository`, check its digest, and return it as it came.
    pub fn manifest(&mut self, repository: &str, reference: &str) -> Result<Fetched> {
        let scope = format!("repository:{repository}:pull");
        let accept = [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let what = format!("{}/{repository}:{reference}", self.host);
        let mut response = self.get(
            &format!("/v2/{repository}/manifests/{reference}"),
            &scope,
            &[("Accept", accept)],
        )?;
        check_status(&mut response, &what, "manifest")?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
        };
        let content_type = header("content-type");
        let promised = header("docker-content-digest");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MANIFEST_LIMIT)
            .read_to_vec()
            .map_err(|e| Error::Invalid(format!("reading the manifest of {what}: {e}")))?;
        let digest = sha256_digest(&bytes);
        // By digest: the bytes must be what was asked for. By tag: what the
        // registry says it sent, when it says.
        let expected = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            promised
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(Error::DigestMismatch {
                    what: format!("the manifest of {what}"),
                    expected,
                    actual: digest,
                    bytes: bytes.len() as u64,
                });
            }
        }
        let media_type = media_type_of(content_type.as_deref(), &bytes);
        match media_type.as_str() {
            OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_MANIFEST_LIST => {}
            "application/vnd.docker.distribution.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v1+prettyjws" => {
                return Err(Error::Invalid(format!(
                    "{what} is a Docker schema 1 manifest, which is deprecated and not supported \
                     — push the image again with a current tool"
                )))
            }
            other => {
                return Err(Error::Invalid(format!(
                    "{what} has the media type {other:?}, which is not an image manifest or index \
                     (berth understands {OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST} and {DOCKER_MANIFEST_LIST})"
                )))
            }
        }
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// Resolve `reference` of `repository` to the manifest for the
    /// platform of [`Options::platform`] (this host's by default).
    pub fn resolve(&mut self, repository: &str, reference: &str) -> Result<ResolvedImage> {
        let platform = self.platform.clone().unwrap_or_else(host_platform);
        self.resolve_for(repository, reference, &platform)
    }

    /// Resolve `reference` of `repository` to the manifest for `platform`:
    /// through the index if the reference names one.
    pub fn resolve_for(
        &mut self,
        repository: &str,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage> {
        let mut fetched = self.manifest(repository, reference)?;
        let mut index_digest = None;
        if fetched.is_index() {
            let index: ImageIndex = serde_json::from_slice(&fetched.bytes).map_err(|e| {
                Error::Invalid(format!(
                    "the index of {repository}:{reference} is not valid: {e}"
                ))
            })?;
            let chosen = choose_platform(index.manifests(), platform).map_err(|available| {
                Error::Invalid(format!(
                    "{}/{repository}:{reference} has no image for {} (it has: {})",
                    self.host,
                    platform_name(platform),
                    available
                ))
            })?;
            let digest = chosen.digest().to_string();
            index_digest = Some(fetched.digest.clone());
            fetched = self.manifest(repository, &digest)?;
            if fetched.is_index() {
                return Err(Error::Invalid(format!(
                    "{repository}@{digest}: an index inside an index is not supported"
                )));
            }
        }
        let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes).map_err(|e| {
            Error::Invalid(format!(
                "the manifest {} of {repository} is not valid: {e}",
                fetched.digest
            ))
        })?;
        Ok(ResolvedImage {
            index_digest,
            manifest_digest: fetched.digest,
            manifest_media_type: fetched.media_type,
            manifest_bytes: fetched.bytes,
            config: manifest.config().clone(),
            layers: manifest.layers().clone(),
            platform: platform.clone(),
            manifest,
        })
    }

    /// Fetch a small blob (an image config) into memory, verified. Limited
    /// to [`MANIFEST_LIMIT`] bytes; use [`blob`](Self::blob) for layers.
    pub fn small_blob(&mut self, repository: &str, digest: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut limited = Limit(&mut bytes, MANIFEST_LIMIT);
        self.blob(repository, digest, None, &mut limited, &mut Quiet)?;
        Ok(bytes)
    }

    /// Stream the blob `digest` of `repository` into `out`, checking its
    /// sha256 (and its `size`, if given) on the way.
    ///
    /// A connection that breaks mid-way is resumed with a `Range` request;
    /// a server that ignores `Range` has its first bytes skipped. On a
    /// digest mismatch `out` has received bytes that must not be used: the
    /// caller discards them (see [`blob_to_file`](Self::blob_to_file)).
    pub fn blob(
        &mut self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        out: &mut dyn Write,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let expected = Digest::parse(digest)?;
        let mut sink = Verifier::new(out);
        let result = self.download(repository, digest, size, &mut sink, progress);
        progress.finish();
        result?;
        sink.finish(&expected, &format!("blob of {}/{repository}", self.host))?;
        Ok(())
    }

    /// Download the blob `digest` into the file `partial`, resuming from
    /// what is already there, and verify it.
    ///
    /// On success `partial` holds exactly the blob: the caller renames it
    /// to its final name (a rename is atomic, so a final name never holds
    /// anything unverified). On a digest mismatch `partial` is removed; on
    /// a network failure it is kept, so the next attempt resumes.
    pub fn blob_to_file(
        &mut self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        partial: &Path,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let expected = Digest::parse(digest)?;
        let what = format!("blob of {}/{repository}", self.host);
        let io_err = |e: io::Error| Error::io("downloading into", partial, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(partial)
            .map_err(io_err)?;
        // What an earlier attempt left: hash it, to carry on from there.
        let mut have = file.metadata().map_err(io_err)?.len();
        if size.is_some_and(|size| have > size) {
            file.set_len(0).map_err(io_err)?;
            have = 0;
        }
        // What is there already is hashed (read through a second handle),
        // not written again; the download appends the rest.
        let mut earlier = File::open(partial).map_err(io_err)?.take(have);
        let mut sink = Verifier::new(&mut file as &mut dyn Write);
        sink.absorb(&mut earlier).map_err(io_err)?;
        let result = if size == Some(have) && have > 0 {
            Ok(())
        } else {
            self.download(repository, digest, size, &mut sink, progress)
        };
        progress.finish();
        result?;
        match sink.finish(&expected, &what) {
            Ok(_) => file.sync_all().map_err(io_err),
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(partial);
                Err(e)
            }
        }
    }
}

/// A `Vec` that refuses to grow past a limit.
struct Limit<'a>(&'a mut Vec<u8>, u64);

impl Write for Limit<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() as u64 + buf.len() as u64 > self.1 {
            return Err(io::Error::other(format!("larger than {} bytes", self.1)));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `sha256:HEX` of `bytes` (see [`Digest::of_bytes`]).
pub fn sha256_digest(bytes: &[u8]) -> String {
    Digest::of_bytes(bytes).to_string()
}

pub(super) fn retried(attempt: usize) -> String {
    if attempt == 0 {
        String::new()
    } else {
        format!(" (after {} attempts)", attempt + 1)
    }
}

pub(super) fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_)
    )
}

pub(super) fn check_status(
    response: &mut ureq::http::Response<ureq::Body>,
    what: &str,
    kind: &str,
) -> Result<()> {
    let status = response.status().as_u16();
    if (200..=299).contains(&status) {
        return Ok(());
    }
    let message = match status {
        404 => format!("{what}: {kind} not found (404) — check the repository name and tag"),
        403 => format!("{what}: access denied (403) — your login lacks pull permission"),
        _ => format!("{what}: the registry answered {status} for the {kind}"),
    };
    // The body of an error, by the distribution specification:
    // {"errors": [{"code": "MANIFEST_UNKNOWN", "message": …}]}.
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(String::from));
    Err(Error::Registry {
        status,
        code,
        message,
    })
}

/// The media type of a manifest: the `Content-Type` header, or, when a
/// server sends a generic one, the document's own `mediaType` field.
pub(super) fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    match content_type {
        Some(t) if !t.is_empty() && t != "application/json" && t != "text/plain" => t.to_string(),
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_else(|| content_type.unwrap_or("(none)").to_string()),
    }
}

/// `sha256:HEX` of a file's contents, read as a stream (never whole; see
/// [`Digest::of_file`]).
pub fn sha256_file(path: &Path) -> Result<String> {
    Digest::of_file(path).map(|d| d.to_string())
}

#[cfg(test)]
mod tests;
