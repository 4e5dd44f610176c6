//! Test support for the registry client (the `testing` feature, and the
//! library's own unit tests).
//!
//! - [`MockServer`]: a few lines of HTTP on a thread, for the failures a
//!   real registry will not produce on demand (a corrupt blob, a dropped
//!   connection, a 401 that never ends).
//! - [`token_gate`]: Docker Hub's token login, played in front of a real
//!   registry (`just registry` runs one).
//!
//! The real registry and the kit's images are [`super::local`]'s.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::sha256_digest;

/// A request as the [`MockServer`] saw it.
#[derive(Debug, Clone)]
pub struct MockRequest {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
}

impl MockRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What the [`MockServer`] answers.
#[derive(Debug, Clone)]
pub struct MockResponse {
    /// The status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Send only this many bytes of the body (with the full
    /// `Content-Length`), then close: a connection dropped mid-way.
    pub cut_after: Option<usize>,
}

impl MockResponse {
    /// `status` with `body`.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> MockResponse {
        MockResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
            cut_after: None,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> MockResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Drop the connection after `n` bytes of the body.
    pub fn cut_after(mut self, n: usize) -> MockResponse {
        self.cut_after = Some(n);
        self
    }
}

type Handler = dyn Fn(&MockRequest) -> MockResponse + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1 answering each request with what a
/// handler returns, one connection at a time (`Connection: close`).
pub struct MockServer {
    host: String,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<MockRequest>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("host", &self.host)
            .finish()
    }
}

impl MockServer {
    /// Start a server whose answers come from `handler`.
    pub fn start(
        handler: impl Fn(&MockRequest) -> MockResponse + Send + Sync + 'static,
    ) -> MockServer {
        MockServer::start_at("127.0.0.1:0", handler).expect("binding 127.0.0.1:0")
    }

    /// Start a server on `address` (`127.0.0.1:PORT`).
    pub fn start_at(
        address: &str,
        handler: impl Fn(&MockRequest) -> MockResponse + Send + Sync + 'static,
    ) -> io::Result<MockServer> {
        let listener = TcpListener::bind(address)?;
        let host = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Box<Handler> = Box::new(handler);
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve(stream, &*handler, &requests);
                    }
                }
            })
        };
        Ok(MockServer {
            host,
            stop,
            requests,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<MockRequest> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wake `accept`
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<MockRequest>>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let request = MockRequest {
        method,
        path,
        headers,
    };
    requests.lock().expect("requests").push(request.clone());
    let response = handler(&request);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} Mock\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    let body = match response.cut_after {
        Some(n) => &response.body[..n.min(response.body.len())],
        None => &response.body[..],
    };
    out.write_all(body)?;
    out.flush()?;
    // Half-close and drain, so the client sees an orderly end (or a cut).
    let _ = out.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// Docker Hub's login dance, played in front of a real registry.
///
/// `docker-registry` can only check tokens that a separate token server
/// signed, which is more machinery than a lesson needs. The gate plays
/// both parts with the same messages Docker Hub sends: a request without
/// a token gets `401` and a `WWW-Authenticate: Bearer realm=…,service=…,
/// scope=…` challenge; `GET realm?service=…&scope=…` hands out a token
/// (anonymously, as Docker Hub does for public images); a request that
/// carries a token it handed out is passed on to `upstream` and its
/// answer relayed. Bodies are held in memory: for the kit's small images.
pub fn token_gate(upstream: &str, address: &str) -> io::Result<MockServer> {
    let upstream = upstream.to_string();
    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let counter = AtomicUsize::new(0);
    // The gate learns its own address only once it listens: the realm
    // is answered relative to the Host header the client sent.
    MockServer::start_at(address, move |request| {
        let host = request.header("host").unwrap_or("127.0.0.1").to_string();
        if request.path.starts_with("/token?") {
            // A fresh value each time, hard enough to guess for a lesson:
            // a hash of a counter and the time. (Docker Hub's are signed
            // JWTs naming the scope; this gate only remembers its own.)
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let token = sha256_digest(format!("{n}-{nanos}").as_bytes())
                .trim_start_matches("sha256:")[..32]
                .to_string();
            issued.lock().expect("tokens").push(token.clone());
            let body = serde_json::json!({
                "token": token,
                "access_token": token,
                "expires_in": 300,
            });
            return MockResponse::new(200, body.to_string())
                .header("Content-Type", "application/json");
        }
        let presented = request
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_string);
        let known = presented.is_some_and(|t| issued.lock().expect("tokens").contains(&t));
        if !known {
            // The scope names the repository the path is about.
            let scope = request
                .path
                .strip_prefix("/v2/")
                .and_then(|rest| {
                    let cut = rest.find("/manifests/").or_else(|| rest.find("/blobs/"))?;
                    Some(format!(",scope=\"repository:{}:pull\"", &rest[..cut]))
                })
                .unwrap_or_default();
            let challenge =
                format!("Bearer realm=\"http://{host}/token\",service=\"berth-kit\"{scope}");
            let body =
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            return MockResponse::new(401, body)
                .header("Content-Type", "application/json")
                .header("WWW-Authenticate", &challenge);
        }
        let url = format!("http://{upstream}{}", request.path);
        let mut forward = agent.get(&url);
        if let Some(accept) = request.header("accept") {
            forward = forward.header("Accept", accept);
        }
        match forward.call() {
            Ok(mut answer) => {
                let status = answer.status().as_u16();
                let mut reply = MockResponse::new(status, Vec::new());
                for name in ["content-type", "docker-content-digest", "location"] {
                    if let Some(value) = answer.headers().get(name).and_then(|v| v.to_str().ok()) {
                        reply = reply.header(name, value);
                    }
                }
                reply.body = answer
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_vec()
                    .unwrap_or_default();
                reply
            }
            Err(e) => MockResponse::new(502, format!("upstream {upstream}: {e}")),
        }
    })
}
