//! The bundle's root filesystem and its `mounts`, inside the container.
//!
//! Rung 03 assembled a root from layers; an OCI bundle brings its root
//! ready-made (`root.path`), plus a list of mounts to make in it, in order
//! (`config.md`, "Mounts"). Each mount's `options` mix two things that
//! mount(2) takes separately: flags (`nosuid`, `ro`, `bind`, …) and
//! filesystem-specific data (`mode=755`, `size=65536k`), which this module
//! sorts out, as runc does.

use std::fs;
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, makedev, mknod, FchmodatFlags, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use super::inroot::{proc_path, Missing, Root};
use crate::container::Stage;
use crate::mount::make_private;
use crate::rootfs::{devices, pivot};
use crate::{Error, Result};

// ANCHOR: options
/// What one mount option means: a flag to set, a flag to clear, or a
/// propagation type (applied by a second mount(2) call).
fn option(name: &str) -> Option<(MsFlags, bool)> {
    use MsFlags as F;
    Some(match name {
        "ro" => (F::MS_RDONLY, true),
        "rw" => (F::MS_RDONLY, false),
        "nosuid" => (F::MS_NOSUID, true),
        "suid" => (F::MS_NOSUID, false),
        "nodev" => (F::MS_NODEV, true),
        "dev" => (F::MS_NODEV, false),
        "noexec" => (F::MS_NOEXEC, true),
        "exec" => (F::MS_NOEXEC, false),
        "sync" => (F::MS_SYNCHRONOUS, true),
        "async" => (F::MS_SYNCHRONOUS, false),
        "dirsync" => (F::MS_DIRSYNC, true),
        "remount" => (F::MS_REMOUNT, true),
        "mand" => (F::MS_MANDLOCK, true),
        "nomand" => (F::MS_MANDLOCK, false),
        "atime" => (F::MS_NOATIME, false),
        "noatime" => (F::MS_NOATIME, true),
        "diratime" => (F::MS_NODIRATIME, false),
        "nodiratime" => (F::MS_NODIRATIME, true),
        "bind" => (F::MS_BIND, true),
        "rbind" => (F::MS_BIND | F::MS_REC, true),
        "relatime" => (F::MS_RELATIME, true),
        "norelatime" => (F::MS_RELATIME, false),
        "strictatime" => (F::MS_STRICTATIME, true),
        "nostrictatime" => (F::MS_STRICTATIME, false),
        _ => return None,
    })
}

/// Propagation options: `private`, `rslave`, …
fn propagation(name: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match name {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// Split a mount's options into flags, propagation flags, and the data
/// string for the filesystem.
pub fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let (mut flags, mut propagate, mut data) = (MsFlags::empty(), MsFlags::empty(), Vec::new());
    for o in options {
        if let Some((flag, set)) = option(o) {
            flags.set(flag, set);
        } else if let Some(p) = propagation(o) {
            propagate |= p;
        } else {
            data.push(o.as_str());
        }
    }
    (flags, propagate, data.join(","))
}
// ANCHOR_END: options

/// Stage: the bundle's root, its mounts, the default devices, and
/// `pivot_root` — in the container's own mount namespace.
pub struct BundleRoot {
    rootfs: PathBuf,
    readonly: bool,
    mounts: Vec<Mount>,
    propagation: Option<String>,
    masked: Vec<PathBuf>,
    readonly_paths: Vec<PathBuf>,
    sysctl: Vec<(String, String)>,
    devices: Vec<LinuxDevice>,
}

impl BundleRoot {
    /// The stage for `spec`, whose root filesystem is `rootfs`.
    pub fn new(spec: &Spec, rootfs: &Path) -> BundleRoot {
        let linux = spec.linux().clone().unwrap_or_default();
        let paths = |list: &Option<Vec<String>>| -> Vec<PathBuf> {
            list.iter().flatten().map(PathBuf::from).collect()
        };
        BundleRoot {
            rootfs: rootfs.to_path_buf(),
            readonly: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            mounts: spec.mounts().clone().unwrap_or_default(),
            propagation: linux.rootfs_propagation().clone(),
            masked: paths(linux.masked_paths()),
            readonly_paths: paths(linux.readonly_paths()),
            sysctl: linux
                .sysctl()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            devices: linux.devices().clone().unwrap_or_default(),
        }
    }
}

impl Stage for BundleRoot {
    fn name(&self) -> &'static str {
        "the bundle's root filesystem"
    }

    // ANCHOR: in_child
    fn in_child(&mut self) -> Result<()> {
        let root = &self.rootfs;
        make_private()?;
        // pivot_root needs the new root to be a mount point.
        mount(
            Some(root),
            root,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("bind-mounting {} on itself", root.display()), e))?;
        // Held open after the bind above, so it is the new mount's root.
        let inside = Root::open(root)?;
        for m in &self.mounts {
            mount_one(&inside, m)?;
        }
        drop(inside);
        pivot::pivot_root(root)?;
        // After pivot_root, where "/dev" can only mean the container's.
        devices::create_nodes_and_links(Path::new("/dev"))?;
        for device in &self.devices {
            make_device(device)?;
        }
        if let Some(p) = self.propagation.as_deref().and_then(propagation) {
            mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
                .map_err(|e| Error::sys("setting rootfsPropagation", e))?;
        }
        for path in &self.readonly_paths {
            read_only(path)?;
        }
        for path in &self.masked {
            mask(path)?;
        }
        for (key, value) in &self.sysctl {
            // Only the namespaced ones are writable here: /proc/sys is the
            // container's own view of its namespaces.
            let file = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&file, value)
                .map_err(|e| Error::Invalid(format!("linux.sysctl {key}={value}: {e}")))?;
        }
        if self.readonly {
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(|e| Error::sys("making the root read-only (root.readonly)", e))?;
        }
        Ok(())
    }
    // ANCHOR_END: in_child
}

// ANCHOR: device
/// One of `linux.devices`: a node made with `mknod(2)`, its mode and owner
/// set. (Whether the container may *use* it is the device controller's
/// say: `linux.resources.devices`.)
fn make_device(device: &LinuxDevice) -> Result<()> {
    let path = device.path();
    let what = format!("linux.devices {}", path.display());
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Invalid(format!(
                "{what}: type a is not a kind of node"
            )))
        }
    };
    if !path.is_absolute() || !path.starts_with("/dev") {
        return Err(Error::Invalid(format!("{what}: must be a path under /dev")));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    }
    let _ = fs::remove_file(path); // a default node of the same name
    let mode = Mode::from_bits_truncate(device.file_mode().unwrap_or(0o666));
    let dev = makedev(device.major() as u64, device.minor() as u64);
    mknod(path, kind, mode, dev).map_err(|e| Error::sys(&what, e))?;
    // mknod's mode passes through the umask: set it for certain.
    fchmodat(AT_FDCWD, path, mode, FchmodatFlags::FollowSymlink)
        .map_err(|e| Error::sys(format!("{what}: chmod"), e))?;
    chown(
        path,
        device.uid().map(Uid::from_raw),
        device.gid().map(Gid::from_raw),
    )
    .map_err(|e| Error::sys(format!("{what}: chown"), e))
}
// ANCHOR_END: device

// ANCHOR: masked
/// `linux.maskedPaths`: make a path unreadable — /dev/null over a file, an
/// empty read-only tmpfs over a directory. Paths this kernel does not have
/// are skipped.
fn mask(path: &Path) -> Result<()> {
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
fn read_only(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    let what = format!("making {} read-only", path.display());
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::sys(&what, e))?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| Error::sys(&what, e))
}
// ANCHOR_END: masked

// ANCHOR: mount_one
/// Make one of the bundle's mounts, under `root`.
fn mount_one(root: &Root, m: &Mount) -> Result<()> {
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagate, data) = parse_options(&options);
    let mut fstype = m.typ().clone().unwrap_or_default();
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&fstype));
    let bind = flags.contains(MsFlags::MS_BIND) || fstype == "bind";
    let what = format!(
        "mounting {} on {}",
        source.display(),
        m.destination().display()
    );
    if !m.destination().is_absolute() {
        return Err(Error::Invalid(format!(
            "mounts: destination {} must be an absolute path",
            m.destination().display()
        )));
    }
    // The mount point, resolved inside the root (see `inroot`), and
    // mounted on through its descriptor.
    let missing = if bind && source.is_file() {
        Missing::File
    } else {
        Missing::Dir
    };
    let place = root.open_or_create(m.destination(), missing)?;
    let target = PathBuf::from(proc_path(&place));
    if fstype == "cgroup" && Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        fstype = "cgroup2".into(); // a v2 host has one hierarchy to show
    }
    let data = (!data.is_empty()).then_some(data.as_str());
    if bind {
        let bind_flags = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
        mount(
            Some(&source),
            &target,
            None::<&str>,
            bind_flags,
            None::<&str>,
        )
        .map_err(|e| Error::sys(&what, e))?;
        // The other flags of a bind mount take effect only on a remount.
        let rest = flags - MsFlags::MS_BIND - MsFlags::MS_REC;
        if !rest.is_empty() {
            mount(
                None::<&str>,
                &target,
                None::<&str>,
                rest | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(|e| Error::sys(format!("{what} ({options:?})"), e))?;
        }
    } else if fstype == "cgroup" {
        mount_cgroup_v1(root, m.destination(), &target, flags)
            .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    } else {
        mount(Some(&source), &target, Some(fstype.as_str()), flags, data)
            .map_err(|e| Error::sys(&what, e))?;
    }
    if !propagate.is_empty() {
        mount(None::<&str>, &target, None::<&str>, propagate, None::<&str>)
            .map_err(|e| Error::sys(format!("{what}: propagation"), e))?;
    }
    Ok(())
}
// ANCHOR_END: mount_one

// ANCHOR: cgroup_v1
/// A `cgroup` mount on a v1 host: there is no single file system to show,
/// but one hierarchy per controller (or group of controllers). As runc
/// does, a tmpfs at the destination, then in it one `cgroup` mount per
/// hierarchy the host has, named as on the host (`memory`, `cpu,cpuacct`,
/// the unified `cgroup2` one…), with links for the co-mounted names
/// (`cpu -> cpu,cpuacct`). The process is already in its cgroup
/// namespace, so each shows the container's own cgroup as its root.
fn mount_cgroup_v1(root: &Root, destination: &Path, target: &Path, flags: MsFlags) -> Result<()> {
    // Writable until its mount points and links are made.
    let tmpfs_flags = flags - MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        target,
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
        .map_err(|e| Error::Invalid(format!("reading /proc/self/mountinfo: {e}")))?;
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
        let place = root.open_or_create(&destination.join(name), Missing::Dir)?;
        mount(
            Some(fstype),
            proc_path(&place).as_str(),
            Some(fstype),
            flags,
            Some(data.join(",").as_str()),
        )
        .map_err(|e| {
            Error::sys(
                format!("mounting the {} hierarchy", name.to_string_lossy()),
                e,
            )
        })?;
        let name = name.to_string_lossy();
        if name.contains(',') {
            for single in name.split(',') {
                let _ = nix::unistd::symlinkat(name.as_ref(), &tmpfs, single);
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
// ANCHOR_END: cgroup_v1

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let options: Vec<String> = [
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]
        .map(String::from)
        .to_vec();
        let (flags, propagate, data) = parse_options(&options);
        assert_eq!(
            flags,
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY
        );
        assert_eq!(propagate, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(data, "mode=755,size=65536k");
        let (flags, _, _) = parse_options(&["ro".into(), "rw".into()]);
        assert!(flags.is_empty(), "the last word wins");
    }
}
