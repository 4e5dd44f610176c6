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
use super::unpack::unpack_atomically;
use crate::registry::client::{progress_bar, Client, Options, Progress, Quiet};
use crate::{Error, Result};

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
}

// ANCHOR: pull
/// Pull `reference` into `store`. With `bars`, a progress bar per layer
/// when standard error is a terminal.
pub fn pull(store: &Store, reference: &Reference, options: &Options, bars: bool) -> Result<Pulled> {
    let mut client = Client::new(reference.api_host(), options)?;
    let repository = reference.repository.clone();
    let image = client.resolve(&repository, &reference.manifest_reference())?;
    // The manifest and config are small: held in memory, checked, stored.
    let manifest = image.manifest_digest.clone();
    once(store, &manifest, |partial| {
        write_checked(partial, &manifest, &image.manifest_bytes)
    })?;
    let config = image.config.digest().to_string();
    let mut downloaded = 0;
    if once(store, &config, |partial| {
        let bytes = client.small_blob(&repository, &config)?;
        write_checked(partial, &config, &bytes)
    })? {
        downloaded += 1;
    }
    let mut layers = Vec::new();
    for layer in &image.layers {
        let digest = layer.digest().to_string();
        let fetched = once(store, &digest, |partial| {
            let mut progress: Box<dyn Progress> = if bars {
                progress_bar(Digest::parse(&digest)?.short(), Some(layer.size()))
            } else {
                Box::new(Quiet)
            };
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
            let file = fs::File::open(&blob)
                .map_err(|e| Error::Invalid(format!("{}: {e}", blob.display())))?;
            unpack_atomically(file, layer.media_type().as_ref(), &dir)
                .map_err(|e| Error::Invalid(format!("layer {digest}: {e}")))?;
        }
        layers.push(dir);
    }
    let name = reference.to_string();
    let lock = store.lock()?;
    store.tag(&lock, &name, &manifest)?;
    Ok(Pulled {
        name,
        manifest,
        config,
        layers,
        downloaded,
    })
}
// ANCHOR_END: pull

// ANCHOR: once
/// Put blob `digest` in the store unless it is there: `fetch` fills its
/// partial file (verified), then it is renamed into place. The blob's lock
/// makes a second pull of the same blob wait, then find it there. Returns
/// whether `fetch` ran.
fn once(store: &Store, digest: &str, fetch: impl FnOnce(&Path) -> Result<()>) -> Result<bool> {
    let blob = store.blob(digest)?;
    if blob.exists() {
        return Ok(false);
    }
    let _lock = store.lock_blob(digest)?;
    if blob.exists() {
        return Ok(false); // another pull finished it while we waited
    }
    let partial = store.partial(digest)?;
    fetch(&partial)?;
    store.commit_blob(digest, &partial)?;
    Ok(true)
}
// ANCHOR_END: once

/// Write a small document to `partial`, after checking it has `digest`.
fn write_checked(partial: &Path, digest: &str, bytes: &[u8]) -> Result<()> {
    let actual = Digest::of_bytes(bytes).to_string();
    if actual != digest {
        return Err(Error::Invalid(format!(
            "blob {digest} has digest {actual}: refusing it"
        )));
    }
    fs::write(partial, bytes).map_err(|e| Error::Invalid(format!("{}: {e}", partial.display())))
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::registry::testing::{images, Registry, TempDir};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_multi_layer_image_is_stored_once_even_by_two_pulls_at_once() {
        if let Some(why) = Registry::unavailable(false) {
            eprintln!("skipped: {why}");
            return;
        }
        let registry = Registry::start().unwrap();
        images::multi_layer(&registry.pusher(), "test/layers", "v1").unwrap();
        let dir = TempDir::new("berth-pull-store").unwrap();
        let store = Store::open(dir.path()).unwrap();
        let reference = Reference::parse(&format!("{}/test/layers:v1", registry.host())).unwrap();
        // Two pulls at once into one empty store.
        let pulls: Vec<Pulled> = std::thread::scope(|s| {
            let a = s.spawn(|| pull(&store, &reference, &Options::default(), false));
            let b = s.spawn(|| pull(&store, &reference, &Options::default(), false));
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
        let again = pull(&store, &reference, &Options::default(), false).unwrap();
        assert_eq!(again.downloaded, 0);
        // rmi removes everything the image alone needed.
        let lock = store.lock().unwrap();
        let removed = store.remove(&lock, &reference.to_string()).unwrap();
        assert_eq!(removed.len(), 6, "{removed:?}"); // 4 blobs, 2 layers
    }
}
