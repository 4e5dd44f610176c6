//! Paths inside the container's root, resolved by the kernel.
//!
//! Mounting `config.json`'s mounts happens before `pivot_root`, while the
//! runtime still sees the host's files, at `ROOTFS/destination`. An image
//! is untrusted input: if it holds a symbolic link `etc -> /etc`, then
//! `ROOTFS/etc/hosts` is the *host's* `/etc/hosts`, and a bind mount "into
//! the container" would land on the host. Checking for links first and
//! then mounting by path is not enough either: between the check and the
//! mount, whatever else can write to the image can swap a directory for a
//! link.
//!
//! So the kit never hands `mount(2)` a path through the image. It opens the
//! destination with `openat2(2)` and `RESOLVE_IN_ROOT`, which makes the
//! kernel resolve every component — `..` and symbolic links included — as
//! if the root directory were `ROOTFS`: `etc -> /etc` leads to
//! `ROOTFS/etc`, `../../..` stops at `ROOTFS`. The result is a descriptor
//! (`O_PATH`: a handle on a place, not an open file), and the mount goes
//! onto `/proc/self/fd/N`, which names exactly that place. This is how runc
//! and crun do it too, and the reason for Linux 5.6's `openat2`.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

use crate::{Error, Result};

/// What to create at the end of a path that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A directory (a mount point for a file system or a directory).
    Dir,
    /// An empty file (a mount point for a bind-mounted file).
    File,
}

/// The root of a container's file system, held open.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

// ANCHOR: open
impl Root {
    /// Hold `path` open as the root to resolve in.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening the root {}", path.display()), e))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Open `path` (as the container will see it) inside the root; the
    /// kernel keeps every step of the resolution inside.
    pub fn resolve(&self, path: &Path) -> std::result::Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        openat2(&self.fd, &relative(path), how)
    }

    /// Open `path` inside the root, first creating what is missing:
    /// directories on the way, and `last` at the end. Each new entry is
    /// made by name in a directory that was itself resolved inside the
    /// root, so no link can send it elsewhere.
    pub fn open_or_create(&self, path: &Path, last: Missing) -> Result<OwnedFd> {
        let what = |e: Errno| {
            Error::sys(
                format!(
                    "{} in the root filesystem {}",
                    path.display(),
                    self.path.display()
                ),
                e,
            )
        };
        match self.resolve(path) {
            Err(Errno::ENOENT) => {}
            other => return other.map_err(what),
        }
        let names: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name),
                _ => None,
            })
            .collect();
        let mut prefix = PathBuf::from("/");
        for (i, name) in names.iter().enumerate() {
            let parent = self.resolve(&prefix).map_err(what)?;
            prefix.push(name);
            if self.resolve(&prefix).is_ok() {
                continue;
            }
            let made = if i + 1 == names.len() && last == Missing::File {
                openat(
                    &parent,
                    *name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o644),
                )
                .map(drop)
            } else {
                mkdirat(&parent, *name, Mode::from_bits_truncate(0o755))
            };
            // Someone else making it meanwhile is fine: it is resolved
            // inside the root like everything else.
            match made {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(what(e)),
            }
        }
        self.resolve(path).map_err(what)
    }
}
// ANCHOR_END: open

/// The path of the place `fd` holds, for `mount(2)`.
pub fn proc_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `path` without its leading `/` (`openat2` resolves relative paths
/// against the directory descriptor; with `RESOLVE_IN_ROOT`, absolute ones
/// too, but relative says what is meant).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_and_dotdot_stay_inside_the_root() {
        let base = std::env::temp_dir().join(format!("berth-inroot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        // An absolute link (to a folder both the host and the root have),
        // a climbing one, and one to a place only the host has.
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../../outside", root.join("climb")).unwrap();
        symlink(base.join("outside"), root.join("dangling")).unwrap();
        let name = base.file_name().unwrap().to_owned();
        let r = Root::open(&root).unwrap();
        r.open_or_create(&Path::new("/abs").join(&name), Missing::Dir)
            .unwrap();
        r.open_or_create(Path::new("/climb/y"), Missing::File)
            .unwrap();
        r.open_or_create(Path::new("/../../z"), Missing::Dir)
            .unwrap();
        let dangling = r.open_or_create(Path::new("/dangling/w"), Missing::Dir);
        let on_host = Path::new("/etc").join(&name).exists()
            || std::fs::read_dir(base.join("outside")).unwrap().count() > 0;
        let made_inside = root.join("etc").join(&name).is_dir()
            && root.join("outside/y").is_file()
            && root.join("z").is_dir();
        std::fs::remove_dir_all(&base).unwrap();
        assert!(!on_host, "something was created outside the root");
        assert!(made_inside, "the paths should resolve inside the root");
        // A link to where the root has nothing: refused, not followed out.
        assert!(dangling.is_err());
    }
}
