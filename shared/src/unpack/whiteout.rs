//! Deletions between layers: the image format's `.wh.` files turned into
//! overlayfs's whiteouts and opaque directories (chapter 5).

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::sys::stat::{makedev, mknodat, Mode, SFlag};

use crate::Result;

use super::*;

/// The prefix that marks a whiteout entry.
pub const WHITEOUT_PREFIX: &str = ".wh.";

/// The entry that marks its directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// The extended attribute overlayfs reads to treat a directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

// ANCHOR: whiteout
impl Layer {
    /// Recognise the image format's deletion markers by name, whatever
    /// their entry type: `.wh..wh..opq` marks the directory it is in
    /// opaque, `.wh.NAME` deletes NAME. Both describe the layers *below*,
    /// so neither is created as a file.
    pub(super) fn whiteout_kind(
        &self,
        kind: Kind,
        parts: &mut Vec<OsString>,
        shown: &str,
    ) -> Result<Kind> {
        let Some(last) = parts.last().map(|name| name.as_bytes().to_vec()) else {
            return Ok(kind);
        };
        if last == OPAQUE_MARKER.as_bytes() {
            parts.pop();
            return Ok(Kind::Opaque);
        }
        let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
            return Ok(kind);
        };
        if hidden.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            // `.wh..wh.plnk` and friends: aufs bookkeeping, not content.
            return Ok(Kind::Skip);
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            let what = String::from_utf8_lossy(hidden);
            return Err(self.refuse(
                shown,
                &format!("a whiteout of {what:?}, which is not a name in its directory"),
            ));
        }
        let hidden = OsString::from_vec(hidden.to_vec());
        parts.pop();
        parts.push(hidden.clone());
        Ok(Kind::Whiteout(hidden))
    }

    /// Overlayfs's whiteout: a character device 0/0 where the deleted
    /// file was. Whatever this layer had there is replaced.
    pub(super) fn whiteout(&mut self, parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<()> {
        self.fresh(parent, name, shown, || {
            mknodat(parent, name, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        })?;
        self.summary.whiteouts += 1;
        Ok(())
    }

    /// Overlayfs's opaque directory: an extended attribute on it.
    pub(super) fn opaque(&mut self, dir: &OwnedFd, shown: &str) -> Result<()> {
        let dir = reopen_dir(dir).map_err(|e| self.sys(shown, e))?;
        let name = CString::new(OPAQUE_XATTR).expect("no NUL in a constant");
        fset_xattr(&dir, &name, b"y").map_err(|e| self.sys(shown, e))?;
        self.summary.opaque_dirs += 1;
        Ok(())
    }
}
// ANCHOR_END: whiteout
