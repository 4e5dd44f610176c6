//! The content-addressed store: where pulled images live on disk.
//!
//! Everything a registry serves is named by the sha256 of its bytes, so the
//! store names files the same way:
//!
//! ```text
//!   ROOT/blobs/sha256/HEX         manifests, configs, layer tarballs: verified, complete
//!   ROOT/blobs/partial/HEX        a download in progress (resumable)
//!   ROOT/layers/sha256/HEX/       a layer unpacked, once, shared by every image using it
//!   ROOT/layers/sha256/.HEX.unpacking-PID-N/   a layer being unpacked (locked by its unpacker)
//!   ROOT/images.json              image names → manifest digests
//!   ROOT/lock                     held while images.json changes
//!   ROOT/gc.lock                  shared by pulls in progress; exclusive to remove blobs
//! ```
//!
//! Two rules make it safe to interrupt (kill -9) and to share between
//! concurrent pulls:
//!
//! - **A name means its content.** A file appears under `blobs/sha256/`
//!   only by `rename(2)` from `partial/`, after its digest was checked;
//!   rename is atomic, so a reader sees the whole verified blob or nothing.
//!   A layer directory appears the same way, unpacked beside its final
//!   name first. Whatever an interrupted pull leaves is in `partial/` or a
//!   temporary directory: the next pull resumes the one, and opening the
//!   store sweeps the other away (see [`Store::sweep`]).
//! - **One downloader per blob.** A pull takes a lock on the blob's
//!   partial file before downloading it, then looks again: if another pull
//!   finished it meanwhile, there is nothing to do. Two pulls of the same
//!   image download each blob once; pulls of different images proceed in
//!   parallel.
//! - **No collection under a pull.** A pull's blobs belong to no image
//!   until its last step names the image, so to `rmi`'s garbage collector
//!   they look unused. Every pull therefore holds `gc.lock` *shared* from
//!   start to finish ([`Store::pin`]), and removal takes it *exclusively*
//!   ([`Store::lock`]): pulls run together, removal waits for them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::unpack::layer::{is_temporary, sweep_temporaries};
use crate::unpack::remove_tree;
use crate::{Error, Result};

/// The store at a root directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A lock on one of the store's lock files, released when dropped (or by
/// the kernel, when its holder dies).
pub type Lock = Flock<fs::File>;

/// The whole store locked: no pull in progress, no other change of names.
/// Needed to remove images and collect garbage.
#[derive(Debug)]
pub struct Locked {
    _collect: Lock,
    _names: Lock,
}

impl Store {
    /// Open (creating if needed) the store under `root`, and sweep away
    /// what pulls killed mid-unpack left (see [`sweep`](Self::sweep)).
    pub fn open(root: &Path) -> Result<Store> {
        for dir in ["blobs/sha256", "blobs/partial", "layers/sha256"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|e| Error::io("creating", &path, e))?;
        }
        let store = Store {
            root: root.to_path_buf(),
        };
        store.sweep()?;
        Ok(store)
    }

    // ANCHOR: sweep
    /// Remove the temporary layer directories whose unpacking process is
    /// gone (killed mid-unpack: `kill -9`, a crash, a reboot); keep those
    /// another pull is still unpacking into. Returns what was removed.
    ///
    /// A dead unpack is recognised by its lock, not its PID: see
    /// [`sweep_temporaries`]. Nothing else needs sweeping: a partial
    /// download is resumed by the next pull of its blob, and a blob or
    /// layer under its final name is always whole.
    pub fn sweep(&self) -> Result<Vec<PathBuf>> {
        sweep_temporaries(&self.root.join("layers/sha256"))
    }
    // ANCHOR_END: sweep

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lock the whole store, to remove images: wait for every pull in
    /// progress to finish (`gc.lock`, exclusively), then for the names
    /// (`lock`). Always in that order, the same as a pull's, so that two
    /// processes never each hold the lock the other waits for.
    pub fn lock(&self) -> Result<Locked> {
        let collect = lock_file(&self.root.join("gc.lock"), FlockArg::LockExclusive)?;
        let names = lock_file(&self.root.join("lock"), FlockArg::LockExclusive)?;
        Ok(Locked {
            _collect: collect,
            _names: names,
        })
    }

    /// Pin the store's blobs for a pull: while this is held (shared; any
    /// number of pulls at once), no garbage is collected, so the blobs a
    /// pull has fetched but not yet named an image after stay.
    pub fn pin(&self) -> Result<Lock> {
        lock_file(&self.root.join("gc.lock"), FlockArg::LockShared)
    }

    /// Where the verified blob `digest` is (whether or not it exists yet).
    pub fn blob(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(hex(digest)?))
    }

    /// Where a download of `digest` in progress is kept.
    pub fn partial(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("blobs/partial").join(hex(digest)?))
    }

    /// Lock `digest`'s download: only one pull fetches a blob at a time.
    pub fn lock_blob(&self, digest: &str) -> Result<Lock> {
        let mut path = self.partial(digest)?;
        path.set_extension("lock");
        lock_file(&path, FlockArg::LockExclusive)
    }

    // ANCHOR: commit
    /// Make the verified download at `partial` the blob `digest`: flush it
    /// to disk, then rename it into place. Call only once the digest has
    /// been checked.
    pub fn commit_blob(&self, digest: &str, partial: &Path) -> Result<PathBuf> {
        let file = fs::File::open(partial).map_err(|e| Error::io("opening", partial, e))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", partial, e))?;
        let blob = self.blob(digest)?;
        fs::rename(partial, &blob).map_err(|e| Error::io("renaming a download to", &blob, e))?;
        // The rename itself is durable once the directory is flushed.
        if let Some(dir) = blob.parent() {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(blob)
    }
    // ANCHOR_END: commit

    /// Where layer `digest` is unpacked (whether or not it exists yet).
    pub fn layer(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers/sha256").join(hex(digest)?))
    }

    /// The image names and the manifest each points at.
    pub fn images(&self) -> Result<BTreeMap<String, String>> {
        let path = self.root.join("images.json");
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }

    /// Point image `name` at manifest `digest`, at the end of a pull that
    /// holds `_pin` (see [`pin`](Self::pin)).
    pub fn tag(&self, _pin: &Lock, name: &str, digest: &str) -> Result<()> {
        hex(digest)?;
        let _names = lock_file(&self.root.join("lock"), FlockArg::LockExclusive)?;
        let mut images = self.images()?;
        images.insert(name.to_string(), digest.to_string());
        self.save_images(&images)
    }

    fn save_images(&self, images: &BTreeMap<String, String>) -> Result<()> {
        let path = self.root.join("images.json");
        let tmp = self.root.join("images.json.tmp");
        let text =
            serde_json::to_string_pretty(images).map_err(|e| Error::Invalid(e.to_string()))?;
        fs::write(&tmp, text + "\n").map_err(|e| Error::io("writing", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("renaming into", &path, e))
    }

    // ANCHOR: remove
    /// Remove image `name`, then every blob and layer no remaining image
    /// needs (the store's lock held). Returns what was removed.
    pub fn remove(&self, lock: &Locked, name: &str) -> Result<Vec<String>> {
        let mut images = self.images()?;
        if images.remove(name).is_none() {
            return Err(Error::Invalid(format!("no image {name:?} in the store")));
        }
        self.save_images(&images)?;
        self.collect_garbage(lock)
    }

    /// Remove every blob and layer that no image reaches: an image
    /// reaches its manifest, and the manifest its config and layers.
    /// Temporary layer directories are not garbage but work in progress
    /// (or [`sweep`](Self::sweep)'s business): they are left alone.
    pub fn collect_garbage(&self, _lock: &Locked) -> Result<Vec<String>> {
        let mut needed = BTreeSet::new();
        for digest in self.images()?.values() {
            needed.insert(digest.clone());
            needed.extend(self.referenced(digest)?);
        }
        let mut removed = Vec::new();
        for (dir, is_dir) in [("blobs/sha256", false), ("layers/sha256", true)] {
            let path = self.root.join(dir);
            for entry in fs::read_dir(&path)
                .map_err(|e| Error::io("listing", &path, e))?
                .flatten()
            {
                let digest = format!("sha256:{}", entry.file_name().to_string_lossy());
                if needed.contains(&digest) || is_temporary(&entry.file_name()) {
                    continue;
                }
                let gone = if is_dir {
                    remove_tree(&entry.path())
                } else {
                    fs::remove_file(entry.path())
                };
                gone.map_err(|e| Error::io("removing", entry.path(), e))?;
                removed.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
        Ok(removed)
    }
    // ANCHOR_END: remove

    /// The digests manifest `digest` refers to: its config and layers.
    fn referenced(&self, digest: &str) -> Result<Vec<String>> {
        let path = self.blob(digest)?;
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(Vec::new()); // an interrupted pull: nothing more is needed
        };
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let mut digests = Vec::new();
        if let Some(d) = manifest["config"]["digest"].as_str() {
            digests.push(d.to_string());
        }
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            if let Some(d) = layer["digest"].as_str() {
                digests.push(d.to_string());
            }
        }
        Ok(digests)
    }
}

/// The hex part of a `sha256:` digest, checked: it becomes a file name, so
/// it must be exactly 64 lowercase hex digits and nothing else.
fn hex(digest: &str) -> Result<&str> {
    let hex = digest.strip_prefix("sha256:").filter(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    hex.ok_or_else(|| Error::Invalid(format!("{digest:?} is not a sha256 digest")))
}

fn lock_file(path: &Path, how: FlockArg) -> Result<Lock> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))?;
    Flock::lock(file, how).map_err(|(_, e)| Error::sys(format!("locking {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: char) -> String {
        format!("sha256:{}", byte.to_string().repeat(64))
    }

    #[test]
    fn names_are_checked_and_garbage_is_collected() {
        let root = std::env::temp_dir().join(format!("berth-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let store = Store::open(&root).unwrap();
        assert!(store.blob("sha256:../../etc").is_err());
        assert!(store.blob("md5:abc").is_err());
        // Two images sharing layer "a"; image one also has "b".
        let manifest = |layers: &[String]| {
            serde_json::json!({
                "config": {"digest": digest('c')},
                "layers": layers.iter().map(|d| serde_json::json!({"digest": d})).collect::<Vec<_>>(),
            })
            .to_string()
        };
        for (d, text) in [
            (digest('1'), manifest(&[digest('a'), digest('b')])),
            (digest('2'), manifest(&[digest('a')])),
            (digest('a'), String::new()),
            (digest('b'), String::new()),
            (digest('c'), String::new()),
        ] {
            let partial = store.partial(&d).unwrap();
            fs::write(&partial, text).unwrap();
            store.commit_blob(&d, &partial).unwrap();
        }
        fs::create_dir_all(store.layer(&digest('b')).unwrap()).unwrap();
        {
            let pin = store.pin().unwrap();
            store.tag(&pin, "one", &digest('1')).unwrap();
            store.tag(&pin, "two", &digest('2')).unwrap();
        }
        let lock = store.lock().unwrap();
        let removed = store.remove(&lock, "one").unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}"); // manifest 1, blob b, layer b
        assert!(store.blob(&digest('a')).unwrap().exists());
        assert!(!store.blob(&digest('b')).unwrap().exists());
        assert!(store.remove(&lock, "one").is_err());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn removal_waits_for_pulls_in_progress() {
        let root = std::env::temp_dir().join(format!("berth-store-pin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let store = Store::open(&root).unwrap();
        // Two pulls at once may pin the store together.
        let pin = store.pin().unwrap();
        let other = store.pin().unwrap();
        let (sent, received) = std::sync::mpsc::channel();
        let remover = {
            let store = store.clone();
            std::thread::spawn(move || {
                let _lock = store.lock().unwrap();
                sent.send(()).unwrap();
            })
        };
        let wait = std::time::Duration::from_millis(300);
        assert!(
            received.recv_timeout(wait).is_err(),
            "removal ran under a pull"
        );
        drop(pin);
        assert!(
            received.recv_timeout(wait).is_err(),
            "removal ran under a pull"
        );
        drop(other);
        received
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("removal goes ahead once the pulls are done");
        remover.join().unwrap();
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn opening_the_store_sweeps_what_a_killed_unpack_left() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("berth-store-sweep-{}", std::process::id()));
        let _ = remove_tree(&root);
        Store::open(&root).unwrap();
        let layers = root.join("layers/sha256");
        // What `kill -9` mid-unpack leaves: a temporary nobody holds, with
        // a layer's read-only directory in it.
        let stale = layers.join(format!(".{}.unpacking-4242-0", "a".repeat(64)));
        fs::create_dir_all(stale.join("etc")).unwrap();
        fs::write(stale.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::set_permissions(stale.join("etc"), fs::Permissions::from_mode(0o555)).unwrap();
        // An unpack in progress: its temporary locked, as unpack_atomically
        // holds it.
        let live = layers.join(format!(
            ".{}.unpacking-{}-0",
            "b".repeat(64),
            std::process::id()
        ));
        fs::create_dir(&live).unwrap();
        let held = Flock::lock(fs::File::open(&live).unwrap(), FlockArg::LockExclusive).unwrap();

        let store = Store::open(&root).unwrap();
        assert!(!stale.exists(), "the orphan is swept when the store opens");
        assert!(live.exists(), "an unpack in progress is left alone");
        let lock = store.lock().unwrap();
        assert_eq!(store.collect_garbage(&lock).unwrap(), Vec::<String>::new());
        assert!(live.exists(), "garbage collection leaves it alone too");
        drop(lock);
        // Its process ends without renaming it: now it is an orphan.
        drop(held);
        assert_eq!(store.sweep().unwrap(), vec![live]);
        remove_tree(&root).unwrap();
    }
}
