//! The state directory: what one run of the runtime tells the next.
//!
//! Each container has a folder under the runtime's root (`--root`,
//! `/run/step-04` by default) holding `state.json` and, between `create`
//! and `start`, the FIFO its process waits on. Every change is written to
//! a temporary file and renamed over the old one, so a reader never sees
//! half a file; and every verb that changes a container holds a lock on the
//! root, so two runs racing on one container cannot interleave.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a container is in its life (`runtime.md`, "State").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being set up (not seen from outside: `create` holds the lock).
    Creating,
    /// Set up; its process waits for `start`.
    Created,
    /// Its program is running.
    Running,
    /// Its program has exited.
    Stopped,
}

// ANCHOR: state
/// The state the specification defines, with the fields runc adds, in
/// runc's order: what `state ID` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The version of the specification.
    pub oci_version: String,
    /// The container's ID.
    pub id: String,
    /// Its process, as the host sees it (0 once stopped).
    pub pid: i32,
    /// Where it is in its life.
    pub status: Status,
    /// Its bundle.
    pub bundle: PathBuf,
    /// Its root filesystem.
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Who owns it (runc leaves it empty when run as root).
    pub owner: String,
}

/// What the state directory keeps: the public state, and what `delete`
/// will need to clean up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    /// The public state.
    #[serde(flatten)]
    pub state: State,
    /// The container's cgroup directories.
    pub cgroup: Vec<PathBuf>,
    /// The hooks `start` and `delete` still have to run (poststart,
    /// poststop): the bundle may be gone by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// `config.json`'s process: what `exec` starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<oci_spec::runtime::Process>,
    /// `config.json`'s seccomp profile: `exec`'d processes get it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// `config.json`'s annotations, which hooks get with the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::HashMap<String, String>>,
}

impl Stored {
    /// The state a hook reads on its standard input.
    pub fn hook_state(&self, status: &str) -> serde_json::Value {
        let mut state = serde_json::json!({
            "ociVersion": self.state.oci_version,
            "id": self.state.id,
            "status": status,
            "bundle": self.state.bundle,
        });
        if self.state.pid > 0 {
            state["pid"] = serde_json::json!(self.state.pid);
        }
        if let Some(annotations) = &self.annotations {
            state["annotations"] = serde_json::json!(annotations);
        }
        state
    }
}
// ANCHOR_END: state

/// The runtime's root: one folder per container.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a verb changes containers; released when dropped.
pub struct Lock(#[allow(dead_code)] Flock<fs::File>);

impl Store {
    /// The store under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The folder of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The FIFO container `id` waits on between `create` and `start`.
    pub fn fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("exec.fifo")
    }

    // ANCHOR: lock
    /// Lock the whole root (an exclusive `flock` on its folder): simple,
    /// and enough, since a verb holds it for milliseconds.
    pub fn lock(&self) -> Result<Lock> {
        fs::create_dir_all(&self.root).map_err(|e| {
            Error::Invalid(format!("creating the root {}: {e}", self.root.display()))
        })?;
        let dir = fs::File::open(&self.root).map_err(|e| {
            Error::Invalid(format!("opening the root {}: {e}", self.root.display()))
        })?;
        Flock::lock(dir, FlockArg::LockExclusive)
            .map(Lock)
            .map_err(|(_, e)| Error::sys(format!("locking {}", self.root.display()), e))
    }
    // ANCHOR_END: lock

    /// Read container `id`'s state, brought up to date (a process that has
    /// exited since is `stopped`).
    pub fn load(&self, id: &str) -> Result<Stored> {
        let path = self.dir(id).join("state.json");
        let text = fs::read_to_string(&path)
            .map_err(|_| Error::Invalid(format!("container {id:?} does not exist")))?;
        let mut stored: Stored = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        stored.state.status = self.current_status(&stored.state);
        if stored.state.status == Status::Stopped {
            stored.state.pid = 0;
        }
        Ok(stored)
    }

    /// Write container `id`'s state atomically.
    pub fn save(&self, stored: &Stored) -> Result<()> {
        let dir = self.dir(&stored.state.id);
        let json = serde_json::to_string(stored).map_err(|e| Error::Invalid(e.to_string()))?;
        let tmp = dir.join("state.json.tmp");
        fs::write(&tmp, json)
            .and_then(|()| fs::rename(&tmp, dir.join("state.json")))
            .map_err(|e| Error::Invalid(format!("writing the state of {}: {e}", stored.state.id)))
    }

    /// Every container in the store.
    pub fn list(&self) -> Vec<Stored> {
        let mut all: Vec<Stored> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| self.load(&e.file_name().to_string_lossy()).ok())
            .collect();
        all.sort_by(|a, b| a.state.created.cmp(&b.state.created));
        all
    }

    /// Where the process is now: alive and waiting on the FIFO (created),
    /// alive (running), or gone (stopped).
    fn current_status(&self, state: &State) -> Status {
        if state.pid > 0 && alive(state.pid) {
            if self.fifo(&state.id).exists() {
                Status::Created
            } else {
                Status::Running
            }
        } else {
            Status::Stopped
        }
    }
}

/// Whether `pid` is a live process (a zombie has exited: not alive).
pub fn alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'))
}

/// Check an ID before it becomes a folder name.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid container ID {id:?}: use letters, digits and _ + - ."
        )))
    }
}

/// Now, as RFC 3339 with nanoseconds (as runc writes `created`).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// Write `pid` to `path`, as `--pid-file` asks.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    fs::write(path, pid.to_string())
        .map_err(|e| Error::Invalid(format!("writing the pid file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("web-1.0_a+b").is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_state_json_has_runcs_fields_in_runcs_order() {
        let state = State {
            oci_version: "1.0.2".into(),
            id: "c".into(),
            pid: 42,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00.000000000Z".into(),
            owner: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"ociVersion":"1.0.2","id":"c","pid":42,"status":"created","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00.000000000Z","owner":""}"#
        );
    }
}
