//! runc's command line, as clap pieces every rung from 04 up flattens.
//!
//! Container engines call a runtime with runc's verbs and flags
//! (`runc --root R create --bundle B --pid-file P ID`), so that is the
//! command line the ladder speaks from rung 04 on. It lives here, next to
//! the verbs it calls, and not in rung 04's binary: rung 05 is rung 04's
//! verbs *plus* its image verbs, rungs 06 and 07 add to the same set, and
//! rung 08's `berth-runc` is this command line with nothing copied. A rung
//! flattens [`Global`] and [`Command`] into its own `Args`, as rungs 02 and
//! 03 flatten `CgroupArgs` and `RootfsArgs`, and calls [`run`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use oci_spec::runtime::{Capabilities, Capability, Process};

use super::state::{now, Store};
use crate::{Error, Result};

// ANCHOR: global
/// The options every command takes (before its name, as with runc).
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Where containers' state is kept [default: /run/PROGRAM for root, $XDG_RUNTIME_DIR/PROGRAM for a user]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Also write errors and warnings to this file (engines read it)
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// The format of --log
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Accepted for runc compatibility; more output comes with later rungs
    #[arg(long, global = true)]
    pub debug: bool,

    /// Refused: this runtime manages cgroups itself (cgroupfs)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
}
// ANCHOR_END: global

impl Global {
    /// The state root: `--root`, or the default for `program` and this
    /// user (see [`crate::dirs::runtime`]).
    pub fn root(&self, program: &str) -> PathBuf {
        self.root
            .clone()
            .unwrap_or_else(|| crate::dirs::runtime(program))
    }

    /// Send the library's warnings to stderr as `program: warning: …`, and
    /// to `--log` as well when it is given — where an engine looks.
    pub fn install_warnings(&self, program: &str) {
        let program = program.to_string();
        let log = self.log.clone();
        let format = self.log_format;
        crate::warning::set_handler(move |message| {
            eprintln!("{program}: warning: {message}");
            if let Some(log) = &log {
                log_line(log, format, "warning", message);
            }
        });
    }
}

/// How --log writes errors.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// One line of text.
    Text,
    /// One JSON object per line, as runc writes them.
    Json,
}

// ANCHOR: verbs
/// runc's verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a default config.json in the bundle directory
    Spec {
        /// The bundle directory
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
        /// The variant for an unprivileged user
        #[arg(long)]
        rootless: bool,
    },
    /// Set a container up; its program waits for `start`
    Create {
        /// The bundle, the ID and what engines add.
        #[command(flatten)]
        options: CreateOptions,
    },
    /// Let a created container's program run
    Start {
        /// The container's ID
        id: String,
    },
    /// Print a container's state as JSON
    State {
        /// The container's ID
        id: String,
    },
    /// Send a signal to a container's process
    Kill {
        /// Signal every process in the container's cgroup
        #[arg(short, long)]
        all: bool,
        /// The container's ID
        id: String,
        /// The signal, by name or number
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete what is left of a container
    Delete {
        /// Kill it first if it is still running
        #[arg(short, long)]
        force: bool,
        /// The container's ID
        id: String,
    },
    /// Create and start a container, wait for it, then delete it
    Run {
        /// The bundle, the ID and what engines add.
        #[command(flatten)]
        options: CreateOptions,
        /// Return once it runs, instead of waiting for it
        #[arg(short, long)]
        detach: bool,
    },
    /// List the containers
    List {
        /// Only their IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// List the processes in a container (their host PIDs)
    Ps {
        /// `table` (the host's ps, filtered) or `json` (the PIDs)
        #[arg(short, long, default_value = "table")]
        format: String,
        /// The container's ID
        id: String,
        /// Options for ps (default: -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run one more process in a running container
    Exec {
        /// The process and how to run it.
        #[command(flatten)]
        options: Box<ExecArgs>,
    },
    /// Print what this runtime supports, as JSON
    Features,
}

/// What `create` and `run` take.
#[derive(Debug, clap::Args)]
pub struct CreateOptions {
    /// The bundle directory
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's PID to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A Unix socket to send the terminal's master to (process.terminal)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Pass this many file descriptors beyond stdio into the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Enter the root with MS_MOVE and chroot instead of pivot_root (for a root on a ramdisk)
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc's sake: this runtime never makes a session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// The container's ID
    pub id: String,
}

/// What `exec` takes: a whole process (`--process`), or the command and
/// the changes to make to the container's own process.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// A JSON file with the whole process (config.json's "process")
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a terminal (sent over --console-socket)
    #[arg(short, long)]
    pub tty: bool,
    /// A Unix socket to send the terminal's master to
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// The working directory, inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The user, as UID or UID:GID
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional group (repeatable)
    #[arg(short = 'g', long, value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_…) to the bounding, effective and permitted sets (repeatable)
    #[arg(short, long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// The AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Refused: an SELinux label (this runtime does not support SELinux)
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Refused: run in a sub-cgroup of the container's (not supported yet)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Accepted for runc's sake: this rung cannot pause a container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Return once the process runs, instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's PID to this file (with --detach)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Pass this many file descriptors beyond stdio into the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's ID
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true)]
    pub command: Vec<String>,
}
// ANCHOR_END: verbs

// ANCHOR: run
/// Carry out one of runc's verbs for `program` (the binary's name, which
/// names its default state root); returns the exit status.
pub fn run(program: &str, global: &Global, command: &Command) -> Result<i32> {
    if global.systemd_cgroup {
        return Err(Error::Invalid(
            "--systemd-cgroup is not supported: this runtime manages cgroups with cgroupfs".into(),
        ));
    }
    let store = Store::new(global.root(program));
    match command {
        Command::Spec { bundle, rootless } => super::generate::write(bundle, *rootless)?,
        Command::Create { options } => {
            super::create::create(&store, &options.id, &options.bundle, &options.library())?;
        }
        Command::Start { id } => super::start::start(&store, id)?,
        Command::State { id } => println!("{}", pretty(&store.load(id)?.state)),
        Command::Kill { id, signal, all } => {
            super::kill::kill(&store, id, super::kill::parse_signal(signal)?, *all)?
        }
        Command::Delete { id, force } => super::delete::delete(&store, id, *force)?,
        Command::Run { options, detach } => {
            let (id, bundle) = (&options.id, &options.bundle);
            return super::run::run(&store, id, bundle, &options.library(), *detach);
        }
        Command::List { quiet } => list(&store, *quiet),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&pids(&store.load(id)?.cgroup), format, ps_args)?,
        Command::Exec { options } => {
            let exec = super::exec::Options {
                process: options.process(&store)?,
                detach: options.detach,
                pid_file: options.pid_file.clone(),
                console_socket: options.console_socket.clone(),
                preserve_fds: options.preserve_fds,
            };
            return match super::exec::exec(&store, &options.id, &exec)? {
                super::exec::Exec::Exited(status) => Ok(status.code()),
                super::exec::Exec::Detached(_) => Ok(0),
            };
        }
        Command::Features => println!("{}", pretty(&features(program))),
    }
    Ok(0)
}
// ANCHOR_END: run

impl CreateOptions {
    /// The options as the library takes them.
    pub fn library(&self) -> super::create::Options {
        super::create::Options {
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            no_pivot: self.no_pivot,
        }
    }
}

impl ExecArgs {
    /// The process to run: `--process`'s, or the container's own with the
    /// command line's changes (as runc builds it).
    pub fn process(&self, store: &Store) -> Result<Process> {
        if self.process_label.is_some() {
            return Err(invalid(
                "--process-label: this runtime does not support SELinux",
            ));
        }
        if !self.cgroup.is_empty() {
            return Err(invalid(
                "--cgroup: running exec in a sub-cgroup is not supported yet",
            ));
        }
        if let Some(path) = &self.process {
            if !self.command.is_empty() {
                return Err(invalid(
                    "give the command in --process's file or on the command line, not both",
                ));
            }
            let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
            return serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())));
        }
        if self.command.is_empty() {
            return Err(invalid("exec: no command given (and no --process)"));
        }
        let mut process = store.load(&self.id)?.process.unwrap_or_default();
        process.set_args(Some(self.command.clone()));
        process.set_terminal(Some(self.tty));
        if let Some(cwd) = &self.cwd {
            process.set_cwd(cwd.clone());
        }
        let mut env = process.env().clone().unwrap_or_default();
        for pair in &self.env {
            let key = pair.split('=').next().unwrap_or_default();
            env.retain(|old| old.split('=').next() != Some(key));
            env.push(pair.clone());
        }
        process.set_env(Some(env));
        let mut user = process.user().clone();
        if let Some(spec) = &self.user {
            let (uid, gid) = spec.split_once(':').unwrap_or((spec, "0"));
            let id = |text: &str| {
                text.parse()
                    .map_err(|e| Error::Invalid(format!("--user {spec}: not UID[:GID]: {e}")))
            };
            user.set_uid(id(uid)?);
            user.set_gid(id(gid)?);
        }
        if !self.additional_gids.is_empty() {
            user.set_additional_gids(Some(self.additional_gids.clone()));
        }
        process.set_user(user);
        if self.no_new_privs {
            process.set_no_new_privileges(Some(true));
        }
        if let Some(profile) = &self.apparmor {
            process.set_apparmor_profile(Some(profile.clone()));
        }
        if !self.cap.is_empty() {
            let mut caps = process.capabilities().clone().unwrap_or_default();
            for name in &self.cap {
                // As config.json spells it, which is what runc takes.
                let cap: Capability =
                    serde_json::from_value(serde_json::json!(name)).map_err(|_| {
                        Error::Invalid(format!("--cap {name}: not a capability (CAP_SYS_ADMIN, …)"))
                    })?;
                let add = |set: Option<Capabilities>| {
                    let mut set = set.unwrap_or_default();
                    set.insert(cap);
                    Some(set)
                };
                // runc's sets: what the process may have and has; not the
                // inheritable or ambient ones, which would pass it on.
                caps.set_bounding(add(caps.bounding().clone()));
                caps.set_effective(add(caps.effective().clone()));
                caps.set_permitted(add(caps.permitted().clone()));
            }
            process.set_capabilities(Some(caps));
        }
        Ok(process)
    }
}

fn invalid(message: &str) -> Error {
    Error::Invalid(message.to_string())
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// `list`: a table laid out as runc's (Go's tabwriter: each column as
/// wide as its widest cell plus 3, at least 12).
fn list(store: &Store, quiet: bool) {
    let all = store.list();
    if quiet {
        for stored in all {
            println!("{}", stored.state.id);
        }
        return;
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for stored in &all {
        let s = &stored.state;
        let owner = std::fs::metadata(store.dir(&s.id))
            .ok()
            .and_then(|m| {
                use std::os::unix::fs::MetadataExt;
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(m.uid()))
                    .ok()
                    .flatten()
            })
            .map_or(String::new(), |u| u.name);
        rows.push([
            s.id.clone(),
            s.pid.to_string(),
            format!("{:?}", s.status).to_lowercase(),
            s.bundle.display().to_string(),
            s.created.clone(),
            owner,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 5 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}", width = widths[c]));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// `ps`: the host's `ps` (with `ps_args`, by default `-ef`), keeping the
/// header and the lines of the container's processes — as runc does.
fn ps(pids: &[i32], format: &str, ps_args: &[String]) -> Result<()> {
    if format == "json" {
        println!("{}", serde_json::to_string(pids).unwrap_or_default());
        return Ok(());
    }
    if format != "table" {
        return Err(Error::Invalid(format!(
            "--format {format}: not table or json"
        )));
    }
    let args = if ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("running", "ps", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(column) = header.split_whitespace().position(|c| c == "PID") else {
        return Err(Error::Invalid(format!(
            "ps {}: its output has no PID column",
            args.join(" ")
        )));
    };
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Every process in the container's cgroup directories, each once.
fn pids(cgroup: &[PathBuf]) -> Vec<i32> {
    let mut pids: Vec<i32> = cgroup
        .iter()
        .flat_map(|d| crate::cgroup::procs(d))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The features document (`features.md` of the runtime specification):
/// exactly what this runtime implements.
pub fn features(program: &str) -> serde_json::Value {
    let mut capabilities: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    capabilities.sort();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async",
            "dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "bind",
            "rbind", "relatime", "norelatime", "strictatime", "nostrictatime", "private", "rprivate",
            "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"],
        "linux": {
            "namespaces": ["mount", "uts", "ipc", "network", "pid", "cgroup", "time"],
            "capabilities": capabilities,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": super::seccomp::features(),
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "org.opencontainers.runc.version": format!("none (berth {program})"),
            // Not in the features schema, so said here: what create refuses.
            "org.berth.unsupported": "linux.intelRdt, process.selinuxLabel, linux.mountLabel, user namespaces (rung 06)"
        }
    })
}

/// Append an error to the log file, in the chosen format (what a binary
/// does with the error it is about to exit with).
pub fn log_error(path: &Path, format: LogFormat, message: &str) {
    log_line(path, format, "error", message);
}

impl Global {
    /// How a runtime's `main` ends: an error also goes to `--log` (where
    /// an engine reads it), then the outcome becomes the exit status (see
    /// [`crate::cli::exit_status`]).
    pub fn exit(&self, program: &str, outcome: Result<i32>) -> std::process::ExitCode {
        let code = match outcome {
            Ok(code) => code,
            Err(error) => {
                let message = runc_message(&error);
                if let Some(log) = &self.log {
                    log_error(log, self.log_format, &message);
                }
                eprintln!("{program}: {message}");
                error.exit_code()
            }
        };
        std::process::ExitCode::from(u8::try_from(code).unwrap_or(255))
    }
}

// ANCHOR: runc_message
/// An error as an engine expects to read it. Engines recognise a program
/// that cannot run by runc's words for it, and give the shell's statuses:
/// Docker turns "executable file not found" into 127 and "permission
/// denied" into 126, where "command not found" is a bare failure. So a
/// runtime that engines drive says it runc's way; anything else is the
/// library's message, with its causes.
pub fn runc_message(error: &Error) -> String {
    match error {
        Error::Exec { command, errno } if *errno == nix::errno::Errno::ENOENT => {
            format!("exec: {command:?}: executable file not found in $PATH")
        }
        Error::Exec { command, errno } if *errno == nix::errno::Errno::EACCES => {
            format!("exec: {command:?}: permission denied")
        }
        other => other.report(),
    }
}
// ANCHOR_END: runc_message

/// One line of `--log`: text, or the JSON object runc writes.
fn log_line(path: &Path, format: LogFormat, level: &str, message: &str) {
    let line = match format {
        LogFormat::Text => format!("{level}: {message}\n"),
        LogFormat::Json => {
            serde_json::json!({"level": level, "msg": message, "time": now()}).to_string() + "\n"
        }
    };
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}
