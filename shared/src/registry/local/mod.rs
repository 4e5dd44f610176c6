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
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use tempfile::TempDir;

/// Where Debian's `docker-registry` package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

pub mod images;
mod push;

pub use push::{write_auth_file, Pushed, Pusher};

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
        if with_auth && !crate::cli::on_path("htpasswd") {
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
