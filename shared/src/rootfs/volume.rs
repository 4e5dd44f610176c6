//! Volumes: directories (or files) of the host, bind-mounted into the
//! container (`-v SRC:DST[:ro]`).
//!
//! Introduced by rung 03; chapter 3 explains it.
//!
//! A bind mount makes a directory visible at a second place; inside the
//! container's mount namespace, that place is in the container's root. A
//! read-only bind mount needs two steps: bind, then *remount* the bind with
//! `MS_RDONLY` (the flag is ignored on the first call).

use std::fs;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, MsFlags};

use crate::{Error, Result};

/// One `-v SRC:DST[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The host's path.
    pub source: PathBuf,
    /// Where it appears in the container (absolute).
    pub target: PathBuf,
    /// Mounted read-only.
    pub read_only: bool,
}

impl Volume {
    /// Parse `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`.
    pub fn parse(text: &str) -> std::result::Result<Volume, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, read_only) = match parts.as_slice() {
            [s, t] => (*s, *t, false),
            [s, t, "ro"] => (*s, *t, true),
            [s, t, "rw"] => (*s, *t, false),
            _ => return Err(format!("{text:?}: expected SRC:DST or SRC:DST:ro")),
        };
        if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
            return Err(format!(
                "{text:?}: the destination must be an absolute path without '..'"
            ));
        }
        Ok(Volume {
            source: PathBuf::from(source),
            target: PathBuf::from(target),
            read_only,
        })
    }

    /// Check, before anything is created, that the source exists.
    pub fn check(&self) -> Result<()> {
        if self.source.symlink_metadata().is_err() {
            return Err(Error::Invalid(format!(
                "volume source {}: no such file or directory",
                self.source.display()
            )));
        }
        Ok(())
    }

    // ANCHOR: mount
    /// Bind-mount the volume into `root` (before `pivot_root`).
    pub fn mount(&self, root: &Path) -> Result<()> {
        let target = inside(root, &self.target)?;
        if target.symlink_metadata().is_err() {
            if self.source.is_dir() {
                fs::create_dir_all(&target)
            } else {
                fs::write(&target, b"")
            }
            .map_err(|e| {
                Error::os(
                    format!("creating the mount point {}", self.target.display()),
                    e,
                )
            })?;
        }
        let what = format!(
            "mounting {} on {}",
            self.source.display(),
            self.target.display()
        );
        mount(
            Some(&self.source),
            &target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| Error::sys(&what, e))?;
        if self.read_only {
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
            mount(None::<&str>, &target, None::<&str>, flags, None::<&str>)
                .map_err(|e| Error::sys(format!("{what} read-only"), e))?;
        }
        Ok(())
    }
    // ANCHOR_END: mount
}

/// `root` + `path`, refusing a path that passes through a symbolic link
/// in the image: mount(2) would follow it, possibly out of the root.
/// (Chapter 4 does this properly, with file descriptors.)
pub fn inside(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut here = root.to_path_buf();
    for component in path.components() {
        if let Component::Normal(name) = component {
            here.push(name);
            if here
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                return Err(Error::Invalid(format!(
                    "mount destination {}: {} is a symbolic link in the root filesystem; refused",
                    path.display(),
                    here.strip_prefix(root).unwrap_or(&here).display()
                )));
            }
        }
    }
    Ok(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let v = Volume::parse("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (v.source.as_path(), v.target.as_path(), v.read_only),
            (Path::new("/srv/data"), Path::new("/data"), true)
        );
        assert!(!Volume::parse("/a:/b").unwrap().read_only);
        assert!(Volume::parse("/a:b").is_err());
        assert!(Volume::parse("/a:/b/../../etc").is_err());
        assert!(Volume::parse("/a:/b:rx").is_err());
        assert!(Volume::parse("/a").is_err());
    }
}
