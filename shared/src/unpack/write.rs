//! Creating each kind of entry by name in its (already checked) parent:
//! files, directories, links, device nodes, FIFOs, and their metadata.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::{Error, Result};

use super::*;

/// Creating each kind of entry, by name in its (already checked) parent.
impl Layer {
    pub(super) fn apply<R: Read>(
        &mut self,
        item: &Item,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        match &item.kind {
            Kind::Skip => return Ok(()),
            Kind::Opaque => {
                // The marker's own name was dropped: `parts` name the
                // directory it marks.
                let dir = self.walk(&item.parts, &item.shown)?;
                return self.opaque(&dir, &item.shown);
            }
            _ if item.parts.is_empty() => {
                let root = reopen_path(&self.root).map_err(|e| self.sys(&item.shown, e))?;
                return self.directory_metadata(&root, item);
            }
            _ => {}
        }
        let parent = self.parent_of(item)?;
        let name = item.parts.last().expect("checked non-empty").as_os_str();
        match &item.kind {
            Kind::File => self.file(&parent, name, item, entry),
            Kind::Dir => self.directory(&parent, name, item),
            Kind::Symlink(to) => self.symlink(&parent, name, to, item),
            Kind::Hardlink(to) => self.hardlink(&parent, name, to, item),
            Kind::Device(flag, dev) => self.special(&parent, name, *flag, *dev, item),
            Kind::Fifo => self.special(&parent, name, SFlag::S_IFIFO, 0, item),
            Kind::Whiteout(hidden) => self.whiteout(&parent, hidden, &item.shown),
            Kind::Opaque | Kind::Skip => Ok(()),
        }
    }

    /// Create `name` with `make`. If something is there already (an
    /// earlier entry for the same path: the later one wins), remove it and
    /// try once more. Trying first saves a `stat` per entry in the usual
    /// case, a fresh directory.
    pub(super) fn fresh<T>(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        shown: &str,
        make: impl Fn() -> nix::Result<T>,
    ) -> Result<T> {
        match make() {
            Err(Errno::EEXIST) => {
                self.make_room(parent, name, false, shown)?;
                make().map_err(|e| self.sys(shown, e))
            }
            other => other.map_err(|e| self.sys(shown, e)),
        }
    }

    /// Clear `name` for a new entry: a later entry for the same path wins.
    /// An existing directory is kept when a directory is wanted (its
    /// metadata is updated); anything else there is removed.
    pub(super) fn make_room(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        keep_dir: bool,
        shown: &str,
    ) -> Result<bool> {
        let stat = match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(self.sys(shown, e)),
        };
        let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir && keep_dir {
            return Ok(true);
        }
        if is_dir {
            // `remove_dir_all` does not follow symlinks; the path goes
            // through the directory we hold, by descriptor.
            let path = proc_child(parent, name);
            std::fs::remove_dir_all(OsStr::from_bytes(path.as_bytes()))
                .map_err(|e| Error::os(format!("unpacking {shown:?}: replacing a directory"), e))?;
        } else {
            unlinkat(parent, name, UnlinkatFlags::NoRemoveDir).map_err(|e| self.sys(shown, e))?;
        }
        Ok(false)
    }

    pub(super) fn file<R: Read>(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        item: &Item,
        entry: &mut R,
    ) -> Result<()> {
        let fd = self.fresh(parent, name, &item.shown, || {
            openat(
                parent,
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
        })?;
        let mut file = File::from(fd);
        let written = self
            .copy(entry, &mut file)
            .map_err(|e| Error::os(format!("writing {:?}", item.shown), e))?;
        self.owner(
            fchown(
                &file,
                Some(Uid::from_raw(item.meta.uid)),
                Some(Gid::from_raw(item.meta.gid)),
            ),
            &item.shown,
        )?;
        fchmod(&file, Mode::from_bits_truncate(item.meta.mode))
            .map_err(|e| self.sys(&item.shown, e))?;
        for (key, value) in &item.meta.xattrs {
            fset_xattr(&file, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        futimens(&file, &item.meta.mtime, &item.meta.mtime)
            .map_err(|e| self.sys(&item.shown, e))?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }

    /// Stream an entry's bytes into its file through one reused buffer.
    pub(super) fn copy(&mut self, from: &mut impl Read, to: &mut File) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let n = match from.read(&mut self.buffer) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            to.write_all(&self.buffer[..n])?;
            total += n as u64;
        }
    }

    pub(super) fn directory(&mut self, parent: &OwnedFd, name: &OsStr, item: &Item) -> Result<()> {
        let mkdir = || mkdirat(parent, name, Mode::from_bits_truncate(0o700));
        match mkdir() {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // Already there: keep a directory, replace anything else.
                if !self.make_room(parent, name, true, &item.shown)? {
                    mkdir().map_err(|e| self.sys(&item.shown, e))?;
                }
            }
            Err(e) => return Err(self.sys(&item.shown, e)),
        }
        let dir = openat2(parent, name, beneath(OFlag::O_PATH))
            .map_err(|e| self.walk_error(&item.shown, e))?;
        self.directory_metadata(&dir, item)
    }

    pub(super) fn directory_metadata(&mut self, dir: &OwnedFd, item: &Item) -> Result<()> {
        let dir = reopen_dir(dir).map_err(|e| self.sys(&item.shown, e))?;
        self.owner(
            fchown(
                &dir,
                Some(Uid::from_raw(item.meta.uid)),
                Some(Gid::from_raw(item.meta.gid)),
            ),
            &item.shown,
        )?;
        fchmod(&dir, Mode::from_bits_truncate(item.meta.mode))
            .map_err(|e| self.sys(&item.shown, e))?;
        for (key, value) in &item.meta.xattrs {
            fset_xattr(&dir, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        self.dir_times.push((item.parts.clone(), item.meta.mtime));
        self.summary.dirs += 1;
        Ok(())
    }

    pub(super) fn symlink(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        to: &OsStr,
        item: &Item,
    ) -> Result<()> {
        // The link's text is stored, never followed here: `/bin/sh ->
        // busybox` and even `l -> /etc` are fine *as links*; only a later
        // entry walking through one is refused.
        self.fresh(parent, name, &item.shown, || symlinkat(to, parent, name))?;
        self.by_name_metadata(parent, name, item, false)?;
        self.summary.symlinks += 1;
        Ok(())
    }

    pub(super) fn hardlink(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        to: &Path,
        item: &Item,
    ) -> Result<()> {
        let (source_dir, source) = self.link_source(item, to)?;
        if let Err(Errno::ENOENT) = fstatat(
            &source_dir,
            source.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            let why = format!("its link target {:?} is not in this layer", to.display());
            return Err(self.refuse(&item.shown, &why));
        }
        // No AT_SYMLINK_FOLLOW: if the source is a symlink, the new name
        // is another link to that symlink, never to what it points at.
        self.fresh(parent, name, &item.shown, || {
            linkat(
                &source_dir,
                source.as_os_str(),
                parent,
                name,
                AtFlags::empty(),
            )
        })?;
        self.summary.hardlinks += 1;
        Ok(())
    }

    pub(super) fn special(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        kind: SFlag,
        dev: u64,
        item: &Item,
    ) -> Result<()> {
        self.fresh(parent, name, &item.shown, || {
            mknodat(parent, name, kind, Mode::empty(), dev)
        })?;
        self.by_name_metadata(parent, name, item, true)?;
        self.summary.specials += 1;
        Ok(())
    }

    /// Metadata for what cannot be opened safely (opening a fifo blocks,
    /// opening a device talks to its driver, a symlink would be followed):
    /// set by name in the parent, never following a link.
    pub(super) fn by_name_metadata(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        item: &Item,
        chmod: bool,
    ) -> Result<()> {
        let (uid, gid) = (Uid::from_raw(item.meta.uid), Gid::from_raw(item.meta.gid));
        self.owner(
            fchownat(
                parent,
                name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            &item.shown,
        )?;
        if chmod {
            fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(item.meta.mode),
                FchmodatFlags::NoFollowSymlink,
            )
            .map_err(|e| self.sys(&item.shown, e))?;
        }
        let path = proc_child(parent, name);
        for (key, value) in &item.meta.xattrs {
            lset_xattr(&path, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        utimensat(
            parent,
            name,
            &item.meta.mtime,
            &item.meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.sys(&item.shown, e))
    }

    /// A chown's result: refused ownership is an error for root, and the
    /// expected outcome for anyone else (the files stay theirs).
    pub(super) fn owner(&self, result: nix::Result<()>, shown: &str) -> Result<()> {
        match result {
            Err(Errno::EPERM | Errno::EINVAL) if !self.privileged => Ok(()),
            other => other.map_err(|e| self.sys(shown, e)),
        }
    }
}

pub(super) fn fset_xattr(fd: &impl AsFd, name: &CString, value: &[u8]) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated, `value` is valid for `value.len()`
    // bytes, and the descriptor is open for the duration of the call.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

pub(super) fn lset_xattr(path: &CString, name: &CString, value: &[u8]) -> nix::Result<()> {
    // SAFETY: both strings are NUL-terminated and `value` is valid for
    // `value.len()` bytes.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}
