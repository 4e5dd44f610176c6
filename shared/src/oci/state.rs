//! The state directory: what one run of the runtime tells the next.
//!
//! Each container has a folder under the runtime's root (`--root`,
//! `/run/step-04` by default) holding `state.json` and, between `create`
//! and `start`, the FIFO its process waits on. Every change is written to
//! a temporary file and renamed over the old one, so a reader never sees
//! half a file; and every verb that changes a container holds a lock on
//! *its* folder, so two runs racing on one container cannot interleave —
//! while an engine creating forty containers at once is not serialised
//! behind one lock (a `create` holds it through its hooks).
//!
//! A PID alone does not name a process for long: once the container's
//! process has exited and been reaped, the kernel may give its PID to any
//! new process. So the state also keeps the process's *start time*, and
//! `state`, `kill` and `delete` act on the PID only while its start time
//! still matches — as runc and crun do.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::fcntl::{renameat2, Flock, FlockArg, RenameFlags, AT_FDCWD};
use nix::sys::signal::Signal;
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
    /// When its process started, in clock ticks after boot (field 22 of
    /// `/proc/PID/stat`): with the PID, what tells it apart from a later
    /// process given the same PID. 0: not known.
    #[serde(default)]
    pub start_time: u64,
    /// What its stages left behind for `delete` to release (a helper
    /// process, a mount).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<crate::container::lifecycle::Leftover>,
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
    /// The state a hook reads on its standard input (see
    /// [`hooks::state`](super::hooks::state)).
    pub fn hook_state(&self, status: &str) -> serde_json::Value {
        super::hooks::state(
            &self.state.oci_version,
            &self.state.id,
            status,
            self.state.pid,
            &self.state.bundle,
            self.annotations.as_ref(),
        )
    }
}
// ANCHOR_END: state

/// The runtime's root: one folder per container.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a verb works on one container; released when dropped.
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
    /// Reserve `id` for a new container: its folder, already locked.
    ///
    /// The folder is made under a temporary name and locked *before* it
    /// gets the ID's name, with a rename that refuses to replace anything
    /// (`RENAME_NOREPLACE`): so the ID is taken atomically, and no other
    /// run can ever see it unlocked while its `create` is running. A folder
    /// without a `state.json` that nobody holds locked is what a `create`
    /// killed half-way left: it is cleared — while locked, so that two
    /// runs cannot clear it at once — and the ID reused.
    pub fn reserve(&self, id: &str) -> Result<Lock> {
        check_id(id)?;
        fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("creating the state root", &self.root, e))?;
        let dir = self.dir(id);
        let temporary = self
            .root
            .join(format!(".{id}.creating-{}", std::process::id()));
        let _ = fs::remove_dir_all(&temporary);
        fs::create_dir(&temporary).map_err(|e| Error::io("creating", &temporary, e))?;
        let lock = try_lock(&temporary).ok_or_else(|| {
            Error::Invalid(format!(
                "locking {}: held by another process",
                temporary.display()
            ))
        })?;
        for _ in 0..2 {
            match renameat2(
                AT_FDCWD,
                &temporary,
                AT_FDCWD,
                &dir,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => return Ok(Lock(lock)),
                Err(Errno::EEXIST) => {}
                Err(e) => {
                    let _ = fs::remove_dir(&temporary);
                    return Err(Error::sys(format!("reserving {}", dir.display()), e));
                }
            }
            // Taken: by a live container, or by the remains of a killed
            // `create` (no state.json, and nobody holds its lock).
            let stale = match try_lock(&dir) {
                Some(held) if !dir.join("state.json").exists() => Some(held),
                _ => None,
            };
            let Some(_held) = stale else {
                let _ = fs::remove_dir(&temporary);
                return Err(Error::Invalid(format!("container {id:?} already exists")));
            };
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io("clearing a stale state folder", &dir, e))?;
        }
        let _ = fs::remove_dir(&temporary);
        Err(Error::Invalid(format!("container {id:?} already exists")))
    }

    /// Lock container `id`'s folder (an exclusive `flock`), waiting while
    /// another verb holds it. If the folder went away while we waited (a
    /// `delete` held the lock), the container does not exist.
    pub fn lock(&self, id: &str) -> Result<Lock> {
        check_id(id)?;
        let dir = self.dir(id);
        let missing = || Error::NoSuchContainer(id.to_string());
        let file = fs::File::open(&dir).map_err(|_| missing())?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("locking {}", dir.display()), e))?;
        let held = lock.metadata().map(|m| (m.dev(), m.ino()));
        let now = fs::metadata(&dir).map(|m| (m.dev(), m.ino()));
        match (held, now) {
            (Ok(held), Ok(now)) if held == now => Ok(Lock(lock)),
            _ => Err(missing()),
        }
    }
    // ANCHOR_END: lock

    /// Read container `id`'s state, brought up to date (a process that has
    /// exited since is `stopped`).
    pub fn load(&self, id: &str) -> Result<Stored> {
        let path = self.dir(id).join("state.json");
        let text = fs::read_to_string(&path).map_err(|_| Error::NoSuchContainer(id.to_string()))?;
        let mut stored: Stored = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        stored.state.status = self.current_status(&stored);
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
            .map_err(|e| Error::io("writing the state in", &dir, e))
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
    fn current_status(&self, stored: &Stored) -> Status {
        let state = &stored.state;
        if state.pid > 0 && alive(state.pid, stored.start_time) {
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

/// Try to lock `dir` without waiting: `None` if someone holds it.
fn try_lock(dir: &Path) -> Option<Flock<fs::File>> {
    let file = fs::File::open(dir).ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// The fields of `/proc/PID/stat` after the command's name (which may hold
/// spaces and parentheses, so the line is split after its *last* `)`):
/// the state is the first, the start time the 20th.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().map(String::from).collect())
}

/// When process `pid` started, in clock ticks after boot; `None` if there
/// is no such process.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

// ANCHOR: alive
/// Whether `pid` is a live process (a zombie has exited: not alive) that
/// started at `start_time` — not a later one that was given the same PID.
/// A `start_time` of 0 (not known) checks the PID alone.
pub fn alive(pid: i32, start_time: u64) -> bool {
    let Some(fields) = stat_fields(pid) else {
        return false;
    };
    let zombie = fields.first().is_some_and(|s| s == "Z" || s == "X");
    let same = start_time == 0 || fields.get(19).and_then(|t| t.parse().ok()) == Some(start_time);
    !zombie && same
}

/// Send `signal` to `pid` if it is still the process that started at
/// `start_time`; `false` if that process is gone.
///
/// Checking, then calling kill(2), leaves a gap in which the PID could be
/// reused. A *pidfd* closes it: `pidfd_open` pins the process the PID
/// names now, the start time is checked after that, and
/// `pidfd_send_signal` signals the pinned process — never a newcomer.
pub fn signal(pid: i32, start_time: u64, signal: Signal) -> Result<bool> {
    // SAFETY: pidfd_open takes a PID and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ESRCH => Ok(false),
            errno => Err(Error::sys(format!("pidfd_open({pid})"), errno)),
        };
    }
    // SAFETY: the kernel just returned this descriptor to us.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    if !alive(pid, start_time) {
        return Ok(false);
    }
    // SAFETY: a descriptor we own, a signal number, no siginfo, no flags.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match sent {
        0 => Ok(true),
        _ if Errno::last() == Errno::ESRCH => Ok(false),
        _ => Err(Error::sys(
            format!("signalling process {pid}"),
            Errno::last(),
        )),
    }
}
// ANCHOR_END: alive

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
    fs::write(path, pid.to_string()).map_err(|e| Error::io("writing the pid file", path, e))
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
