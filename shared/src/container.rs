//! A container, as a list of set-up stages.
//!
//! Introduced by rung 01; chapter 1 explains it, and every later chapter
//! adds stages to it.
//!
//! Starting a container is always the same dance between two processes:
//!
//! ```text
//!  runtime (outside)                      child (inside the new namespaces)
//!  ─────────────────                      ─────────────────────────────────
//!  block signals, open the channel
//!  clone3(CLONE_NEW…) ──────────────────▶ wait for Go
//!  each stage's in_parent(child)               ⋮
//!  send Go ─────────────────────────────▶ each stage's in_child()
//!  wait for EOF or bad news   ◀────────── fork the command, which execs
//!  supervise: forward signals, wait       init: reap, forward, wait
//!  each stage's cleanup()                 exit with the command's status
//! ```
//!
//! What varies from rung to rung is what happens *in* the two halves, so
//! that is what a [`Stage`] is: one piece of set-up with an outside half, an
//! inside half and a clean-up. Rung 01 has three stages (cgroup namespace,
//! private mounts and `/proc`, hostname); rung 02 adds one that puts the
//! child in a cgroup; rung 06 one that writes its uid map. The sequence
//! itself never changes.

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use crate::clone::{clone3_into, Forked};
use crate::init::{self, BlockedSignals, ExitStatus};
use crate::ns::Namespace;
use crate::sync::{self, Channel, Message};
use crate::{Error, Result};

// ANCHOR: stage
/// One piece of a container's set-up.
///
/// All three methods have empty defaults, so a stage implements only the
/// halves it needs. Order matters: every stage's `in_parent` runs (in the
/// order the stages were added) before any `in_child`, and `cleanup` runs in
/// reverse order once the container is gone — whether it succeeded or not.
pub trait Stage {
    /// A few words for error messages: "while setting up the hostname".
    fn name(&self) -> &'static str;

    /// Runs in the runtime's process, after the child exists and before it
    /// may go on. `child` is its PID as the host sees it.
    fn in_parent(&mut self, _child: Pid) -> Result<()> {
        Ok(())
    }

    /// Runs in the child, inside its new namespaces, before the command.
    fn in_child(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs in the process that is about to become the user's command,
    /// just before `execve`: for what belongs to that one process rather
    /// than to the namespace — its working directory, its user, its
    /// capabilities (rung 04).
    fn before_exec(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs in a created container's process once `start` has released
    /// it, just before `execve` (rung 04: the startContainer hooks).
    fn after_start(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs last of all, after every other stage, immediately before
    /// `execve`, with nothing of the runtime's in between: the place for a
    /// seccomp filter (rung 04), which must then allow only what the
    /// program needs, not what the runtime still does.
    fn at_exec(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs in the runtime's process after the container has ended (or
    /// failed to start): release whatever `in_parent` created.
    fn cleanup(&mut self) {}
}
// ANCHOR_END: stage

/// A command to run, the namespaces to run it in, and the stages that set
/// the container up.
pub struct Container {
    command: Vec<CString>,
    namespaces: Vec<Namespace>,
    init: bool,
    stages: Vec<Box<dyn Stage>>,
    /// The command's environment; `None`: the runtime's own.
    env: Option<Vec<(String, String)>>,
    /// For [`create`](Container::create): the FIFO the container waits on
    /// until `start` opens it.
    start_fifo: Option<std::path::PathBuf>,
    /// How many descriptors after stdio the program inherits.
    preserve_fds: u32,
    /// Whether the program outlives the runtime (no parent-death signal).
    detached: bool,
    /// A cgroup v2 directory to start the container in (see
    /// [`clone3_into`]).
    cgroup: Option<std::os::fd::OwnedFd>,
    /// Existing namespaces to enter instead of creating new ones.
    join: Vec<(Namespace, std::os::fd::OwnedFd)>,
    /// The clock offsets of a new time namespace, as
    /// `/proc/PID/timens_offsets` takes them.
    time_offsets: Option<String>,
}

impl Container {
    /// A container that will run `command` (the program, then its
    /// arguments), with no namespaces and no stages yet.
    pub fn new(command: Vec<OsString>) -> Result<Container> {
        if command.is_empty() {
            return Err(Error::Invalid("no command to run".into()));
        }
        let command = command
            .into_iter()
            .map(|arg| {
                CString::new(arg.as_bytes())
                    .map_err(|_| Error::Invalid(format!("argument {arg:?} contains a NUL byte")))
            })
            .collect::<Result<_>>()?;
        Ok(Container {
            command,
            namespaces: Vec::new(),
            init: true,
            stages: Vec::new(),
            env: None,
            start_fifo: None,
            preserve_fds: 0,
            detached: false,
            cgroup: None,
            join: Vec::new(),
            time_offsets: None,
        })
    }

    /// Create these namespaces for the container.
    pub fn namespaces(mut self, namespaces: Vec<Namespace>) -> Container {
        self.namespaces = namespaces;
        self
    }

    /// Whether the container's first process is the rung's init (the
    /// default) or the user's command itself.
    pub fn init(mut self, init: bool) -> Container {
        self.init = init;
        self
    }

    /// Give the command exactly this environment (instead of the runtime's).
    pub fn env(mut self, env: Vec<(String, String)>) -> Container {
        self.env = Some(env);
        self
    }

    /// Let the program inherit descriptors 3 to 3+`count`-1 as well as its
    /// standard streams (`--preserve-fds`); every other one is closed.
    pub fn preserve_fds(mut self, count: u32) -> Container {
        self.preserve_fds = count;
        self
    }

    // ANCHOR: join
    /// Enter the existing namespace at `path` (a `/proc/PID/ns/TYPE` file or
    /// a bind mount of one, as `ip netns add` makes) instead of creating a
    /// new one of that type. The file is opened now, while its path still
    /// means what the caller meant.
    pub fn join(mut self, namespace: Namespace, path: &std::path::Path) -> Result<Container> {
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening the namespace {}", path.display()), e))?;
        self.namespaces.retain(|ns| *ns != namespace);
        self.join.push((namespace, fd));
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
        for (namespace, fd) in self.join.iter().filter(|(ns, _)| now(*ns)) {
            nix::sched::setns(fd, namespace.clone_flag()).map_err(|e| {
                Error::sys(
                    format!("entering the existing {} namespace", namespace.proc_name()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Give the new time namespace these clock offsets ("monotonic 86400
    /// 0\nboottime 86400 0\n": a container whose clocks say it has been up
    /// a day longer; checkpoint/restore uses it to keep clocks going).
    pub fn time_offsets(mut self, offsets: String) -> Container {
        self.time_offsets = Some(offsets);
        self
    }

    /// A time namespace's offsets can be written only while no process is
    /// in it, so `clone3(CLONE_NEWTIME)` — which puts the child in at once
    /// — is too late. Instead the runtime makes it with `unshare`, which
    /// (as for PID namespaces) only decides where its *children* go,
    /// writes the offsets, and lets the clone that follows step in. Returns
    /// the runtime's own namespace for children, to go back to.
    fn new_time_namespace(offsets: &str) -> Result<(Namespace, std::os::fd::OwnedFd)> {
        let own = nix::fcntl::open(
            "/proc/self/ns/time_for_children",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
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

    fn for_children(namespace: Namespace) -> bool {
        matches!(namespace, Namespace::Pid | Namespace::Time)
    }

    /// Enter the joined PID and time namespaces for the next child; returns
    /// the runtime's own, to go back to once the child exists (so hooks the
    /// runtime runs later are not born inside the container).
    fn enter_for_children(&self) -> Result<Vec<(Namespace, std::os::fd::OwnedFd)>> {
        let mut own = Vec::new();
        for (namespace, _) in self
            .join
            .iter()
            .filter(|(ns, _)| Container::for_children(*ns))
        {
            let path = format!("/proc/self/ns/{}", namespace.proc_name());
            let fd = nix::fcntl::open(
                path.as_str(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| Error::sys(format!("opening {path}"), e))?;
            own.push((*namespace, fd));
        }
        self.enter(Container::for_children)?;
        Ok(own)
    }
    // ANCHOR_END: join

    /// Start the container's first process in the cgroup v2 directory
    /// `dir` (instead of moving it there with a stage).
    pub fn born_in(mut self, dir: &std::path::Path) -> Result<Container> {
        let fd = nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening {}", dir.display()), e))?;
        self.cgroup = Some(fd);
        Ok(self)
    }

    /// Add a set-up stage after the ones already added.
    pub fn stage(mut self, stage: impl Stage + 'static) -> Container {
        self.stages.push(Box::new(stage));
        self
    }

    /// The program the container runs, as the user wrote it.
    pub fn program(&self) -> String {
        self.command[0].to_string_lossy().into_owned()
    }

    // ANCHOR: run
    /// Start the container, wait for it to end, and clean up.
    ///
    /// Call this only while the process has a single thread (see
    /// [`clone3`](crate::clone::clone3)): the rungs call it from `main`.
    pub fn run(mut self) -> Result<ExitStatus> {
        let signals = init::block_signals()?;
        let result = self.start_and_wait(&signals);
        for stage in self.stages.iter_mut().rev() {
            stage.cleanup();
        }
        signals.restore()?;
        result
    }

    fn start_and_wait(&mut self, signals: &BlockedSignals) -> Result<ExitStatus> {
        let (outside, inside) = sync::pair()?;
        match self.clone_first_process()? {
            Forked::Child => {
                drop(outside);
                let code = self.child(inside, signals);
                let _ = std::io::stdout().flush();
                // Leave without running the parent's exit handlers: this
                // process is a copy, and they are not ours to run.
                exit_now(code)
            }
            Forked::Parent { child } => {
                drop(inside);
                self.parent(child, outside, signals)
            }
        }
    }

    /// Clone the container's first process with its new namespaces (born
    /// in its cgroup, on cgroup v2). Namespaces to be joined that only a
    /// child can enter (PID, time) are entered by this process just for
    /// the clone, and left again in the parent.
    fn clone_first_process(&mut self) -> Result<Forked> {
        let mut own = self.enter_for_children()?;
        if let Some(offsets) = &self.time_offsets {
            match Container::new_time_namespace(offsets) {
                Ok(time) => own.push(time),
                Err(error) => {
                    leave(own);
                    return Err(error);
                }
            }
        }
        // SAFETY: `run`'s and `spawn`'s contract: this process has a
        // single thread.
        let cloned = unsafe {
            clone3_into(
                self.clone_flags(),
                self.cgroup.as_ref().map(|fd| fd.as_fd()),
            )
        };
        if !matches!(cloned, Ok(Forked::Child)) {
            leave(own);
        }
        cloned.map_err(clone_error)
    }
    // ANCHOR_END: run

    // ANCHOR: create
    /// Set the container up and leave its process waiting, just before it
    /// would run the command, until something opens `start_fifo` for
    /// reading (the OCI runtime's `create`, then `start`). Returns the
    /// process's PID; the container outlives the caller, so nothing is
    /// cleaned up here: that is `delete`'s job.
    pub fn create(mut self, start_fifo: std::path::PathBuf) -> Result<Pid> {
        self.start_fifo = Some(start_fifo);
        self.spawn()
    }
    // ANCHOR_END: create

    /// Start the program and return its PID without waiting for it: it
    /// outlives the caller (`exec --detach`; and `create`, with a FIFO).
    pub fn spawn(mut self) -> Result<Pid> {
        self.detached = true;
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
                    Ok(()) => Ok(child),
                    Err(error) => {
                        let _ = kill(child, Signal::SIGKILL);
                        let _ = waitpid(child, None);
                        Err(error)
                    }
                }
            }
        };
        signals.restore()?;
        result
    }

    /// The `CLONE_NEW*` flags for `clone3`: every namespace asked for except
    /// the cgroup namespace, which the child creates itself (see
    /// [`CgroupNamespace`](crate::ns::CgroupNamespace)), and a time
    /// namespace with offsets, which is already there.
    fn clone_flags(&self) -> CloneFlags {
        let unshared = |ns: &Namespace| *ns == Namespace::Time && self.time_offsets.is_some();
        self.namespaces
            .iter()
            .filter(|ns| **ns != Namespace::Cgroup && !unshared(ns))
            .fold(CloneFlags::empty(), |flags, ns| flags | ns.clone_flag())
    }

    // ANCHOR: parent
    fn parent(
        &mut self,
        child: Pid,
        channel: Channel,
        signals: &BlockedSignals,
    ) -> Result<ExitStatus> {
        let started = self.set_up_from_outside(child, &channel);
        drop(channel);
        if let Err(error) = started {
            // Whichever side failed, the child must not outlive the error.
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(error);
        }
        init::supervise(child, signals)
    }

    fn set_up_from_outside(&mut self, child: Pid, channel: &Channel) -> Result<()> {
        for stage in &mut self.stages {
            stage.in_parent(child)?;
        }
        channel.send(&Message::Go)?;
        match channel.recv()? {
            // EOF before `Created`: the child ended without a word — say,
            // because a seccomp profile refused even the message.
            None if self.start_fifo.is_some() => Err(Error::ChildDied(
                "it closed the set-up channel without saying why; if linux.seccomp is set, it must allow the runtime's last system calls".into(),
            )),
            None => Ok(()),                   // EOF: the command is running
            Some(Message::Created) => Ok(()), // waiting for `start`
            Some(Message::Failed(why)) => Err(Error::Child(why)),
            Some(Message::ExecFailed(errno)) => Err(Error::Exec {
                command: self.program(),
                errno,
            }),
            Some(Message::Go) => Err(Error::Invalid("the child said Go".into())),
        }
    }
    // ANCHOR_END: parent

    // ANCHOR: child
    /// The child's whole life; returns its exit status.
    fn child(&mut self, channel: Channel, signals: &BlockedSignals) -> i32 {
        let command = match self.set_up_from_inside(&channel, signals) {
            Ok(command) => command,
            Err(error) => {
                let _ = channel.send(&Message::Failed(error.to_string()));
                if self.detached {
                    // After `create` has returned, nobody reads the channel:
                    // the container's own stderr is the only witness.
                    eprintln!("container: {error}");
                }
                return error.exit_code();
            }
        };
        // The command has its own copy of the channel, which closes when it
        // execs; ours must close too, or the runtime never reads EOF.
        drop(channel);
        match init::supervise(command, signals) {
            Ok(status) => status.code(),
            Err(error) => {
                eprintln!("init: {error}");
                error.exit_code()
            }
        }
    }

    /// Set up the inside, then start the command; returns its PID.
    fn set_up_from_inside(&mut self, channel: &Channel, signals: &BlockedSignals) -> Result<Pid> {
        // If the runtime dies, the container dies with it, instead of
        // living on with no one to wait for it — unless it is meant to
        // outlive the runtime (`create`).
        if !self.detached {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| Error::sys("setting the parent-death signal", e))?;
        }
        // Until it execs, this process *is* the runtime's binary, about to
        // sit inside the container. Not dumpable: no process in there may
        // open /proc/PID/exe (and write the runtime through it, the attack
        // of CVE-2019-5736), read its memory or trace it. The exec resets
        // this for the program.
        nix::sys::prctl::set_dumpable(false).map_err(|e| Error::sys("PR_SET_DUMPABLE", e))?;
        // Wait for the outside half of every stage. EOF here means the
        // runtime died before it said Go (so before PDEATHSIG was armed).
        if channel.recv()? != Some(Message::Go) {
            return Err(Error::ChildDied("the runtime went away".into()));
        }
        self.enter(|ns| !Container::for_children(ns))?;
        // The FIFO's path may not exist once the stages have changed the
        // root: hold on to the FIFO itself (an O_PATH descriptor) and
        // reopen it later through /proc/self/fd, as runc does.
        let fifo = match &self.start_fifo {
            Some(path) => Some(
                nix::fcntl::open(
                    path.as_path(),
                    nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .map_err(|e| Error::sys(format!("opening {}", path.display()), e))?,
            ),
            None => None,
        };
        for stage in &mut self.stages {
            stage.in_child()?;
        }
        if let Some(fifo) = fifo {
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
            // `start` reads from the FIFO until it closes, which the exec
            // does (close-on-exec): so `start` returns once the program
            // runs, or with the error that kept it from running.
            let mut started = wait_for_start(&fifo)?;
            drop(fifo);
            // Every stage's after_start, then every stage's at_exec.
            let last = self
                .stages
                .iter_mut()
                .try_for_each(|s| s.after_start())
                .and_then(|()| self.stages.iter_mut().try_for_each(|s| s.at_exec()));
            if let Err(error) = last {
                let _ = started.write_all(error.to_string().as_bytes());
                return Err(error);
            }
            let errno = argv.exec();
            let _ = write!(started, "exec {}: {}", self.program(), errno.desc());
            return Err(Error::Exec {
                command: self.program(),
                errno,
            });
        }
        if !self.init {
            // The command becomes PID 1 itself.
            return Err(self.exec(channel, signals));
        }
        // SAFETY: the child has a single thread, like its parent.
        match unsafe { fork() }.map_err(|e| Error::sys("forking the command", e))? {
            ForkResult::Child => {
                let error = self.exec(channel, signals);
                exit_now(error.exit_code())
            }
            ForkResult::Parent { child } => Ok(child),
        }
    }
    // ANCHOR_END: child

    // ANCHOR: exec
    /// Replace this process with the user's command, searching `$PATH` as a
    /// shell does. Returns only if that failed, after telling the runtime.
    fn exec(&mut self, channel: &Channel, signals: &BlockedSignals) -> Error {
        let keep = [channel.raw_fd()];
        let prepared = self.prepare_exec(signals, &keep).and_then(|()| {
            let argv = Argv::new(&self.command);
            self.stages.iter_mut().try_for_each(|s| s.at_exec())?;
            Ok(argv)
        });
        let argv = match prepared {
            Ok(argv) => argv,
            Err(error) => {
                let _ = channel.send(&Message::Failed(error.to_string()));
                return error;
            }
        };
        let errno = argv.exec();
        // A seccomp filter may refuse even this message: then the runtime
        // reads EOF and reports the exec as done, and the status says the
        // rest.
        let _ = channel.send(&Message::ExecFailed(errno));
        Error::Exec {
            command: self.program(),
            errno,
        }
    }
    // ANCHOR_END: exec

    /// The last steps before `execve`, in the command's own process.
    ///
    /// First of all, every descriptor the program must not have is
    /// *closed* — not only marked close-on-exec — except `keep` (the
    /// channel to the runtime, the FIFO), which are close-on-exec already.
    /// Until the exec, a descriptor of the host's (the state root's lock, a
    /// directory the engine leaked) is a way out of the root: a working
    /// directory of `/proc/self/fd/3` would be *in* it (CVE-2024-21626). So
    /// the stages, which enter `process.cwd`, come after.
    fn prepare_exec(&mut self, signals: &BlockedSignals, keep: &[RawFd]) -> Result<()> {
        close_from(3 + self.preserve_fds, keep)?;
        if let Some(env) = &self.env {
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
        signals.reset_for_exec()
    }

    /// Fail now, with the shell's "not found", if the program cannot be
    /// found: after `start` there is nobody left to tell.
    fn check_program(&self) -> Result<()> {
        let program = std::path::Path::new(std::ffi::OsStr::from_bytes(self.command[0].as_bytes()));
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

// ANCHOR: close_from
/// Close every descriptor from `first` up but those in `keep`, so the
/// program inherits only its standard streams (and the ones
/// `--preserve-fds` asks for). A runtime holds descriptors the container
/// must never get — the state directory, its lock, sockets; whatever its
/// own caller leaked into it. `close_range(2)` closes a whole range in one
/// call; the kept ones split the range in pieces.
fn close_from(first: u32, keep: &[RawFd]) -> Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|fd| u32::try_from(*fd).ok())
        .filter(|fd| *fd >= first)
        .collect();
    keep.sort_unstable();
    let mut from = first;
    for kept in keep.into_iter().chain([u32::MAX]) {
        if kept > from {
            // SAFETY: close_range takes no pointers. The descriptors it
            // closes belong to objects this process never uses again: it
            // execs or exits without returning to them.
            let done = unsafe { libc::syscall(libc::SYS_close_range, from, kept - 1, 0) };
            if done != 0 {
                return Err(Error::sys("close_range", Errno::last()));
            }
        }
        from = kept.saturating_add(1);
    }
    Ok(())
}

// ANCHOR_END: close_from

/// The command's `argv`, as the pointer array `execvp(3)` takes, made in
/// advance: once the seccomp filter is loaded, the exec must not need a
/// memory allocation (an `mmap` the filter may refuse).
struct Argv<'a> {
    pointers: Vec<*const libc::c_char>,
    _strings: &'a [CString],
}

impl<'a> Argv<'a> {
    fn new(command: &'a [CString]) -> Argv<'a> {
        let pointers = command
            .iter()
            .map(|arg| arg.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        Argv {
            pointers,
            _strings: command,
        }
    }

    /// Replace this process with the command; returns only on failure.
    fn exec(&self) -> Errno {
        // SAFETY: a NULL-terminated array of pointers to NUL-terminated
        // strings, all borrowed from `_strings`, which outlives the call.
        unsafe { libc::execvp(self.pointers[0], self.pointers.as_ptr()) };
        Errno::last()
    }
}

/// Go back to the runtime's own namespaces (see
/// [`Container::enter_for_children`]).
fn leave(own: Vec<(Namespace, std::os::fd::OwnedFd)>) {
    for (namespace, fd) in own {
        let _ = nix::sched::setns(fd, namespace.clone_flag());
    }
}

/// Block until `start` opens the FIFO for reading, then tell it we saw it.
fn wait_for_start(fifo: &std::os::fd::OwnedFd) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::Invalid(format!("waiting for start ({path}): {e}")))?;
    file.write_all(b"0")
        .map_err(|e| Error::Invalid(format!("answering start: {e}")))?;
    Ok(file)
}

/// End this process at once, with `_exit(2)`: no exit handlers, no
/// flushing of buffers it inherited. A forked copy must not run the
/// original's clean-up as if it were the original.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and cannot fail.
    unsafe { libc::_exit(code) }
}

/// Explain a failed `clone3`: almost always a missing privilege.
fn clone_error(errno: Errno) -> Error {
    match errno {
        Errno::EPERM => Error::sys_hint(
            "creating namespaces (clone3)",
            errno,
            "this needs CAP_SYS_ADMIN: run as root (`sudo just step NN`); chapter 6 shows the rootless way",
        ),
        Errno::ENOSYS => Error::sys_hint(
            "creating namespaces (clone3)",
            errno,
            "this kernel is older than 5.3, or a seccomp filter (are we inside a container?) hides clone3",
        ),
        _ => Error::sys("creating namespaces (clone3)", errno),
    }
}
