//! `spec [--rootless]`: a starting `config.json`.

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::{Error, Result};

/// The default configuration: runc's (`sh`, the standard mounts, masked
/// and read-only paths, three capabilities, no new privileges) — from the
/// oci-spec crate, which follows runc — without a terminal. With `rootless`, the variant for an
/// unprivileged user (a user namespace mapping them to root; chapter 6).
pub fn default_spec(rootless: bool) -> Spec {
    if rootless {
        Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        Spec::default()
    }
}

/// Write the default configuration to `DIR/config.json`, refusing to
/// overwrite one.
pub fn write(dir: &Path, rootless: bool) -> Result<()> {
    let path = dir.join("config.json");
    if path.exists() {
        return Err(Error::Invalid(format!(
            "{} exists: remove it first",
            path.display()
        )));
    }
    let json = serde_json::to_string_pretty(&default_spec(rootless))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&path, json + "\n")
        .map_err(|e| Error::Invalid(format!("writing {}: {e}", path.display())))
}
