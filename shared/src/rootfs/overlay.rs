//! Stacking layers: overlayfs, or a plain copy where it cannot be used.
//!
//! Introduced by rung 03; chapter 3 explains it (the kernel's
//! `Documentation/filesystems/overlayfs.rst`).
//!
//! An overlay mount merges directories: a stack of read-only *lower*
//! layers and one writable *upper* layer. Reading a file finds it in the
//! topmost layer that has it. Writing a file that only a lower layer has
//! first **copies it up** — the whole file — into the upper layer, and
//! deleting one leaves a **whiteout** in the upper layer (a character
//! device 0/0) that hides it. The lower layers are never changed, so any
//! number of containers can share them; each container's changes are all in
//! its own upper layer, and deleting that layer undoes them.
//!
//! ```text
//! mount -t overlay overlay -o lowerdir=L2:L1,upperdir=U,workdir=W MERGED
//! ```
//!
//! `lowerdir` lists the layers **top first**. `workdir` is overlayfs's
//! scratch space for atomic copy-ups; it must be an empty directory on the
//! same filesystem as `upperdir`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{mknod, Mode, SFlag};

use super::{Paths, Storage};
use crate::{Error, Result};

// ANCHOR: assemble
/// Make `paths.merged` the union of `layers` (lowest first) under a fresh
/// writable layer: with overlayfs where possible, else by copying.
pub fn assemble(layers: &[PathBuf], paths: &Paths, storage: Storage) -> Result<()> {
    if storage != Storage::Vfs {
        match mount_overlay(layers, paths) {
            Ok(()) => return Ok(()),
            Err(error) if storage == Storage::Overlay => return Err(error),
            Err(error) => crate::warning::warn(format!(
                "overlayfs unavailable ({}): copying the layers instead (vfs)",
                error.report()
            )),
        }
    }
    copy_layers(layers, &paths.merged)
}

fn mount_overlay(layers: &[PathBuf], paths: &Paths) -> Result<()> {
    // overlayfs wants the topmost layer first.
    let lower: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| l.display().to_string())
        .collect();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        paths.upper.display(),
        paths.work.display()
    );
    mount(
        Some("overlay"),
        &paths.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| {
        Error::sys(
            format!("mounting overlay on {} ({options})", paths.merged.display()),
            e,
        )
    })
}
// ANCHOR_END: assemble

// ANCHOR: vfs
/// The fallback: copy every layer, lowest first, into `merged`, then make
/// it a mount point of its own (pivot_root needs one).
fn copy_layers(layers: &[PathBuf], merged: &Path) -> Result<()> {
    for layer in layers {
        copy_tree(layer, merged)?;
    }
    crate::mount::bind_self(merged)
}
// ANCHOR_END: vfs

/// Copy the tree at `from` into `to`, keeping file types, permissions and
/// owners (what `cp -a` does, minus hard links and extended attributes).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = from
        .symlink_metadata()
        .map_err(|e| Error::os(format!("reading {}", from.display()), e))?;
    let kind = meta.file_type();
    let copy_error = |e| Error::os(format!("copying {} to {}", from.display(), to.display()), e);
    if kind.is_dir() {
        if !to.is_dir() {
            fs::create_dir(to).map_err(copy_error)?;
        }
        for entry in fs::read_dir(from).map_err(copy_error)? {
            let entry = entry.map_err(copy_error)?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        if to.symlink_metadata().is_ok() {
            fs::remove_file(to).map_err(copy_error)?; // a higher layer wins
        }
        if kind.is_symlink() {
            let target = fs::read_link(from).map_err(copy_error)?;
            std::os::unix::fs::symlink(target, to).map_err(copy_error)?;
        } else if kind.is_file() {
            fs::copy(from, to).map_err(copy_error)?;
        } else {
            // Devices, FIFOs, sockets: make a new one of the same kind.
            let sflag = SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            mknod(
                to,
                sflag,
                Mode::from_bits_truncate(meta.mode()),
                meta.rdev(),
            )
            .map_err(|e| Error::sys(format!("copying the node {}", from.display()), e))?;
        }
    }
    if !kind.is_symlink() {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(copy_error)?;
    }
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| Error::os(format!("setting the owner of {}", to.display()), e))
}

// ANCHOR: unpack
/// Unpack a root filesystem tarball (plain, gzip or zstd) into `dir`,
/// with the kit's one unpacker ([`crate::unpack`]): each entry written by
/// name in a parent directory the kernel opened beneath `dir`, so nothing
/// in the tarball can write outside it.
pub fn unpack(tarball: &Path, dir: &Path) -> Result<()> {
    let file = fs::File::open(tarball).map_err(|e| Error::io("opening", tarball, e))?;
    fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    crate::unpack::unpack(file, dir)
        .map(drop)
        .map_err(|e| Error::Invalid(format!("unpacking {}: {}", tarball.display(), e.report())))
}
// ANCHOR_END: unpack
