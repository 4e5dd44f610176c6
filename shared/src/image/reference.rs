//! Image references: what `busybox` really means.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! People type short names; registries need full ones. `docker pull
//! busybox` fetches `docker.io/library/busybox:latest`, and every tool that
//! wants to be a drop-in for Docker and Podman has to expand names the same
//! way, or the same command would pull a different image. The grammar
//! (from the `distribution/reference` package both of them use):
//!
//! ```text
//!   reference   := name [ ":" tag ] [ "@" digest ]
//!   name        := [ registry "/" ] path
//!   registry    := host [ ":" port ]          (a first part with "." or ":", or "localhost")
//!   path        := component ( "/" component )*
//!   component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//!   tag         := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//!   digest      := "sha256:" 64 lowercase hex digits
//! ```
//!
//! Two rules surprise newcomers. The first part of a name is a registry
//! only if it *looks like a host* (`quay.io/…`, `localhost:5000/…`,
//! `localhost/…`); otherwise `user/app` is a Docker Hub repository. And
//! Docker Hub's official images live under `library/`, so `busybox` is
//! `library/busybox` there. A reference with a digest pins the content
//! exactly; a tag (which defaults to `latest` when neither is given) is a
//! name the registry can move.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::digest::Digest;
use crate::{Error, Result};

/// The registry a name without one is pulled from.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag a name without a tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// Docker Hub's host for the registry API (`docker.io` is its web site).
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The longest `registry/repository` distribution accepts.
const MAX_NAME: usize = 255;
/// The longest tag.
const MAX_TAG: usize = 128;

/// A fully qualified image reference:
/// `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Where the image lives: `docker.io`, `quay.io`, `localhost:5000`.
    pub registry: String,
    /// The repository in that registry: `library/busybox`, `podman/stable`.
    pub repository: String,
    /// The tag, if one was given or implied (`latest`); `None` for a
    /// reference by digest alone.
    pub tag: Option<String>,
    /// The digest, if the reference pins the content.
    pub digest: Option<Digest>,
}

// ANCHOR: parse
impl Reference {
    /// Parse and normalize a reference the way Docker and Podman do:
    /// `busybox` → `docker.io/library/busybox:latest`. The error names the
    /// part that is wrong.
    pub fn parse(input: &str) -> Result<Reference> {
        let fail =
            |why: String| Error::Invalid(format!("invalid image reference {input:?}: {why}"));
        if input.is_empty() {
            return Err(fail("it is empty".into()));
        }
        // The digest comes last and is introduced by the only `@`.
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(Digest::parse(digest).map_err(|e| fail(e.to_string()))?),
            ),
            None => (input, None),
        };
        // A `:` after the last `/` starts the tag; one before it belongs to
        // the registry's port (`localhost:5000/app`).
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            check_tag(tag).map_err(fail)?;
        }
        let (registry, path) = split_registry(name);
        if let Some(registry) = registry {
            check_registry(registry).map_err(fail)?;
        }
        check_path(path).map_err(fail)?;
        let (registry, repository) = normalize(registry, path);
        if registry.len() + 1 + repository.len() > MAX_NAME {
            return Err(fail(format!(
                "the name {registry}/{repository} is longer than {MAX_NAME} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// `name[:tag]` → (name, tag).
fn split_tag(rest: &str) -> (&str, Option<&str>) {
    match rest.rfind(':') {
        Some(colon) if !rest[colon..].contains('/') => (&rest[..colon], Some(&rest[colon + 1..])),
        _ => (rest, None),
    }
}

/// `[registry/]path` → (registry, path). The first part is a registry
/// only if it looks like a host: it has a `.` or a `:`, is `localhost`,
/// or has capitals (which a repository cannot).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, path))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), path)
        }
        _ => (None, name),
    }
}

/// Fill in Docker Hub and its `library/` namespace.
fn normalize(registry: Option<&str>, path: &str) -> (String, String) {
    let registry = match registry {
        None | Some("index.docker.io") => DEFAULT_REGISTRY,
        Some(other) => other,
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    (registry.to_string(), repository)
}
// ANCHOR_END: parse

fn check_tag(tag: &str) -> Result<(), String> {
    let valid_first = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let valid = |c: char| valid_first(c) || c == '.' || c == '-';
    if tag.is_empty() {
        return Err("the tag after `:` is empty".into());
    }
    if tag.len() > MAX_TAG {
        return Err(format!("the tag is longer than {MAX_TAG} characters"));
    }
    if !tag.starts_with(valid_first) || !tag.chars().all(valid) {
        return Err(format!(
            "invalid tag {tag:?} (letters, digits, `_`, `.` and `-`, not starting with `.` or `-`)"
        ));
    }
    Ok(())
}

fn check_registry(registry: &str) -> Result<(), String> {
    let bad = || format!("invalid registry host {registry:?}");
    let (host, port) = if let Some(bracketed) = registry.strip_prefix('[') {
        // An IPv6 address: `[::1]:5000`.
        let (address, after) = bracketed.split_once(']').ok_or_else(bad)?;
        address.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (address, None),
            _ => (address, Some(after.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if !registry.starts_with('[') && !host.split('.').all(is_host_label) {
        return Err(bad());
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port {port:?} in registry {registry:?}"));
        }
    }
    Ok(())
}

/// A DNS label: letters, digits and inner `-`.
fn is_host_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository name is missing".into());
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("repository name {path:?} must be lowercase"));
    }
    if path.len() == 64 && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "repository name {path:?} is 64 hex digits, which would be mistaken for an image id"
        ));
    }
    for component in path.split('/') {
        if !is_path_component(component) {
            return Err(format!(
                "invalid repository name {path:?}: {component:?} is not a valid part \
                 (lowercase letters and digits, separated by `.`, `_`, `__` or `-`)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`: it starts and
/// ends alphanumeric, and every run of other characters in between is one
/// of the separators.
fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    component.starts_with(alnum)
        && component.ends_with(alnum)
        && component
            .split(alnum)
            .filter(|run| !run.is_empty())
            .all(|sep| sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-'))
}

impl Reference {
    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry's `/v2/<name>/manifests/<reference>` for:
    /// the digest if there is one (it pins the content), else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The host to send registry API requests to. Docker Hub is the one
    /// registry whose name (`docker.io`) is not its API host.
    pub fn api_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`,
    /// `::1`): the one place plain HTTP is acceptable without the user
    /// saying so, because the bytes never cross a network.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => self.registry.split(':').next().unwrap_or_default(),
        };
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The short form Docker prints: `busybox:latest` for
    /// `docker.io/library/busybox:latest`, `user/app:1` for
    /// `docker.io/user/app:1`; other registries in full.
    pub fn familiar(&self) -> String {
        let name = if self.registry == DEFAULT_REGISTRY {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        format!("{name}{}", self.suffix())
    }

    fn suffix(&self) -> String {
        let mut suffix = String::new();
        if let Some(tag) = &self.tag {
            suffix.push(':');
            suffix.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            suffix.push('@');
            suffix.push_str(&digest.to_string());
        }
        suffix
    }
}

impl fmt::Display for Reference {
    /// The full normalized form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.registry, self.repository, self.suffix())
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(input: &str) -> Result<Reference> {
        Reference::parse(input)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_as_docker_and_podman_read_them() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let inputs = [
            "busybox".to_string(),
            "busybox:1.36".to_string(),
            "library/busybox".to_string(),
            "index.docker.io/library/busybox".to_string(),
            "alice/app:v2".to_string(),
            "localhost/app".to_string(),
            "localhost:5000/ns/app:v2".to_string(),
            "127.0.0.1:5000/busybox".to_string(),
            "quay.io/podman/hello".to_string(),
            format!("busybox@{digest}"),
            format!("ghcr.io/a/b:tag@{digest}"),
        ];
        let table: Vec<String> = inputs
            .iter()
            .map(|input| {
                let r = Reference::parse(input).unwrap();
                format!(
                    "{input}\n  full: {r}\n  familiar: {}\n  api host: {}, loopback: {}, manifest: {}",
                    r.familiar(),
                    r.api_host(),
                    r.is_loopback(),
                    r.manifest_reference()
                )
            })
            .collect();
        insta::assert_snapshot!(table.join("\n"));
    }

    use super::*;

    const HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    /// (typed, normalized, familiar)
    #[test]
    fn normalizes_like_docker() {
        let d = format!("sha256:{HEX}");
        let cases = [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest".to_string(),
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36".into(),
            ),
            (
                "library/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest".into(),
            ),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest".into(),
            ),
            (
                "index.docker.io/library/busybox:musl",
                "docker.io/library/busybox:musl",
                "busybox:musl".into(),
            ),
            ("user/app:v1", "docker.io/user/app:v1", "user/app:v1".into()),
            (
                "docker.io/library/a/b",
                "docker.io/library/a/b:latest",
                "library/a/b:latest".into(),
            ),
            (
                "quay.io/podman/stable:v5.0",
                "quay.io/podman/stable:v5.0",
                "quay.io/podman/stable:v5.0".into(),
            ),
            (
                "localhost/x",
                "localhost/x:latest",
                "localhost/x:latest".into(),
            ),
            (
                "localhost:5000/x",
                "localhost:5000/x:latest",
                "localhost:5000/x:latest".into(),
            ),
            (
                "registry.example.com:5000/ns/name:tag",
                "registry.example.com:5000/ns/name:tag",
                "registry.example.com:5000/ns/name:tag".into(),
            ),
            ("[::1]:5000/x:1", "[::1]:5000/x:1", "[::1]:5000/x:1".into()),
            (
                "ns/a.b-c__d--e_f",
                "docker.io/ns/a.b-c__d--e_f:latest",
                "ns/a.b-c__d--e_f:latest".into(),
            ),
            (
                "Registry/app",
                "Registry/app:latest",
                "Registry/app:latest".into(),
            ),
            // Without a `/`, `localhost` is a repository and 5000 a tag.
            (
                "localhost:5000",
                "docker.io/library/localhost:5000",
                "localhost:5000".into(),
            ),
            (
                "x:_Tag.1-2",
                "docker.io/library/x:_Tag.1-2",
                "x:_Tag.1-2".into(),
            ),
        ];
        for (typed, full, familiar) in cases {
            let r = Reference::parse(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(r.to_string(), full, "{typed}");
            assert_eq!(r.familiar(), familiar, "{typed}");
            // The normalized form parses back to itself.
            assert_eq!(Reference::parse(full).unwrap(), r, "{typed}");
        }
        let pinned = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(pinned.tag, None);
        assert_eq!(pinned.to_string(), format!("docker.io/library/busybox@{d}"));
        assert_eq!(pinned.familiar(), format!("busybox@{d}"));
        assert_eq!(pinned.manifest_reference(), d);
        let both = Reference::parse(&format!("localhost:5000/ns/app:1.0@{d}")).unwrap();
        assert_eq!(both.registry, "localhost:5000");
        assert_eq!(both.repository, "ns/app");
        assert_eq!(both.tag.as_deref(), Some("1.0"));
        assert_eq!(both.digest.as_ref().map(|d| d.hex()), Some(HEX));
        assert_eq!(both.name(), "localhost:5000/ns/app");
        assert_eq!(both.to_string(), format!("localhost:5000/ns/app:1.0@{d}"));
        assert_eq!(
            "busybox".parse::<Reference>().unwrap().manifest_reference(),
            "latest"
        );
    }

    #[test]
    fn api_host_and_loopback() {
        let host = |s: &str| Reference::parse(s).unwrap().api_host().to_string();
        assert_eq!(host("busybox"), "registry-1.docker.io");
        assert_eq!(host("quay.io/a/b"), "quay.io");
        assert_eq!(host("localhost:5000/a"), "localhost:5000");
        let loopback = |s: &str| Reference::parse(s).unwrap().is_loopback();
        assert!(loopback("localhost/x"));
        assert!(loopback("localhost:5000/x"));
        assert!(loopback("127.0.0.1:5000/x"));
        assert!(loopback("127.1.2.3/x"));
        assert!(loopback("[::1]:5000/x"));
        assert!(!loopback("busybox"));
        assert!(!loopback("10.0.0.1:5000/x"));
        assert!(!loopback("localhost.example.com/x"));
        assert!(!loopback("myhost:5000/x"));
    }

    /// Each invalid reference fails with an error that names the bad part.
    #[test]
    fn invalid_references_say_why() {
        let long_tag = "t".repeat(129);
        let long_name = format!("{}/x", "a".repeat(250));
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "it is empty"),
            (
                "Busybox".into(),
                "repository name \"Busybox\" must be lowercase",
            ),
            (
                "docker.io/Library/busybox".into(),
                "repository name \"Library/busybox\" must be lowercase",
            ),
            ("busybox:".into(), "the tag after `:` is empty"),
            ("busybox:-x".into(), "invalid tag \"-x\""),
            ("busybox:a+b".into(), "invalid tag \"a+b\""),
            (
                format!("busybox:{long_tag}"),
                "the tag is longer than 128 characters",
            ),
            (
                "busybox@sha256:abc".into(),
                "invalid digest \"sha256:abc\": a sha256 digest has 64 hex digits, this one 3",
            ),
            (
                format!("busybox@md5:{HEX}"),
                "unsupported algorithm \"md5\"",
            ),
            (
                format!("busybox@sha256:{}", HEX.to_uppercase()),
                "only lowercase hex digits",
            ),
            ("-busybox".into(), "\"-busybox\" is not a valid part"),
            ("busybox/".into(), "\"\" is not a valid part"),
            ("a//b".into(), "\"\" is not a valid part"),
            ("a___b".into(), "\"a___b\" is not a valid part"),
            ("a.-b".into(), "\"a.-b\" is not a valid part"),
            (
                "host:port/x".into(),
                "invalid port \"port\" in registry \"host:port\"",
            ),
            (
                "bad_host.com/x".into(),
                "invalid registry host \"bad_host.com\"",
            ),
            ("-bad.com/x".into(), "invalid registry host \"-bad.com\""),
            ("[::1/x".into(), "invalid registry host \"[::1\""),
            ("localhost/".into(), "the repository name is missing"),
            (":tag".into(), "the repository name is missing"),
            (HEX.into(), "is 64 hex digits"),
            ("a:b:c".into(), "\"a:b\" is not a valid part"),
            ("a@b@c".into(), "invalid digest \"b@c\""),
            (long_name, "is longer than 255 characters"),
        ];
        for (typed, wanted) in cases {
            let message = match Reference::parse(&typed) {
                Ok(r) => panic!("{typed:?} parsed as {r}"),
                Err(e) => e.to_string(),
            };
            let prefix = format!("invalid image reference {typed:?}: ");
            assert!(message.starts_with(&prefix), "{message}");
            assert!(message.contains(wanted), "{typed:?}: {message}");
        }
    }
}
