//! What rung 05 adds for image layers: the media type, the check of the
//! uncompressed stream against the config's `diff_id`, and an unpack that
//! is atomic — a layer directory is whole or absent, and what a `kill -9`
//! left behind is swept.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

use crate::{Error, Result};

use super::*;
use crate::image::digest::{Digest, VerifyingReader};

/// Unpack one image layer, streaming, into `target` (see [`unpack`]).
/// `media_type` is the layer descriptor's; pass `""` to rely on the magic
/// bytes alone. With `diff_id`, the uncompressed stream must hash to it:
/// the image config names each layer's tar by that digest.
///
/// On error the target holds whatever was unpacked before the bad entry
/// and must be thrown away — [`unpack_atomically`] does that for you —
/// but nothing was ever written outside it.
pub fn unpack_layer(
    reader: impl Read,
    media_type: &str,
    target: &Path,
    diff_id: Option<&Digest>,
) -> Result<Summary> {
    Compression::from_media_type(media_type)?;
    let mut layer = Layer::open(target)?;
    let stream = decompress(reader).map_err(|e| layer.read_error(e))?;
    let mut stream = VerifyingReader::new(stream);
    layer.extract(&mut stream)?;
    if let Some(diff_id) = diff_id {
        stream.finish(diff_id, "the layer's uncompressed tar (diff_id)")?;
    }
    layer.finish()
}

/// Unpack into a fresh sibling of `target` and rename it into place, so
/// `target` either does not exist or holds the whole layer — never half of
/// one, whatever happens (an error, a crash, `kill -9`).
///
/// The sibling is named `.NAME.unpacking-PID-N` (see [`is_temporary`]) and
/// locked for as long as the unpack works in it; a failed unpack removes
/// it, and one left by a crash is removed by [`sweep_temporaries`] (which
/// tells the two apart by the lock). If `target` appears meanwhile
/// (another pull unpacked the same layer: same digest, same content), ours
/// is discarded and the unpack still succeeds.
pub fn unpack_atomically(
    reader: impl Read,
    media_type: &str,
    target: &Path,
    diff_id: Option<&Digest>,
) -> Result<Summary> {
    let temporary = temporary_sibling(target)?;
    let owned = create_owned(&temporary)?;
    let unpacked = unpack_layer(reader, media_type, &temporary, diff_id).and_then(|summary| {
        rename_no_replace(&temporary, target)?;
        Ok(summary)
    });
    if temporary.exists() {
        // Our copy lost a race, or the unpack failed. `remove_tree` does
        // not follow symlinks, so a hostile layer's links are safe to
        // delete.
        let _ = remove_tree(&temporary);
    }
    drop(owned);
    unpacked
}

/// Whether a directory name is a temporary one left by
/// [`unpack_atomically`] (for the store to sweep after a crash).
pub fn is_temporary(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b".") && name.windows(11).any(|w| w == b".unpacking-")
}

// ANCHOR: sweep
/// Remove the temporaries in `dir` that [`unpack_atomically`] left behind
/// when its process died mid-unpack (`kill -9`, a crash, a power cut), and
/// keep those whose unpack is still running. Returns what was removed.
///
/// # Whose temporary is it?
///
/// The PID in a temporary's name says which process made it, not whether
/// that process is still unpacking: PIDs are reused, so a live PID may be
/// a stranger's (a stale temporary would be kept forever), and a pull in
/// another PID namespace has a PID that means nothing here (a live unpack
/// would be deleted under its feet). A lock answers the question exactly:
/// the unpacking process holds `flock(2)` on its temporary directory for
/// as long as it works in it, and the kernel drops a process's locks when
/// the process ends, however it ends. A temporary that can be locked
/// without waiting has no owner left, and may go.
///
/// One gap remains: between `mkdir` and `flock` a fresh temporary exists
/// unlocked. So its creator holds a *shared* lock on `dir` itself across
/// those two steps, and the sweep an *exclusive* one while it looks:
/// unpacks still start side by side, and a sweep never sees one half-born.
pub fn sweep_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let _dir = lock_dir(dir, FlockArg::LockExclusive)
        .map_err(|e| Error::sys(format!("locking {} to sweep it", dir.display()), e))?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::os(format!("reading {}", dir.display()), e))?;
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !is_temporary(&entry.file_name()) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match lock_dir(&path, FlockArg::LockExclusiveNonblock) {
            // No owner: its process died before it could rename or remove it.
            Ok(_orphan) => {
                remove_tree(&path)
                    .map_err(|e| Error::os(format!("removing {}", path.display()), e))?;
                removed.push(path);
            }
            // An unpack is working in it (EWOULDBLOCK), or it went away.
            Err(Errno::EWOULDBLOCK | Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("locking {}", path.display()), e)),
        }
    }
    Ok(removed)
}
// ANCHOR_END: sweep

/// Create the directory `temporary` and lock it as its owner's, with its
/// parent locked shared meanwhile (see [`sweep_temporaries`]). The lock
/// lasts as long as the returned value.
pub(super) fn create_owned(temporary: &Path) -> Result<Flock<File>> {
    let parent = match temporary.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let _parent = lock_dir(parent, FlockArg::LockShared)
        .map_err(|e| Error::sys(format!("locking {}", parent.display()), e))?;
    std::fs::create_dir(temporary)
        .map_err(|e| Error::os(format!("creating {}", temporary.display()), e))?;
    lock_dir(temporary, FlockArg::LockExclusive)
        .map_err(|e| Error::sys(format!("locking {}", temporary.display()), e))
}

/// `flock(2)` on the directory `dir` itself (never through a symlink).
pub(super) fn lock_dir(dir: &Path, how: FlockArg) -> nix::Result<Flock<File>> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Flock::lock(File::from(fd), how).map_err(|(_, e)| e)
}

pub(super) fn temporary_sibling(target: &Path) -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().ok_or_else(|| {
        Error::Invalid(format!(
            "cannot unpack into {}: it has no name",
            target.display()
        ))
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temporary = OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".unpacking-{}-{n}", std::process::id()));
    Ok(target.with_file_name(temporary))
}

/// `rename(2)` that fails rather than replace an existing directory; a
/// target that already exists is success (it holds the same layer).
pub(super) fn rename_no_replace(from: &Path, to: &Path) -> Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(Error::sys(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )),
    }
}
