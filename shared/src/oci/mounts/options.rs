//! A mount's `options`, sorted out: mount(2)'s flags, propagation, the
//! recursive attributes of mount_setattr(2), and the filesystem's data.

use libc::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};
use nix::mount::MsFlags;

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
pub(super) fn option(name: &str) -> Option<(MsFlags, bool)> {
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
pub(super) fn propagation(name: &str) -> Option<MsFlags> {
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
pub(super) fn recursive(name: &str) -> Option<(u64, bool)> {
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
