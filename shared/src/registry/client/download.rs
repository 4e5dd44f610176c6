//! The download loop: a blob streamed to its destination through the
//! verifier, resumed with `Range` where a connection broke.

use std::io::{self, Read, Write};

use super::*;

impl Client {
    // ANCHOR: streaming_download
    /// The download loop: GET (with `Range` once something arrived), copy
    /// the body into `sink` chunk by chunk, and on a broken connection or a
    /// `5xx` wait and go again from where it stopped.
    pub(super) fn download(
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
