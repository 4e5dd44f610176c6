//! The registry client's tests: a real registry where it can, a mock
//! server for the failures a real one will not produce.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

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
        error.contains("no image for linux/s390x") && error.contains("linux/arm64/v8, linux/amd64"),
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
        error.contains(registry.host()) && error.contains("refused") && error.contains("learner"),
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
        MockResponse::new(200, "{}").header("Content-Type", "application/vnd.example.thing+json")
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
            return MockResponse::new(401, "").header("WWW-Authenticate", r#"Basic realm="mock""#);
        }
        MockResponse::new(307, "").header("Location", &format!("http://{cdn_host}{}", request.path))
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
