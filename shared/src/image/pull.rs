//! `pull IMAGE`: from a registry into the store, layers unpacked.
//!
//! The order is the protocol's: the manifest names the config and the
//! layers by digest, so it comes first; then each blob, verified while it
//! streams, renamed into the store; then each layer unpacked once into a
//! directory of its own; and only when everything is there, the image's
//! name is pointed at its manifest. A pull that dies half-way leaves
//! verified blobs (kept), a partial download (resumed next time) and no
//! name — never a name that leads to missing pieces.

use std::fs;
use std::path::{Path, PathBuf};

use super::digest::Digest;
use super::reference::Reference;
use super::store::Store;
use crate::registry::client::{
    platform_name, sha256_file, Client, Options, Progress, ResolvedImage,
};
use crate::unpack::layer::unpack_atomically;
use crate::{Error, Result};
use oci_spec::image::ImageConfiguration;

/// A pulled image: its name, manifest, config and unpacked layers.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The full name it is stored under (`docker.io/library/busybox:latest`).
    pub name: String,
    /// The manifest's digest.
    pub manifest: String,
    /// The config blob's digest.
    pub config: String,
    /// The layer directories, lowest first.
    pub layers: Vec<PathBuf>,
    /// How many blobs were downloaded (the others were in the store).
    pub downloaded: usize,
    /// Blobs found damaged in the store and fetched again: each one's
    /// digest, and what its bytes hashed to.
    pub repaired: Vec<(String, String)>,
}

// ANCHOR: pull
/// How a pull reports a layer's download: `progress(name, size)` makes the
/// [`Progress`] for one layer. The protocol module draws nothing itself;
/// the command line passes progress bars (see `image::cli`), a test or a
/// manager passes [`quietly`] or its own.
pub type ProgressMaker<'a> = &'a (dyn Fn(&str, Option<u64>) -> Box<dyn Progress> + Sync);

/// No progress reported.
pub fn quietly(_name: &str, _size: Option<u64>) -> Box<dyn Progress> {
    Box::new(crate::registry::client::Quiet)
}

/// Pull `reference` into `store`, telling `progress` how each layer's
/// download goes.
pub fn pull(
    store: &Store,
    reference: &Reference,
    options: &Options,
    progress: ProgressMaker<'_>,
) -> Result<Pulled> {
    let mut client = Client::new(reference.api_host(), options)?;
    // From the first blob to the name: no garbage collection meanwhile.
    let pin = store.pin()?;
    let repository = reference.repository.clone();
    let image = client.resolve(&repository, &reference.manifest_reference())?;
    // The manifest and config are small: held in memory, checked, stored.
    let manifest = image.manifest_digest.clone();
    let mut repaired = Vec::new();
    once(store, &manifest, &mut repaired, |partial| {
        write_checked(partial, &manifest, &image.manifest_bytes)
    })?;
    let config = image.config.digest().to_string();
    let mut downloaded = 0;
    if once(store, &config, &mut repaired, |partial| {
        let bytes = client.small_blob(&repository, &config)?;
        write_checked(partial, &config, &bytes)
    })? {
        downloaded += 1;
    }
    let config_path = store.blob(&config)?;
    let config_bytes = fs::read(&config_path)
        .map_err(|e| Error::io("reading the image config", &config_path, e))?;
    let diff_ids = checked_config(&config_bytes, &image, options.platform.is_some())?;
    let mut layers = Vec::new();
    for (layer, diff_id) in image.layers.iter().zip(&diff_ids) {
        let digest = layer.digest().to_string();
        let fetched = once(store, &digest, &mut repaired, |partial| {
            let mut progress = progress(Digest::parse(&digest)?.short(), Some(layer.size()));
            client.blob_to_file(
                &repository,
                &digest,
                Some(layer.size()),
                partial,
                progress.as_mut(),
            )
        })?;
        if fetched {
            downloaded += 1;
        }
        let dir = store.layer(&digest)?;
        if !dir.exists() {
            let blob = store.blob(&digest)?;
            let file = fs::File::open(&blob).map_err(|e| Error::io("opening", &blob, e))?;
            unpack_atomically(file, layer.media_type().as_ref(), &dir, Some(diff_id))
                .map_err(|e| Error::Invalid(format!("layer {digest}: {}", e.report())))?;
        }
        layers.push(dir);
    }
    let name = reference.to_string();
    store.tag(&pin, &name, &manifest)?;
    Ok(Pulled {
        name,
        manifest,
        config,
        layers,
        downloaded,
        repaired,
    })
}
// ANCHOR_END: pull

// ANCHOR: config
/// The image config, checked before anything is named after it. It must be
/// an OCI image configuration; be for the platform asked for, when one was
/// (an index chose it, or `--platform` named it: a config for another
/// machine means the index or the manifest lies); and name one `diff_id`
/// per layer. Those are the digests of the layers *uncompressed*, which
/// the unpack checks while it writes the files — so a layer whose blob
/// matches the manifest but whose content is not the image's is refused
/// too. Returns them, lowest layer first.
fn checked_config(bytes: &[u8], image: &ResolvedImage, asked: bool) -> Result<Vec<Digest>> {
    let what = format!("the image config {}", image.config.digest());
    let config: ImageConfiguration = serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("{what} is not an OCI image configuration: {e}")))?;
    let wanted = &image.platform;
    let chosen = asked || image.index_digest.is_some();
    if chosen && (config.os() != wanted.os() || config.architecture() != wanted.architecture()) {
        return Err(Error::Invalid(format!(
            "{what} is for {}/{}, not the {} it was resolved for",
            config.os(),
            config.architecture(),
            platform_name(wanted)
        )));
    }
    if config.rootfs().typ() != "layers" {
        return Err(Error::Invalid(format!(
            "{what}: rootfs.type is {:?}, not \"layers\"",
            config.rootfs().typ()
        )));
    }
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != image.layers.len() {
        return Err(Error::Invalid(format!(
            "{what} lists {} layers (rootfs.diff_ids), the manifest {}",
            diff_ids.len(),
            image.layers.len()
        )));
    }
    diff_ids
        .iter()
        .map(|id| {
            Digest::parse(id).map_err(|e| Error::Invalid(format!("{what}: rootfs.diff_ids: {e}")))
        })
        .collect()
}
// ANCHOR_END: config

// ANCHOR: once
/// Put blob `digest` in the store unless it is there, intact: `fetch`
/// fills its partial file (verified), then it is renamed into place. The
/// blob's lock makes a second pull of the same blob wait, then find it
/// there. Returns whether `fetch` ran.
///
/// A blob already in the store is hashed again before it is trusted: a
/// disk, a stray `dd` or a learner's experiment may have changed it since
/// it was verified, and its name promises its content. A damaged one is
/// noted in `repaired`, removed and fetched again.
fn once(
    store: &Store,
    digest: &str,
    repaired: &mut Vec<(String, String)>,
    fetch: impl FnOnce(&Path) -> Result<()>,
) -> Result<bool> {
    let blob = store.blob(digest)?;
    if check(&blob, digest)? == Stored::Intact {
        return Ok(false);
    }
    let _lock = store.lock_blob(digest)?;
    match check(&blob, digest)? {
        Stored::Intact => return Ok(false), // another pull finished it while we waited
        Stored::Missing => {}
        Stored::Damaged(actual) => {
            fs::remove_file(&blob).map_err(|e| Error::io("removing", &blob, e))?;
            repaired.push((digest.to_string(), actual));
        }
    }
    let partial = store.partial(digest)?;
    fetch(&partial)?;
    store.commit_blob(digest, &partial)?;
    Ok(true)
}

/// What the store holds under a blob's name.
#[derive(Debug, PartialEq, Eq)]
enum Stored {
    /// Nothing yet.
    Missing,
    /// Bytes that hash to the name.
    Intact,
    /// Bytes that hash to something else (this).
    Damaged(String),
}

/// Hash the stored blob at `path` and compare with `digest`.
fn check(path: &Path, digest: &str) -> Result<Stored> {
    if !path.exists() {
        return Ok(Stored::Missing);
    }
    let actual = sha256_file(path)?;
    Ok(if actual == digest {
        Stored::Intact
    } else {
        Stored::Damaged(actual)
    })
}
// ANCHOR_END: once

/// Write a small document to `partial`, after checking it has `digest`.
fn write_checked(partial: &Path, digest: &str, bytes: &[u8]) -> Result<()> {
    let actual = Digest::of_bytes(bytes).to_string();
    if actual != digest {
        return Err(Error::DigestMismatch {
            what: "blob".into(),
            expected: digest.to_string(),
            actual,
            bytes: bytes.len() as u64,
        });
    }
    fs::write(partial, bytes).map_err(|e| Error::io("writing", partial, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::local::{images, Registry, TempDir};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn a_multi_layer_image_is_stored_once_even_by_two_pulls_at_once() {
        if let Some(why) = Registry::unavailable(false) {
            panic!("{why}");
        }
        let registry = Registry::start().unwrap();
        images::multi_layer(&registry.pusher(), "test/layers", "v1").unwrap();
        let dir = TempDir::with_prefix("berth-pull-store").unwrap();
        let store = Store::open(dir.path()).unwrap();
        let reference = Reference::parse(&format!("{}/test/layers:v1", registry.host())).unwrap();
        // Two pulls at once into one empty store.
        let pulls: Vec<Pulled> = std::thread::scope(|s| {
            let a = s.spawn(|| pull(&store, &reference, &Options::default(), &quietly));
            let b = s.spawn(|| pull(&store, &reference, &Options::default(), &quietly));
            [a.join().unwrap().unwrap(), b.join().unwrap().unwrap()].to_vec()
        });
        // Config and two layers: downloaded three times in all, not six.
        assert_eq!(pulls[0].downloaded + pulls[1].downloaded, 3);
        assert_eq!(pulls[0].layers, pulls[1].layers);
        assert_eq!(pulls[0].layers.len(), 2);
        // The upper layer's whiteout and opaque directory, as overlayfs
        // wants them.
        let upper = &pulls[0].layers[1];
        let whiteout = fs::symlink_metadata(upper.join("etc/hostname")).unwrap();
        assert!(whiteout.file_type().is_char_device());
        let opaque = nix::sys::stat::lstat(&upper.join("home")).map(|_| {
            let mut value = [0u8; 4];
            let name = std::ffi::CString::new("trusted.overlay.opaque").unwrap();
            let path =
                std::ffi::CString::new(upper.join("home").as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: both strings are NUL-terminated; `value` is writable
            // for its length.
            unsafe {
                libc::lgetxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    value.as_mut_ptr().cast(),
                    value.len(),
                )
            }
        });
        assert_eq!(opaque.unwrap(), 1);
        // Named, and a second pull downloads nothing.
        let names = store.images().unwrap();
        assert_eq!(names.get(&reference.to_string()), Some(&pulls[0].manifest));
        let again = pull(&store, &reference, &Options::default(), &quietly).unwrap();
        assert_eq!(again.downloaded, 0);
        // rmi removes everything the image alone needed.
        let lock = store.lock().unwrap();
        let removed = store.remove(&lock, &reference.to_string()).unwrap();
        assert_eq!(removed.len(), 6, "{removed:?}"); // 4 blobs, 2 layers
    }

    #[test]
    #[ignore = "needs Debian's docker-registry; just test runs it"]
    fn a_damaged_blob_in_the_store_is_found_and_fetched_again() {
        if let Some(why) = Registry::unavailable(false) {
            panic!("{why}");
        }
        let registry = Registry::start().unwrap();
        let pushed = images::single_layer(&registry.pusher(), "test/one", "v1").unwrap();
        let dir = TempDir::with_prefix("berth-pull-damaged").unwrap();
        let store = Store::open(dir.path()).unwrap();
        let reference = Reference::parse(&format!("{}/test/one:v1", registry.host())).unwrap();
        let first = pull(&store, &reference, &Options::default(), &quietly).unwrap();
        assert!(first.repaired.is_empty());
        // Four bytes of the layer's blob overwritten in place.
        let layer = &pushed.layers[0].digest;
        let blob = store.blob(layer).unwrap();
        let mut bytes = fs::read(&blob).unwrap();
        bytes[1000..1004].copy_from_slice(b"oops");
        fs::write(&blob, &bytes).unwrap();
        let damaged = sha256_file(&blob).unwrap();
        let again = pull(&store, &reference, &Options::default(), &quietly).unwrap();
        assert_eq!(again.repaired, vec![(layer.clone(), damaged)]);
        assert_eq!(again.downloaded, 1, "only the damaged blob");
        assert_eq!(
            &sha256_file(&blob).unwrap(),
            layer,
            "the blob is whole again"
        );
        // And a pull of an intact store repairs nothing.
        let third = pull(&store, &reference, &Options::default(), &quietly).unwrap();
        assert!(third.repaired.is_empty() && third.downloaded == 0);
    }
}
