//! Images built from the kit's busybox root filesystem: one layer, two
//! layers with whiteouts, zstd, Docker's format, several platforms.

use crate::registry::client::{sha256_digest, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use std::io::{self, Write};
pub use tempfile::TempDir;

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
    let (arm64_manifest, arm64_config, _) = push_parts(pusher, repository, "arm64", &arm64, false)?;
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
