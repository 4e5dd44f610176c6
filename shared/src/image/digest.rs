//! Digests: naming content by its bytes.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! A registry does not serve "busybox's third layer"; it serves
//! `sha256:5f7e…`, the blob whose bytes hash to that value. Naming content
//! by its hash is called **content addressing**, and it is what makes a
//! pull trustworthy and cheap:
//!
//! - **Integrity without trusting the server.** Once we hold a manifest we
//!   trust, every blob it lists is pinned by its digest. A mirror, a proxy
//!   or a compromised storage bucket can refuse to serve a blob, but cannot
//!   serve a *different* one without being caught: we hash the bytes as
//!   they arrive and compare.
//! - **Sharing for free.** Two images built on the same base list the same
//!   layer digests, so the store keeps (and the client downloads) each
//!   layer once.
//! - **Immutability.** A tag like `latest` can move; a digest cannot. That
//!   is why `busybox@sha256:…` pins an image exactly.
//!
//! The check must happen *while* the bytes stream past: a layer can be
//! gigabytes, and holding it in memory to hash it first would make the
//! pull's memory grow with the image. [`Verifier`] wraps the writer the
//! bytes go to and hashes each buffer on its way through; the caller only
//! keeps (renames into the store) what [`Verifier::finish`] accepted.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// A content digest: `sha256:` and 64 lowercase hexadecimal digits.
///
/// The OCI image spec allows other algorithms (sha512, blake3), but every
/// registry and image in use names content with sha256, so this type only
/// holds that one: a digest with another algorithm is refused when parsed,
/// rather than accepted and never verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// The only algorithm the kit accepts.
pub const ALGORITHM: &str = "sha256";

impl Digest {
    // ANCHOR: parse
    /// Parse `sha256:<64 lowercase hex digits>`. The error says which part
    /// is wrong, so a typo in `name@sha256:…` is easy to find.
    pub fn parse(text: &str) -> Result<Digest> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(invalid(
                text,
                "a digest is `sha256:` followed by 64 hex digits",
            ));
        };
        if algorithm != ALGORITHM {
            return Err(invalid(
                text,
                &format!("unsupported algorithm {algorithm:?} (only sha256 is)"),
            ));
        }
        if hex.len() != 64 {
            return Err(invalid(
                text,
                &format!("a sha256 digest has 64 hex digits, this one {}", hex.len()),
            ));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid(
                text,
                "only lowercase hex digits (0-9, a-f) may follow `sha256:`",
            ));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }
    // ANCHOR_END: parse

    /// The 64 hex digits, without `sha256:`: the file name the store
    /// keeps the blob under.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The algorithm (always `sha256`).
    pub fn algorithm(&self) -> &'static str {
        ALGORITHM
    }

    /// The first 12 hex digits, as `docker images` prints an image id.
    /// For people, never for lookups: it is not unique.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// The digest of a byte string held in memory (a manifest, a config).
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest of everything `reader` yields, read in small pieces: for
    /// checking a blob already on disk ("is the store still intact?").
    pub fn of_reader(mut reader: impl Read) -> io::Result<Digest> {
        let mut hashing = Verifier::new(io::sink());
        io::copy(&mut reader, &mut hashing)?;
        Ok(hashing.digest())
    }

    /// The digest of a file's contents, read as a stream (never whole).
    pub fn of_file(path: &std::path::Path) -> Result<Digest> {
        std::fs::File::open(path)
            .and_then(Digest::of_reader)
            .map_err(|e| Error::io("hashing", path, e))
    }

    fn from_hasher(hasher: Sha256) -> Digest {
        Digest {
            hex: to_hex(&hasher.finalize()),
        }
    }
}

/// Free-function form of [`Digest::of_bytes`].
pub fn of_bytes(bytes: &[u8]) -> Digest {
    Digest::of_bytes(bytes)
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ALGORITHM}:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(text: &str) -> Result<Digest> {
        Digest::parse(text)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = Error;

    /// A digest from a manifest's descriptor (oci-spec's type), refused if
    /// it is not sha256.
    fn try_from(digest: &oci_spec::image::Digest) -> Result<Digest> {
        Digest::parse(digest.as_ref())
    }
}

fn invalid(text: &str, why: &str) -> Error {
    Error::Invalid(format!("invalid digest {text:?}: {why}"))
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(DIGITS[usize::from(byte >> 4)] as char);
        hex.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    hex
}

/// A writer that hashes every byte it passes on.
///
/// Wrap the file a blob is downloaded into, copy the response body into
/// the verifier, then call [`finish`](Verifier::finish) with the digest
/// the manifest promised. Only if it matches does the caller get the file
/// back to rename into the store; otherwise the error says what arrived,
/// and the partial file is thrown away. Memory use is one hash state (a
/// hundred bytes), whatever the blob's size.
#[derive(Debug)]
pub struct Verifier<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
    /// An error of `inner` itself (a full disk), kept apart from errors
    /// of whatever feeds the verifier (a broken connection).
    failed: Option<io::Error>,
}

// ANCHOR: verify
impl<W: Write> Verifier<W> {
    /// Start hashing what goes into `inner`.
    pub fn new(inner: W) -> Verifier<W> {
        Verifier {
            inner,
            hasher: Sha256::new(),
            written: 0,
            failed: None,
        }
    }

    /// Hash bytes that are *already* in the destination without writing
    /// them again: resuming an interrupted download (HTTP `Range`) starts
    /// by feeding the partial file through here, so the final digest
    /// covers the whole blob.
    pub fn absorb(&mut self, mut already_written: impl Read) -> io::Result<u64> {
        let mut hashing = HashOnly(&mut self.hasher);
        let count = io::copy(&mut already_written, &mut hashing)?;
        self.written += count;
        Ok(count)
    }

    /// How many bytes were hashed so far.
    pub fn bytes(&self) -> u64 {
        self.written
    }

    /// The digest of the bytes hashed so far.
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }

    /// The error the destination itself returned, if it failed (a full
    /// disk): a download that failed *that* way must not be retried.
    pub fn take_failure(&mut self) -> Option<io::Error> {
        self.failed.take()
    }

    /// Whether the destination itself failed.
    pub fn destination_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Flush the writer and hand it back if the bytes hash to `expected`;
    /// refuse them otherwise ([`Error::DigestMismatch`], naming `what`).
    /// The caller must not keep a refused blob: whatever it holds, it is
    /// not what the manifest named.
    pub fn finish(mut self, expected: &Digest, what: &str) -> Result<W> {
        self.inner
            .flush()
            .map_err(|e| Error::Invalid(format!("writing {what} {expected}: {e}")))?;
        let actual = self.digest();
        if &actual != expected {
            return Err(Error::DigestMismatch {
                what: what.to_string(),
                expected: expected.to_string(),
                actual: actual.to_string(),
                bytes: self.written,
            });
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for Verifier<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash exactly what the inner writer accepted: a short write must
        // not hash bytes that never reached the file.
        match self.inner.write(buf) {
            Ok(count) => {
                self.hasher.update(&buf[..count]);
                self.written += count as u64;
                Ok(count)
            }
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                Err(io::Error::new(kind, "writing the blob"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
// ANCHOR_END: verify

// ANCHOR: reading
/// The same check for bytes that are *read*: a reader that passes every
/// byte of `inner` through a [`Verifier`] on its way. The unpack reads a
/// layer's uncompressed tar stream through one, so that what it wrote to
/// disk is checked against the image config's `diff_id` for that layer.
#[derive(Debug)]
pub struct VerifyingReader<R: Read> {
    inner: R,
    verifier: Verifier<io::Sink>,
}

impl<R: Read> VerifyingReader<R> {
    /// Start hashing what is read from `inner`.
    pub fn new(inner: R) -> VerifyingReader<R> {
        VerifyingReader {
            inner,
            verifier: Verifier::new(io::sink()),
        }
    }

    /// Check that everything read so far hashes to `expected` (see
    /// [`Verifier::finish`]).
    pub fn finish(self, expected: &Digest, what: &str) -> Result<()> {
        self.verifier.finish(expected, what).map(drop)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.verifier.write_all(&buf[..count])?;
        Ok(count)
    }
}
// ANCHOR_END: reading

/// A writer that only hashes (for [`Verifier::absorb`]).
struct HashOnly<'a>(&'a mut Sha256);

impl Write for HashOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256 of the empty string, a value worth recognising on sight.
    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn known_digests() {
        assert_eq!(of_bytes(b"").to_string(), EMPTY);
        assert_eq!(Digest::of_bytes(b"hello").to_string(), HELLO);
        assert_eq!(Digest::of_reader(&b"hello"[..]).unwrap().to_string(), HELLO);
        let d = Digest::parse(HELLO).unwrap();
        assert_eq!(d.hex(), &HELLO[7..]);
        assert_eq!(d.short(), "2cf24dba5fb0");
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(HELLO.parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases = [
            (
                "2cf24dba",
                "a digest is `sha256:` followed by 64 hex digits",
            ),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                "unsupported algorithm \"md5\"",
            ),
            ("sha256:abc", "64 hex digits, this one 3"),
            (
                "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
                "only lowercase hex digits",
            ),
            (
                "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",
                "only lowercase hex digits",
            ),
        ];
        for (text, wanted) in cases {
            let message = Digest::parse(text).unwrap_err().to_string();
            assert!(
                message.starts_with(&format!("invalid digest {text:?}: ")),
                "{message}"
            );
            assert!(message.contains(wanted), "{text}: {message}");
        }
    }

    #[test]
    fn verifier_accepts_matching_bytes() {
        let mut v = Verifier::new(Vec::new());
        v.write_all(b"hel").unwrap();
        v.write_all(b"lo").unwrap();
        assert_eq!(v.bytes(), 5);
        let written = v.finish(&Digest::parse(HELLO).unwrap(), "blob").unwrap();
        assert_eq!(written, b"hello");
    }

    #[test]
    fn verifier_refuses_other_bytes() {
        let mut v = Verifier::new(Vec::new());
        v.write_all(b"hellO").unwrap();
        let error = v
            .finish(&Digest::parse(HELLO).unwrap(), "blob")
            .unwrap_err();
        let actual = Digest::of_bytes(b"hellO");
        assert_eq!(
            error.to_string(),
            format!(
                "blob {HELLO} does not match its digest: its 5 bytes hash to {actual}; refused"
            )
        );
        assert!(matches!(error, Error::DigestMismatch { bytes: 5, .. }));
    }

    #[test]
    fn verifier_resumes_over_bytes_already_written() {
        let mut v = Verifier::new(Vec::new());
        assert_eq!(v.absorb(&b"hel"[..]).unwrap(), 3);
        v.write_all(b"lo").unwrap();
        let rest = v.finish(&Digest::parse(HELLO).unwrap(), "blob").unwrap();
        assert_eq!(rest, b"lo");
    }

    #[test]
    fn a_reader_is_checked_as_it_is_read() {
        let mut reading = VerifyingReader::new(&b"hello"[..]);
        let mut text = String::new();
        reading.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        reading
            .finish(&Digest::parse(HELLO).unwrap(), "layer")
            .unwrap();
        let mut reading = VerifyingReader::new(&b"hellO"[..]);
        io::copy(&mut reading, &mut io::sink()).unwrap();
        let error = reading
            .finish(&Digest::parse(HELLO).unwrap(), "layer")
            .unwrap_err();
        assert!(
            matches!(error, Error::DigestMismatch { bytes: 5, .. }),
            "{error}"
        );
    }

    #[test]
    fn converts_from_oci_spec() {
        let oci: oci_spec::image::Digest = HELLO.parse().unwrap();
        assert_eq!(Digest::try_from(&oci).unwrap().to_string(), HELLO);
    }
}
