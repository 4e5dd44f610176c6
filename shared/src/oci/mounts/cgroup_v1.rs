//! A `cgroup` mount on a cgroup v1 host: each hierarchy, showing the
//! container's own cgroup.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::mount::{mount, MsFlags};

use crate::oci::inroot::{proc_path, Missing, Root};
use crate::{Error, Result};

use super::*;

// ANCHOR: cgroup_v1
/// A `cgroup` mount on a v1 host: there is no single file system to show,
/// but one hierarchy per controller (or group of controllers). As runc
/// does, a tmpfs at the destination, then in it one mount per hierarchy
/// the host has, named as on the host (`memory`, `cpu,cpuacct`, the
/// unified `cgroup2` one…), with links for the co-mounted names (`cpu ->
/// cpu,cpuacct`).
///
/// What each one shows must be the container's own cgroup. In a cgroup
/// namespace, a fresh `cgroup` mount does that by itself: its root is the
/// namespace's. Without one, a fresh mount would show the *host's* whole
/// tree (and "unlimited" where the container has 64 MiB), so each
/// hierarchy is a bind mount of the container's own directory in it, as
/// `/proc/self/cgroup` names it.
pub(super) fn mount_cgroup_v1(
    root: &Root,
    destination: &Path,
    place: &OwnedFd,
    flags: MsFlags,
    cgroupns: bool,
) -> Result<()> {
    // Writable until its mount points and links are made.
    let tmpfs_flags = flags - MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        proc_path(place).as_str(),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .map_err(|e| Error::sys("a tmpfs for the cgroup hierarchies", e))?;
    // The tmpfs itself: the destination, resolved again now that it is a
    // mount point.
    let tmpfs = root
        .resolve(destination)
        .map_err(|e| Error::sys("reopening the cgroup tmpfs", e))?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading", "/proc/self/mountinfo", e))?;
    let own = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("reading", "/proc/self/cgroup", e))?;
    for line in mountinfo.lines() {
        // "36 31 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let point = Path::new(left.split(' ').nth(4).unwrap_or_default());
        let mut right = right.split(' ');
        let fstype = right.next().unwrap_or_default();
        let options = right.nth(1).unwrap_or_default();
        if point.parent() != Some(Path::new("/sys/fs/cgroup")) || !fstype.starts_with("cgroup") {
            continue;
        }
        let Some(name) = point.file_name() else {
            continue;
        };
        // The hierarchy's own options: its controllers, or name=systemd.
        let data: Vec<&str> = options
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("seclabel"))
            .collect();
        let at = root.open_or_create(&destination.join(name), Missing::Dir)?;
        let hierarchy = name.to_string_lossy();
        let made = if cgroupns {
            mount(
                Some(fstype),
                proc_path(&at).as_str(),
                Some(fstype),
                flags,
                Some(data.join(",").as_str()),
            )
        } else {
            let path = own_cgroup(&own, fstype, &data).unwrap_or("/");
            let source = point.join(path.trim_start_matches('/'));
            bind_with_flags(&source, &at, root, &destination.join(name), flags)
        };
        made.map_err(|e| Error::sys(format!("mounting the {hierarchy} hierarchy"), e))?;
        if hierarchy.contains(',') {
            for single in hierarchy.split(',') {
                let _ = nix::unistd::symlinkat(hierarchy.as_ref(), &tmpfs, single);
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let remount = flags | MsFlags::MS_REMOUNT;
        mount(
            None::<&str>,
            proc_path(&tmpfs).as_str(),
            None::<&str>,
            remount,
            Some("mode=755"),
        )
        .map_err(|e| Error::sys("making the cgroup tmpfs read-only", e))?;
    }
    Ok(())
}

/// This process's cgroup in the hierarchy whose options are `data`, from
/// the text of `/proc/self/cgroup` ("4:memory:/berth/web",
/// "2:cpu,cpuacct:/…", "1:name=systemd:/…", "0::/…" for cgroup2).
pub(super) fn own_cgroup<'a>(own: &'a str, fstype: &str, data: &[&str]) -> Option<&'a str> {
    own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = if fstype == "cgroup2" {
            names.is_empty()
        } else {
            !names.is_empty() && names.split(',').all(|n| data.contains(&n))
        };
        matches.then_some(path)
    })
}

/// Bind `source` on the place `at` (the mount point `path` under `root`),
/// then give it `flags` (`ro`, `nosuid`, …).
pub(super) fn bind_with_flags(
    source: &Path,
    at: &OwnedFd,
    root: &Root,
    path: &Path,
    flags: MsFlags,
) -> nix::Result<()> {
    mount(
        Some(source),
        proc_path(at).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    remount_bind(&root.resolve(path)?, flags)
}
// ANCHOR_END: cgroup_v1
