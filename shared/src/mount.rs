//! Mounts: private propagation and a fresh `/proc`.
//!
//! Introduced by rung 01; chapter 1 explains it. Rung 03 builds a whole
//! root filesystem on top of this.
//!
//! A new mount namespace starts as a *copy* of its parent's mount table. But
//! on most systems (systemd makes `/` "shared") the copies stay connected:
//! a mount made in one namespace *propagates* to its peers — so a container
//! that mounts something could make it appear on the host. The first thing
//! to do in a new mount namespace is therefore to make every mount in it
//! private (`mount --make-rprivate /`). See `man 7 mount_namespaces`.
//!
//! The second is `/proc`. It shows the processes of the PID namespace of
//! *whoever mounted it*, so the host's `/proc` inside a new PID namespace
//! still lists the host's processes (and `ps` would show them all). A fresh
//! `proc` mount, made from inside, shows only the container's.

use nix::mount::{mount, MsFlags};

use crate::container::Stage;
use crate::{Error, Result};

/// Bind-mount `path` onto itself, with everything mounted below it
/// (`MS_BIND | MS_REC`): the way to make a directory a mount point of its
/// own — which `pivot_root` asks of a new root, and a remount read-only of
/// one path needs (used from rung 03 on).
pub fn bind_self(path: &std::path::Path) -> Result<()> {
    nix::mount::mount(
        Some(path),
        path,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::sys(format!("bind-mounting {} on itself", path.display()), e))
}

// ANCHOR: private
/// Stop mount events from flowing between this mount namespace and the
/// host's, in both directions, for every mount (`MS_REC`).
pub fn make_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| match e {
        nix::errno::Errno::EINVAL => Error::sys_hint(
            "making the mounts private (mount --make-rprivate /)",
            e,
            "/ is not a mount point: are we in a chroot? (bind-mount the chroot's root on itself first)",
        ),
        _ => Error::sys("making the mounts private (mount --make-rprivate /)", e),
    })
}
// ANCHOR_END: private

// ANCHOR: proc
/// Mount a `proc` filesystem on `/proc` that shows this PID namespace.
/// `nosuid,nodev,noexec`: nothing in `/proc` needs to be executable.
pub fn mount_proc() -> Result<()> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| Error::sys("mounting proc on /proc", e))
}
// ANCHOR_END: proc

/// Stage: private propagation, then a fresh `/proc`. Only for a container
/// with its own mount namespace: in the host's, both would change the host.
pub struct PrivateProc;

impl Stage for PrivateProc {
    fn name(&self) -> &'static str {
        "private mounts and /proc"
    }

    fn in_child(&mut self) -> Result<()> {
        make_private()?;
        mount_proc()
    }
}
