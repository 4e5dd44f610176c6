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
//! child in a cgroup. The sequence itself never changes; rung 04 adds to
//! it (in [`lifecycle`]) what an OCI runtime needs: round trips before
//! Go, namespaces joined instead of made, and a container that outlives
//! the runtime.

#[cfg(feature = "step-04")]
pub mod lifecycle;

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

#[cfg(not(feature = "step-04"))]
use crate::clone::clone3_into;
use crate::clone::Forked;
use crate::init::{self, BlockedSignals, ExitStatus};
use crate::ns::Namespace;
use crate::sync::{self, Channel, Message};
use crate::{Error, Result};

// ANCHOR: stage
/// One piece of a container's set-up.
///
/// All the methods have empty defaults, so a stage implements only the
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

    /// Runs in the runtime's process after the container has ended (or
    /// failed to start): release whatever `in_parent` created.
    fn cleanup(&mut self) {}
    // ANCHOR_END: stage

    /// Runs in the child first of all, before any `in_parent` (rung 04):
    /// the place for a round trip, when the child needs the runtime to act
    /// on it *now* and wait for the answer (see [`lifecycle::Ask`]).
    #[cfg(feature = "step-04")]
    fn in_child_first(&mut self, _runtime: &lifecycle::Ask) -> Result<()> {
        Ok(())
    }

    /// Runs in the runtime when this stage's `in_child_first` asks (rung
    /// 04): the answer's bytes and descriptors go back to the child.
    #[cfg(feature = "step-04")]
    fn answer(&mut self, _child: Pid) -> Result<lifecycle::Answer> {
        Ok(lifecycle::Answer::default())
    }

    /// What this stage leaves behind that outlives the runtime's process
    /// (rung 04): asked once `create` has succeeded. The runtime that
    /// created a container is gone by the time it is deleted, so a helper
    /// process (rung 07's pasta) or a mount made for it is written down in
    /// the container's state, and `delete` releases it.
    #[cfg(feature = "step-04")]
    fn leftovers(&self) -> Vec<lifecycle::Leftover> {
        Vec::new()
    }

    /// Runs in the process that is about to become the user's command,
    /// just before `execve`: for what belongs to that one process rather
    /// than to the namespace — its working directory, its user, its
    /// capabilities (rung 04).
    #[cfg(feature = "step-04")]
    fn before_exec(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs in a created container's process once `start` has released
    /// it, just before `execve` (rung 04: the startContainer hooks).
    #[cfg(feature = "step-04")]
    fn after_start(&mut self) -> Result<()> {
        Ok(())
    }

    /// Runs last of all, after every other stage, immediately before
    /// `execve`, with nothing of the runtime's in between: the place for a
    /// seccomp filter (rung 04), which must then allow only what the
    /// program needs, not what the runtime still does.
    #[cfg(feature = "step-04")]
    fn at_exec(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A command to run, the namespaces to run it in, and the stages that set
/// the container up.
pub struct Container {
    command: Vec<CString>,
    namespaces: Vec<Namespace>,
    init: bool,
    stages: Vec<Box<dyn Stage>>,
    /// What rung 04 adds: joined namespaces, the start FIFO, a program
    /// that outlives the runtime.
    #[cfg(feature = "step-04")]
    oci: lifecycle::Lifecycle,
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
            #[cfg(feature = "step-04")]
            oci: lifecycle::Lifecycle::default(),
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
        self.clean_up();
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
    // ANCHOR_END: run

    /// Every stage's clean-up, last stage first.
    fn clean_up(&mut self) {
        for stage in self.stages.iter_mut().rev() {
            stage.cleanup();
        }
    }

    /// The `CLONE_NEW*` flags for `clone3`: every namespace asked for except
    /// the cgroup namespace, which the child creates itself (see
    /// [`CgroupNamespace`](crate::ns::CgroupNamespace)).
    fn clone_flags(&self) -> CloneFlags {
        self.namespaces
            .iter()
            .filter(|ns| **ns != Namespace::Cgroup)
            .filter(|ns| self.cloned(**ns))
            .fold(CloneFlags::empty(), |flags, ns| flags | ns.clone_flag())
    }

    /// Whether `clone3` makes this namespace (rung 04 makes a time
    /// namespace with clock offsets before the clone).
    #[cfg(not(feature = "step-04"))]
    fn cloned(&self, _namespace: Namespace) -> bool {
        true
    }

    /// Clone the container's first process with its new namespaces.
    #[cfg(not(feature = "step-04"))]
    fn clone_first_process(&mut self) -> Result<Forked> {
        // SAFETY: `run`'s contract: this process has a single thread.
        unsafe { clone3_into(self.clone_flags(), None) }.map_err(clone_error)
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
        // Rung 04: answer the child's round trips until it is Ready.
        #[cfg(feature = "step-04")]
        self.answer_round_trips(child, channel)?;
        for stage in &mut self.stages {
            stage.in_parent(child)?;
        }
        channel.send(&Message::Go)?;
        match channel.recv()? {
            None => self.eof(),
            Some(Message::Failed(why)) => Err(Error::Child(why)),
            Some(Message::ExecFailed(errno)) => Err(Error::Exec {
                command: self.program(),
                errno,
            }),
            #[cfg(feature = "step-04")]
            Some(Message::Created) => Ok(()), // waiting for `start`
            Some(other) => Err(Error::Invalid(format!("the child said {other:?} after Go"))),
        }
    }
    // ANCHOR_END: parent

    /// What EOF after Go means: the command is running.
    #[cfg(not(feature = "step-04"))]
    fn eof(&self) -> Result<()> {
        Ok(())
    }

    // ANCHOR: child
    /// The child's whole life; returns its exit status.
    fn child(&mut self, channel: Channel, signals: &BlockedSignals) -> i32 {
        let command = match self.set_up_from_inside(&channel, signals) {
            Ok(command) => command,
            Err(error) => {
                // A program that cannot run is said as such (the shell's
                // 127 or 126), not as a failed set-up.
                let message = match &error {
                    Error::Exec { errno, .. } => Message::ExecFailed(*errno),
                    other => Message::Failed(other.report()),
                };
                let _ = channel.send(&message);
                self.witness(&error);
                return error.exit_code();
            }
        };
        // The command has its own copy of the channel, which closes when it
        // execs; ours must close too, or the runtime never reads EOF.
        drop(channel);
        match init::supervise(command, signals) {
            Ok(status) => status.code(),
            Err(error) => {
                // The container's own stderr: the runtime has let go.
                eprintln!("init: {}", error.report());
                error.exit_code()
            }
        }
    }

    /// Set up the inside, then start the command; returns its PID.
    fn set_up_from_inside(&mut self, channel: &Channel, signals: &BlockedSignals) -> Result<Pid> {
        // If the runtime dies, the container dies with it, instead of
        // living on with no one to wait for it.
        if !self.outlives_the_runtime() {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| Error::sys("setting the parent-death signal", e))?;
        }
        // Until it execs, this process *is* the runtime's binary, about to
        // sit inside the container. Not dumpable: no process in there may
        // open /proc/PID/exe (and write the runtime through it, the attack
        // of CVE-2019-5736), read its memory or trace it. The exec resets
        // this for the program.
        nix::sys::prctl::set_dumpable(false).map_err(|e| Error::sys("PR_SET_DUMPABLE", e))?;
        // Rung 04: enter the namespaces to join, make the round trips —
        // and arm the parent-death signal again: a new identity (rung 06's
        // setresuid in a user namespace) clears it.
        #[cfg(feature = "step-04")]
        {
            self.ask_round_trips(channel)?;
            if !self.outlives_the_runtime() {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                    .map_err(|e| Error::sys("setting the parent-death signal", e))?;
            }
        }
        // Wait for the outside half of every stage. EOF here means the
        // runtime died before it said Go (so before PDEATHSIG was armed).
        if channel.recv()? != Some(Message::Go) {
            return Err(Error::ChildDied("the runtime went away".into()));
        }
        #[cfg(feature = "step-04")]
        if self.oci.start_fifo.is_some() {
            // Rung 04's `create`: wait for `start` instead of forking.
            return Err(self.wait_for_start_and_exec(channel, signals));
        }
        for stage in &mut self.stages {
            stage.in_child()?;
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

    /// Whether the program is meant to outlive the runtime (rung 04's
    /// `create` and `exec --detach`).
    #[cfg(not(feature = "step-04"))]
    fn outlives_the_runtime(&self) -> bool {
        false
    }

    /// Where a failure in a container that outlives the runtime is seen:
    /// nowhere before rung 04.
    #[cfg(not(feature = "step-04"))]
    fn witness(&self, _error: &Error) {}

    // ANCHOR: exec
    /// Replace this process with the user's command, searching `$PATH` as a
    /// shell does. Returns only if that failed, after telling the runtime.
    fn exec(&mut self, channel: &Channel, signals: &BlockedSignals) -> Error {
        let keep = [channel.raw_fd()];
        let prepared = self
            .prepare_exec(signals, &keep)
            .map(|()| Argv::new(&self.command));
        // Rung 04: every stage's at_exec (the seccomp filter), last.
        #[cfg(feature = "step-04")]
        let prepared = prepared.and_then(|argv| {
            self.stages.iter_mut().try_for_each(|s| s.at_exec())?;
            Ok(argv)
        });
        let argv = match prepared {
            Ok(argv) => argv,
            Err(error) => {
                let _ = channel.send(&Message::Failed(error.report()));
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
    /// channel to the runtime), which are close-on-exec already. Until the
    /// exec, a descriptor of the host's (the state root's lock, a directory
    /// the caller leaked) is a way out of the root: a working directory of
    /// `/proc/self/fd/3` would be *in* it (CVE-2024-21626).
    fn prepare_exec(&mut self, signals: &BlockedSignals, keep: &[RawFd]) -> Result<()> {
        close_from(3 + self.preserved_fds(), keep)?;
        #[cfg(feature = "step-04")]
        self.before_exec()?;
        signals.reset_for_exec()
    }

    /// How many descriptors after stdio the program inherits (rung 04's
    /// `--preserve-fds`).
    #[cfg(not(feature = "step-04"))]
    fn preserved_fds(&self) -> u32 {
        0
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
/// advance: once a seccomp filter is loaded (rung 04), the exec must not
/// need a memory allocation (an `mmap` the filter may refuse).
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
