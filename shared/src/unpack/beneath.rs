//! Paths resolved by the kernel, beneath the target and through no
//! symlink: the directory an entry goes in, opened with `openat2(2)`.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

use crate::{Error, Result};

use super::*;

// ANCHOR: walk
/// An entry's path as plain names: `./usr/bin/` → `[usr, bin]`. A `..`
/// or a leading `/` is refused here, by its text; everything else the
/// kernel checks in [`open_beneath`].
pub(super) fn plain_names(path: &Path) -> std::result::Result<Vec<OsString>, &'static str> {
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => names.push(name.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("its path climbs out of the layer with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("it is an absolute path"),
        }
    }
    Ok(names)
}

/// How `openat2(2)` may resolve a path inside the layer: never above the
/// starting directory, never through a symlink (not even one pointing
/// inside: it could be replaced), never across a mount.
pub(super) fn beneath(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        )
}

/// Open the directory `names` under `root`, which must already exist.
pub(super) fn open_beneath(root: &OwnedFd, names: &[OsString]) -> nix::Result<OwnedFd> {
    let path: PathBuf = names.iter().collect();
    let path = if names.is_empty() {
        PathBuf::from(".")
    } else {
        path
    };
    openat2(root, &path, beneath(OFlag::O_PATH))
}

impl Layer {
    /// Open the directory `names` below the target, creating what is
    /// missing (a tarball need not list every parent) with mode 0755, as
    /// tar does. One name at a time, each resolved by the kernel: a
    /// symlink anywhere on the way is refused, not followed.
    pub(super) fn walk(&self, names: &[OsString], shown: &str) -> Result<OwnedFd> {
        // The usual case, every directory already there: one system call.
        match open_beneath(&self.root, names) {
            Err(Errno::ENOENT) => {}
            other => return other.map_err(|e| self.walk_error(shown, e)),
        }
        let mut dir = reopen_path(&self.root).map_err(|e| self.sys(shown, e))?;
        for name in names {
            let step = std::slice::from_ref(name);
            dir = match open_beneath(&dir, step) {
                Err(Errno::ENOENT) => {
                    match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.sys(shown, e)),
                    }
                    open_beneath(&dir, step)
                }
                other => other,
            }
            .map_err(|e| self.walk_error(shown, e))?;
        }
        Ok(dir)
    }

    /// The directory an entry goes in.
    pub(super) fn parent_of(&self, item: &Item) -> Result<OwnedFd> {
        let parents = &item.parts[..item.parts.len().saturating_sub(1)];
        self.walk(parents, &item.shown)
    }

    /// Why the kernel stopped a walk, in the learner's words.
    pub(super) fn walk_error(&self, shown: &str, errno: Errno) -> Error {
        match errno {
            Errno::ELOOP => self.refuse(shown, "its path goes through a symbolic link"),
            Errno::EXDEV => self.refuse(shown, "its path leaves the layer directory"),
            Errno::ENOTDIR => self.refuse(
                shown,
                "its path goes through something that is not a directory",
            ),
            other => self.sys(shown, other),
        }
    }
}
// ANCHOR_END: walk

impl Layer {
    /// Open the directory a hard link's target is in. Unlike an entry's
    /// own parent, nothing is created: the target must already be in this
    /// layer.
    pub(super) fn link_source(&self, item: &Item, target: &Path) -> Result<(OwnedFd, OsString)> {
        let names = plain_names(target).map_err(|why| {
            let why = why
                .replace("its path", "its link target")
                .replace("it is an", "it links to an");
            self.refuse(&item.shown, &why)
        })?;
        let Some((name, parents)) = names.split_last() else {
            return Err(self.refuse(&item.shown, "a hard link to the layer's root"));
        };
        if names == item.parts {
            return Err(self.refuse(&item.shown, "a hard link to itself"));
        }
        let dir = open_beneath(&self.root, parents).map_err(|e| match e {
            Errno::ELOOP => {
                self.refuse(&item.shown, "its link target goes through a symbolic link")
            }
            Errno::EXDEV => self.refuse(
                &item.shown,
                "its link target is outside the layer directory",
            ),
            Errno::ENOENT | Errno::ENOTDIR => self.refuse(
                &item.shown,
                &format!(
                    "its link target {:?} is not in this layer",
                    target.display()
                ),
            ),
            other => self.sys(&item.shown, other),
        })?;
        Ok((dir, name.clone()))
    }
}

/// A readable descriptor for the directory `dir` holds (an `O_PATH`
/// descriptor cannot be used to change attributes).
pub(super) fn reopen_dir(dir: &OwnedFd) -> nix::Result<OwnedFd> {
    openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Another `O_PATH` descriptor for the same directory.
pub(super) fn reopen_path(dir: &OwnedFd) -> nix::Result<OwnedFd> {
    openat(
        dir,
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `/proc/self/fd/N/NAME`: NAME inside the directory we hold. The kernel
/// resolves `N` to exactly that directory, and the `l*` calls do not
/// follow NAME if it is a link.
pub(super) fn proc_child(dir: &OwnedFd, name: &OsStr) -> CString {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    CString::new(path).unwrap_or_default()
}
