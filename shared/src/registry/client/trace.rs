//! `--trace`: each request and its answer, as a learner reads them.

// ANCHOR: trace
/// `pull --trace`: one line per request, as it leaves. The `Accept` list
/// (the same four media types on every manifest request) is left out to
/// keep lines readable; `Range` is shown. A token is shown by its first
/// characters only: it is as good as a password while it lasts.
pub(super) fn trace_request(path: &str, headers: &[(&str, String)], authorization: Option<&str>) {
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
pub(super) fn trace_response(response: &ureq::http::Response<ureq::Body>) {
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
