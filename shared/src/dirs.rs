//! Where the kit keeps things on the host: defaults, not constants.
//!
//! Introduced by rung 03, the first rung that keeps files of its own.
//!
//! A runtime keeps two kinds of files. *Runtime state* (a container's
//! state.json, its writable layer while it runs) belongs in a directory
//! that vanishes at reboot, as the containers do: `/run` for root. *Data*
//! (the image store) must survive a reboot: `/var/lib` for root.
//!
//! An unprivileged user can write neither, so every runtime that runs
//! rootless falls back to the XDG base directories, as runc, crun and
//! Podman do: `$XDG_RUNTIME_DIR` (systemd makes it `/run/user/UID`, a tmpfs
//! owned by the user, removed at logout) and `$XDG_DATA_HOME` (by default
//! `~/.local/share`). Rung 06 is the first rung run by such a user; the
//! defaults are ready for it from the start.

use std::path::PathBuf;

use nix::unistd::Uid;

/// The directory for runtime state named `name`: `/run/NAME` for root,
/// `$XDG_RUNTIME_DIR/NAME` for anyone else (or, without that variable,
/// `/run/user/UID/NAME` when it exists, and a directory of the user's own
/// under the temporary directory otherwise).
pub fn runtime(name: &str) -> PathBuf {
    let uid = Uid::effective();
    if uid.is_root() {
        return PathBuf::from("/run").join(name);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(name);
    }
    let systemd = PathBuf::from(format!("/run/user/{uid}"));
    if systemd.is_dir() {
        return systemd.join(name);
    }
    std::env::temp_dir().join(format!("{name}-{uid}"))
}

/// The directory for data named `name` that outlives a reboot:
/// `/var/lib/NAME` for root, `$XDG_DATA_HOME/NAME` (by default
/// `~/.local/share/NAME`) for anyone else.
pub fn data(name: &str) -> PathBuf {
    if Uid::effective().is_root() {
        return PathBuf::from("/var/lib").join(name);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(name);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".local/share").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_keeps_state_in_run_and_data_in_var_lib_and_a_user_does_not() {
        let (state, data) = (runtime("step-04"), data("step-05"));
        if Uid::effective().is_root() {
            assert_eq!(state, PathBuf::from("/run/step-04"));
            assert_eq!(data, PathBuf::from("/var/lib/step-05"));
        } else {
            assert!(state.ends_with("step-04") && !state.starts_with("/run/step-04"));
            assert!(data.ends_with("step-05") && !data.starts_with("/var/lib"));
        }
    }
}
