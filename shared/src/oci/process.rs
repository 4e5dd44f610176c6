//! The container's process: what `config.json`'s `process` says about
//! the one process that will run the program — its directory, identity,
//! limits and privileges. All of it is applied in that process itself,
//! just before it runs the program, in an order that matters.

use std::path::PathBuf;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, setgid, setgroups, setuid, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, Process};

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
        if process.apparmor_profile().is_some() || process.selinux_label().is_some() {
            return Err(Error::Invalid(
                "process.apparmorProfile / selinuxLabel: this runtime supports neither".into(),
            ));
        }
        let user = process.user();
        let mut rlimits = Vec::new();
        for limit in process.rlimits().iter().flatten() {
            let name = spec_name(&limit.typ());
            let resource = rlimit(&name)?;
            rlimits.push((resource, name, limit.soft(), limit.hard()));
        }
        Ok(ProcessSetup {
            cwd: process.cwd().clone(),
            uid: user.uid(),
            gid: user.gid(),
            umask: user.umask(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            rlimits,
            capabilities: process
                .capabilities()
                .as_ref()
                .map(capabilities)
                .transpose()?,
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            oom_score_adj: process.oom_score_adj(),
            seccomp: None,
        })
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
        chdir(&self.cwd)
            .map_err(|e| Error::sys(format!("entering process.cwd {}", self.cwd.display()), e))?;
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
        // ANCHOR: seccomp_order
        // 0. Seccomp, without no_new_privs: loading a filter then needs
        //    CAP_SYS_ADMIN, which steps 1 to 3 may take away, so it goes
        //    first (runc's order). Every system call below must then pass
        //    it: capset, prctl, setgroups, setuid, and ours up to execve.
        if !self.no_new_privileges {
            if let Some(filter) = &self.seccomp {
                filter.load()?;
            }
        }
        // ANCHOR_END: seccomp_order
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
        //    more than the permitted one, so effective shrinks first.
        if let Some(caps) = &self.capabilities {
            caps::set(None, CapSet::Effective, &caps.effective)
                .map_err(|e| cap_error("effective", e))?;
            caps::set(None, CapSet::Permitted, &caps.permitted)
                .map_err(|e| cap_error("permitted", e))?;
            caps::set(None, CapSet::Inheritable, &caps.inheritable)
                .map_err(|e| cap_error("inheritable", e))?;
            caps::clear(None, CapSet::Ambient).map_err(|e| cap_error("ambient", e))?;
            for cap in &caps.ambient {
                caps::raise(None, CapSet::Ambient, *cap).map_err(|e| cap_error("ambient", e))?;
            }
        }
        // ANCHOR: seccomp_last
        // 4. No new privileges: from here on, no setuid binary or file
        //    capability can give the process more than it has.
        // 5. With no_new_privs, the filter needs no privilege to load: it
        //    comes last, so that as few of the runtime's own system calls
        //    as possible have to pass it.
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| Error::sys("PR_SET_NO_NEW_PRIVS", e))?;
            if let Some(filter) = &self.seccomp {
                filter.load()?;
            }
        }
        // ANCHOR_END: seccomp_last
        Ok(())
    }
    // ANCHOR_END: before_exec
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

fn capabilities(caps: &LinuxCapabilities) -> Result<Capabilities> {
    let set = |list: &Option<std::collections::HashSet<oci_spec::runtime::Capability>>| -> Result<CapsHashSet> {
        list.iter()
            .flatten()
            .map(|c| {
                let name = spec_name(c);
                Capability::from_str(&name).map_err(|_| Error::Invalid(format!("unknown capability {name}")))
            })
            .collect()
    };
    Ok(Capabilities {
        bounding: set(caps.bounding())?,
        effective: set(caps.effective())?,
        permitted: set(caps.permitted())?,
        inheritable: set(caps.inheritable())?,
        ambient: set(caps.ambient())?,
    })
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
