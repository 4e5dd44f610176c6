//! `linux.maskedPaths` and `linux.readonlyPaths`: what a container must
//! not read, and what it must not change.

use std::path::Path;

use nix::mount::{mount, MsFlags};

use crate::{Error, Result};

// ANCHOR: masked
/// `linux.maskedPaths`: make a path unreadable — /dev/null over a file, an
/// empty read-only tmpfs over a directory. Paths this kernel does not have
/// are skipped.
pub(super) fn mask(path: &Path) -> Result<()> {
    let Ok(meta) = path.metadata() else {
        return Ok(());
    };
    let what = format!("masking {}", path.display());
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0k"),
        )
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    }
    .map_err(|e| Error::sys(what, e))
}

/// `linux.readonlyPaths`: bind the path onto itself, then remount it
/// read-only.
pub(super) fn read_only(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    let what = format!("making {} read-only", path.display());
    crate::mount::bind_self(path)?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| Error::sys(&what, e))
}
// ANCHOR_END: masked
