//! A registry of your own on 127.0.0.1, and the kit's images to fill it:
//! what rung 05's demo, `just registry` and the tests pull from.
//!
//! - [`Registry`]: Debian's real `docker-registry` (CNCF distribution),
//!   started on a free 127.0.0.1 port with its storage in a temporary
//!   directory, optionally behind htpasswd Basic auth; stopped (by PID) and
//!   removed when dropped.
//! - [`Pusher`]: the push half of the protocol (monolithic blob uploads,
//!   manifest PUTs), and [`images`] that build images from the kit's
//!   busybox root filesystem.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
pub use tempfile::TempDir;

use super::client::{sha256_digest, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

/// Where Debian's `docker-registry` package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// A running `docker-registry` on 127.0.0.1.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    host: String,
    login: Option<(String, String)>,
    dir: TempDir,
}

impl Registry {
    /// Why a registry cannot be started here, or `None` if it can.
    pub fn unavailable(with_auth: bool) -> Option<String> {
        if !Path::new(REGISTRY_BINARY).exists() {
            return Some(format!(
                "{REGISTRY_BINARY} is missing: install Debian's docker-registry package (scripts/setup does)"
            ));
        }
        let on_path = |program: &str| {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
            })
        };
        if with_auth && !on_path("htpasswd") {
            return Some("htpasswd is missing: install apache2-utils (scripts/setup does)".into());
        }
        None
    }

    /// Start an anonymous registry.
    pub fn start() -> Result<Registry, String> {
        Self::start_with(None, None)
    }

    /// Start an anonymous registry on `127.0.0.1:port` (the kit's
    /// `just registry`, whose address the book can name).
    pub fn start_at(port: u16) -> Result<Registry, String> {
        Self::start_with(None, Some(port))
    }

    /// Start a registry that requires `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_login(user: &str, password: &str) -> Result<Registry, String> {
        Self::start_with(Some((user, password)), None)
    }

    fn start_with(login: Option<(&str, &str)>, port: Option<u16>) -> Result<Registry, String> {
        let mut dir = TempDir::with_prefix("berth-registry").map_err(|e| e.to_string())?;
        let mut auth = String::new();
        if let Some((user, password)) = login {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .map_err(|e| format!("running htpasswd: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "htpasswd: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).map_err(|e| e.to_string())?;
            auth = format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            );
        }
        // The port is free when we look; another process could take it
        // before the registry binds it, so try a few times.
        let mut last = String::new();
        let tries = if port.is_some() { 1 } else { 3 };
        for _ in 0..tries {
            let port = match port {
                Some(port) => port,
                None => TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map_err(|e| e.to_string())?
                    .port(),
            };
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: 127.0.0.1:{port}\n{auth}",
                    dir.path().join("data").display()
                ),
            )
            .map_err(|e| e.to_string())?;
            let log = std::fs::File::create(dir.path().join("log")).map_err(|e| e.to_string())?;
            let child = Command::new(REGISTRY_BINARY)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("starting {REGISTRY_BINARY}: {e}"))?;
            let mut registry = Registry {
                child,
                host: format!("127.0.0.1:{port}"),
                login: login.map(|(u, p)| (u.to_string(), p.to_string())),
                dir,
            };
            match registry.wait_ready() {
                Ok(()) => return Ok(registry),
                Err(e) => {
                    last = e;
                    registry.stop();
                    dir = std::mem::replace(
                        &mut registry.dir,
                        TempDir::with_prefix("berth-registry").map_err(|e| e.to_string())?,
                    );
                }
            }
        }
        Err(last)
    }

    /// Wait until `GET /v2/` answers (200, or 401 behind a login).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("docker-registry exited ({status}): {}", self.log()));
            }
            if let Ok(response) = http_get(&self.host, "/v2/") {
                if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.1 401") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "docker-registry did not answer within 10 s: {}",
            self.log()
        ))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The registry's temporary directory (storage, config, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A pusher for this registry (logged in if it needs a login).
    pub fn pusher(&self) -> Pusher {
        Pusher::new(&self.host, self.login.clone())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bare-bones `GET` with no client library, to probe readiness.
fn http_get(host: &str, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// An auth file (`config.json` format) with one login, written in `dir`.
pub fn write_auth_file(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join("config.json");
    let json = serde_json::json!({ "auths": { registry: { "auth": auth } } });
    std::fs::write(&path, json.to_string()).expect("writing the auth file");
    path
}

/// What a push returns: a blob's or manifest's digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// Pushes blobs and manifests to a registry (the test images' way in).
#[derive(Debug)]
pub struct Pusher {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

impl Pusher {
    /// A pusher for the registry at `host` (plain HTTP), with a Basic login.
    pub fn new(host: &str, login: Option<(String, String)>) -> Pusher {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let authorization = login.map(|(username, password)| {
            super::auth::Credentials {
                username,
                password,
                source: None,
            }
            .basic_header()
        });
        Pusher {
            agent,
            base: format!("http://{host}"),
            authorization,
        }
    }

    fn with_auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(a) => request.header("Authorization", a.as_str()),
            None => request,
        }
    }

    /// Upload `bytes` as a blob of `repository`.
    pub fn blob(&self, repository: &str, bytes: &[u8]) -> Result<Pushed, String> {
        let digest = sha256_digest(bytes);
        self.upload(repository, &digest, bytes.len() as u64, &mut &bytes[..])?;
        Ok(Pushed {
            digest,
            size: bytes.len() as u64,
        })
    }

    /// Upload the file at `path` as a blob, streamed (never read whole).
    pub fn blob_file(&self, repository: &str, path: &Path) -> Result<Pushed, String> {
        let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        let size = io::copy(&mut file, &mut hasher).map_err(|e| e.to_string())?;
        let digest = format!("sha256:{:x}", hasher.finalize());
        let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        self.upload(repository, &digest, size, &mut file)?;
        Ok(Pushed { digest, size })
    }

    /// The monolithic upload: `POST …/blobs/uploads/` opens a session and
    /// says where (`Location`); one `PUT Location&digest=…` sends it all.
    fn upload(
        &self,
        repository: &str,
        digest: &str,
        size: u64,
        body: &mut dyn Read,
    ) -> Result<(), String> {
        let url = format!("{}/v2/{repository}/blobs/uploads/", self.base);
        let response = self
            .with_auth(self.agent.post(&url))
            .send_empty()
            .map_err(|e| format!("POST {url}: {e}"))?;
        if response.status().as_u16() != 202 {
            return Err(format!("POST {url}: {}", response.status()));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or("no Location in the upload's answer")?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        let response = self
            .with_auth(self.agent.put(&put))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string())
            .send(ureq::SendBody::from_reader(body))
            .map_err(|e| format!("PUT {put}: {e}"))?;
        if response.status().as_u16() != 201 {
            return Err(format!("PUT blob {digest}: {}", response.status()));
        }
        Ok(())
    }

    /// `PUT /v2/NAME/manifests/REFERENCE` with `media_type`.
    pub fn manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Pushed, String> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let mut response = self
            .with_auth(self.agent.put(&url))
            .header("Content-Type", media_type)
            .send(bytes)
            .map_err(|e| format!("PUT {url}: {e}"))?;
        if response.status().as_u16() != 201 {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            return Err(format!("PUT {url}: {} {body}", response.status()));
        }
        Ok(Pushed {
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
        })
    }
}

/// Test images built from the kit's busybox root filesystem.
pub mod images {
    use super::*;

    /// A layer: its compressed bytes, media type and the digest of the
    /// uncompressed tar (the config's `rootfs.diff_ids`).
    #[derive(Debug, Clone)]
    pub struct Layer {
        /// The blob as pushed.
        pub bytes: Vec<u8>,
        /// Its media type.
        pub media_type: String,
        /// sha256 of the uncompressed tar.
        pub diff_id: String,
    }

    /// An image pushed to a registry.
    #[derive(Debug, Clone)]
    pub struct TestImage {
        /// The repository it was pushed to.
        pub repository: String,
        /// Its tag.
        pub tag: String,
        /// The digest of what the tag points at (manifest or index).
        pub digest: String,
        /// The config blob's digest (of the amd64 manifest for an index).
        pub config_digest: String,
        /// The layers' digests and sizes, lowest first.
        pub layers: Vec<Pushed>,
    }

    /// The busybox root filesystem as an uncompressed tar (built once).
    pub fn busybox_tar() -> Vec<u8> {
        static TAR: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        TAR.get_or_init(|| {
            let dir = crate::rootfs::busybox::image().expect("the busybox image");
            let mut builder = tar::Builder::new(Vec::new());
            builder.follow_symlinks(false);
            builder.mode(tar::HeaderMode::Deterministic);
            builder.append_dir_all(".", &dir).expect("tar of busybox");
            builder.into_inner().expect("tar of busybox")
        })
        .clone()
    }

    /// A tar of the given entries: `(path, Some(contents))` for a file,
    /// `(path/, None)` for a directory.
    pub fn tar_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            // Owner and time too: a real layer has them, and the unpacker
            // refuses a header whose numeric fields are empty.
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1_700_000_000);
            match contents {
                Some(data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(data.len() as u64);
                    header.set_mode(0o644);
                    builder
                        .append_data(&mut header, path, *data)
                        .expect("tar entry");
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    builder
                        .append_data(&mut header, path, io::empty())
                        .expect("tar entry");
                }
            }
        }
        builder.into_inner().expect("tar")
    }

    /// gzip a tar into an OCI (or Docker, with `docker`) layer.
    pub fn gzip_layer(tar: &[u8], docker: bool) -> Layer {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(tar).expect("gzip");
        Layer {
            bytes: encoder.finish().expect("gzip"),
            media_type: if docker {
                "application/vnd.docker.image.rootfs.diff.tar.gzip".into()
            } else {
                "application/vnd.oci.image.layer.v1.tar+gzip".into()
            },
            diff_id: sha256_digest(tar),
        }
    }

    /// zstd-compress a tar into an OCI layer.
    pub fn zstd_layer(tar: &[u8]) -> Layer {
        Layer {
            bytes: zstd::encode_all(tar, 3).expect("zstd"),
            media_type: "application/vnd.oci.image.layer.v1.tar+zstd".into(),
            diff_id: sha256_digest(tar),
        }
    }

    /// An image config: how to run the image, and its layers' diff_ids.
    pub fn config(architecture: &str, layers: &[Layer]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": architecture,
            "os": "linux",
            "config": {
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": ["echo hello from berth"],
                "Env": ["PATH=/bin", "GREETING=hello"],
                "WorkingDir": "/root",
                "User": "0:0"
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()
            }
        }))
        .expect("config JSON")
    }

    /// Push `layers` and a config for `architecture`; return the manifest
    /// (not yet pushed), its media type, the config and the layers.
    fn push_parts(
        pusher: &Pusher,
        repository: &str,
        architecture: &str,
        layers: &[Layer],
        docker: bool,
    ) -> Result<(Vec<u8>, Pushed, Vec<Pushed>), String> {
        let config = config(architecture, layers);
        let config_pushed = pusher.blob(repository, &config)?;
        let mut pushed = Vec::new();
        for layer in layers {
            pushed.push(pusher.blob(repository, &layer.bytes)?);
        }
        let (manifest_type, config_type) = if docker {
            (
                DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
            )
        } else {
            (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json")
        };
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_pushed.digest, "size": config_pushed.size},
            "layers": layers.iter().zip(&pushed).map(|(l, p)| serde_json::json!({
                "mediaType": l.media_type, "digest": p.digest, "size": p.size
            })).collect::<Vec<_>>()
        }))
        .expect("manifest JSON");
        Ok((manifest, config_pushed, pushed))
    }

    /// Push an image made of `layers` as `repository:tag`.
    pub fn push_image(
        pusher: &Pusher,
        repository: &str,
        tag: &str,
        layers: &[Layer],
        docker: bool,
    ) -> Result<TestImage, String> {
        let (manifest, config, pushed) = push_parts(pusher, repository, "amd64", layers, docker)?;
        let media_type = if docker {
            DOCKER_MANIFEST
        } else {
            OCI_MANIFEST
        };
        let m = pusher.manifest(repository, tag, media_type, &manifest)?;
        Ok(TestImage {
            repository: repository.into(),
            tag: tag.into(),
            digest: m.digest,
            config_digest: config.digest,
            layers: pushed,
        })
    }

    /// One gzip layer: the busybox root filesystem.
    pub fn single_layer(pusher: &Pusher, repository: &str, tag: &str) -> Result<TestImage, String> {
        push_image(
            pusher,
            repository,
            tag,
            &[gzip_layer(&busybox_tar(), false)],
            false,
        )
    }

    /// The upper layer of [`multi_layer`]: deletes `/etc/hostname`
    /// (whiteout), replaces `/etc/passwd`, and makes `/home` opaque with
    /// one new file in it.
    pub fn upper_layer_tar() -> Vec<u8> {
        tar_of(&[
            ("etc/", None),
            ("etc/.wh.hostname", Some(b"")),
            (
                "etc/passwd",
                Some(b"root:x:0:0:upper layer:/root:/bin/sh\n"),
            ),
            ("home/", None),
            ("home/.wh..wh..opq", Some(b"")),
            ("home/new-file", Some(b"from the upper layer\n")),
        ])
    }

    /// Two gzip layers: busybox, then [`upper_layer_tar`].
    pub fn multi_layer(pusher: &Pusher, repository: &str, tag: &str) -> Result<TestImage, String> {
        let layers = [
            gzip_layer(&busybox_tar(), false),
            gzip_layer(&upper_layer_tar(), false),
        ];
        push_image(pusher, repository, tag, &layers, false)
    }

    /// One gzip layer (busybox) under a config whose `config` object —
    /// Entrypoint, Cmd, Env, WorkingDir, User — is `run_config`: for
    /// checking how an image's config becomes a container's process.
    pub fn with_run_config(
        pusher: &Pusher,
        repository: &str,
        tag: &str,
        run_config: serde_json::Value,
    ) -> Result<TestImage, String> {
        let layer = gzip_layer(&busybox_tar(), false);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": run_config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}
        }))
        .expect("config JSON");
        let config_pushed = pusher.blob(repository, &config)?;
        let layer_pushed = pusher.blob(repository, &layer.bytes)?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_pushed.digest, "size": config_pushed.size},
            "layers": [{"mediaType": layer.media_type,
                        "digest": layer_pushed.digest, "size": layer_pushed.size}]
        }))
        .expect("manifest JSON");
        let m = pusher.manifest(repository, tag, OCI_MANIFEST, &manifest)?;
        Ok(TestImage {
            repository: repository.into(),
            tag: tag.into(),
            digest: m.digest,
            config_digest: config_pushed.digest,
            layers: vec![layer_pushed],
        })
    }

    /// One zstd layer: busybox.
    pub fn zstd_image(pusher: &Pusher, repository: &str, tag: &str) -> Result<TestImage, String> {
        push_image(
            pusher,
            repository,
            tag,
            &[zstd_layer(&busybox_tar())],
            false,
        )
    }

    /// Docker schema 2: Docker's media types for the manifest, config and layer.
    pub fn docker_image(pusher: &Pusher, repository: &str, tag: &str) -> Result<TestImage, String> {
        push_image(
            pusher,
            repository,
            tag,
            &[gzip_layer(&busybox_tar(), true)],
            true,
        )
    }

    /// An OCI index with an amd64 entry (busybox) and an arm64/v8 entry (a
    /// tiny image with its own config). `config_digest` is the amd64 one;
    /// the arm64 config digest is returned beside.
    pub fn multi_platform(
        pusher: &Pusher,
        repository: &str,
        tag: &str,
    ) -> Result<(TestImage, String), String> {
        let amd64 = [gzip_layer(&busybox_tar(), false)];
        let (amd64_manifest, amd64_config, amd64_layers) =
            push_parts(pusher, repository, "amd64", &amd64, false)?;
        let arm64 = [gzip_layer(
            &tar_of(&[("arm64-was-here", Some(b"yes\n"))]),
            false,
        )];
        let (arm64_manifest, arm64_config, _) =
            push_parts(pusher, repository, "arm64", &arm64, false)?;
        let a = pusher.manifest(
            repository,
            &sha256_digest(&amd64_manifest),
            OCI_MANIFEST,
            &amd64_manifest,
        )?;
        let b = pusher.manifest(
            repository,
            &sha256_digest(&arm64_manifest),
            OCI_MANIFEST,
            &arm64_manifest,
        )?;
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": b.digest, "size": b.size,
                 "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": OCI_MANIFEST, "digest": a.digest, "size": a.size,
                 "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": OCI_MANIFEST, "digest": a.digest, "size": a.size,
                 "platform": {"architecture": "unknown", "os": "unknown"}}
            ]
        }))
        .expect("index JSON");
        let i = pusher.manifest(repository, tag, OCI_INDEX, &index)?;
        Ok((
            TestImage {
                repository: repository.into(),
                tag: tag.into(),
                digest: i.digest,
                config_digest: amd64_config.digest,
                layers: amd64_layers,
            },
            arm64_config.digest,
        ))
    }
}
