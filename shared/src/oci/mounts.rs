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

use libc::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};
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

// ANCHOR: options
/// A mount's `options`, sorted into what each system call takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2): `ro`, `nosuid`, `bind`, …
    pub flags: MsFlags,
    /// A propagation type (`rprivate`, `shared`, …), set by a second
    /// mount(2) call: the kernel takes no propagation with a new mount.
    pub propagation: MsFlags,
    /// Attributes to set and to clear on the mount *and every mount below
    /// it* (`rro`, `rnosuid`, … of runtime spec 1.1), with
    /// mount_setattr(2) and `AT_RECURSIVE`: mount(2)'s flags apply to one
    /// mount only, so `["rbind", "ro"]` leaves the submounts writable.
    pub recursive: (u64, u64),
    /// `tmpcopyup` (runc's and crun's extension, which Podman sets on
    /// every tmpfs): fill a new tmpfs with what the directory it covers
    /// held, so `--read-only`'s tmpfs on /run keeps the image's files.
    pub copy_up: bool,
    /// What is left: the file system's own options (`mode=755`,
    /// `size=65536k`), passed to it as mount(2)'s data string.
    pub data: String,
}

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
        "nosymfollow" => (F::from_bits_retain(libc::MS_NOSYMFOLLOW), true),
        "symfollow" => (F::from_bits_retain(libc::MS_NOSYMFOLLOW), false),
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

/// The recursive options of runtime spec 1.1: an attribute of
/// mount_setattr(2) to set or clear. (The access-time ones are one field,
/// `MOUNT_ATTR__ATIME`, holding one of three values: setting one clears
/// the field first.)
fn recursive(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, true),
        "rrw" => (MOUNT_ATTR_RDONLY, false),
        "rnosuid" => (MOUNT_ATTR_NOSUID, true),
        "rsuid" => (MOUNT_ATTR_NOSUID, false),
        "rnodev" => (MOUNT_ATTR_NODEV, true),
        "rdev" => (MOUNT_ATTR_NODEV, false),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, true),
        "rexec" => (MOUNT_ATTR_NOEXEC, false),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, true),
        "rdiratime" => (MOUNT_ATTR_NODIRATIME, false),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, true),
        "rsymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, false),
        "rrelatime" => (MOUNT_ATTR_RELATIME, true),
        "rnoatime" => (MOUNT_ATTR_NOATIME, true),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, true),
        "ratime" => (MOUNT_ATTR_NOATIME, false),
        _ => return None,
    })
}

/// Split a mount's options into flags, propagation, recursive attributes
/// and the data string for the file system. Later words win over earlier
/// ones, as with mount(8).
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut parsed = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        recursive: (0, 0),
        copy_up: false,
        data: String::new(),
    };
    let mut data = Vec::new();
    for o in options {
        if let Some((flag, set)) = option(o) {
            parsed.flags.set(flag, set);
        } else if let Some(p) = propagation(o) {
            parsed.propagation |= p;
        } else if let Some((attr, set)) = recursive(o) {
            let (on, off) = &mut parsed.recursive;
            let is_atime = matches!(
                o.as_str(),
                "rrelatime" | "rnoatime" | "rstrictatime" | "ratime"
            );
            if is_atime {
                // One field: clear it, then set the value asked for.
                *on &= !MOUNT_ATTR__ATIME;
                *off |= MOUNT_ATTR__ATIME;
                if set {
                    *on |= attr;
                }
            } else if set {
                *on |= attr;
                *off &= !attr;
            } else {
                *off |= attr;
                *on &= !attr;
            }
        } else if o == "tmpcopyup" || o == "notmpcopyup" {
            parsed.copy_up = o == "tmpcopyup";
        } else {
            data.push(o.as_str());
        }
    }
    parsed.data = data.join(",");
    parsed
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
            fs::create_dir_all(&self.cwd).map_err(|e| {
                Error::Invalid(format!("creating process.cwd {}: {e}", self.cwd.display()))
            })?;
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
    crate::mount::bind_self(path)?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| Error::sys(&what, e))
}
// ANCHOR_END: masked

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
            .map_err(|e| Error::Invalid(format!("{what}: tmpcopyup: {e}")))?;
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
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
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
fn set_recursive(fd: &OwnedFd, (set, clear): (u64, u64)) -> nix::Result<()> {
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
fn mount_cgroup_v1(
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
fn own_cgroup<'a>(own: &'a str, fstype: &str, data: &[&str]) -> Option<&'a str> {
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
fn bind_with_flags(
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

/// Give the bind mount `mounted` (a descriptor of its root) its `flags`:
/// a bind mount takes them only on a remount.
fn remount_bind(mounted: &OwnedFd, flags: MsFlags) -> nix::Result<()> {
    mount(
        None::<&str>,
        proc_path(mounted).as_str(),
        None::<&str>,
        flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
        None::<&str>,
    )
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
        let parsed = parse_options(&options);
        assert_eq!(
            parsed.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY
        );
        assert_eq!(parsed.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(parsed.data, "mode=755,size=65536k");
        let flags = parse_options(&["ro".into(), "rw".into()]).flags;
        assert!(flags.is_empty(), "the last word wins");
    }

    #[test]
    fn recursive_options_set_and_clear_mount_attributes() {
        let options: Vec<String> = ["rro", "rnosuid", "rnoatime", "rrw", "rstrictatime"]
            .map(String::from)
            .to_vec();
        let parsed = parse_options(&options);
        let (set, clear) = parsed.recursive;
        assert_eq!(set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        // rrw clears read-only; the access-time field is cleared whole
        // before its new value is set.
        assert_eq!(clear, MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME);
        assert!(parsed.flags.is_empty() && parsed.data.is_empty());
    }

    #[test]
    fn the_cgroup_of_a_hierarchy_is_found_by_its_controllers() {
        let own = "9:name=systemd:/user\n4:memory:/berth/web\n2:cpu,cpuacct:/berth/web\n0::/init";
        assert_eq!(own_cgroup(own, "cgroup", &["memory"]), Some("/berth/web"));
        assert_eq!(
            own_cgroup(own, "cgroup", &["cpu", "cpuacct"]),
            Some("/berth/web")
        );
        assert_eq!(
            own_cgroup(own, "cgroup", &["xattr", "name=systemd"]),
            Some("/user")
        );
        assert_eq!(own_cgroup(own, "cgroup2", &[]), Some("/init"));
        assert_eq!(own_cgroup(own, "cgroup", &["freezer"]), None);
    }
}
