//! `exec ID CMD…`: run one more process in a running container.
//!
//! This is what `docker exec` and `podman exec` end up calling. Nothing is
//! created: the new process *joins* what the container already has — each
//! of its namespaces (through `/proc/PID/ns/*` of its first process) and
//! its cgroup — and then gets a process set-up of its own (user, cwd,
//! capabilities, environment), taken from the container's `process` and
//! changed by the command line or a `--process` file.
//!
//! It is the same set-up sequence as `create`, with every namespace joined
//! instead of made, and with no root filesystem to build: entering the
//! container's mount namespace already puts the process at the container's
//! root, because `setns` moves it to the root of the namespace it enters.

use std::path::PathBuf;

use oci_spec::runtime::Process;

use super::process::ProcessSetup;
use super::scheduling::Scheduling;
use super::seccomp::Filter;
use super::state::{Status, Store};
use super::tty::Console;
use crate::cgroup::Cgroup;
use crate::container::Container;
use crate::init::ExitStatus;
use crate::ns::Namespace;
use crate::{Error, Result};

/// What `exec` runs, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The process: the container's, changed by the command line.
    pub process: Process,
    /// Return once the process runs, instead of waiting for it.
    pub detach: bool,
    /// Where to write the process's PID.
    pub pid_file: Option<PathBuf>,
    /// Where to send its terminal's master (with `process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// Descriptors beyond stdio the process inherits.
    pub preserve_fds: u32,
}

/// How an `exec` ended: it ran in the foreground and exited, or it was
/// detached and is running as this PID.
#[derive(Debug)]
pub enum Exec {
    /// The process ran and exited.
    Exited(ExitStatus),
    /// The process runs, detached.
    Detached(i32),
}

// ANCHOR: exec
/// Run `options.process` inside container `id`.
pub fn exec(store: &Store, id: &str, options: &Options) -> Result<Exec> {
    let stored = {
        let _lock = store.lock(id)?;
        store.load(id)?
    };
    if !matches!(stored.state.status, Status::Created | Status::Running) {
        return Err(Error::Invalid(format!(
            "container {id:?} is {:?}: exec needs a created or running container",
            stored.state.status
        )));
    }
    let args = options.process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::Invalid("exec: no command to run".into()));
    }
    let env = super::process::environment(&options.process);
    let mut container = Container::new(args.into_iter().map(Into::into).collect())?
        .env(env)
        .init(false)
        .preserve_fds(options.preserve_fds);
    // Every namespace the container's first process is in, unless it is
    // the runtime's own (a namespace the bundle shared with the host).
    let pid = stored.state.pid;
    for namespace in Namespace::ALL {
        let theirs = format!("/proc/{pid}/ns/{}", namespace.proc_name());
        let ours = format!("/proc/self/ns/{}", namespace.proc_name());
        let same = std::fs::metadata(&theirs)
            .and_then(|t| std::fs::metadata(&ours).map(|o| (t, o)))
            .map(|(t, o)| {
                use std::os::unix::fs::MetadataExt;
                t.ino() == o.ino() && t.dev() == o.dev()
            })
            .unwrap_or(true);
        if !same {
            container = container.join(namespace, std::path::Path::new(&theirs))?;
        }
    }
    // The container's cgroup: adopted only to join it, and kept (an
    // adopted cgroup that is dropped is removed).
    let cgroup = Cgroup::adopt(stored.cgroup.clone());
    container = container.stage(cgroup.join());
    cgroup.keep();
    let terminal = options.process.terminal() == Some(true);
    match (&options.console_socket, terminal) {
        (Some(socket), true) => container = container.stage(Console::connect(socket)?),
        (None, true) => {
            return Err(Error::Invalid(
                "exec with a terminal (--tty) needs --console-socket to send it to".into(),
            ))
        }
        (Some(_), false) => {
            return Err(Error::Invalid(
                "--console-socket is given, but there is no terminal (--tty) to send".into(),
            ))
        }
        (None, false) => {}
    }
    if options.pid_file.is_some() && !options.detach {
        return Err(Error::Invalid(
            "exec --pid-file is supported with --detach only".into(),
        ));
    }
    // The container's seccomp profile holds for every process in it.
    let seccomp = stored.seccomp.as_ref().map(Filter::compile).transpose()?;
    let scheduling = Scheduling::new(
        None,
        options.process.scheduler().as_ref(),
        options.process.io_priority().as_ref(),
    )?;
    container = container
        .stage(scheduling)
        .stage(ProcessSetup::new(&options.process)?.seccomp(seccomp));
    if options.detach {
        let pid = container.spawn()?.pid;
        if let Some(path) = &options.pid_file {
            super::state::write_pid_file(path, pid.as_raw())?;
        }
        Ok(Exec::Detached(pid.as_raw()))
    } else {
        Ok(Exec::Exited(container.run()?))
    }
}
// ANCHOR_END: exec
