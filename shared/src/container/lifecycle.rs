//! What an OCI runtime adds to the set-up sequence.
//!
//! Introduced by rung 04; chapter 4 explains it.
//!
//! Rung 01's sequence has one message each way before the command runs:
//! Go, and bad news. An OCI runtime needs more:
//!
//! - **Round trips before Go.** Some set-up must go back and forth: the
//!   container-side hooks need the state with the child's host PID, which
//!   only the runtime knows; rung 06's user namespace needs "child: map me
//!   → runtime: maps written → child: go on" before the child does
//!   anything as its new identity; an idmapped mount is made on one side
//!   and attached on the other. A stage asks from its
//!   [`in_child_first`](super::Stage::in_child_first) half ([`Ask`]), the runtime
//!   runs the same stage's [`answer`](super::Stage::answer), and the answer —
//!   bytes, and descriptors passed with `SCM_RIGHTS` — comes back.
//! - **Namespaces joined, not made** (`linux.namespaces[].path`): entered
//!   by the child first of all, before it says Ready, so the hooks the
//!   runtime runs next (createRuntime, prestart) find it in them.
//! - **A container that outlives the runtime**: `create` leaves its
//!   process waiting on a FIFO until `start`, and `exec --detach` returns
//!   while its process runs.
//!
//! ```text
//!  runtime                                  child
//!  clone3 ────────────────────────────────▶ enter the namespaces to join
//!                              ◀── Ask ──── a stage's in_child_first
//!  that stage's answer ──── Answer ───────▶ (as many round trips as asked)
//!                              ◀── Ready ──
//!  each stage's in_parent (hooks, cgroup)
//!  Go ────────────────────────────────────▶ each stage's in_child
//!                              ◀── Created  (create: wait on the FIFO)
//! ```

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::{clone_error, exit_now, Argv, Container};
use crate::clone::{clone3_into, Forked};
use crate::init::{self, BlockedSignals};
use crate::ns::Namespace;
use crate::sync::{self, Channel, Message};
use crate::{Error, Result};

/// What rung 04 keeps in a [`Container`].
#[derive(Default)]
pub(super) struct Lifecycle {
    /// The command's environment; `None`: the runtime's own.
    env: Option<Vec<(String, String)>>,
    /// For [`create`](Container::create): the FIFO the container waits on
    /// until `start` opens it, opened (`O_PATH`) by the runtime before the
    /// clone — in a joined mount namespace its path would mean nothing —
    /// and inherited by the child.
    pub(super) start_fifo: Option<OwnedFd>,
    /// How many descriptors after stdio the program inherits.
    preserve_fds: u32,
    /// Whether the program outlives the runtime (no parent-death signal).
    detached: bool,
    /// Whether a failure now would reach no one: `create` has been told
    /// the container is created (and returned), and `start` has not yet
    /// opened the FIFO through which it would hear.
    unheard: bool,
    /// A cgroup v2 directory to start the container in (see
    /// [`clone3_into`]).
    cgroup: Option<OwnedFd>,
    /// Existing namespaces to enter instead of creating new ones.
    join: Vec<(Namespace, OwnedFd)>,
    /// The clock offsets of a new time namespace, as
    /// `/proc/PID/timens_offsets` takes them.
    time_offsets: Option<String>,
}

// ANCHOR: leftover
/// Something a stage leaves behind when `create` returns, which `delete`
/// — another run of the runtime — must release. Kept in the container's
/// state (`state.json`), so each kind says how to find it again safely.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Leftover {
    /// A helper process: stopped (SIGTERM, then SIGKILL) — if it is still
    /// the process that started then (see [`crate::oci::state::signal`]).
    Process {
        /// Its PID.
        pid: i32,
        /// Its start time, in clock ticks after boot.
        start_time: u64,
    },
    /// A mount on the host's side (a bind of a namespace file): detached.
    Mount {
        /// Where it is mounted.
        path: PathBuf,
    },
    /// A file or a directory: removed.
    Path {
        /// Where it is.
        path: PathBuf,
    },
}

impl Leftover {
    /// A helper process, named by its PID and its current start time; an
    /// error if it is gone already (its PID alone would not be safe to
    /// signal later).
    pub fn process(pid: i32) -> Result<Leftover> {
        let start_time = crate::oci::state::start_time(pid)
            .ok_or_else(|| Error::Invalid(format!("helper process {pid} is gone already")))?;
        Ok(Leftover::Process { pid, start_time })
    }

    /// Release it. Something already gone is released.
    pub fn release(&self) -> Result<()> {
        match self {
            Leftover::Process { pid, start_time } => {
                use crate::oci::state::{alive, signal};
                // Without a start time, the PID could be anyone's by now.
                if *start_time == 0 || !signal(*pid, *start_time, Signal::SIGTERM)? {
                    return Ok(());
                }
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                while alive(*pid, *start_time) && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                signal(*pid, *start_time, Signal::SIGKILL).map(drop)
            }
            Leftover::Mount { path } => {
                match nix::mount::umount2(path.as_path(), nix::mount::MntFlags::MNT_DETACH) {
                    Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => Ok(()),
                    Err(e) => Err(Error::sys(format!("unmounting {}", path.display()), e)),
                }
            }
            Leftover::Path { path } => {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                match removed {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(Error::io("removing", path, e))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}
// ANCHOR_END: leftover

/// A container's process that outlives the runtime, and what its stages
/// left behind for `delete` (see [`Leftover`]).
#[derive(Debug)]
pub struct Spawned {
    /// The process, as the host sees it.
    pub pid: Pid,
    /// What the stages leave behind.
    pub leftovers: Vec<Leftover>,
}

// ANCHOR: ask
/// The child's side of a round trip: what a stage's
/// [`in_child_first`](super::Stage::in_child_first) is given.
pub struct Ask<'a> {
    channel: &'a Channel,
    stage: u32,
}

/// The runtime's answer to a round trip: bytes the stage makes sense of,
/// and open descriptors (received as the child's own copies).
#[derive(Debug, Default)]
pub struct Answer {
    /// What the stage sends back (a JSON document, say).
    pub data: Vec<u8>,
    /// Descriptors that travel with it (`SCM_RIGHTS`).
    pub fds: Vec<OwnedFd>,
}

impl Ask<'_> {
    /// Ask the runtime to run this stage's [`answer`](super::Stage::answer) now,
    /// and wait for what it sends back.
    pub fn ask(&self) -> Result<Answer> {
        self.channel.send(&Message::Ask { stage: self.stage })?;
        match self.channel.recv_with()? {
            Some((Message::Answer(data), fds)) => Ok(Answer { data, fds }),
            Some((other, _)) => Err(Error::Invalid(format!(
                "the runtime answered {other:?} to a round trip"
            ))),
            None => Err(Error::ChildDied("the runtime went away".into())),
        }
    }

    /// [`ask`](Ask::ask), with this process *dumpable* for exactly the
    /// time of the round trip.
    ///
    /// The child is not dumpable from its first instruction (see
    /// [`Container`]'s child), which makes the files under its `/proc/PID`
    /// root's. That is what keeps the container's processes out of it, but
    /// it also keeps out an unprivileged runtime: rung 06 writes
    /// `/proc/PID/uid_map` and `setgroups` as the user who ran it, which it
    /// may do only while it owns them. So, as runc does, the child is
    /// dumpable only while the runtime writes its maps — when nothing of
    /// the container's runs yet in its new user namespace — and not
    /// dumpable again before it goes on.
    pub fn ask_dumpable(&self) -> Result<Answer> {
        nix::sys::prctl::set_dumpable(true).map_err(|e| Error::sys("PR_SET_DUMPABLE", e))?;
        let answer = self.ask();
        nix::sys::prctl::set_dumpable(false).map_err(|e| Error::sys("PR_SET_DUMPABLE", e))?;
        answer
    }
}
// ANCHOR_END: ask

impl Container {
    /// Give the command exactly this environment (instead of the runtime's).
    pub fn env(mut self, env: Vec<(String, String)>) -> Container {
        self.oci.env = Some(env);
        self
    }

    /// Let the program inherit descriptors 3 to 3+`count`-1 as well as its
    /// standard streams (`--preserve-fds`); every other one is closed.
    pub fn preserve_fds(mut self, count: u32) -> Container {
        self.oci.preserve_fds = count;
        self
    }

    // ANCHOR: join
    /// Enter the existing namespace at `path` (a `/proc/PID/ns/TYPE` file or
    /// a bind mount of one, as `ip netns add` makes) instead of creating a
    /// new one of that type. The file is opened now, while its path still
    /// means what the caller meant.
    pub fn join(mut self, namespace: Namespace, path: &Path) -> Result<Container> {
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(format!("opening the namespace {}", path.display()), e))?;
        self.namespaces.retain(|ns| *ns != namespace);
        self.oci.join.push((namespace, fd));
        Ok(self)
    }

    /// Enter the joined namespaces of the types for which `now` is true.
    ///
    /// A process can enter most namespaces itself, but it cannot change its
    /// own PID or time namespace: `setns` on those only decides where the
    /// process's *children* will live. So those two are entered by the
    /// runtime just before it clones the container, the others by the
    /// child as its first step.
    fn enter(&self, now: impl Fn(Namespace) -> bool) -> Result<()> {
        for (namespace, fd) in self.oci.join.iter().filter(|(ns, _)| now(*ns)) {
            nix::sched::setns(fd, namespace.clone_flag()).map_err(|e| {
                Error::sys(
                    format!("entering the existing {} namespace", namespace.proc_name()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Enter the joined PID and time namespaces for the next child; returns
    /// the runtime's own, to go back to once the child exists (so hooks the
    /// runtime runs later are not born inside the container).
    fn enter_for_children(&self) -> Result<Vec<(Namespace, OwnedFd)>> {
        let mut own = Vec::new();
        for (namespace, _) in self.oci.join.iter().filter(|(ns, _)| for_children(*ns)) {
            let path = format!("/proc/self/ns/{}", namespace.proc_name());
            let fd = open(
                path.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::sys(format!("opening {path}"), e))?;
            own.push((*namespace, fd));
        }
        self.enter(for_children)?;
        Ok(own)
    }
    // ANCHOR_END: join

    /// Give the new time namespace these clock offsets ("monotonic 86400
    /// 0\nboottime 86400 0\n": a container whose clocks say it has been up
    /// a day longer; checkpoint/restore uses it to keep clocks going).
    pub fn time_offsets(mut self, offsets: String) -> Container {
        self.oci.time_offsets = Some(offsets);
        self
    }

    /// Start the container's first process in the cgroup v2 directory
    /// `dir` (instead of moving it there with a stage).
    pub fn born_in(mut self, dir: &Path) -> Result<Container> {
        let fd = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening {}", dir.display()), e))?;
        self.oci.cgroup = Some(fd);
        Ok(self)
    }

    /// Whether `clone3` makes this namespace: a time namespace with
    /// offsets is made before the clone (see [`new_time_namespace`]).
    pub(super) fn cloned(&self, namespace: Namespace) -> bool {
        !(namespace == Namespace::Time && self.oci.time_offsets.is_some())
    }

    /// Clone the container's first process with its new namespaces (born
    /// in its cgroup, on cgroup v2). Namespaces to be joined that only a
    /// child can enter (PID, time) are entered by this process just for
    /// the clone, and left again in the parent.
    pub(super) fn clone_first_process(&mut self) -> Result<Forked> {
        let mut own = self.enter_for_children()?;
        if let Some(offsets) = &self.oci.time_offsets {
            match new_time_namespace(offsets) {
                Ok(time) => own.push(time),
                Err(error) => {
                    leave(own);
                    return Err(error);
                }
            }
        }
        // Born not dumpable: in a PID namespace it joins (exec), the
        // container's processes can see the child from its first
        // instruction, before it could clear the flag itself. The flag is
        // inherited; the runtime takes its own back after the clone.
        let dumpable = nix::sys::prctl::get_dumpable().unwrap_or(true);
        let _ = nix::sys::prctl::set_dumpable(false);
        // SAFETY: `run`'s and `spawn`'s contract: this process has a
        // single thread.
        let cloned = unsafe {
            clone3_into(
                self.clone_flags(),
                self.oci.cgroup.as_ref().map(|fd| fd.as_fd()),
            )
        };
        if !matches!(cloned, Ok(Forked::Child)) {
            let _ = nix::sys::prctl::set_dumpable(dumpable);
            leave(own);
        }
        cloned.map_err(clone_error)
    }

    // ANCHOR: round_trips
    /// The runtime's side: answer each round trip the child asks for,
    /// until it says it is Ready.
    pub(super) fn answer_round_trips(&mut self, child: Pid, channel: &Channel) -> Result<()> {
        loop {
            match channel.recv()? {
                Some(Message::Ready) => return Ok(()),
                Some(Message::Ask { stage }) => {
                    let Some(stage) = self.stages.get_mut(stage as usize) else {
                        return Err(Error::Invalid(format!("a round trip for stage {stage}")));
                    };
                    let answer = stage.answer(child)?;
                    let fds: Vec<BorrowedFd> = answer.fds.iter().map(|fd| fd.as_fd()).collect();
                    channel.send_with(&Message::Answer(answer.data), &fds)?;
                }
                Some(Message::Failed(why)) => return Err(Error::Child(why)),
                Some(other) => {
                    return Err(Error::Invalid(format!(
                        "the child said {other:?} before it was ready"
                    )))
                }
                None => {
                    return Err(Error::ChildDied(
                        "it closed the set-up channel before it was ready".into(),
                    ))
                }
            }
        }
    }

    /// The child's side: enter the namespaces to join — before the runtime
    /// runs any hook, which must find the container in them — then let
    /// each stage make its round trips, then say Ready.
    pub(super) fn ask_round_trips(&mut self, channel: &Channel) -> Result<()> {
        self.enter(|ns| !for_children(ns))?;
        for (index, stage) in self.stages.iter_mut().enumerate() {
            let stage_index = u32::try_from(index).expect("fewer than 2^32 stages");
            stage.in_child_first(&Ask {
                channel,
                stage: stage_index,
            })?;
        }
        channel.send(&Message::Ready)
    }
    // ANCHOR_END: round_trips

    /// What EOF after Go means: the command is running — unless the child
    /// was to say Created first (`create`), and ended without a word: say,
    /// because a seccomp profile refused even the message.
    pub(super) fn eof(&self) -> Result<()> {
        if self.oci.start_fifo.is_some() {
            return Err(Error::ChildDied(
                "it closed the set-up channel without saying why; if linux.seccomp is set, it must allow the runtime's last system calls".into(),
            ));
        }
        Ok(())
    }

    /// Whether the program is meant to outlive the runtime.
    pub(super) fn outlives_the_runtime(&self) -> bool {
        self.oci.detached
    }

    /// A failure that reaches neither `create` (it has returned) nor
    /// `start` (it has not opened the FIFO yet) has one witness left: the
    /// container's own stderr. Any other failure is told by the runtime,
    /// once.
    pub(super) fn witness(&self, error: &Error) {
        if self.oci.unheard {
            eprintln!("container: {}", error.report());
        }
    }

    /// How many descriptors after stdio the program inherits.
    pub(super) fn preserved_fds(&self) -> u32 {
        self.oci.preserve_fds
    }

    /// The environment, then every stage's `before_exec`.
    pub(super) fn before_exec(&mut self) -> Result<()> {
        if let Some(env) = &self.oci.env {
            // This process is single-threaded and about to exec: replacing
            // its environment (which execvp's $PATH search reads) is safe.
            for (key, _) in std::env::vars_os() {
                std::env::remove_var(key);
            }
            for (key, value) in env {
                std::env::set_var(key, value);
            }
        }
        // The environment first: a stage may complete it (HOME).
        for stage in &mut self.stages {
            stage.before_exec()?;
        }
        Ok(())
    }

    // ANCHOR: create
    /// Set the container up and leave its process waiting, just before it
    /// would run the command, until something opens `start_fifo` for
    /// reading (the OCI runtime's `create`, then `start`). Returns the
    /// process's PID; the container outlives the caller, so nothing is
    /// cleaned up here unless it fails: the rest is `delete`'s job.
    pub fn create(mut self, start_fifo: PathBuf) -> Result<Spawned> {
        let fifo = open(
            start_fifo.as_path(),
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening {}", start_fifo.display()), e))?;
        self.oci.start_fifo = Some(fifo);
        self.spawn()
    }
    // ANCHOR_END: create

    /// Start the program and return its PID without waiting for it: it
    /// outlives the caller (`exec --detach`; and `create`, with a FIFO).
    /// If it fails, every stage's clean-up runs, as in `run`.
    pub fn spawn(mut self) -> Result<Spawned> {
        self.oci.detached = true;
        self.init = false; // the OCI process is the container's PID 1 itself
        let signals = init::block_signals()?;
        let (outside, inside) = sync::pair()?;
        let result = match self.clone_first_process() {
            Err(error) => Err(error),
            Ok(Forked::Child) => {
                drop(outside);
                let code = self.child(inside, &signals);
                exit_now(code)
            }
            Ok(Forked::Parent { child }) => {
                drop(inside);
                match self.set_up_from_outside(child, &outside) {
                    Ok(()) => Ok(Spawned {
                        pid: child,
                        leftovers: self.stages.iter().flat_map(|s| s.leftovers()).collect(),
                    }),
                    Err(error) => {
                        let _ = kill(child, Signal::SIGKILL);
                        let _ = waitpid(child, None);
                        Err(error)
                    }
                }
            }
        };
        if result.is_err() {
            self.clean_up();
        }
        signals.restore()?;
        result
    }

    /// `create`'s child after Go: set everything up, say Created, wait for
    /// `start`, and exec. Returns only the error that stopped it.
    pub(super) fn wait_for_start_and_exec(
        &mut self,
        channel: &Channel,
        signals: &BlockedSignals,
    ) -> Error {
        match self.created(channel, signals) {
            Ok(never) => match never {},
            Err(error) => error,
        }
    }

    fn created(
        &mut self,
        channel: &Channel,
        signals: &BlockedSignals,
    ) -> Result<std::convert::Infallible> {
        // The FIFO's path may not exist once the stages have changed the
        // root (nor in a joined mount namespace): the runtime opened the
        // FIFO itself (an O_PATH descriptor) before the clone, and it is
        // reopened later through /proc/self/fd, as runc does.
        let fifo = self.oci.start_fifo.take().expect("create sets the FIFO");
        for stage in &mut self.stages {
            stage.in_child()?;
        }
        // Everything that can fail happens now, while `create` is still
        // listening: the process's identity, privileges and environment,
        // and whether the program exists. After `start` only the hooks,
        // the last stage (seccomp) and the exec itself are left.
        self.prepare_exec(signals, &[channel.raw_fd(), fifo.as_raw_fd()])?;
        self.check_program()?;
        let argv = Argv::new(&self.command);
        // Tell the runtime we are ready, then wait for `start`: opening
        // a FIFO for writing blocks until someone opens it to read.
        channel.send(&Message::Created)?;
        self.oci.unheard = true;
        // `start` reads from the FIFO until it closes, which the exec
        // does (close-on-exec): so `start` returns once the program
        // runs, or with the error that kept it from running.
        let mut started = wait_for_start(&fifo)?;
        self.oci.unheard = false;
        drop(fifo);
        // Every stage's after_start, then every stage's at_exec.
        let last = self
            .stages
            .iter_mut()
            .try_for_each(|s| s.after_start())
            .and_then(|()| self.stages.iter_mut().try_for_each(|s| s.at_exec()));
        if let Err(error) = last {
            let _ = started.write_all(error.report().as_bytes());
            return Err(error);
        }
        let errno = argv.exec();
        let _ = write!(started, "exec {}: {}", self.program(), errno.desc());
        Err(Error::Exec {
            command: self.program(),
            errno,
        })
    }

    /// Fail now, with the shell's "not found", if the program cannot be
    /// found: after `start` there is nobody left to tell.
    fn check_program(&self) -> Result<()> {
        let program = Path::new(std::ffi::OsStr::from_bytes(self.command[0].as_bytes()));
        let found = if program.components().count() > 1 {
            program.exists()
        } else {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
        };
        if found {
            Ok(())
        } else {
            Err(Error::Exec {
                command: self.program(),
                errno: Errno::ENOENT,
            })
        }
    }
}

/// The namespaces only a process's children can be put in.
fn for_children(namespace: Namespace) -> bool {
    matches!(namespace, Namespace::Pid | Namespace::Time)
}

/// A time namespace's offsets can be written only while no process is
/// in it, so `clone3(CLONE_NEWTIME)` — which puts the child in at once
/// — is too late. Instead the runtime makes it with `unshare`, which
/// (as for PID namespaces) only decides where its *children* go,
/// writes the offsets, and lets the clone that follows step in. Returns
/// the runtime's own namespace for children, to go back to.
fn new_time_namespace(offsets: &str) -> Result<(Namespace, OwnedFd)> {
    let own = open(
        "/proc/self/ns/time_for_children",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("opening /proc/self/ns/time_for_children", e))?;
    nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
        .map_err(|e| Error::sys("creating a time namespace (unshare)", e))?;
    let written = std::fs::write("/proc/self/timens_offsets", offsets)
        .map_err(|e| Error::Invalid(format!("linux.timeOffsets {offsets:?}: {e}")));
    if let Err(error) = written {
        leave(vec![(Namespace::Time, own)]);
        return Err(error);
    }
    Ok((Namespace::Time, own))
}

/// Go back to the runtime's own namespaces (see
/// [`Container::enter_for_children`]).
fn leave(own: Vec<(Namespace, OwnedFd)>) {
    for (namespace, fd) in own {
        let _ = nix::sched::setns(fd, namespace.clone_flag());
    }
}

/// Block until `start` opens the FIFO for reading, then tell it we saw it.
fn wait_for_start(fifo: &OwnedFd) -> Result<std::fs::File> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("waiting for start: opening", &path, e))?;
    file.write_all(b"0")
        .map_err(|e| Error::io("answering start: writing", &path, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leftover_process_is_stopped_only_if_it_is_still_the_same() {
        let mut helper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = helper.id() as i32;
        // Another start time: as if the PID had been reused. Left alone.
        let stranger = Leftover::Process { pid, start_time: 1 };
        stranger.release().unwrap();
        assert!(
            helper.try_wait().unwrap().is_none(),
            "a stranger was signalled"
        );
        Leftover::process(pid).unwrap().release().unwrap();
        let status = helper.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(15)
        );
        // Gone already: no leftover can be made of it, and one that was
        // is released all the same.
        assert!(Leftover::process(pid).is_err());
        Leftover::Process {
            pid,
            start_time: 12345,
        }
        .release()
        .unwrap();
    }

    #[test]
    fn a_leftover_path_is_removed_and_leftovers_keep_their_shape_in_json() {
        let made = std::env::temp_dir().join(format!("berth-leftover-{}", std::process::id()));
        std::fs::create_dir_all(made.join("inside")).unwrap();
        let leftovers = vec![
            Leftover::Path { path: made.clone() },
            Leftover::Process {
                pid: 42,
                start_time: 7,
            },
        ];
        let json = serde_json::to_string(&leftovers).unwrap();
        assert_eq!(
            json,
            format!(
                r#"[{{"kind":"path","path":"{}"}},{{"kind":"process","pid":42,"start_time":7}}]"#,
                made.display()
            )
        );
        let back: Vec<Leftover> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, leftovers);
        back[0].release().unwrap();
        assert!(!made.exists());
        back[0].release().unwrap();
    }
}
