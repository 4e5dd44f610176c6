//! A bundle: a root filesystem and the `config.json` that says how to run
//! it (`config.md` of the runtime specification).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::{Error, Result};

/// A loaded, checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle's directory, absolute.
    pub dir: PathBuf,
    /// Its `config.json`.
    pub spec: Spec,
    /// The root filesystem: `root.path`, relative to the bundle unless
    /// absolute.
    pub rootfs: PathBuf,
}

// ANCHOR: load
impl Bundle {
    /// Read `DIR/config.json` and check what the specification requires
    /// before anything is created. Properties this runtime does not know
    /// are ignored, as the specification says they must be.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io("finding the bundle", dir, e))?;
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
        let spec: Spec = serde_json::from_str(&text).map_err(|e| {
            // A misspelt seccomp name is better told by its field's name.
            let why = super::seccomp::explain(&text).unwrap_or_else(|| e.to_string());
            Error::Invalid(format!("{}: {why}", path.display()))
        })?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::Invalid(format!("{}: no \"root\"", path.display())))?;
        let rootfs = dir.join(root.path());
        if !rootfs.is_dir() {
            return Err(Error::Invalid(format!(
                "{}: root.path {} is not a directory",
                path.display(),
                rootfs.display()
            )));
        }
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::Invalid(format!("{}: no \"process\"", path.display())))?;
        if process.args().as_ref().is_none_or(Vec::is_empty) {
            return Err(Error::Invalid(format!(
                "{}: process.args is empty",
                path.display()
            )));
        }
        if !process.cwd().is_absolute() {
            return Err(Error::Invalid(format!(
                "{}: process.cwd {} must be an absolute path",
                path.display(),
                process.cwd().display()
            )));
        }
        for mount in spec.mounts().iter().flatten() {
            if !mount.destination().is_absolute() {
                return Err(Error::Invalid(format!(
                    "{}: mount destination {} must be an absolute path",
                    path.display(),
                    mount.destination().display()
                )));
            }
        }
        Ok(Bundle { dir, spec, rootfs })
    }
}
// ANCHOR_END: load
