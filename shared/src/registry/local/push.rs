//! The push half of the protocol: monolithic blob uploads and manifest
//! PUTs — how the kit's images get into a registry.

use crate::registry::client::sha256_digest;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

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
            crate::registry::auth::Credentials {
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
