//! The root filesystem: which files a container sees.
//!
//! Introduced by rung 03; chapter 3 explains it.
//!
//! Rungs 01 and 02 ran their containers on the host's files. Rung 03 gives
//! each container a root of its own, assembled the way images are: one or
//! more read-only **layers** (directories), stacked by **overlayfs** under a
//! fresh writable layer, so that every container starts from the same
//! pristine files and its writes vanish with it ([`overlay`]). The
//! container then switches to it with **`pivot_root(2)`**, which — unlike
//! `chroot(2)` — leaves no way back to the host's root ([`pivot`]). Before
//! that, it mounts what a Linux program expects to find: `/proc`, `/sys`,
//! a `/dev` with the standard devices ([`devices`]), and its own
//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` ([`etc`]), plus any
//! volumes the user asked for ([`volume`]).
//!
//! All of those mounts are made by the container's first process *inside*
//! its own mount namespace, so they vanish with it and the host's mount
//! table never changes. What lives on the host's disk — the writable layer,
//! overlayfs's work directory — is in a state directory that the runtime
//! removes when the container is gone ([`Rootfs::cleanup`](Stage::cleanup)).

pub mod args;
pub mod busybox;
pub mod devices;
pub mod etc;
pub mod overlay;
pub mod pivot;
pub mod volume;

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use crate::container::Stage;
use crate::{Error, Result};
pub use volume::Volume;

/// Where the runtime keeps each container's writable layer and work files:
/// `/run/berth` for root (see [`crate::dirs::runtime`]).
pub fn state_dir() -> PathBuf {
    crate::dirs::runtime("berth")
}

/// What the root filesystem is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Read-only layer directories, lowest first (the order of an image's
    /// layers).
    Layers(Vec<PathBuf>),
    /// A tarball of a root filesystem (`.tar` or `.tar.gz`), unpacked into
    /// the state directory and used as a single layer.
    Tarball(PathBuf),
}

/// How the layers are stacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    /// overlayfs, or a copy where overlayfs cannot be used.
    Auto,
    /// overlayfs only: fail where it cannot be used.
    Overlay,
    /// A full copy of the layers (what Docker calls the "vfs" driver): slow
    /// and large, but works on any filesystem.
    Vfs,
}

/// How the container's root is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Make the root read-only (the mounts on it — `/dev`, `/proc`,
    /// volumes — keep their own flags).
    pub read_only: bool,
    /// Bind mounts from the host.
    pub volumes: Vec<Volume>,
    /// Keep the writable layer after the container exits.
    pub keep: bool,
    /// overlayfs, a copy, or whichever works.
    pub storage: Storage,
    /// The container's hostname, for `/etc/hostname` and `/etc/hosts`.
    pub hostname: String,
}

/// The state directory of one container, and the paths in it.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `/run/berth/NAME`.
    pub dir: PathBuf,
    /// The writable layer: every file the container creates or changes.
    pub upper: PathBuf,
    /// overlayfs's scratch directory (same filesystem as `upper`).
    pub work: PathBuf,
    /// Where the layers are assembled: the container's `/`.
    pub merged: PathBuf,
    /// The files bind-mounted into the container's `/etc`.
    pub etc: PathBuf,
    /// Where a tarball is unpacked.
    pub unpacked: PathBuf,
}

impl Paths {
    fn new(name: &str) -> Paths {
        let dir = state_dir().join(name);
        Paths {
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: dir.join("merged"),
            etc: dir.join("etc"),
            unpacked: dir.join("unpacked"),
            dir,
        }
    }
}

// ANCHOR: rootfs
/// Stage: assemble the container's root filesystem and switch to it.
///
/// Outside (before the container exists): check the layers, create the
/// state directory, unpack a tarball. Inside: stack the layers, mount what
/// a Linux process expects, `pivot_root`. Afterwards: remove the state
/// directory (keeping the writable layer with `--keep`).
pub struct Rootfs {
    layers: Vec<PathBuf>,
    options: Options,
    paths: Paths,
    cleaned: bool,
}
// ANCHOR_END: rootfs

impl Rootfs {
    /// Prepare a root filesystem named `name` (unique per container; the
    /// rungs use `step-NN-PID`). Everything it creates is removed by its
    /// clean-up, or right here if preparing fails.
    pub fn prepare(source: &Source, options: Options, name: &str) -> Result<Rootfs> {
        sweep_stale();
        let paths = Paths::new(name);
        let mut rootfs = Rootfs {
            layers: Vec::new(),
            options,
            paths,
            cleaned: false,
        };
        match rootfs.prepare_dirs(source) {
            Ok(()) => Ok(rootfs),
            Err(error) => {
                rootfs.options.keep = false;
                rootfs.cleanup();
                Err(error)
            }
        }
    }

    fn prepare_dirs(&mut self, source: &Source) -> Result<()> {
        if let Source::Layers(layers) = source {
            if layers.is_empty() {
                return Err(Error::Invalid("no layers given".into()));
            }
            for layer in layers {
                if !layer.is_dir() {
                    return Err(Error::Invalid(format!(
                        "layer {}: not a directory (does it exist?)",
                        layer.display()
                    )));
                }
            }
        }
        for volume in &self.options.volumes {
            volume.check()?;
        }
        let p = &self.paths;
        for dir in [&p.dir, &p.upper, &p.work, &p.merged, &p.etc] {
            fs::create_dir_all(dir)
                .map_err(|e| Error::os(format!("creating {}", dir.display()), e))?;
        }
        self.layers = match source {
            Source::Layers(layers) => layers.clone(),
            Source::Tarball(tarball) => {
                overlay::unpack(tarball, &self.paths.unpacked)?;
                vec![self.paths.unpacked.clone()]
            }
        };
        if !has_shell_or_binaries(&self.layers) {
            return Err(Error::Invalid(format!(
                "{} has no /bin: is it really a root filesystem?",
                self.layers[0].display()
            )));
        }
        etc::write(&self.paths.etc, &self.options.hostname)
    }

    /// The paths of its state directory.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Whether `program` exists in the layers, as `/bin/sh` or any absolute
    /// path (a relative name is searched in `$PATH` at exec time).
    pub fn contains(&self, program: &str) -> bool {
        let relative = program.trim_start_matches('/');
        self.layers
            .iter()
            .any(|l| l.join(relative).symlink_metadata().is_ok())
    }
}

fn has_shell_or_binaries(layers: &[PathBuf]) -> bool {
    layers
        .iter()
        .any(|l| l.join("bin").exists() || l.join("usr/bin").exists())
}

impl Stage for Rootfs {
    fn name(&self) -> &'static str {
        "root filesystem"
    }

    // ANCHOR: in_child
    fn in_child(&mut self) -> Result<()> {
        let root = &self.paths.merged;
        overlay::assemble(&self.layers, &self.paths, self.options.storage)?;
        for volume in &self.options.volumes {
            volume.mount(root)?;
        }
        devices::mount_pseudo_filesystems(root)?;
        devices::populate_dev(root)?;
        etc::bind(&self.paths.etc, root)?;
        if self.options.read_only {
            // Only the root mount itself: /dev, /proc and the volumes keep
            // their own flags, as with `docker run --read-only`.
            mount(
                None::<&str>,
                root,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| Error::sys("making the root read-only", e))?;
        }
        pivot::pivot_root(root)
    }
    // ANCHOR_END: in_child

    // ANCHOR: cleanup
    fn cleanup(&mut self) {
        if std::mem::replace(&mut self.cleaned, true) {
            return;
        }
        // The mounts died with the container's mount namespace; what is
        // left is plain directories on the host's disk.
        if self.options.keep {
            for dir in [
                &self.paths.work,
                &self.paths.merged,
                &self.paths.etc,
                &self.paths.unpacked,
            ] {
                let _ = fs::remove_dir_all(dir);
            }
            crate::warning::warn(format!(
                "kept the writable layer: {}",
                self.paths.upper.display()
            ));
        } else {
            let _ = fs::remove_dir_all(&self.paths.dir);
            // The shared parent goes when its last container does.
            let _ = fs::remove_dir(state_dir());
        }
    }
    // ANCHOR_END: cleanup
}

/// A root filesystem that never made it into a container (an error came
/// first) still has a state directory to remove.
impl Drop for Rootfs {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Remove the state directories of runtimes that died without cleaning up
/// (killed with SIGKILL): those named `…-PID` for a PID that no longer
/// exists and that hold no kept layer.
fn sweep_stale() {
    let Ok(entries) = fs::read_dir(state_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let kept = !entry.path().join("merged").exists(); // --keep removes merged
        if !kept && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
