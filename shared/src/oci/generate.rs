//! `spec [--rootless]`: a starting `config.json`.

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::{Error, Result};

// ANCHOR: default_spec
/// The default configuration: runc's (`sh`, the standard mounts, masked
/// and read-only paths, three capabilities, no new privileges) — from the
/// oci-spec crate, which follows runc — without a terminal. With `rootless`, the variant for an
/// unprivileged user (a user namespace mapping them to root; chapter 6).
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = if rootless {
        Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("berth".into()));
    // No terminal until the console socket is supported: `sh` reads
    // standard input instead.
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(false));
    }
    spec
}
// ANCHOR_END: default_spec

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
    std::fs::write(&path, to_json(&default_spec(rootless)) + "\n")
        .map_err(|e| Error::io("writing", &path, e))
}

/// `spec` as pretty JSON, the same bytes every time. The crate keeps
/// capabilities in hash sets, whose order changes from run to run; a file
/// learners diff and tests snapshot lists them sorted.
pub fn to_json(spec: &Spec) -> String {
    let mut value = serde_json::to_value(spec).expect("a Spec always serializes");
    if let Some(sets) = value
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in sets.values_mut() {
            if let Some(names) = set.as_array_mut() {
                names.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    serde_json::to_string_pretty(&value).expect("a Value always serializes")
}
