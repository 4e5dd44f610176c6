//! `create ID --bundle DIR`: everything but the program.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};

use super::hooks::CreateHooks;
use super::mounts::BundleRoot;
use super::process::ProcessSetup;
use super::scheduling::Scheduling;
use super::seccomp::Filter;
use super::state::{check_id, now, start_time, write_pid_file, State, Status, Store, Stored};
use super::tty::Console;
use super::Bundle;
use crate::cgroup::devices::DeviceRule;
use crate::cgroup::{Cgroup, CpuQuota, Hierarchy, Limits};
use crate::container::Container;
use crate::net::loopback::LoopbackUp;
use crate::ns::{CgroupNamespace, Domainname, Hostname, Namespace};
use crate::{Error, Result};

/// What `create`'s command line adds to the bundle.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Where to write the container's PID (`--pid-file`).
    pub pid_file: Option<PathBuf>,
    /// Where to send the terminal's master (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// Descriptors beyond stdio the program inherits (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Enter the root with `MS_MOVE` and `chroot`, not `pivot_root`
    /// (`--no-pivot`).
    pub no_pivot: bool,
}

// ANCHOR: create
/// Create container `id` from the bundle in `bundle`: its process is left
/// set up and waiting for `start`. On any error, nothing is left behind.
pub fn create(store: &Store, id: &str, bundle: &Path, options: &Options) -> Result<State> {
    check_id(id)?;
    // The ID's folder, made and locked: held through the hooks, but only
    // this container waits on it.
    let _lock = store.reserve(id)?;
    let dir = store.dir(id);
    let created = Bundle::load(bundle).and_then(|bundle| create_in(store, id, &bundle, options));
    if created.is_err() {
        let _ = fs::remove_dir_all(&dir);
    }
    created
}

fn create_in(store: &Store, id: &str, bundle: &Bundle, options: &Options) -> Result<State> {
    let spec = &bundle.spec;
    let (parent, name) = cgroup_path(spec, id);
    let cgroup = Cgroup::create(&Hierarchy::detect()?, &parent, &name, &limits(spec)?)?;
    let hooks = CreateHooks::new(spec, id, &bundle.dir);
    let console = console(spec, options.console_socket.as_deref())?;
    let container = container(bundle, &cgroup, hooks, console, options.no_pivot)?
        .preserve_fds(options.preserve_fds);

    let fifo = store.fifo(id);
    // Writable by anyone: the process opens it after it has become
    // process.user, and only it can reach it (through a descriptor it
    // opened while still root; the state directory is root's alone).
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::sys(format!("creating {}", fifo.display()), e))?;
    // mkfifo's mode passes through the umask: set the bits for certain.
    fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(|e| Error::io("chmod", &fifo, e))?;
    // If this fails, dropping `cgroup` removes it.
    let spawned = container.create(fifo)?;
    let pid = spawned.pid;

    let state = State {
        oci_version: spec.version().clone(),
        id: id.to_string(),
        pid: pid.as_raw(),
        status: Status::Created,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: now(),
        owner: String::new(),
    };
    let stored = Stored {
        state: state.clone(),
        start_time: start_time(pid.as_raw()).unwrap_or(0),
        leftovers: spawned.leftovers,
        cgroup: cgroup.dirs().map(Path::to_path_buf).collect(),
        hooks: spec.hooks().clone(),
        annotations: spec.annotations().clone(),
        process: spec.process().clone(),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
    };
    let recorded = store.save(&stored).and_then(|()| match &options.pid_file {
        Some(path) => write_pid_file(path, state.pid),
        None => Ok(()),
    });
    if let Err(error) = recorded {
        // Nothing will know of this container: undo it now. Its process
        // goes (dropping `cgroup` kills what is in it, then removes it),
        // and so does whatever its stages left behind.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        for leftover in &stored.leftovers {
            let _ = leftover.release();
        }
        return Err(error);
    }
    // From here on the cgroup belongs to the container, until `delete`.
    cgroup.keep();
    Ok(state)
}
// ANCHOR_END: create

// ANCHOR: container
/// The container `config.json` describes: its namespaces, and the stages
/// that fill them in, in the order they must run.
pub fn container(
    bundle: &Bundle,
    cgroup: &Cgroup,
    hooks: Option<CreateHooks>,
    console: Option<Console>,
    no_pivot: bool,
) -> Result<Container> {
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("checked by Bundle::load");
    let args: Vec<OsString> = process
        .args()
        .iter()
        .flatten()
        .map(OsString::from)
        .collect();
    let env = super::process::environment(process);
    refuse_unsupported(spec)?;
    // Compiled here, in the runtime, before the container's process
    // exists: a bad profile fails `create` with nothing to undo.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(Filter::compile)
        .transpose()?;
    let (namespaces, joined) = namespaces(spec)?;
    let mut container = Container::new(args)?
        .namespaces(namespaces.clone())
        .env(env);
    for (namespace, path) in &joined {
        container = container.join(*namespace, path)?;
    }
    if namespaces.contains(&Namespace::Cgroup)
        && !joined.iter().any(|(ns, _)| *ns == Namespace::Cgroup)
    {
        container = container.stage(CgroupNamespace);
    }
    // A hostname goes into the container's UTS namespace, new or joined
    // (then it is set in the joined one, as runc does); without one, it
    // would be the host's.
    if let Some(hostname) = spec.hostname() {
        if !namespaces.contains(&Namespace::Uts) {
            return Err(Error::Invalid(
                "hostname is set, but there is no uts namespace to set it in".into(),
            ));
        }
        container = container.stage(Hostname(hostname.clone()));
    }
    if let Some(domainname) = spec.domainname() {
        if !namespaces.contains(&Namespace::Uts) {
            return Err(Error::Invalid(
                "domainname is set, but there is no uts namespace to set it in".into(),
            ));
        }
        container = container.stage(Domainname(domainname.clone()));
    }
    if let Some(offsets) = time_offsets(spec)? {
        if !namespaces.contains(&Namespace::Time)
            || joined.iter().any(|(ns, _)| *ns == Namespace::Time)
        {
            return Err(Error::Invalid(
                "linux.timeOffsets needs a new time namespace (\"time\" in linux.namespaces, without a path)".into(),
            ));
        }
        container = container.time_offsets(offsets);
    }
    if namespaces.contains(&Namespace::Net) && !joined.iter().any(|(ns, _)| *ns == Namespace::Net) {
        container = container.stage(LoopbackUp);
    }
    // On v2 the child is born in its cgroup (CLONE_INTO_CGROUP); on v1,
    // with a directory per controller, it is moved into each before it
    // may go on.
    container = match cgroup.version() {
        "v2" => container.born_in(cgroup.dirs().next().expect("a v2 cgroup has one directory"))?,
        _ => container.stage(cgroup.join()),
    };
    // Hooks after the cgroup (a hook may look at it) and before the root
    // changes (createContainer's paths are the host's).
    if let Some(hooks) = hooks {
        container = container.stage(hooks);
    }
    // With no mount namespace listed, the container shares the runtime's
    // (the specification: an unlisted namespace is inherited), and so its
    // root. Whatever BundleRoot would do there, it would do to the host:
    // such a bundle may not ask for any of it. (runc 1.1 mounts the
    // bundle's mounts in the host's mount namespace, and leaves them.)
    if namespaces.contains(&Namespace::Mount) {
        container = container.stage(BundleRoot::new(spec, &bundle.rootfs).no_pivot(no_pivot));
    } else {
        refuse_without_mount_namespace(spec)?;
    }
    // The terminal once the container's own /dev/pts is in place.
    if let Some(console) = console {
        container = container.stage(console);
    }
    let scheduling = Scheduling::new(
        spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
        process.scheduler().as_ref(),
        process.io_priority().as_ref(),
    )?;
    let setup = ProcessSetup::new(process)?.seccomp(seccomp);
    for warning in setup.warnings() {
        crate::warning::warn(warning);
    }
    Ok(container.stage(scheduling).stage(setup))
}
// ANCHOR_END: container

// ANCHOR: unsupported
/// What this rung does not implement yet is refused, never ignored: a
/// runtime that silently skipped `seccomp` would run the container with
/// less protection than its configuration asked for.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    let refuse = |what: &str| {
        Err(Error::Invalid(format!(
            "{what} is not supported yet by this rung"
        )))
    };
    if let Some(linux) = spec.linux() {
        if linux.intel_rdt().is_some() {
            return refuse("linux.intelRdt (Intel's cache and memory-bandwidth allocation)");
        }
        // Labels are SELinux's, which this runtime does not support: the
        // same answer as for process.selinuxLabel.
        if linux
            .mount_label()
            .as_deref()
            .is_some_and(|l| !l.is_empty())
        {
            return refuse("linux.mountLabel (SELinux)");
        }
    }
    Ok(())
}
// ANCHOR_END: unsupported

/// What a bundle without a mount namespace may not list: mounts, paths to
/// mask or make read-only, sysctls (written through the container's own
/// `/proc`). Each would change the host.
fn refuse_without_mount_namespace(spec: &Spec) -> Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    let listed = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|l| !l.is_empty());
    let asks = [
        (
            "mounts",
            spec.mounts().as_ref().is_some_and(|m| !m.is_empty()),
        ),
        ("linux.maskedPaths", listed(linux.masked_paths())),
        ("linux.readonlyPaths", listed(linux.readonly_paths())),
        (
            "linux.sysctl",
            linux.sysctl().as_ref().is_some_and(|s| !s.is_empty()),
        ),
    ];
    match asks.iter().find(|(_, asked)| *asked) {
        Some((field, _)) => Err(Error::Invalid(format!(
            "{field} needs a mount namespace of the container's own: without one (linux.namespaces has no \"mount\") it would change the host's"
        ))),
        None => Ok(()),
    }
}

/// `process.terminal` and `--console-socket` go together: a terminal's
/// master must go somewhere, and a socket with nothing to receive is a
/// mistake worth reporting.
fn console(spec: &Spec, socket: Option<&Path>) -> Result<Option<Console>> {
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    match (terminal, socket) {
        (true, Some(socket)) => Ok(Some(Console::connect(socket)?)),
        (true, None) => Err(Error::Invalid(
            "process.terminal is true, but there is no --console-socket to send the terminal to"
                .into(),
        )),
        (false, Some(_)) => Err(Error::Invalid(
            "--console-socket is given, but process.terminal is false: there is no terminal to send"
                .into(),
        )),
        (false, None) => Ok(None),
    }
}

/// `linux.timeOffsets` as `/proc/PID/timens_offsets` takes them.
fn time_offsets(spec: &Spec) -> Result<Option<String>> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()) else {
        return Ok(None);
    };
    let mut lines = String::new();
    let mut clocks: Vec<_> = offsets.into_iter().collect();
    clocks.sort_by(|a, b| a.0.cmp(&b.0));
    for (clock, offset) in clocks {
        if !matches!(clock.as_str(), "monotonic" | "boottime") {
            return Err(Error::Invalid(format!(
                "linux.timeOffsets: {clock:?} is not a clock a time namespace offsets (monotonic, boottime)"
            )));
        }
        let secs = offset.secs().unwrap_or(0);
        let nanos = offset.nanosecs().unwrap_or(0);
        lines += &format!("{clock} {secs} {nanos}\n");
    }
    Ok(Some(lines))
}

/// The namespaces to create, and the ones to join (with a `path`).
type Namespaces = (Vec<Namespace>, Vec<(Namespace, PathBuf)>);

/// `linux.namespaces`, as the kit's namespace types: every listed type,
/// and, for those with a `path`, where the namespace to join is.
fn namespaces(spec: &Spec) -> Result<Namespaces> {
    let mut out = Vec::new();
    let mut joined = Vec::new();
    let listed = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in listed {
        let namespace = match ns.typ() {
            LinuxNamespaceType::Mount => Namespace::Mount,
            LinuxNamespaceType::Uts => Namespace::Uts,
            LinuxNamespaceType::Ipc => Namespace::Ipc,
            LinuxNamespaceType::Network => Namespace::Net,
            LinuxNamespaceType::Pid => Namespace::Pid,
            LinuxNamespaceType::Cgroup => Namespace::Cgroup,
            LinuxNamespaceType::Time => Namespace::Time,
            LinuxNamespaceType::User => {
                return Err(Error::NotYet {
                    what: "linux.namespaces: user namespaces".into(),
                    rung: 6,
                })
            }
        };
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(Error::Invalid(format!(
                    "linux.namespaces: the {} namespace's path {} must be an absolute path",
                    namespace.proc_name(),
                    path.display()
                )));
            }
            joined.push((namespace, path.clone()));
        }
        out.push(namespace);
    }
    Ok((out, joined))
}

/// `linux.cgroupsPath` as a parent and a name; by default `/berth/ID`.
fn cgroup_path(spec: &Spec, id: &str) -> (String, String) {
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    match path {
        Some(path) => {
            let parent = path
                .parent()
                .unwrap_or(Path::new("/"))
                .display()
                .to_string();
            let name = path
                .file_name()
                .map_or(id.to_string(), |n| n.to_string_lossy().into_owned());
            (parent, name)
        }
        None => ("/berth".to_string(), id.to_string()),
    }
}

/// The device rules runc appends to every list: mknod of anything, and
/// null, zero, full, random, urandom, tty, the pseudo-terminals, ptmx and
/// the tun device.
const ALWAYS_ALLOWED: [(char, Option<i64>, Option<i64>, &str); 11] = [
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(136), None, "rwm"),
    ('c', Some(5), Some(2), "rwm"),
    ('c', Some(10), Some(200), "rwm"),
];

// ANCHOR: limits
/// `linux.resources`, as rung 02's limits. Two conversions: OCI's
/// `memory.swap` is memory *plus* swap (v1's meaning), and `cpu.shares`
/// is v1's scale, turned into v2's weight as runc does.
pub fn limits(spec: &Spec) -> Result<Limits> {
    let r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let positive = |v: Option<i64>| v.filter(|v| *v > 0).map(|v| v as u64);
    let memory = r.memory().and_then(|m| positive(m.limit()));
    let swap_total = r.memory().and_then(|m| positive(m.swap()));
    let cpu = r.cpu().as_ref();
    // Like runc: nothing is allowed but what the rules allow, then the
    // nodes every container needs.
    let mut devices = vec![DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    for (index, rule) in r.devices().iter().flatten().enumerate() {
        let kind = match rule.typ().unwrap_or_default() {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::P => {
                return Err(Error::Invalid(format!(
                    "linux.resources.devices[{index}]: type p (a FIFO) is not a device the controller knows"
                )))
            }
        };
        let rule = DeviceRule {
            allow: rule.allow(),
            kind,
            major: rule.major(),
            minor: rule.minor(),
            access: rule.access().clone().unwrap_or_else(|| "rwm".into()),
        };
        rule.check(index)?;
        devices.push(rule);
    }
    // After the bundle's rules, the ones runc always adds: any node may be
    // *made* (using it is what counts), and the nodes every container gets
    // may be used.
    for (kind, major, minor, access) in ALWAYS_ALLOWED {
        devices.push(DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: access.into(),
        });
    }
    Ok(Limits {
        memory,
        swap: swap_total
            .zip(memory)
            .map(|(total, mem)| total.saturating_sub(mem)),
        pids: r.pids().and_then(|p| positive(Some(p.limit()))),
        cpu: cpu.and_then(|c| {
            let quota = positive(c.quota())?;
            Some(CpuQuota {
                quota_us: quota,
                period_us: c.period().unwrap_or(CpuQuota::PERIOD_US),
            })
        }),
        cpu_weight: cpu
            .and_then(|c| c.shares())
            .filter(|s| *s >= 2)
            .map(|shares| 1 + (shares - 2) * 9999 / 262_142),
        io: super::resources::bandwidth(&r)?,
        devices,
        tuning: super::resources::tuning(&r)?,
    })
}
// ANCHOR_END: limits
