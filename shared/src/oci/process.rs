//! The container's process: what `config.json`'s `process` says about
//! the one process that will run the program — its directory, identity,
//! limits and privileges. All of it is applied in that process itself,
//! just before it runs the program, in an order that matters.

use std::path::PathBuf;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, Process};

use super::inroot::Root;
use super::seccomp::Filter;
use crate::container::Stage;
use crate::{Error, Result};

/// Stage: the process's working directory, limits, identity and
/// privileges.
pub struct ProcessSetup {
    cwd: PathBuf,
    uid: u32,
    gid: u32,
    umask: Option<u32>,
    groups: Vec<u32>,
    rlimits: Vec<(Resource, String, u64, u64)>,
    capabilities: Option<Capabilities>,
    no_new_privileges: bool,
    oom_score_adj: Option<i32>,
    seccomp: Option<Filter>,
    apparmor: Option<String>,
    /// What the process was asked for and cannot have (see
    /// [`warnings`](ProcessSetup::warnings)).
    warnings: Vec<String>,
}

/// The five capability sets (`man 7 capabilities`).
struct Capabilities {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

impl ProcessSetup {
    /// The stage for `process`; refuses what this rung cannot honour.
    pub fn new(process: &Process) -> Result<ProcessSetup> {
        if process.selinux_label().is_some() {
            return Err(Error::Invalid(
                "process.selinuxLabel: this runtime does not support SELinux".into(),
            ));
        }
        let apparmor = process.apparmor_profile().clone().filter(|p| !p.is_empty());
        if apparmor.is_some() && !apparmor_enabled() {
            // As runc: a profile that cannot be applied is an error, not a
            // container quietly run without it.
            return Err(Error::Invalid(
                "process.apparmorProfile is set, but AppArmor is not enabled on this host".into(),
            ));
        }
        let user = process.user();
        let mut rlimits = Vec::new();
        for limit in process.rlimits().iter().flatten() {
            let name = spec_name(&limit.typ());
            let resource = rlimit(&name)?;
            rlimits.push((resource, name, limit.soft(), limit.hard()));
        }
        let mut warnings = Vec::new();
        let capabilities = process
            .capabilities()
            .as_ref()
            .map(|c| capabilities(c, &mut warnings));
        Ok(ProcessSetup {
            cwd: process.cwd().clone(),
            uid: user.uid(),
            gid: user.gid(),
            umask: user.umask(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            rlimits,
            capabilities,
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            oom_score_adj: process.oom_score_adj(),
            seccomp: None,
            apparmor,
            warnings,
        })
    }

    /// What `process` asks for that cannot be granted, and is left out:
    /// capabilities this kernel does not have, ambient capabilities that
    /// are not also inheritable and permitted (the kernel refuses to raise
    /// those). The runtime specification says to warn, not fail (runc and
    /// crun both run `runc spec`'s bundle, which lists ambient capabilities
    /// and no inheritable ones, that way).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Load `filter` (compiled from `linux.seccomp`) before the program
    /// runs.
    pub fn seccomp(mut self, filter: Option<Filter>) -> ProcessSetup {
        self.seccomp = filter;
        self
    }
}

impl Stage for ProcessSetup {
    fn name(&self) -> &'static str {
        "the container's process"
    }

    // ANCHOR: before_exec
    fn before_exec(&mut self) -> Result<()> {
        enter_cwd(&self.cwd)?;
        if std::env::var_os("HOME").is_none() {
            // Programs expect $HOME; like runc, take it from the image's
            // /etc/passwd (the root is the container's by now), else "/".
            let home = home_of(self.uid).unwrap_or_else(|| "/".into());
            std::env::set_var("HOME", home);
        }
        if let Some(mask) = self.umask {
            umask(Mode::from_bits_truncate(mask));
        }
        if let Some(score) = self.oom_score_adj {
            std::fs::write("/proc/self/oom_score_adj", score.to_string())
                .map_err(|e| Error::Invalid(format!("process.oomScoreAdj {score}: {e}")))?;
        }
        for (resource, name, soft, hard) in &self.rlimits {
            setrlimit(*resource, *soft, *hard).map_err(|e| {
                Error::sys_hint(
                    format!("process.rlimits {name} {soft}/{hard}"),
                    e,
                    "raising a hard limit above the runtime's own needs privileges this host may refuse",
                )
            })?;
        }
        // 1. The bounding set caps what any later exec can ever gain: drop
        //    from it while still root.
        if let Some(caps) = &self.capabilities {
            for cap in caps::all().difference(&caps.bounding) {
                caps::drop(None, CapSet::Bounding, *cap).map_err(|e| cap_error("bounding", e))?;
            }
        }
        // 2. Groups, then the group, then the user: once not root, the
        //    process could change none of them. Keep the permitted
        //    capabilities across setuid, to set them below.
        let groups: Vec<Gid> = self.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        setgroups(&groups).map_err(|e| Error::sys("setgroups (process.user.additionalGids)", e))?;
        setgid(Gid::from_raw(self.gid)).map_err(|e| Error::sys("setgid (process.user.gid)", e))?;
        nix::sys::prctl::set_keepcaps(true).map_err(|e| Error::sys("PR_SET_KEEPCAPS", e))?;
        setuid(Uid::from_raw(self.uid)).map_err(|e| Error::sys("setuid (process.user.uid)", e))?;
        // 3. The other four sets, now that the identity is final. In this
        //    order: the kernel refuses a state where the effective set holds
        //    more than the permitted one, so effective shrinks first; and an
        //    ambient capability must already be inheritable and permitted.
        //    A filter still to be loaded without no_new_privs needs
        //    CAP_SYS_ADMIN to load: it stays until then (see `at_exec`).
        if let Some(caps) = &self.capabilities {
            let keep = self.admin_to_load_filter();
            caps::set(None, CapSet::Effective, &with(&caps.effective, keep))
                .map_err(|e| cap_error("effective", e))?;
            caps::set(None, CapSet::Permitted, &with(&caps.permitted, keep))
                .map_err(|e| cap_error("permitted", e))?;
            caps::set(None, CapSet::Inheritable, &caps.inheritable)
                .map_err(|e| cap_error("inheritable", e))?;
            caps::clear(None, CapSet::Ambient).map_err(|e| cap_error("ambient", e))?;
            for cap in &caps.ambient {
                caps::raise(None, CapSet::Ambient, *cap).map_err(|e| cap_error("ambient", e))?;
            }
        } else if self.admin_to_load_filter().is_some() && !Uid::current().is_root() {
            // setuid cleared the effective set; keepcaps kept the permitted.
            let _ = caps::raise(None, CapSet::Effective, Capability::CAP_SYS_ADMIN);
        }
        // 4. No new privileges: from here on, no setuid binary or file
        //    capability can give the process more than it has.
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| Error::sys("PR_SET_NO_NEW_PRIVS", e))?;
        }
        // 5. The AppArmor profile, for the exec: the kernel switches to it
        //    when the program starts, as with a setuid binary.
        if let Some(profile) = &self.apparmor {
            apparmor_exec(profile)?;
        }
        Ok(())
    }
    // ANCHOR_END: before_exec

    // ANCHOR: at_exec
    fn at_exec(&mut self) -> Result<()> {
        let Some(filter) = &self.seccomp else {
            return Ok(());
        };
        // The last thing before execve: the filter applies to the program,
        // and has to allow nothing the runtime does — not close_range, not
        // capset, not the write to the start FIFO.
        filter.load()?;
        // Except this one case. Without no_new_privs, loading a filter
        // takes CAP_SYS_ADMIN, kept until now: give it up (with capget and
        // capset, which the filter must then allow, as every profile
        // engines ship does; runc makes a dozen more calls through its
        // filter here).
        if let (Some(caps), Some(_)) = (&self.capabilities, self.admin_to_load_filter()) {
            caps::set(None, CapSet::Effective, &caps.effective)
                .map_err(|e| cap_error("effective (after loading the seccomp filter)", e))?;
            caps::set(None, CapSet::Permitted, &caps.permitted)
                .map_err(|e| cap_error("permitted (after loading the seccomp filter)", e))?;
        }
        Ok(())
    }
    // ANCHOR_END: at_exec
}

impl ProcessSetup {
    /// `Some(CAP_SYS_ADMIN)` when the seccomp filter must be loaded
    /// without no_new_privs and the final sets would not have it: the
    /// kernel allows that only with CAP_SYS_ADMIN, so it is kept until the
    /// filter is in.
    fn admin_to_load_filter(&self) -> Option<Capability> {
        let needed = self.seccomp.is_some() && !self.no_new_privileges;
        let has = self
            .capabilities
            .as_ref()
            .is_some_and(|c| c.effective.contains(&Capability::CAP_SYS_ADMIN));
        (needed && !has).then_some(Capability::CAP_SYS_ADMIN)
    }
}

/// `set`, plus `extra` if there is one.
fn with(set: &CapsHashSet, extra: Option<Capability>) -> CapsHashSet {
    let mut set = set.clone();
    set.extend(extra);
    set
}

// ANCHOR: cwd
/// Enter `process.cwd`, resolved inside the container's root with
/// `openat2(RESOLVE_IN_ROOT)` (see `inroot`), and no "magic" links: a
/// working directory of `/proc/self/fd/N` names whatever descriptor N
/// holds, which may be a directory of the host's (runc's CVE-2024-21626).
/// The root is `/` by now — the container's, after pivot_root or the
/// `setns` of an `exec`.
fn enter_cwd(cwd: &std::path::Path) -> Result<()> {
    let what = format!("entering process.cwd {}", cwd.display());
    let root = Root::open(std::path::Path::new("/"))?;
    let dir = root.resolve(cwd).map_err(|e| match e {
        nix::errno::Errno::ELOOP | nix::errno::Errno::EXDEV => Error::sys_hint(
            &what,
            e,
            "the working directory must be a directory inside the container, reached without /proc's magic links",
        ),
        _ => Error::sys(&what, e),
    })?;
    nix::unistd::fchdir(&dir).map_err(|e| Error::sys(&what, e))
}
// ANCHOR_END: cwd

/// Whether this kernel has AppArmor switched on.
fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
}

/// Ask AppArmor to confine the next program this process runs with
/// `profile` (what `aa-exec` does): `exec PROFILE` written to the
/// process's `attr/apparmor/exec` (`attr/exec` on older kernels).
fn apparmor_exec(profile: &str) -> Result<()> {
    let line = format!("exec {profile}");
    let newer = std::fs::write("/proc/thread-self/attr/apparmor/exec", &line);
    newer
        .or_else(|_| std::fs::write("/proc/thread-self/attr/exec", &line))
        .map_err(|e| Error::Invalid(format!("process.apparmorProfile {profile}: {e}")))
}

/// `process.env` as name/value pairs. An entry without `=` names nothing
/// and is skipped.
pub fn environment(process: &Process) -> Vec<(String, String)> {
    process
        .env()
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The home directory of `uid` in this root's `/etc/passwd`, if listed.
fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        // name:password:uid:gid:gecos:home:shell
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[2] == uid.to_string()).then(|| fields[5].to_string())
    })
}

/// The five sets, as the caps crate's types. A name this kernel does not
/// know is left out with a warning (runc does the same), and so is an
/// ambient capability that is not both inheritable and permitted: the
/// kernel would refuse to raise it.
fn capabilities(caps: &LinuxCapabilities, warnings: &mut Vec<String>) -> Capabilities {
    let supported = caps::runtime::thread_all_supported();
    let mut unknown = std::collections::BTreeSet::new();
    let mut set =
        |list: &Option<std::collections::HashSet<oci_spec::runtime::Capability>>| -> CapsHashSet {
            list.iter()
                .flatten()
                .filter_map(|c| {
                    let name = spec_name(c);
                    let known = Capability::from_str(&name)
                        .ok()
                        .filter(|c| supported.contains(c));
                    if known.is_none() {
                        unknown.insert(name);
                    }
                    known
                })
                .collect()
        };
    let mut sets = Capabilities {
        bounding: set(caps.bounding()),
        effective: set(caps.effective()),
        permitted: set(caps.permitted()),
        inheritable: set(caps.inheritable()),
        ambient: set(caps.ambient()),
    };
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        warnings.push(format!(
            "process.capabilities: this kernel does not have {}; left out",
            names.join(", ")
        ));
    }
    let grantable: CapsHashSet = sets
        .inheritable
        .intersection(&sets.permitted)
        .copied()
        .collect();
    let mut refused: Vec<String> = sets
        .ambient
        .difference(&grantable)
        .map(|c| c.to_string())
        .collect();
    if !refused.is_empty() {
        refused.sort();
        warnings.push(format!(
            "process.capabilities.ambient: {} cannot be raised (an ambient capability must also be inheritable and permitted); left out",
            refused.join(", ")
        ));
        sets.ambient = sets.ambient.intersection(&grantable).copied().collect();
    }
    sets
}

/// A value as config.json spells it ("CAP_KILL", "RLIMIT_NOFILE").
fn spec_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn cap_error(set: &str, error: caps::errors::CapsError) -> Error {
    Error::Invalid(format!("setting the {set} capability set: {error}"))
}

/// `RLIMIT_NOFILE` and friends, by name.
fn rlimit(name: &str) -> Result<Resource> {
    Ok(match name {
        "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        _ => return Err(Error::Invalid(format!("unknown rlimit {name}"))),
    })
}
