//! The bundle's root filesystem and its `mounts`, inside the container.
//!
//! Rung 03 assembled a root from layers; an OCI bundle brings its root
//! ready-made (`root.path`), plus a list of mounts to make in it, in order
//! (`config.md`, "Mounts"). Each mount's `options` mix two things that
//! mount(2) takes separately: flags (`nosuid`, `ro`, `bind`, …) and
//! filesystem-specific data (`mode=755`, `size=65536k`), which this module
//! sorts out, as runc does.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, makedev, mknod, FchmodatFlags, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, LinuxNamespaceType, Mount, Spec};

use super::inroot::{proc_path, Missing, Root};
use crate::container::Stage;
use crate::mount::make_private;
use crate::rootfs::{devices, pivot};
use crate::{Error, Result};

mod cgroup_v1;
mod masked;
mod options;

use cgroup_v1::mount_cgroup_v1;
#[cfg(test)]
use cgroup_v1::own_cgroup;
use masked::{mask, read_only};
use options::propagation;
pub use options::{parse_options, MountOptions};

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
    /// Whether the container has a cgroup namespace of its own (decides
    /// what a `cgroup` mount shows on v1).
    cgroupns: bool,
    /// `--no-pivot`: move the root onto `/` and chroot, for roots where
    /// pivot_root(2) is refused.
    no_pivot: bool,
    /// `process.cwd`, made if the image lacks it (as runc does).
    cwd: PathBuf,
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
            cgroupns: linux
                .namespaces()
                .iter()
                .flatten()
                .any(|ns| ns.typ() == LinuxNamespaceType::Cgroup),
            no_pivot: false,
            cwd: spec
                .process()
                .as_ref()
                .map_or_else(|| PathBuf::from("/"), |p| p.cwd().clone()),
        }
    }

    /// Enter the root with `MS_MOVE` and `chroot` instead of `pivot_root`
    /// (runc's `--no-pivot`): for a root on the initramfs, where
    /// pivot_root(2) fails with EINVAL. Weaker — the old root is still
    /// mounted underneath — so only on request.
    pub fn no_pivot(mut self, no_pivot: bool) -> BundleRoot {
        self.no_pivot = no_pivot;
        self
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
        crate::mount::bind_self(root)?;
        // Held open after the bind above, so it is the new mount's root.
        let inside = Root::open(root)?;
        for m in &self.mounts {
            mount_one(&inside, m, self.cgroupns)?;
        }
        drop(inside);
        if self.no_pivot {
            move_root(root)?;
        } else {
            pivot::pivot_root(root)?;
        }
        // After pivot_root, where "/dev" can only mean the container's.
        devices::create_nodes_and_links(Path::new("/dev"))?;
        // A working directory the image lacks is made, as runc does (and
        // engines count on: `podman run -w /new`), before the root may
        // become read-only. After pivot_root, no link can lead out.
        if !self.cwd.exists() {
            fs::create_dir_all(&self.cwd)
                .map_err(|e| Error::io("creating process.cwd", &self.cwd, e))?;
        }
        for device in &self.devices {
            make_device(device)?;
        }
        if let Some(p) = self.propagation.as_deref().and_then(propagation) {
            mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
                .map_err(|e| Error::sys("setting rootfsPropagation", e))?;
        }
        // sysctls before readonlyPaths: engines make /proc/sys read-only,
        // and after that not even root in here could write a value.
        for (key, value) in &self.sysctl {
            // Only the namespaced ones are writable here: /proc/sys is the
            // container's own view of its namespaces.
            let file = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&file, value)
                .map_err(|e| Error::Invalid(format!("linux.sysctl {key}={value}: {e}")))?;
        }
        for path in &self.readonly_paths {
            read_only(path)?;
        }
        for path in &self.masked {
            mask(path)?;
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

/// `--no-pivot`: move the new root over `/` and `chroot` into it. The old
/// root stays mounted underneath, reachable by anything that can undo a
/// chroot (CAP_SYS_CHROOT and a directory outside it): which is why
/// pivot_root is the default.
fn move_root(root: &Path) -> Result<()> {
    let what = format!("moving {} onto / (--no-pivot)", root.display());
    nix::unistd::chdir(root).map_err(|e| Error::sys(&what, e))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| Error::sys(&what, e))?;
    nix::unistd::chroot(".").map_err(|e| Error::sys(&what, e))?;
    nix::unistd::chdir("/").map_err(|e| Error::sys(&what, e))
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
        fs::create_dir_all(parent).map_err(|e| Error::os(what.as_str(), e))?;
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

// ANCHOR: mount_one
/// Make one of the bundle's mounts, under `root`.
fn mount_one(root: &Root, m: &Mount, cgroupns: bool) -> Result<()> {
    let options = m.options().clone().unwrap_or_default();
    let MountOptions {
        flags,
        propagation,
        recursive,
        copy_up,
        data,
    } = parse_options(&options);
    let mut fstype = m.typ().clone().unwrap_or_default();
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&fstype));
    let bind = flags.contains(MsFlags::MS_BIND) || fstype == "bind";
    let destination = m.destination();
    let what = format!("mounting {} on {}", source.display(), destination.display());
    if !destination.is_absolute() {
        return Err(Error::Invalid(format!(
            "mounts: destination {} must be an absolute path",
            destination.display()
        )));
    }
    // The mount point, resolved inside the root (see `inroot`), and
    // mounted on through its descriptor. Anything but a directory — a
    // file, a socket, a FIFO, a device — needs a file to be bound onto.
    let missing = match fs::metadata(&source) {
        Ok(meta) if bind && !meta.is_dir() => Missing::File,
        _ => Missing::Dir,
    };
    let place = root.open_or_create(destination, missing)?;
    if fstype == "cgroup" && Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        fstype = "cgroup2".into(); // a v2 host has one hierarchy to show
    }
    let data = (!data.is_empty()).then_some(data.as_str());
    if bind {
        let bind_flags = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
        mount(
            Some(&source),
            proc_path(&place).as_str(),
            None::<&str>,
            bind_flags,
            None::<&str>,
        )
        .map_err(|e| Error::sys(&what, e))?;
    } else if fstype == "cgroup" {
        mount_cgroup_v1(root, destination, &place, flags, cgroupns)
            .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    } else {
        mount(
            Some(&source),
            proc_path(&place).as_str(),
            Some(fstype.as_str()),
            flags,
            data,
        )
        .map_err(|e| Error::sys(&what, e))?;
    }
    // `place` still names the directory the mount now *covers*: a
    // descriptor holds a place in the tree, not a path. Everything that
    // changes the new mount goes through the destination resolved again,
    // which now leads to the new mount's root.
    let rest = flags - MsFlags::MS_BIND - MsFlags::MS_REC;
    let copy_up = copy_up && fstype == "tmpfs";
    let later =
        (bind && !rest.is_empty()) || recursive != (0, 0) || !propagation.is_empty() || copy_up;
    if !later {
        return Ok(());
    }
    let mounted = root
        .resolve(destination)
        .map_err(|e| Error::sys(format!("{what}: reopening it"), e))?;
    let target = proc_path(&mounted);
    if copy_up {
        // The one use of the covered directory: `place` still reaches it.
        copy_tree(Path::new(&proc_path(&place)), Path::new(&target))
            .map_err(|e| Error::os(format!("{what}: tmpcopyup"), e))?;
    }
    if bind && !rest.is_empty() {
        remount_bind(&mounted, rest).map_err(|e| Error::sys(format!("{what} ({options:?})"), e))?;
    }
    if recursive != (0, 0) {
        set_recursive(&mounted, recursive)
            .map_err(|e| Error::sys(format!("{what}: the recursive options ({options:?})"), e))?;
    }
    if !propagation.is_empty() {
        mount(
            None::<&str>,
            target.as_str(),
            None::<&str>,
            propagation,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("{what}: propagation"), e))?;
    }
    Ok(())
}
// ANCHOR_END: mount_one

/// Copy the tree under `from` into `to`: directories, files, links and
/// their modes and owners (for `tmpcopyup`). Links are copied as links,
/// never followed.
pub(super) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let meta = entry.metadata()?; // of the entry itself, not a link's target
        let target = to.join(entry.file_name());
        let kind = meta.file_type();
        if kind.is_dir() {
            fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)?;
        } else {
            continue; // sockets, FIFOs, devices: nothing to copy into a tmpfs
        }
        lchown(&target, Some(meta.uid()), Some(meta.gid()))?;
        if !kind.is_symlink() {
            fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    let meta = fs::metadata(from)?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
}

/// mount_setattr(2) with `AT_RECURSIVE` (Linux 5.12): change attributes of
/// the mount `fd` is the root of, and of every mount below it, in one step.
pub(super) fn set_recursive(fd: &OwnedFd, (set, clear): (u64, u64)) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a valid C string, `attr` lives across the call
    // and its size is passed with it; the kernel copies it.
    let done = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(done).map(drop)
}

/// Give the bind mount `mounted` (a descriptor of its root) its `flags`:
/// a bind mount takes them only on a remount.
pub(super) fn remount_bind(mounted: &OwnedFd, flags: MsFlags) -> nix::Result<()> {
    mount(
        None::<&str>,
        proc_path(mounted).as_str(),
        None::<&str>,
        flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
        None::<&str>,
    )
}

#[cfg(test)]
mod tests;
