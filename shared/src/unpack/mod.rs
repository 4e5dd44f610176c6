//! Unpacking a tarball into a directory: a root filesystem (rung 03), or
//! an image layer overlayfs can stack (rung 05).
//!
//! Introduced by rung 03, which unpacks `--rootfs FILE.tar.gz`; chapter 3
//! shows the plain part. Rung 05 unpacks every image layer with the same
//! code, and chapter 5 explains what layers add — whiteouts, the
//! `diff_id` check, atomic unpacking — and why a layer is hostile input.
//!
//! An image layer is a tar archive of the files one build step added or
//! changed. Unpacked side by side, one directory per layer, the layers
//! become overlayfs's `lowerdir=` stack (rung 03), and two things need
//! translating on the way:
//!
//! - **Deletions.** A tarball can only *add* files, so the image format
//!   records "this layer deletes `/etc/motd`" as an empty file named
//!   `etc/.wh.motd` (a *whiteout*), and "this directory replaces, rather
//!   than merges with, the one below" as `dir/.wh..wh..opq`. Overlayfs
//!   spells the same things differently: a character device 0/0 named
//!   `motd`, and the extended attribute `trusted.overlay.opaque="y"` on
//!   the directory.
//! - **Metadata.** Owners (numbers, never names: the image's `/etc/passwd`
//!   is not the host's), modes including setuid, mtimes, extended
//!   attributes (file capabilities such as `cap_net_raw` on `ping` live in
//!   `security.capability`), hard links, symlinks, device nodes and fifos.
//!
//! # A layer is hostile input
//!
//! A tarball is a list of *instructions* — "create this path" — written by
//! whoever built the image. Followed naively, they write wherever they
//! point: `../../etc/cron.d/x`, `/root/.ssh/authorized_keys`, or, more
//! subtly, a symlink `l -> /etc` followed by a file `l/passwd`, or a hard
//! link to `/etc/shadow` that a later container can read. Each of these
//! has been a real CVE in a real container tool.
//!
//! Checking the *text* of a path for `..` catches the first two only: the
//! symlink case has no `..` anywhere. So the checks here are made by the
//! kernel, on the real directory tree, one step at a time:
//!
//! 1. The target directory is opened once and held as a file descriptor;
//!    no path handed to the kernel afterwards starts anywhere else.
//! 2. An entry's path must be relative with plain names only (`..` and a
//!    leading `/` are refused outright: there is no honest reason for them).
//! 3. Its parent directory is opened with `openat2(2)` and
//!    `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: the kernel refuses to leave
//!    the target and refuses to follow *any* symlink on the way, so a link
//!    planted by an earlier entry cannot redirect a later one.
//! 4. The entry itself is created *by name in that directory*
//!    (`openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `mkdirat`, `symlinkat`,
//!    `mknodat`, `linkat`), and a hard link's target is resolved the same
//!    way as a path.
//!
//! The `tar` crate only parses (headers, long names, PAX records); every
//! write is done here. Nothing is buffered: each file's bytes stream from
//! the decompressor into the file.

mod beneath;
pub mod compression;
mod entry;
#[cfg(feature = "step-05")]
pub mod layer;
mod whiteout;
mod write;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{utimensat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;

use crate::{Error, Result};

use beneath::*;
use compression::*;
use entry::*;
pub use whiteout::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};
use write::*;

/// What an unpack created, for the command line to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Regular files written.
    pub files: u64,
    /// Bytes written into regular files (the layer's uncompressed content).
    pub bytes: u64,
    /// Directories created or updated.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hardlinks: u64,
    /// Device nodes and fifos.
    pub specials: u64,
    /// Whiteouts turned into overlayfs whiteouts (deleted paths).
    pub whiteouts: u64,
    /// Directories marked opaque.
    pub opaque_dirs: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files ({} bytes), {} directories, {} symlinks, {} hard links, \
             {} special files, {} whiteouts, {} opaque directories",
            self.files,
            self.bytes,
            self.dirs,
            self.symlinks,
            self.hardlinks,
            self.specials,
            self.whiteouts,
            self.opaque_dirs
        )
    }
}

// ANCHOR: unpack
/// Unpack the tarball `reader` — plain, gzip or zstd, told apart by its
/// first bytes — into `target` (which must exist; it is usually empty),
/// streaming: no file is ever held in memory whole.
///
/// Every entry is checked before it is written, and written *by name in
/// its parent directory*, which the kernel opened beneath the target and
/// through no symlink: nothing is ever written outside `target`. On error
/// it holds whatever was unpacked before the bad entry, and must be thrown
/// away.
pub fn unpack(reader: impl Read, target: &Path) -> Result<Summary> {
    let mut layer = Layer::open(target)?;
    let stream = decompress(reader).map_err(|e| layer.read_error(e))?;
    layer.extract(stream)?;
    layer.finish()
}
// ANCHOR_END: unpack

/// Remove the tree at `path`, whatever modes its layer gave it.
///
/// A layer may hold read-only directories (`dr-xr-xr-x`): root removes
/// what is in them anyway, anyone else gets `EACCES`. Then every directory
/// of the tree is made `u+rwx` and the removal tried again. Symlinks are
/// never followed, neither to remove nor to change modes.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_writable(path)?;
            std::fs::remove_dir_all(path)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `chmod u+rwx` every directory under (and including) `dir`.
pub(super) fn make_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700))?;
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// A layer being unpacked: the target held open, and what is left to do
/// at the end.
pub(super) struct Layer {
    pub(super) root: OwnedFd,
    pub(super) target: PathBuf,
    pub(super) summary: Summary,
    /// Directory mtimes, set last: creating a file in a directory updates
    /// the directory's mtime, so setting it earlier would not stick.
    pub(super) dir_times: Vec<(Vec<OsString>, TimeSpec)>,
    pub(super) buffer: Vec<u8>,
    /// Only root may give files away (chown to another user); anyone else
    /// keeps them, like GNU tar does for non-root users.
    pub(super) privileged: bool,
}

impl Layer {
    pub(super) fn open(target: &Path) -> Result<Layer> {
        let root = nix::fcntl::open(
            target,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::sys(
                format!("opening the layer directory {}", target.display()),
                e,
            )
        })?;
        Ok(Layer {
            root,
            target: target.to_path_buf(),
            summary: Summary::default(),
            dir_times: Vec::new(),
            buffer: vec![0; 1 << 17],
            privileged: nix::unistd::geteuid().is_root(),
        })
    }

    pub(super) fn extract(&mut self, stream: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(stream);
        let entries = archive.entries().map_err(|e| self.read_error(e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.read_error(e))?;
            let item = self.parse(&mut entry)?;
            self.apply(&item, &mut entry)?;
        }
        // Read to the very end: a compressed stream checks its checksum
        // there, and a truncated blob must fail rather than pass as short.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| self.read_error(e))?;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<Summary> {
        // In tarball order, so a directory listed twice gets the later time.
        for (parts, mtime) in &self.dir_times {
            let (parent, name) = match parts.split_last() {
                Some((name, parents)) => (open_beneath(&self.root, parents), name.as_os_str()),
                None => (reopen_path(&self.root), OsStr::new(".")),
            };
            // The directory may have been replaced by a later entry; the
            // walk refuses links as always, and a missing one is skipped.
            if let Ok(parent) = parent {
                let _ = utimensat(&parent, name, mtime, mtime, UtimensatFlags::NoFollowSymlink);
            }
        }
        Ok(self.summary)
    }

    pub(super) fn read_error(&self, e: io::Error) -> Error {
        Error::Invalid(format!(
            "reading the layer (unpacking into {}): {e}",
            self.target.display()
        ))
    }

    pub(super) fn refuse(&self, shown: &str, why: &str) -> Error {
        Error::Invalid(format!(
            "refusing layer entry {shown:?} (unpacking into {}): {why}",
            self.target.display()
        ))
    }

    pub(super) fn sys(&self, shown: &str, errno: Errno) -> Error {
        let hint = match errno {
            Errno::EPERM if !self.privileged => {
                " — device nodes, whiteouts and trusted.* attributes need root"
            }
            _ => "",
        };
        Error::sys(
            format!("unpacking {shown:?} into {}{hint}", self.target.display()),
            errno,
        )
    }
}

#[cfg(test)]
mod tests;
