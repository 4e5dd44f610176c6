//! `pivot_root(2)`: switching to the new root for good.
//!
//! Introduced by rung 03; chapter 3 explains it.
//!
//! `chroot(2)` changes where `/` resolves for one process, and nothing
//! else: the host's root is still mounted, the process's working directory
//! may still be outside the new root, and a process that is root inside can
//! `chroot` again into a subdirectory and walk out with `..` (the classic
//! escape). `pivot_root` changes the root *mount* of the whole mount
//! namespace: the new root becomes `/`, the old root is moved under it, and
//! once the old root is unmounted there is no path, however many `..`, that
//! leads back to the host's files.

use std::path::Path;

use nix::mount::{umount2, MntFlags};
use nix::unistd::{chdir, pivot_root as pivot};

use crate::{Error, Result};

// ANCHOR: pivot
/// Make `new_root` (a mount point) this mount namespace's `/`, and detach
/// the old root.
///
/// The trick, from runc: `pivot_root(".", ".")` from inside the new root
/// puts the old root *on top of* the new one, at the same place. Unmounting
/// `.` then removes the old root, and what is left is the new one — no
/// temporary `.oldroot` directory to create in the container's files.
pub fn pivot_root(new_root: &Path) -> Result<()> {
    chdir(new_root).map_err(|e| Error::sys(format!("entering {}", new_root.display()), e))?;
    pivot(".", ".").map_err(|e| {
        Error::sys_hint(
            format!("pivot_root to {}", new_root.display()),
            e,
            "the new root must be a mount point, and / must not be the initramfs (rootfs)",
        )
    })?;
    // MNT_DETACH: unmount lazily, even though the old root is busy (this
    // very process still has files open in it).
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| Error::sys("detaching the old root", e))?;
    chdir("/").map_err(|e| Error::sys("entering the new /", e))
}
// ANCHOR_END: pivot
