//! `/proc`, `/sys` and `/dev`: what every Linux program expects to find.
//!
//! Introduced by rung 03; chapter 3 explains each mount.
//!
//! An image's files do not include the kernel's interfaces; the runtime
//! mounts them into the new root before switching to it:
//!
//! - `/proc` (`proc`): processes, and much of the kernel's state. Without
//!   it, `ps` shows nothing and many programs fail to start.
//! - `/sys` (`sysfs`, read-only): devices and kernel objects.
//! - `/dev` (a small `tmpfs`): not the host's `/dev` with every disk in
//!   it, but only the harmless devices every program may use, created with
//!   `mknod(2)`; the conventional symbolic links; a private instance of
//!   `devpts` for pseudo-terminals; `/dev/shm` for POSIX shared memory; and
//!   `/dev/mqueue` for POSIX message queues.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::{Error, Result};

// ANCHOR: devices
/// The device nodes every container gets: name, major, minor.
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),    // discards writes, reads as empty
    ("zero", 1, 5),    // reads as zeros
    ("full", 1, 7),    // writes fail with ENOSPC
    ("random", 1, 8),  // random bytes
    ("urandom", 1, 9), // random bytes
    ("tty", 5, 0),     // the process's controlling terminal
];

/// The symbolic links programs expect in `/dev`.
pub const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];
// ANCHOR_END: devices

/// Mount `fstype` at `root/target`, creating the mount point if needed.
fn mount_at(
    root: &Path,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    let path = root.join(target);
    fs::create_dir_all(&path).map_err(|e| Error::os(format!("creating {}", path.display()), e))?;
    mount(Some(fstype), &path, Some(fstype), flags, data)
        .map_err(|e| Error::sys(format!("mounting {fstype} on /{target}"), e))
}

// ANCHOR: pseudo
/// `/proc`, a read-only `/sys`, and an empty `/dev` in the new root.
pub fn mount_pseudo_filesystems(root: &Path) -> Result<()> {
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_at(root, "proc", "proc", safe, None)?;
    mount_at(root, "sys", "sysfs", safe | MsFlags::MS_RDONLY, None)?;
    mount_at(
        root,
        "dev",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
}
// ANCHOR_END: pseudo

// ANCHOR: populate
/// Fill the new `/dev`: device nodes, links, `pts`, `shm`, `mqueue`, and
/// the terminal as `/dev/console` when there is one.
pub fn populate_dev(root: &Path) -> Result<()> {
    let dev = root.join("dev");
    create_nodes_and_links(&dev)?;
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    // newinstance: the container's own set of pseudo-terminals, not the
    // host's (whose /dev/pts would list every terminal on the machine).
    mount_at(
        root,
        "dev/pts",
        "devpts",
        safe,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    mount_at(
        root,
        "dev/shm",
        "tmpfs",
        safe | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )?;
    mount_at(root, "dev/mqueue", "mqueue", safe | MsFlags::MS_NODEV, None)?;
    console(&dev)
}
// ANCHOR_END: populate

/// The standard device nodes and links in the folder `dev` (also what an
/// OCI runtime must create, whatever the bundle's mounts say).
pub fn create_nodes_and_links(dev: &Path) -> Result<()> {
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| Error::sys(format!("creating /dev/{name}"), e))?;
        // mknod's mode is filtered by the umask; set it for real.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))
            .map_err(|e| Error::os(format!("chmod /dev/{name}"), e))?;
    }
    for (name, target) in LINKS {
        let link = dev.join(name);
        if link.symlink_metadata().is_err() {
            symlink(target, &link).map_err(|e| Error::os(format!("linking /dev/{name}"), e))?;
        }
    }
    Ok(())
}

/// If standard input is a terminal, make it the container's
/// `/dev/console` too (a bind mount of the terminal's device).
fn console(dev: &Path) -> Result<()> {
    let Ok(terminal) = nix::unistd::ttyname(std::io::stdin()) else {
        return Ok(()); // no terminal: no console
    };
    let console = dev.join("console");
    fs::write(&console, b"").map_err(|e| Error::os("creating /dev/console", e))?;
    mount(
        Some(&terminal),
        &console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::sys(format!("binding {} to /dev/console", terminal.display()), e))
}
