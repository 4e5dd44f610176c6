//! Who may pull: anonymous access, Bearer tokens and Basic credentials.
//!
//! A registry says how it wants to be asked in its answer to a request it
//! refused: `401 Unauthorized` with a `WWW-Authenticate` header. There are
//! two kinds of challenge, and the client's job is to answer either:
//!
//! ```text
//!   WWW-Authenticate: Basic realm="registry"
//!       → send `Authorization: Basic base64(user:password)` with every request
//!
//!   WWW-Authenticate: Bearer realm="https://auth.docker.io/token",
//!                            service="registry.docker.io",
//!                            scope="repository:library/busybox:pull"
//!       → GET realm?service=…&scope=… (with Basic credentials if we have any,
//!         anonymously otherwise), read {"token": …, "expires_in": …},
//!         then send `Authorization: Bearer TOKEN` to the registry
//! ```
//!
//! Docker Hub uses the second kind even for public images: the token server
//! hands out an anonymous token that allows `pull` on one repository. The
//! token is kept and reused for that *scope* until it expires, so a pull of
//! ten layers costs one token request, not ten.
//!
//! Credentials come from the files `docker login` and `podman login` write
//! (see [`credentials_for`]). They are sent only after the registry asked for
//! them, and never over plain HTTP to a host that is not this machine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::{Error, Result};

/// A user name and password (or a registry's identity token used as one).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// The file the credentials were read from, to name it in errors.
    pub source: Option<PathBuf>,
}

impl std::fmt::Debug for Credentials {
    // Never print a password, not even in a test's failure message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` header value of Basic authentication.
    pub fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`: send the user name and password with every request.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`: fetch a token from `realm`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The registry's name at the token server (Docker Hub: `registry.docker.io`).
        service: Option<String>,
        /// What the token should allow (`repository:NAME:pull`).
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parse a `WWW-Authenticate` header value; `None` for a scheme we do
    /// not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => None,
        }
    }
}

/// `key=value, key="quoted, value"` → a map (keys in lower case). A
/// quoted value may hold commas (`scope="repository:a:pull,push"`), so a
/// plain `split(',')` is not enough.
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    params
}

/// A token and when it stops being good.
#[derive(Debug, Clone)]
struct Token {
    value: String,
    expires: Instant,
    /// How long the server said it lasts, in seconds.
    lifetime: u64,
}

/// The authentication state of one registry: its credentials, whether it
/// asked for Basic, and the Bearer tokens obtained so far, per scope.
#[derive(Debug)]
pub struct Auth {
    registry: String,
    credentials: Option<Credentials>,
    /// Where we looked for credentials, for the "log in first" error.
    searched: Vec<PathBuf>,
    basic: bool,
    tokens: HashMap<String, Token>,
    trace: bool,
}

impl Auth {
    /// The state for `registry` (`host[:port]`), with credentials looked up
    /// in `auth_file` or the usual places ([`credentials_for`]).
    pub fn new(registry: &str, auth_file: Option<&Path>) -> Result<Auth> {
        let searched = auth_files(auth_file);
        let credentials = credentials_in(registry, &searched)?;
        Ok(Auth {
            registry: registry.to_string(),
            credentials,
            searched,
            basic: false,
            tokens: HashMap::new(),
            trace: false,
        })
    }

    /// With `on`, say on standard error what each challenge is answered
    /// with (`pull --trace`).
    pub fn traced(mut self, on: bool) -> Auth {
        self.trace = on;
        self
    }

    /// The credentials found for this registry, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The `Authorization` header to send for a request needing `scope`,
    /// or `None` to ask anonymously (the registry will say if that is not
    /// enough).
    pub fn header(&self, scope: &str) -> Option<String> {
        if let Some(token) = self.tokens.get(scope) {
            if token.expires > Instant::now() {
                return Some(format!("Bearer {}", token.value));
            }
        }
        if self.basic {
            return self.credentials.as_ref().map(Credentials::basic_header);
        }
        None
    }

    /// Forget the token of `scope` (the registry refused it).
    pub fn forget(&mut self, scope: &str) {
        self.tokens.remove(scope);
    }

    /// The error for a registry that asks for a login we do not have.
    pub fn login_required(&self, scope: &str) -> Error {
        let files: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Error::Invalid(format!(
            "{}: authentication required for {scope}, and no credentials for it were found \
             (looked in: {}) — log in with `podman login {0}` or `docker login {0}`",
            self.registry,
            if files.is_empty() {
                "no auth file".to_string()
            } else {
                files.join(", ")
            }
        ))
    }

    /// The error for credentials the registry refused.
    pub fn refused(&self, scope: &str) -> Error {
        match &self.credentials {
            Some(c) => Error::Invalid(format!(
                "{}: the registry refused the credentials of user {:?}{} for {scope} \
                 — check the password, or log in again",
                self.registry,
                c.username,
                c.source
                    .as_ref()
                    .map(|p| format!(" (from {})", p.display()))
                    .unwrap_or_default()
            )),
            None => Error::Invalid(format!(
                "{}: the registry refused anonymous access to {scope} even with a token \
                 — the repository may be private (log in first) or not exist",
                self.registry
            )),
        }
    }

    // ANCHOR: token_flow
    /// Answer a registry's `401` challenge so that the next request for
    /// `scope` carries what it asked for.
    ///
    /// - Basic: remember to send the credentials (there must be some).
    /// - Bearer: ask the token server at `realm` for a token allowing
    ///   `scope`, presenting the credentials if we have any (anonymous
    ///   tokens are how public images are pulled from Docker Hub), and keep
    ///   it until it expires.
    pub fn answer(
        &mut self,
        agent: &ureq::Agent,
        challenge: &Challenge,
        scope: &str,
    ) -> Result<()> {
        match challenge {
            Challenge::Basic => {
                if self.credentials.is_none() {
                    return Err(self.login_required(scope));
                }
                self.basic = true;
                if self.trace {
                    if let Some(c) = &self.credentials {
                        eprintln!(
                            "  (Basic: the password of {} goes with every request)",
                            c.username
                        );
                    }
                }
                Ok(())
            }
            Challenge::Bearer { realm, service, .. } => {
                // Credentials go only over TLS or to this very machine.
                let plain_remote = realm.starts_with("http://") && !realm_is_loopback(realm);
                let mut request = agent.get(realm.as_str()).query("scope", scope);
                if let Some(service) = service {
                    request = request.query("service", service);
                }
                let login = match (&self.credentials, plain_remote) {
                    (Some(c), false) => {
                        request = request.header("Authorization", c.basic_header());
                        format!("as {}", c.username)
                    }
                    _ => "anonymously".to_string(),
                };
                if self.trace {
                    let service = service.as_deref().map(|s| format!("&service={s}"));
                    eprintln!(
                        "→ GET {realm}?scope={scope}{}  ({login})",
                        service.unwrap_or_default()
                    );
                }
                let mut response = request.call().map_err(|e| {
                    Error::Invalid(format!(
                        "{}: asking {realm} for a token: {e}",
                        self.registry
                    ))
                })?;
                let status = response.status().as_u16();
                if self.trace && status != 200 {
                    eprintln!("← {status}");
                }
                match status {
                    200 => {}
                    401 | 403 => return Err(self.refused(scope)),
                    status => {
                        return Err(Error::Invalid(format!(
                            "{}: the token server {realm} answered {status}",
                            self.registry
                        )))
                    }
                }
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| Error::Invalid(format!("reading a token from {realm}: {e}")))?;
                let token = TokenResponse::parse(&body).map_err(|e| {
                    Error::Invalid(format!("{}: a token from {realm}: {e}", self.registry))
                })?;
                if self.trace {
                    let shown: String = token.value.chars().take(8).collect();
                    eprintln!(
                        "← 200 OK  a token for {scope}: {shown}…, good for {} s",
                        token.lifetime
                    );
                }
                self.tokens.insert(scope.to_string(), token);
                Ok(())
            }
        }
    }
    // ANCHOR_END: token_flow
}

/// The token server's answer. Docker Hub sends both `token` and
/// `access_token` (OAuth2's name); some servers only one of them.
struct TokenResponse;

impl TokenResponse {
    fn parse(body: &[u8]) -> std::result::Result<Token, String> {
        let json: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let value = json
            .get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .ok_or("no \"token\" or \"access_token\" in the answer")?;
        // The distribution spec: "If omitted, assume 60 seconds". Keep a
        // margin so a token does not expire between the check and its use.
        let lifetime = json
            .get("expires_in")
            .and_then(|v| v.as_u64())
            .unwrap_or(60)
            .max(60);
        Ok(Token {
            value: value.to_string(),
            expires: Instant::now() + Duration::from_secs(lifetime - 10),
            lifetime,
        })
    }
}

fn realm_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    super::client::is_loopback(host)
}

// ANCHOR: auth_files
/// The auth files to read, most specific first: `explicit` if given, else
/// `$REGISTRY_AUTH_FILE` (Podman's override), `$XDG_RUNTIME_DIR/containers/auth.json`
/// (where `podman login` writes), and Docker's `$DOCKER_CONFIG/config.json`
/// or `~/.docker/config.json`. All use the same format:
///
/// ```json
/// { "auths": { "registry.example.com": { "auth": "base64(user:password)" } } }
/// ```
pub fn auth_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(file) = explicit {
        return vec![file.to_path_buf()];
    }
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(dir).join("containers/auth.json"));
    }
    if let Some(dir) = var("DOCKER_CONFIG") {
        files.push(PathBuf::from(dir).join("config.json"));
    } else if let Some(home) = var("HOME") {
        files.push(PathBuf::from(home).join(".docker/config.json"));
    }
    files
}
// ANCHOR_END: auth_files

/// The credentials for `registry` (`host[:port]`) in the first of
/// [`auth_files`]`(explicit)` that has an entry for it, or `None`.
pub fn credentials_for(registry: &str, explicit: Option<&Path>) -> Result<Option<Credentials>> {
    credentials_in(registry, &auth_files(explicit))
}

fn credentials_in(registry: &str, files: &[PathBuf]) -> Result<Option<Credentials>> {
    for file in files {
        let text = match std::fs::read(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Invalid(format!(
                    "reading credentials from {}: {e}",
                    file.display()
                )))
            }
        };
        if let Some(mut found) = parse_auth_file(&text, registry)
            .map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?
        {
            found.source = Some(file.clone());
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Find `registry`'s entry in the text of an auth file.
///
/// Keys are written in several ways: `host`, `https://host`,
/// `https://host/v1/` (Docker Hub's historical key is
/// `https://index.docker.io/v1/`), so the scheme and path are ignored when
/// comparing; `docker.io`'s aliases all match each other.
pub fn parse_auth_file(
    text: &[u8],
    registry: &str,
) -> std::result::Result<Option<Credentials>, String> {
    let json: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let wanted = normalize_host(registry);
    for (key, entry) in auths {
        if normalize_host(key) != wanted {
            continue;
        }
        if let Some(encoded) = entry
            .get("auth")
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("the \"auth\" of {key} is not base64: {e}"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| format!("the \"auth\" of {key} is not UTF-8"))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or(format!("the \"auth\" of {key} is not user:password"))?;
            return Ok(Some(Credentials {
                username: username.to_string(),
                password: password.to_string(),
                source: None,
            }));
        }
        let field = |name| entry.get(name).and_then(|v| v.as_str()).map(str::to_string);
        if let (Some(username), Some(password)) = (field("username"), field("password")) {
            return Ok(Some(Credentials {
                username,
                password,
                source: None,
            }));
        }
    }
    Ok(None)
}

fn normalize_host(key: &str) -> String {
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_keep_commas_inside_quotes() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(
            Challenge::parse("Bearer service=x"),
            None,
            "a realm is required"
        );
    }

    #[test]
    fn auth_files_accept_docker_and_podman_spellings() {
        let text = br#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "YWxpY2U6c2VjcmV0"},
            "127.0.0.1:5000": {"username": "bob", "password": "pw"},
            "quay.io": {"auth": ""}
        }}"#;
        let hub = parse_auth_file(text, "docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("alice", "secret")
        );
        let local = parse_auth_file(text, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(local.username, "bob");
        assert_eq!(parse_auth_file(text, "127.0.0.1:5001").unwrap(), None);
        assert_eq!(parse_auth_file(text, "quay.io").unwrap(), None);
        assert!(parse_auth_file(b"{", "x").unwrap_err().contains("JSON"));
        assert!(
            !format!("{hub:?}").contains("secret"),
            "Debug hides passwords"
        );
    }

    #[test]
    fn an_explicit_auth_file_is_the_only_one_read() {
        let file = Path::new("/nonexistent/auth.json");
        assert_eq!(auth_files(Some(file)), vec![file.to_path_buf()]);
        assert_eq!(credentials_for("x", Some(file)).unwrap(), None);
    }

    #[test]
    fn tokens_last_as_long_as_the_server_says() {
        let t = TokenResponse::parse(br#"{"access_token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.value, "abc");
        assert!(t.expires > Instant::now() + Duration::from_secs(280));
        assert!(TokenResponse::parse(br#"{"token":""}"#).is_err());
    }
}
