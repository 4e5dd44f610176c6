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
//! use berth::registry::client::{progress_bar, Client, Options};
//!
//! let mut client = Client::new("127.0.0.1:5000", &Options::default())?;
//! let image = client.resolve("busybox", "latest")?;
//! for layer in &image.layers {
//!     let digest = layer.digest().to_string();
//!     let mut bar = progress_bar(&digest, Some(layer.size()));
//!     let partial = std::path::PathBuf::from(format!("/tmp/{}", digest.replace(':', "-")));
//!     client.blob_to_file("busybox", &digest, Some(layer.size()), &partial, &mut *bar)?;
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

use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, Os, Platform, PlatformBuilder};

use super::auth::{Auth, Challenge};
use crate::image::digest::{Digest, Verifier};
use crate::{Error, Result};

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
/// `FnMut(done, total)`; see [`progress_bar`] for a terminal bar.
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

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn update(&mut self, done: u64, total: Option<u64>) {
        if let Some(total) = total {
            self.0.set_length(total);
        }
        self.0.set_position(done);
    }
    fn finish(&mut self) {
        self.0.finish();
    }
}

/// A progress bar named `name` on stderr if stderr is a terminal, and
/// [`Quiet`] otherwise — so logs and tests are not filled with escape codes.
pub fn progress_bar(name: &str, total: Option<u64>) -> Box<dyn Progress> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return Box::new(Quiet);
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let short = name.strip_prefix("sha256:").unwrap_or(name);
    bar.set_message(short.chars().take(19).collect::<String>());
    Box::new(Bar(bar))
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

    // ANCHOR: streaming_download
    /// The download loop: GET (with `Range` once something arrived), copy
    /// the body into `sink` chunk by chunk, and on a broken connection or a
    /// `5xx` wait and go again from where it stopped.
    fn download(
        &mut self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        sink: &mut Verifier<&mut dyn Write>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let scope = format!("repository:{repository}:pull");
        let what = format!("blob {digest} of {}/{repository}", self.host);
        let path = format!("/v2/{repository}/blobs/{digest}");
        let mut attempt = 0;
        let mut buffer = vec![0u8; 128 * 1024];
        loop {
            let have = sink.bytes();
            let mut headers = Vec::new();
            if have > 0 {
                headers.push(("Range", format!("bytes={have}-")));
            }
            let mut response = self.get(&path, &scope, &headers)?;
            let status = response.status().as_u16();
            // 206: the rest, appended. 200: the whole blob again, so skip
            // what we already have.
            let mut skip = match status {
                206 => 0,
                200 => have,
                416 => {
                    return Err(Error::Invalid(format!(
                        "{what}: the registry refused to resume at byte {have} \
                         (416) — remove the partial download and pull again"
                    )))
                }
                _ => return check_status(&mut response, &what, "blob"),
            };
            let total = size.or_else(|| {
                let length = response.body().content_length()?;
                Some(if status == 206 { have + length } else { length })
            });
            progress.update(have, total);
            let mut body = response.body_mut().as_reader();
            let outcome: io::Result<()> = (|| loop {
                let n = body.read(&mut buffer)?;
                if n == 0 {
                    return Ok(());
                }
                let mut chunk = &buffer[..n];
                let skipped = (skip as usize).min(chunk.len());
                chunk = &chunk[skipped..];
                skip -= skipped as u64;
                if total.is_some_and(|t| sink.bytes() + chunk.len() as u64 > t) {
                    return Err(io::Error::other(TooBig));
                }
                sink.write_all(chunk)?;
                progress.update(sink.bytes(), total);
            })();
            match outcome {
                Ok(()) if total.is_none_or(|t| sink.bytes() == t) => return Ok(()),
                Ok(()) => {
                    // The body ended early without an error (no length
                    // promised): treat as a broken connection.
                    if attempt == RETRY_DELAYS.len() {
                        return Err(Error::Invalid(format!(
                            "{what}: the download stopped at {} of {} bytes{}",
                            sink.bytes(),
                            total.unwrap_or(0),
                            retried(attempt)
                        )));
                    }
                }
                Err(e) if e.get_ref().is_some_and(|e| e.is::<TooBig>()) => {
                    return Err(Error::Invalid(format!(
                        "{what}: the registry sent more than the {} bytes the manifest promised",
                        total.unwrap_or(0)
                    )))
                }
                Err(e) if sink.destination_failed() || attempt == RETRY_DELAYS.len() => {
                    let e = sink.take_failure().unwrap_or(e);
                    return Err(Error::Invalid(format!(
                        "{what}: the download broke at byte {}: {e}{}",
                        sink.bytes(),
                        retried(attempt)
                    )));
                }
                Err(_) => {}
            }
            std::thread::sleep(RETRY_DELAYS[attempt]);
            attempt += 1;
        }
    }
    // ANCHOR_END: streaming_download
}

#[derive(Debug)]
struct TooBig;
impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("more bytes than promised")
    }
}
impl std::error::Error for TooBig {}

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

fn retried(attempt: usize) -> String {
    if attempt == 0 {
        String::new()
    } else {
        format!(" (after {} attempts)", attempt + 1)
    }
}

// ANCHOR: trace
/// `pull --trace`: one line per request, as it leaves. The `Accept` list
/// (the same four media types on every manifest request) is left out to
/// keep lines readable; `Range` is shown. A token is shown by its first
/// characters only: it is as good as a password while it lasts.
fn trace_request(path: &str, headers: &[(&str, String)], authorization: Option<&str>) {
    let mut line = format!("→ GET {path}");
    for (name, value) in headers {
        if *name != "Accept" {
            line.push_str(&format!("  {name}: {value}"));
        }
    }
    match authorization.and_then(|a| a.split_once(' ')) {
        Some((kind, secret)) => {
            let shown: String = secret.chars().take(8).collect();
            line.push_str(&format!("  Authorization: {kind} {shown}…"));
        }
        None => line.push_str("  (no Authorization)"),
    }
    eprintln!("{line}");
}

/// ... and one line per answer, with the headers that matter to a client.
fn trace_response(response: &ureq::http::Response<ureq::Body>) {
    let status = response.status();
    let mut line = format!(
        "← {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for name in [
        "WWW-Authenticate",
        "Location",
        "Content-Type",
        "Content-Length",
        "Content-Range",
        "Docker-Content-Digest",
    ] {
        if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            line.push_str(&format!("  {name}: {value}"));
        }
    }
    eprintln!("{line}");
}
// ANCHOR_END: trace

fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_)
    )
}

fn check_status(
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
fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    match content_type {
        Some(t) if !t.is_empty() && t != "application/json" && t != "text/plain" => t.to_string(),
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_else(|| content_type.unwrap_or("(none)").to_string()),
    }
}

// ANCHOR: platform
/// This host's platform in the names Go (and so every registry) uses:
/// Rust's `x86_64` is `amd64`, `aarch64` is `arm64` (variant `v8`).
pub fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "x86" => ("386", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "loongarch64" => ("loong64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        other => (other, None),
    };
    platform(architecture, variant)
}

/// A Linux platform for `architecture` (Go's name) and an optional variant.
pub fn platform(architecture: &str, variant: Option<&str>) -> Platform {
    let mut builder = PlatformBuilder::default()
        .os(Os::Linux)
        .architecture(Arch::from(architecture));
    if let Some(variant) = variant {
        builder = builder.variant(variant.to_string());
    }
    builder.build().expect("os and architecture are set")
}

/// Parse `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`), as Docker's
/// and Podman's `--platform`.
pub fn parse_platform(text: &str) -> Result<Platform> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        ["linux", arch] if !arch.is_empty() => Ok(platform(arch, None)),
        ["linux", arch, variant] if !arch.is_empty() && !variant.is_empty() => {
            Ok(platform(arch, Some(variant)))
        }
        _ => Err(Error::Invalid(format!(
            "{text:?} is not a platform: write linux/ARCH or linux/ARCH/VARIANT (linux/arm64, linux/arm/v7)"
        ))),
    }
}

/// `linux/arm64/v8`.
pub fn platform_name(p: &Platform) -> String {
    let mut name = format!("{}/{}", p.os(), p.architecture());
    if let Some(variant) = p.variant() {
        name = format!("{name}/{variant}");
    }
    name
}

/// Choose the entry of an index that runs on `wanted`: the same OS and
/// architecture; among those, the same variant, else one that names no
/// variant (`arm64` images often do not say `v8`). Entries without a
/// platform, or for `unknown/unknown` (build attestations), never match.
///
/// `Err` lists the platforms the index offers, for the error message.
pub fn choose_platform<'a>(
    entries: &'a [Descriptor],
    wanted: &Platform,
) -> std::result::Result<&'a Descriptor, String> {
    let same_machine = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.os() == wanted.os() && p.architecture() == wanted.architecture())
    };
    let variant = |d: &Descriptor| d.platform().as_ref().and_then(|p| p.variant().clone());
    let candidates: Vec<&Descriptor> = entries.iter().filter(same_machine).collect();
    let exact = candidates.iter().find(|d| variant(d) == *wanted.variant());
    let unspecified = candidates.iter().find(|d| variant(d).is_none());
    let any = if wanted.variant().is_none() {
        candidates.first()
    } else {
        None
    };
    exact.or(unspecified).or(any).copied().ok_or_else(|| {
        let names: Vec<String> = entries
            .iter()
            .filter_map(|d| d.platform().as_ref().map(platform_name))
            .collect();
        if names.is_empty() {
            "no platforms listed".to_string()
        } else {
            names.join(", ")
        }
    })
}
// ANCHOR_END: platform

/// `sha256:HEX` of a file's contents, read as a stream (never whole; see
/// [`Digest::of_file`]).
pub fn sha256_file(path: &Path) -> Result<String> {
    Digest::of_file(path).map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::local::{images, write_auth_file, Registry, TempDir};
    use crate::registry::testing::{MockResponse, MockServer};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// A real registry (with a login, if given).
    ///
    /// The tests that need one are marked `#[ignore = …]`, so that a plain
    /// `cargo test` reports them as skipped, with the reason, where there
    /// may be no registry; `just test` installs it and runs them
    /// (`-- --include-ignored`), and there a missing registry fails.
    fn registry(login: Option<(&str, &str)>) -> Registry {
        if let Some(reason) = Registry::unavailable(login.is_some()) {
            panic!("{reason}");
        }
        match login {
            Some((user, password)) => Registry::start_with_login(user, password),
            None => Registry::start(),
        }
        .expect("starting docker-registry")
    }

    fn client(host: &str) -> Client {
        // An auth file that does not exist: the tests never read the
        // credentials of whoever runs them.
        let options = Options {
            auth_file: Some("/nonexistent/berth-test-auth.json".into()),
            ..Options::default()
        };
        Client::new(host, &options).unwrap()
    }

    fn client_with_auth_file(host: &str, file: &Path) -> Client {
        let options = Options {
            auth_file: Some(file.to_path_buf()),
            ..Options::default()
        };
        Client::new(host, &options).unwrap()
    }

    fn files_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn pulls_by_tag_and_by_digest() {
        let registry = registry(None);
        let image = images::single_layer(&registry.pusher(), "test/busybox", "v1").unwrap();
        let mut client = client(registry.host());
        assert!(client.base_url().starts_with("http://127.0.0.1:"));

        let by_tag = client.resolve("test/busybox", "v1").unwrap();
        assert_eq!(by_tag.manifest_digest, image.digest);
        assert_eq!(by_tag.manifest_media_type, OCI_MANIFEST);
        assert_eq!(by_tag.index_digest, None);
        assert_eq!(by_tag.config.digest().to_string(), image.config_digest);
        let by_digest = client.resolve("test/busybox", &image.digest).unwrap();
        assert_eq!(by_digest.manifest_bytes, by_tag.manifest_bytes);

        let config = client
            .small_blob("test/busybox", &image.config_digest)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["config"]["Cmd"][0], "echo hello from berth");

        let dir = TempDir::with_prefix("berth-pull").unwrap();
        let layer = &by_tag.layers[0];
        let partial = dir.path().join("partial");
        let mut seen = Vec::new();
        let mut progress = |done, total| seen.push((done, total));
        client
            .blob_to_file(
                "test/busybox",
                layer.digest().as_ref(),
                Some(layer.size()),
                &partial,
                &mut progress,
            )
            .unwrap();
        assert_eq!(sha256_file(&partial).unwrap(), layer.digest().to_string());
        assert_eq!(seen.last(), Some(&(layer.size(), Some(layer.size()))));

        let missing = client
            .resolve("test/busybox", "nope")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("not found (404)"), "{missing}");
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn an_index_resolves_to_the_wanted_platform() {
        let registry = registry(None);
        let (image, arm64_config) =
            images::multi_platform(&registry.pusher(), "test/multi", "latest").unwrap();
        let mut client = client(registry.host());
        let amd64 = client
            .resolve_for(
                "test/multi",
                "latest",
                &parse_platform("linux/amd64").unwrap(),
            )
            .unwrap();
        assert_eq!(amd64.index_digest.as_deref(), Some(image.digest.as_str()));
        assert_eq!(amd64.config.digest().to_string(), image.config_digest);
        for arm in ["linux/arm64", "linux/arm64/v8"] {
            let arm64 = client
                .resolve_for("test/multi", "latest", &parse_platform(arm).unwrap())
                .unwrap();
            assert_eq!(arm64.config.digest().to_string(), arm64_config, "{arm}");
        }
        if std::env::consts::ARCH == "x86_64" {
            let host = client.resolve("test/multi", "latest").unwrap();
            assert_eq!(host.manifest_digest, amd64.manifest_digest);
        }
        let options = Options {
            platform: Some(parse_platform("linux/s390x").unwrap()),
            auth_file: Some("/nonexistent".into()),
            ..Options::default()
        };
        let mut s390x = Client::new(registry.host(), &options).unwrap();
        let error = s390x
            .resolve("test/multi", "latest")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no image for linux/s390x")
                && error.contains("linux/arm64/v8, linux/amd64"),
            "{error}"
        );
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn zstd_layers_and_docker_schema_2_manifests_resolve() {
        let registry = registry(None);
        let pusher = registry.pusher();
        images::zstd_image(&pusher, "test/zstd", "v1").unwrap();
        images::docker_image(&pusher, "test/docker", "v1").unwrap();
        let mut client = client(registry.host());
        let zstd = client.resolve("test/zstd", "v1").unwrap();
        assert_eq!(
            zstd.layers[0].media_type().to_string(),
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let docker = client.resolve("test/docker", "v1").unwrap();
        assert_eq!(docker.manifest_media_type, DOCKER_MANIFEST);
        assert_eq!(
            docker.layers[0].media_type().to_string(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        let mut out = Vec::new();
        let layer = &docker.layers[0];
        client
            .blob(
                "test/docker",
                layer.digest().as_ref(),
                Some(layer.size()),
                &mut out,
                &mut Quiet,
            )
            .unwrap();
        assert_eq!(out.len() as u64, layer.size());
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn a_multi_layer_image_pulls_whole() {
        let registry = registry(None);
        let image = images::multi_layer(&registry.pusher(), "test/layers", "v1").unwrap();
        let dir = TempDir::with_prefix("berth-pull").unwrap();
        let started = Instant::now();
        let mut client = client(registry.host());
        let resolved = client.resolve("test/layers", "v1").unwrap();
        let mut bytes = 0;
        for (i, layer) in resolved.layers.iter().enumerate() {
            let partial = dir.path().join(format!("layer-{i}"));
            let digest = layer.digest().to_string();
            client
                .blob_to_file(
                    "test/layers",
                    &digest,
                    Some(layer.size()),
                    &partial,
                    &mut Quiet,
                )
                .unwrap();
            assert_eq!(sha256_file(&partial).unwrap(), digest);
            bytes += layer.size();
        }
        eprintln!(
            "pulled {} layers ({bytes} bytes) of the multi-layer image in {:?}",
            resolved.layers.len(),
            started.elapsed()
        );
        assert_eq!(resolved.layers.len(), image.layers.len());
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn basic_auth_with_htpasswd() {
        let registry = registry(Some(("learner", "s3cret")));
        images::single_layer(&registry.pusher(), "private/busybox", "v1").unwrap();
        let dir = TempDir::with_prefix("berth-auth").unwrap();

        let right = write_auth_file(dir.path(), registry.host(), "learner", "s3cret");
        let mut ok = client_with_auth_file(registry.host(), &right);
        ok.resolve("private/busybox", "v1").unwrap();

        let wrong = write_auth_file(dir.path(), registry.host(), "learner", "guess");
        let mut refused = client_with_auth_file(registry.host(), &wrong);
        let error = refused
            .resolve("private/busybox", "v1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(registry.host())
                && error.contains("refused")
                && error.contains("learner"),
            "{error}"
        );
        assert!(!error.contains("guess"), "never print a password: {error}");

        let mut anonymous = client(registry.host());
        let error = anonymous
            .resolve("private/busybox", "v1")
            .unwrap_err()
            .to_string();
        assert!(error.contains("authentication required"), "{error}");
    }

    /// Serve `blob` at its digest's path with `answer`, which gets the
    /// request and how many came before.
    fn blob_server(
        answer: impl Fn(&crate::registry::testing::MockRequest, usize) -> MockResponse
            + Send
            + Sync
            + 'static,
    ) -> MockServer {
        let count = AtomicUsize::new(0);
        MockServer::start(move |request| answer(request, count.fetch_add(1, Ordering::SeqCst)))
    }

    fn random_blob(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    // ANCHOR: corrupt_blob
    #[test]
    fn a_corrupt_blob_is_never_kept() {
        let blob = random_blob(5000);
        let digest = sha256_digest(&blob);
        let mut corrupt = blob.clone();
        corrupt[100] ^= 1;
        let server = blob_server(move |_, _| MockResponse::new(200, corrupt.clone()));
        let dir = TempDir::with_prefix("berth-mock").unwrap();
        let partial = dir.path().join("partial");
        let error = client(server.host())
            .blob_to_file("x", &digest, Some(5000), &partial, &mut Quiet)
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not match its digest"), "{error}");
        assert!(files_in(dir.path()).is_empty(), "nothing is left behind");
    }
    // ANCHOR_END: corrupt_blob

    #[test]
    fn a_truncated_body_fails_clearly_after_retries() {
        let blob = random_blob(1000);
        let digest = sha256_digest(&blob);
        let server = blob_server(move |_, _| MockResponse::new(200, blob.clone()).cut_after(10));
        let dir = TempDir::with_prefix("berth-mock").unwrap();
        let partial = dir.path().join("partial");
        let error = client(server.host())
            .blob_to_file("x", &digest, Some(1000), &partial, &mut Quiet)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("broke at byte 10") && error.contains("after 4 attempts"),
            "{error}"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 4);
        assert_eq!(requests[1].header("range"), Some("bytes=10-"));
        // Only the resumable partial file: nothing under a final name.
        assert_eq!(files_in(dir.path()), vec!["partial".to_string()]);
    }

    #[test]
    fn a_token_that_is_always_refused_ends_with_an_error() {
        let server = MockServer::start(|request| {
            if request.path.starts_with("/token") {
                return MockResponse::new(200, r#"{"token":"useless"}"#);
            }
            let host = request.header("host").unwrap_or("").to_string();
            MockResponse::new(401, "").header(
                "WWW-Authenticate",
                &format!(
                    r#"Bearer realm="http://{host}/token",service="mock",scope="repository:x:pull""#
                ),
            )
        });
        let error = client(server.host())
            .manifest("x", "latest")
            .unwrap_err()
            .to_string();
        assert!(error.contains("refused anonymous access"), "{error}");
        assert!(
            server.requests().len() <= 5,
            "{} requests",
            server.requests().len()
        );
    }

    #[test]
    fn bearer_tokens_are_fetched_once_and_reused() {
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let server = MockServer::start(move |request| {
            if request.path.starts_with("/token") {
                assert!(
                    request.path.contains("scope=repository%3Ax%3Apull"),
                    "{}",
                    request.path
                );
                return MockResponse::new(200, r#"{"access_token":"good","expires_in":300}"#);
            }
            if request.header("authorization") == Some("Bearer good") {
                return MockResponse::new(200, &manifest[..]).header("Content-Type", OCI_MANIFEST);
            }
            let host = request.header("host").unwrap_or("").to_string();
            MockResponse::new(401, "").header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="http://{host}/token",service="mock""#),
            )
        });
        let mut client = client(server.host());
        client.manifest("x", "a").unwrap();
        client.manifest("x", "b").unwrap();
        let tokens = server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/token"))
            .count();
        assert_eq!(tokens, 1);
        assert_eq!(server.requests().len(), 4, "401, token, a, b");
    }

    #[test]
    fn an_unknown_media_type_is_refused() {
        let server = MockServer::start(|_| {
            MockResponse::new(200, "{}")
                .header("Content-Type", "application/vnd.example.thing+json")
        });
        let error = client(server.host())
            .manifest("x", "latest")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("application/vnd.example.thing+json"),
            "{error}"
        );
    }

    #[test]
    fn a_registry_error_keeps_its_status_and_code() {
        let server = MockServer::start(|_| {
            MockResponse::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            )
        });
        let error = client(server.host()).manifest("x", "nosuch").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}/x:nosuch: manifest not found (404) — check the repository name and tag",
                server.host()
            )
        );
        assert!(
            matches!(&error, Error::Registry { status: 404, code: Some(code), .. } if code == "MANIFEST_UNKNOWN"),
            "{error:?}"
        );
    }

    #[test]
    fn a_manifest_that_does_not_match_its_digest_is_refused() {
        let server = MockServer::start(|_| {
            MockResponse::new(200, "{}")
                .header("Content-Type", OCI_MANIFEST)
                .header("Docker-Content-Digest", &sha256_digest(b"something else"))
        });
        let error = client(server.host())
            .manifest("x", "latest")
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not match its digest"), "{error}");
        let by_digest = sha256_digest(b"[]");
        let error = client(server.host())
            .manifest("x", &by_digest)
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not match its digest"), "{error}");
    }

    #[test]
    fn a_503_is_retried() {
        let blob = random_blob(3000);
        let digest = sha256_digest(&blob);
        let server = blob_server(move |_, n| match n {
            0 => MockResponse::new(503, "busy"),
            _ => MockResponse::new(200, blob.clone()),
        });
        let mut out = Vec::new();
        client(server.host())
            .blob("x", &digest, Some(3000), &mut out, &mut Quiet)
            .unwrap();
        assert_eq!(sha256_digest(&out), digest);
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn a_dropped_download_resumes_with_range() {
        let blob = random_blob(200_000);
        let digest = sha256_digest(&blob);
        let server = blob_server(move |request, n| match (n, request.header("range")) {
            (0, _) => MockResponse::new(200, blob.clone()).cut_after(70_000),
            (_, Some(range)) => {
                let from: usize = range
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap();
                MockResponse::new(206, blob[from..].to_vec()).header(
                    "Content-Range",
                    &format!("bytes {from}-{}/{}", blob.len() - 1, blob.len()),
                )
            }
            (_, None) => MockResponse::new(500, "expected a Range"),
        });
        let dir = TempDir::with_prefix("berth-mock").unwrap();
        let partial = dir.path().join("partial");
        client(server.host())
            .blob_to_file("x", &digest, Some(200_000), &partial, &mut Quiet)
            .unwrap();
        assert_eq!(sha256_file(&partial).unwrap(), digest);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].header("range"), Some("bytes=70000-"));
    }

    #[test]
    fn a_partial_file_from_an_earlier_pull_is_resumed() {
        let blob = random_blob(10_000);
        let digest = sha256_digest(&blob);
        let served = blob.clone();
        let server = blob_server(move |request, _| match request.header("range") {
            Some("bytes=4000-") => MockResponse::new(206, served[4000..].to_vec()),
            _ => MockResponse::new(200, served.clone()),
        });
        let dir = TempDir::with_prefix("berth-mock").unwrap();
        let partial = dir.path().join("partial");
        std::fs::write(&partial, &blob[..4000]).unwrap();
        client(server.host())
            .blob_to_file("x", &digest, Some(10_000), &partial, &mut Quiet)
            .unwrap();
        assert_eq!(sha256_file(&partial).unwrap(), digest);
    }

    #[test]
    fn a_redirect_to_another_host_drops_the_authorization() {
        let blob = random_blob(1000);
        let digest = sha256_digest(&blob);
        let cdn = MockServer::start(move |_| MockResponse::new(200, blob.clone()));
        let cdn_host = cdn.host().to_string();
        let registry = MockServer::start(move |request| {
            if request.header("authorization").is_none() {
                return MockResponse::new(401, "")
                    .header("WWW-Authenticate", r#"Basic realm="mock""#);
            }
            MockResponse::new(307, "")
                .header("Location", &format!("http://{cdn_host}{}", request.path))
        });
        let dir = TempDir::with_prefix("berth-mock").unwrap();
        let auth = write_auth_file(dir.path(), registry.host(), "learner", "s3cret");
        let mut out = Vec::new();
        client_with_auth_file(registry.host(), &auth)
            .blob("x", &digest, Some(1000), &mut out, &mut Quiet)
            .unwrap();
        let sent = registry.requests();
        assert!(sent[1]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")));
        assert_eq!(cdn.requests().len(), 1);
        assert_eq!(cdn.requests()[0].header("authorization"), None);
    }

    #[test]
    fn more_bytes_than_promised_are_refused() {
        let blob = random_blob(2000);
        let digest = sha256_digest(&blob[..1000]);
        let server = blob_server(move |_, _| MockResponse::new(200, blob.clone()));
        let error = client(server.host())
            .blob("x", &digest, Some(1000), &mut Vec::new(), &mut Quiet)
            .unwrap_err()
            .to_string();
        assert!(error.contains("more than the 1000 bytes"), "{error}");
    }

    #[test]
    fn plain_http_only_for_loopback_or_insecure_hosts() {
        for host in [
            "127.0.0.1:5000",
            "localhost",
            "localhost:80",
            "[::1]:5000",
            "::1",
            "127.8.9.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "docker.io",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        let none = Options::default();
        assert!(Client::new("quay.io", &none)
            .unwrap()
            .base_url()
            .starts_with("https://"));
        let insecure = Options {
            insecure: vec!["registry.lan".into()],
            ..Options::default()
        };
        assert_eq!(
            Client::new("registry.lan:5000", &insecure)
                .unwrap()
                .base_url(),
            "http://registry.lan:5000"
        );
        assert!(Client::new("a/b", &none).is_err());
    }

    #[test]
    fn platforms_are_chosen_by_os_architecture_and_variant() {
        let index: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "size": 1, "digest": format!("sha256:{}", "a".repeat(64)),
                 "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
                {"mediaType": OCI_MANIFEST, "size": 1, "digest": format!("sha256:{}", "b".repeat(64)),
                 "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                {"mediaType": OCI_MANIFEST, "size": 1, "digest": format!("sha256:{}", "c".repeat(64)),
                 "platform": {"os": "linux", "architecture": "arm64"}},
                {"mediaType": OCI_MANIFEST, "size": 1, "digest": format!("sha256:{}", "d".repeat(64)),
                 "platform": {"os": "windows", "architecture": "amd64"}}
            ]
        }))
        .unwrap();
        let pick = |p: &str| {
            choose_platform(index.manifests(), &parse_platform(p).unwrap())
                .map(|d| d.digest().to_string().chars().last().unwrap())
        };
        assert_eq!(pick("linux/arm/v7"), Ok('b'));
        assert_eq!(pick("linux/arm/v6"), Ok('a'));
        assert_eq!(pick("linux/arm64/v8"), Ok('c'), "no variant named is fine");
        assert_eq!(pick("linux/arm64"), Ok('c'));
        assert!(pick("linux/amd64").unwrap_err().contains("windows/amd64"));
        assert!(parse_platform("arm64").is_err());
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(platform_name(&host_platform()), "linux/amd64");
        }
    }

    /// A blob as a manifest or index names it.
    #[derive(Debug)]
    #[allow(dead_code)] // read by the snapshots, through `Debug`
    struct Named {
        media_type: String,
        size: u64,
        digest: String,
    }

    /// One entry of an index: the platform it is for, and its manifest.
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Entry {
        platform: String,
        manifest: Named,
    }

    /// What the kit makes of a manifest or index: what a pull uses.
    #[derive(Debug)]
    #[allow(dead_code)]
    enum Parsed {
        Manifest {
            media_type: String,
            config: Named,
            layers: Vec<Named>,
        },
        Index {
            media_type: String,
            entries: Vec<Entry>,
            /// `choose_platform`'s answer for each platform asked for: the
            /// manifest's digest, or the platforms the index offers.
            chosen: Vec<(String, std::result::Result<String, String>)>,
        },
    }

    /// Parse `bytes` as [`Client::manifest`] and [`Client::resolve_for`]
    /// do: the media type from the document (as when a server sends a
    /// generic `Content-Type`), an index or a manifest by that type, the
    /// oci-spec types for the JSON, and `choose_platform` for an index.
    fn parsed(bytes: &str) -> Parsed {
        let bytes = bytes.as_bytes();
        let fetched = Fetched {
            bytes: bytes.to_vec(),
            media_type: media_type_of(Some("application/json"), bytes),
            digest: sha256_digest(bytes),
        };
        assert!(
            [
                OCI_MANIFEST,
                OCI_INDEX,
                DOCKER_MANIFEST,
                DOCKER_MANIFEST_LIST
            ]
            .contains(&fetched.media_type.as_str()),
            "{} is not one of the four the client accepts",
            fetched.media_type
        );
        let named = |d: &Descriptor| Named {
            media_type: d.media_type().to_string(),
            size: d.size(),
            digest: d.digest().to_string(),
        };
        if fetched.is_index() {
            let index: ImageIndex = serde_json::from_slice(&fetched.bytes).unwrap();
            let entries = index
                .manifests()
                .iter()
                .map(|d| Entry {
                    platform: d
                        .platform()
                        .as_ref()
                        .map_or("(none)".to_string(), platform_name),
                    manifest: named(d),
                })
                .collect();
            let chosen = ["linux/amd64", "linux/arm64/v8", "linux/s390x"]
                .into_iter()
                .map(|p| {
                    let choice = choose_platform(index.manifests(), &parse_platform(p).unwrap())
                        .map(|d| d.digest().to_string());
                    (p.to_string(), choice)
                })
                .collect();
            Parsed::Index {
                media_type: fetched.media_type,
                entries,
                chosen,
            }
        } else {
            let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes).unwrap();
            Parsed::Manifest {
                media_type: fetched.media_type,
                config: named(manifest.config()),
                layers: manifest.layers().iter().map(named).collect(),
            }
        }
    }

    #[test]
    fn manifests_and_indexes_as_the_kit_reads_them() {
        // An OCI image manifest: a config and two gzip layers, lowest first.
        let oci_manifest = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:b5ef48982985d27caf7ad78f5fdfb0dc39a8861aff4a4f322e519ba60aea975a",
            "size": 1457
          },
          "layers": [
            {
              "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
              "digest": "sha256:78b8a5231b4463304dbbadccfa50922b367cd816c10365d1f33fd106232fd56b",
              "size": 2152262
            },
            {
              "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
              "digest": "sha256:2196549e852f8479e0a39f38d8b0b9e48c9b3e15b6cb6786c6fa3297a3ec8e38",
              "size": 312
            }
          ],
          "annotations": {
            "org.opencontainers.image.created": "2024-05-01T00:00:00Z"
          }
        }"#;
        insta::assert_debug_snapshot!("oci_image_manifest", parsed(oci_manifest));

        // An OCI index, as BuildKit pushes one: three platforms and a
        // build attestation (`unknown/unknown`), which is never chosen.
        let oci_index = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.index.v1+json",
          "manifests": [
            {
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:ed50d24ed99bc6aacf3935dc9384686fb230119ae61ac01acafa0038709b97cd",
              "size": 610,
              "platform": {"architecture": "amd64", "os": "linux"}
            },
            {
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:822bb19fe626f72bb9782ca1cc4dd0ad0fd882b375c30152d9edc3376004a79b",
              "size": 610,
              "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}
            },
            {
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:a680dd7cd9397b070bbc5fa383832bc26202f0bf2a9e656dafe7f54d2db3b8a1",
              "size": 610,
              "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
            },
            {
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:d7401066ed88631951450c855803e63f9b94428a46cef9f754e9135040eec841",
              "size": 566,
              "annotations": {
                "vnd.docker.reference.digest": "sha256:ed50d24ed99bc6aacf3935dc9384686fb230119ae61ac01acafa0038709b97cd",
                "vnd.docker.reference.type": "attestation-manifest"
              },
              "platform": {"architecture": "unknown", "os": "unknown"}
            }
          ]
        }"#;
        insta::assert_debug_snapshot!("oci_index", parsed(oci_index));

        // Docker's schema 2 manifest: the same shape, Docker's media types.
        let docker_manifest = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
          "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1472,
            "digest": "sha256:c4e71d0cc5fbfbec1da8d80188f99f5725991d02d05e8333def686bd52822794"
          },
          "layers": [
            {
              "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
              "size": 2152262,
              "digest": "sha256:1b9467bce62f69c7bb5aa37457813656072384d6ffd79195c8f9db860e20a93b"
            }
          ]
        }"#;
        insta::assert_debug_snapshot!("docker_schema_2_manifest", parsed(docker_manifest));

        // Docker's manifest list. Its arm64 entry names no variant: asked
        // for linux/arm64/v8, the kit takes it (see `choose_platform`).
        let docker_list = r#"{
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
          "manifests": [
            {
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "size": 528,
              "digest": "sha256:dd857826bffa92d353f3f047e702f4bbbeaaa912b6506f9c8c7b366b491dd05f",
              "platform": {"architecture": "amd64", "os": "linux"}
            },
            {
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "size": 528,
              "digest": "sha256:8bd06e6744bc062a12e7f923c162c8e332d3c386f3851ece7d5b744982a86497",
              "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}
            },
            {
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "size": 528,
              "digest": "sha256:d1280a972a84c7a2c1000278526e239c03381814ff271c91f72182df4a99524a",
              "platform": {"architecture": "arm64", "os": "linux"}
            },
            {
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "size": 528,
              "digest": "sha256:8340ac46574c8b0f4c8044bf9747d8fdc153fb80872dc3048cedb2c9cfc42b39",
              "platform": {"architecture": "ppc64le", "os": "linux"}
            }
          ]
        }"#;
        insta::assert_debug_snapshot!("docker_manifest_list", parsed(docker_list));
    }

    /// Peak memory while pulling a large blob stays flat: run with
    /// `cargo test --release … -- --ignored large_blob`.
    #[test]
    #[ignore = "measures a 200 MiB pull; run on demand"]
    fn large_blob_streams_in_constant_memory() {
        let registry = registry(None);
        let dir = TempDir::with_prefix("berth-large").unwrap();
        let source = dir.path().join("source");
        {
            let mut file = File::create(&source).unwrap();
            let chunk = random_blob(1 << 20);
            for i in 0..200u32 {
                let mut c = chunk.clone();
                c[..4].copy_from_slice(&i.to_le_bytes());
                file.write_all(&c).unwrap();
            }
        }
        let pushed = registry.pusher().blob_file("test/large", &source).unwrap();
        let before = peak_rss_kib();
        let started = Instant::now();
        let partial = dir.path().join("partial");
        client(registry.host())
            .blob_to_file(
                "test/large",
                &pushed.digest,
                Some(pushed.size),
                &partial,
                &mut Quiet,
            )
            .unwrap();
        let elapsed = started.elapsed();
        let after = peak_rss_kib();
        eprintln!(
            "pulled {} MiB in {elapsed:?} ({:.0} MiB/s); peak RSS {before} KiB before, {after} KiB after",
            pushed.size >> 20,
            pushed.size as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
        );
        assert!(after < before + 32 * 1024, "memory grew with the blob");
    }

    fn peak_rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}
