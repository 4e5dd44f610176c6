//! Cgroups: what a container may use.
//!
//! Introduced by rung 02; chapter 2 explains it (`man 7 cgroups`).
//!
//! Namespaces decide what a process can *see*; control groups decide what it
//! can *use*. A cgroup is a directory in a special filesystem. Its files are
//! the knobs and meters of *controllers* — `memory.max`, `pids.max`,
//! `cpu.max` — and writing a process ID into its `cgroup.procs` moves that
//! process (and every child it creates afterwards) under those limits.
//!
//! There are two versions, and a container runtime meets both:
//!
//! - **cgroup v2** ([`v2`]): one tree, mounted at `/sys/fs/cgroup`, in which
//!   every controller is enabled per subtree. What current distributions
//!   (and the kit's VM) use.
//! - **cgroup v1** ([`v1`]): one tree *per controller*, each mounted at
//!   `/sys/fs/cgroup/CONTROLLER`, with different file names. Older
//!   distributions, and "hybrid" hosts that mount v1 controllers beside an
//!   empty v2 tree, still have it.
//!
//! [`Hierarchy::detect`] tells which one the host has, and [`Cgroup`] hides
//! the difference behind one type: create it with [`Limits`], put the
//! container in it with the [`Join`] stage, read [`Stats`] when it is over,
//! and [`remove`](Cgroup::remove) it — which also happens when a `Cgroup` is
//! dropped, so no error path can leak one.

pub mod args;
#[cfg(feature = "step-04")]
pub mod devices;
#[cfg(feature = "step-04")]
pub mod tuning;
pub mod v1;
pub mod v2;

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::container::{Container, Stage};
use crate::{Error, Result};
use args::CgroupArgs;

// ANCHOR: limits
/// The limits a container runs under. `None` means "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory, in bytes, the container's processes may use together.
    pub memory: Option<u64>,
    /// Swap, in bytes, it may use beyond `memory`.
    pub swap: Option<u64>,
    /// How many processes (and threads) it may have at once.
    pub pids: Option<u64>,
    /// How much CPU time it may use per period.
    pub cpu: Option<CpuQuota>,
    /// Its share of the CPU when the CPU is contended, 1–10000 (v2's
    /// scale; 100 is the default).
    pub cpu_weight: Option<u64>,
    /// Bandwidth limits on block devices.
    pub io: Vec<IoLimit>,
    /// Which device nodes it may use (rung 04); empty: no rules of its own.
    #[cfg(feature = "step-04")]
    pub devices: Vec<devices::DeviceRule>,
    /// The rest of an OCI bundle's `linux.resources` (rung 04).
    #[cfg(feature = "step-04")]
    pub tuning: tuning::Tuning,
}

/// "`quota` microseconds of CPU time every `period` microseconds":
/// `--cpus 0.5` is 50 000 µs every 100 000 µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    /// CPU time allowed per period, in microseconds.
    pub quota_us: u64,
    /// The length of a period, in microseconds.
    pub period_us: u64,
}

/// A read and/or write bandwidth limit on one block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoLimit {
    /// The device's major and minor numbers (`ls -l /dev/vda`: `254, 0`).
    pub device: (u64, u64),
    /// Bytes per second it may read, if limited.
    pub read_bps: Option<u64>,
    /// Bytes per second it may write, if limited.
    pub write_bps: Option<u64>,
}
// ANCHOR_END: limits

impl CpuQuota {
    /// The period the kit uses, 100 ms: the kernel's default, and runc's.
    pub const PERIOD_US: u64 = 100_000;

    /// `cpus` CPUs' worth of time: `--cpus 1.5` may keep one and a half
    /// CPUs busy.
    pub fn from_cpus(cpus: f64) -> CpuQuota {
        CpuQuota {
            quota_us: (cpus * Self::PERIOD_US as f64).round() as u64,
            period_us: Self::PERIOD_US,
        }
    }
}

/// Which cgroup version the host uses, and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// One unified tree.
    V2 {
        /// Where it is mounted, normally `/sys/fs/cgroup`.
        root: PathBuf,
    },
    /// One tree per controller.
    V1 {
        /// Each controller the kit uses, with its mount point.
        mounts: Vec<(String, PathBuf)>,
    },
}

/// The controllers the kit uses (v1 only: `devices`, which v2 does with eBPF).
pub const CONTROLLERS: [&str; 7] = [
    "memory", "pids", "cpu", "io", "devices", "cpuset", "hugetlb",
];

impl Hierarchy {
    // ANCHOR: detect
    /// Find the host's cgroup hierarchy from the mount table. A host whose
    /// `/sys/fs/cgroup` is itself a `cgroup2` mount is pure v2; otherwise
    /// the controllers are mounted one by one as v1 (a "hybrid" host may
    /// also have an empty v2 tree at `/sys/fs/cgroup/unified`, which holds
    /// no controller and which the kit ignores).
    pub fn detect() -> Result<Hierarchy> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("reading", "/proc/self/mountinfo", e))?;
        Hierarchy::from_mountinfo(&mountinfo)
    }
    // ANCHOR_END: detect

    /// [`detect`](Hierarchy::detect), from the text of a mountinfo file.
    pub fn from_mountinfo(mountinfo: &str) -> Result<Hierarchy> {
        let mut v1 = Vec::new();
        for line in mountinfo.lines() {
            // "36 31 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory"
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split(' ').nth(4).unwrap_or_default();
            let mut right = right.split(' ');
            let fstype = right.next().unwrap_or_default();
            let options = right.nth(1).unwrap_or_default();
            match fstype {
                "cgroup2" if mount_point == "/sys/fs/cgroup" => {
                    return Ok(Hierarchy::V2 {
                        root: PathBuf::from(mount_point),
                    })
                }
                "cgroup" => {
                    for option in options.split(',') {
                        // v1 calls the io controller "blkio".
                        let name = if option == "blkio" { "io" } else { option };
                        if CONTROLLERS.contains(&name) {
                            v1.push((name.to_string(), PathBuf::from(mount_point)));
                        }
                    }
                }
                _ => {}
            }
        }
        if v1.is_empty() {
            return Err(Error::Invalid(
                "no cgroup controllers are mounted (no cgroup2 on /sys/fs/cgroup, no v1 memory, pids, cpu or blkio)".into(),
            ));
        }
        v1.sort();
        Ok(Hierarchy::V1 { mounts: v1 })
    }

    /// "v2" or "v1", for messages.
    pub fn version(&self) -> &'static str {
        match self {
            Hierarchy::V2 { .. } => "v2",
            Hierarchy::V1 { .. } => "v1",
        }
    }
}

/// The controllers a container with `limits` needs. Memory and pids
/// always: their counters say why a container died.
fn wanted(limits: &Limits) -> Vec<&'static str> {
    let mut wanted = vec!["memory", "pids"];
    if limits.cpu.is_some() || limits.cpu_weight.is_some() {
        wanted.push("cpu");
    }
    if !limits.io.is_empty() {
        wanted.push("io");
    }
    // Rung 04: the controllers the rest of linux.resources needs.
    #[cfg(feature = "step-04")]
    for controller in limits.tuning.controllers() {
        if !wanted.contains(&controller) {
            wanted.push(controller);
        }
    }
    wanted
}

/// A container's cgroup: one directory in v2, one per controller in v1.
/// Dropping it removes it (see [`remove`](Cgroup::remove)).
#[derive(Debug)]
pub struct Cgroup {
    version: &'static str,
    /// The directories, with the controller each one is for ("" in v2).
    dirs: Vec<(String, PathBuf)>,
    /// The parent cgroups between the hierarchy's root and this one,
    /// removed with it when nothing else is left in them.
    parents: Vec<PathBuf>,
    limits: Limits,
    removed: bool,
}

/// What the kernel counted while the container ran: the answers to "why did
/// it die?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Processes the OOM killer killed because the memory limit was hit.
    pub oom_kills: u64,
    /// `fork`s and `clone`s refused because the pids limit was hit.
    pub forks_refused: u64,
    /// Periods in which the CPU quota ran out and the container had to wait.
    pub throttled_periods: u64,
    /// The most memory the container used at once, in bytes, if the kernel
    /// keeps that figure.
    pub memory_peak: Option<u64>,
    /// The most processes it had at once, if the kernel keeps that figure
    /// (`pids.peak`, Linux 6.1).
    pub pids_peak: Option<u64>,
}

impl Cgroup {
    // ANCHOR: create
    /// Create the cgroup `PARENT/NAME` in `hierarchy`, with `limits`. On
    /// failure nothing is left behind, and the error names the file and the
    /// value the kernel refused.
    pub fn create(
        hierarchy: &Hierarchy,
        parent: &str,
        name: &str,
        limits: &Limits,
    ) -> Result<Cgroup> {
        let mut cgroup = Cgroup {
            version: hierarchy.version(),
            dirs: Vec::new(),
            parents: Vec::new(),
            limits: limits.clone(),
            removed: false,
        };
        let relative = Path::new(parent.trim_start_matches('/')).join(name);
        let result = match hierarchy {
            Hierarchy::V2 { root } => v2::create(&mut cgroup, root, &relative),
            Hierarchy::V1 { mounts } => v1::create(&mut cgroup, mounts, &relative),
        };
        // On error, `cgroup` is dropped here, which removes what was made.
        result.map(|()| cgroup)
    }
    // ANCHOR_END: create

    /// Hand the cgroup over to the container, which outlives this runtime
    /// (an OCI `create`): it is no longer removed when dropped. Returns its
    /// directories, for [`adopt`](Cgroup::adopt) by a later `delete`.
    pub fn keep(mut self) -> Vec<PathBuf> {
        self.removed = true; // nothing for Drop to do
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    /// The cgroup with these directories, made by an earlier run of the
    /// runtime, so that it can be [`remove`](Cgroup::remove)d.
    pub fn adopt(dirs: Vec<PathBuf>) -> Cgroup {
        Cgroup {
            version: if dirs.len() == 1 { "v2" } else { "v1" },
            dirs: dirs.into_iter().map(|d| (String::new(), d)).collect(),
            parents: Vec::new(),
            limits: Limits::default(),
            removed: false,
        }
    }

    /// The stage that moves the container's first process into this cgroup
    /// before it may go on.
    pub fn join(&self) -> Join {
        Join {
            procs: self
                .dirs
                .iter()
                .map(|(_, d)| d.join("cgroup.procs"))
                .collect(),
        }
    }

    /// The cgroup's directories (one in v2, one per controller in v1).
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|(_, d)| d.as_path())
    }

    /// "v2" or "v1".
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// The limits it was created with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Read what the kernel counted.
    pub fn stats(&self) -> Stats {
        match self.version {
            "v2" => v2::stats(&self.dirs[0].1),
            _ => v1::stats(&self.dirs),
        }
    }

    // ANCHOR: remove
    /// Kill whatever is still running in the cgroup, wait until it is
    /// empty, and remove its directories. A cgroup with a process in it
    /// cannot be removed (`rmdir` says EBUSY), and after a plain `kill` of
    /// the container's init some processes may linger — those that did not
    /// share its PID namespace, say — so the cgroup itself is the only
    /// reliable list of what to kill.
    pub fn remove(mut self) -> Result<()> {
        self.remove_now()
    }
    // ANCHOR_END: remove

    fn remove_now(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        for (_, dir) in self.dirs.iter().rev() {
            if dir.exists() {
                empty(dir)?;
                remove_dir(dir)?;
            }
        }
        for parent in self.parents.iter().rev() {
            // A parent that still holds another container's cgroup is busy,
            // and stays: rmdir removes only an empty cgroup.
            let _ = fs::remove_dir(parent);
        }
        Ok(())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(error) = self.remove_now() {
            crate::warning::warn(error.report());
        }
    }
}

/// Kill every process in the cgroup at `dir` and wait until it is empty:
/// with `cgroup.kill` where the kernel has it (v2, Linux 5.14), else one
/// process at a time, again until none is left.
fn empty(dir: &Path) -> Result<()> {
    let kill_file = dir.join("cgroup.kill");
    if kill_file.exists() {
        write(&kill_file, "1")?;
    }
    for _ in 0..500 {
        let pids = procs(dir);
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(Error::Invalid(format!(
        "{}: processes still running after 5 s of SIGKILL",
        dir.display()
    )))
}

/// `rmdir` a cgroup directory. It still holds files, but they are the
/// kernel's: `rmdir` is the only way to remove a cgroup.
fn remove_dir(dir: &Path) -> Result<()> {
    // Just-killed processes may need a moment to leave.
    for _ in 0..100 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(io_error(
                    &format!("removing the cgroup {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::Invalid(format!(
        "removing the cgroup {}: still busy",
        dir.display()
    )))
}

// ANCHOR: join
/// Stage: move the container's first process into its cgroup, from
/// outside, before it says go. Every process it starts later is born in
/// the cgroup, so nothing the container runs is ever unlimited, and when it
/// then creates its cgroup namespace (a rung-01 stage, inside), the
/// namespace's root is this cgroup: `/proc/self/cgroup` shows `/`.
pub struct Join {
    procs: Vec<PathBuf>,
}

impl Stage for Join {
    fn name(&self) -> &'static str {
        "joining the cgroup"
    }

    fn in_parent(&mut self, child: Pid) -> Result<()> {
        for procs in &self.procs {
            write(procs, &child.to_string())?;
        }
        Ok(())
    }
}
// ANCHOR_END: join

// ANCHOR: run
/// Run `container` in a new cgroup with the limits `args` asks for, named
/// for the rung and its PID, then remove the cgroup. Returns the exit
/// status, and what the cgroup's counters say about why the container
/// ended (all of them, with `--stats`).
pub fn run_in_cgroup(
    container: Container,
    args: &CgroupArgs,
    rung: &str,
) -> Result<(i32, Vec<String>)> {
    let hierarchy = Hierarchy::detect()?;
    sweep_stale(&hierarchy, &args.cgroup_parent);
    let name = format!("{rung}-{}", std::process::id());
    let cgroup = Cgroup::create(&hierarchy, &args.cgroup_parent, &name, &args.limits())?;

    // On any error from here on, dropping `cgroup` removes it.
    let status = container.stage(cgroup.join()).run()?;

    let stats = cgroup.stats();
    let mut notes = stats.explain(cgroup.limits());
    if args.stats {
        notes.extend(stats.lines(cgroup.version()));
    }
    cgroup.remove()?;
    Ok((status.code(), notes))
}
// ANCHOR_END: run

/// Remove the cgroups under `parent` that a runtime killed with SIGKILL
/// left behind: empty ones whose name ends in the PID of a process that no
/// longer exists. (A runtime that is SIGKILLed cannot clean up; its
/// container dies with it — PR_SET_PDEATHSIG — and the next run sweeps.)
pub fn sweep_stale(hierarchy: &Hierarchy, parent: &str) {
    let roots: Vec<PathBuf> = match hierarchy {
        Hierarchy::V2 { root } => vec![root.clone()],
        Hierarchy::V1 { mounts } => mounts.iter().map(|(_, m)| m.clone()).collect(),
    };
    for root in roots {
        let Ok(entries) = fs::read_dir(root.join(parent.trim_start_matches('/'))) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if procs(&entry.path()).is_empty() && !Path::new(&format!("/proc/{owner}")).exists() {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
}

/// Write `value` to a cgroup file, with an error that names both.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        Error::Sys {
            action: format!("writing {value:?} to {}", path.display()),
            errno,
            hint: hint_for(path, errno),
        }
    })
}

/// What to check when the kernel refuses a value.
fn hint_for(path: &Path, errno: Errno) -> Option<&'static str> {
    let file = path.file_name()?.to_str()?;
    match (file, errno) {
        ("cpu.max" | "cpu.cfs_quota_us", Errno::EINVAL) => {
            Some("the kernel wants at least 1 ms of CPU time per 100 ms period: --cpus 0.01 or more")
        }
        ("cgroup.subtree_control", Errno::EBUSY) => Some(
            "cgroup v2's \"no internal processes\" rule: controllers can only be enabled for the children of a cgroup that has no processes of its own",
        ),
        ("cgroup.subtree_control", Errno::ENOENT) => {
            Some("the controller is not available in the parent cgroup")
        }
        ("memory.limit_in_bytes" | "memory.max", Errno::EBUSY) => {
            Some("the limit is below what the cgroup already uses")
        }
        ("io.max" | "blkio.throttle.read_bps_device" | "blkio.throttle.write_bps_device", Errno::ENODEV) => {
            Some("no such block device: check its major:minor with ls -l /dev")
        }
        (_, Errno::EACCES | Errno::EPERM) => Some(
            "the cgroup tree belongs to root: run as root (`sudo just step NN`); chapter 6 shows delegation",
        ),
        _ => None,
    }
}

/// Read a cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| io_error(&format!("reading {}", path.display()), e))
}

/// The processes in the cgroup directory `dir` (its `cgroup.procs`, the
/// same file in v1 and v2), in the order the kernel lists them; none if
/// the directory is gone.
pub fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The number after `key` in a flat-keyed file such as `memory.events`
/// ("oom_kill 1"), or 0.
pub(crate) fn keyed(path: &Path, key: &str) -> u64 {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A single-number file such as `memory.peak`, if present.
pub(crate) fn number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Make a parent cgroup if it is missing, and remember it, so that it can
/// be removed with the last cgroup in it.
pub(crate) fn mkdir(path: &Path, parents: &mut Vec<PathBuf>) -> Result<()> {
    parents.push(path.to_path_buf());
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(
            &format!("creating the cgroup {}", path.display()),
            e,
        )),
    }
}

/// Make the container's own cgroup directory: it must not exist yet.
pub(crate) fn mkdir_new(path: &Path) -> Result<()> {
    fs::create_dir(path)
        .map_err(|e| io_error(&format!("creating the cgroup {}", path.display()), e))
}

/// [`Error::os`], with what to do about a permission error.
fn io_error(action: &str, e: std::io::Error) -> Error {
    match Error::os(action, e) {
        Error::Sys {
            action,
            errno: errno @ (Errno::EACCES | Errno::EPERM),
            ..
        } => Error::sys_hint(
            action,
            errno,
            "the cgroup tree belongs to root: run as root (`sudo just step NN`); chapter 6 shows delegation",
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_v2_host() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Hierarchy::from_mountinfo(mountinfo).unwrap(),
            Hierarchy::V2 {
                root: "/sys/fs/cgroup".into()
            }
        );
    }

    #[test]
    fn a_hybrid_host_is_v1() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let Hierarchy::V1 { mounts } = Hierarchy::from_mountinfo(mountinfo).unwrap() else {
            panic!("expected v1");
        };
        let names: Vec<&str> = mounts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["cpu", "io", "memory", "pids"]);
        assert_eq!(mounts[0].1, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
    }

    #[test]
    fn no_cgroups_at_all_is_an_error() {
        assert!(Hierarchy::from_mountinfo("22 27 0:21 / /proc rw - proc proc rw\n").is_err());
    }

    #[test]
    fn a_missing_controller_is_named_and_nothing_is_made() {
        // A v2 root whose cgroup.controllers lacks "cpu" (a plain directory
        // standing in for /sys/fs/cgroup: this checks our logic, not the
        // kernel's).
        let root = std::env::temp_dir().join(format!("berth-fake-cgroup-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("cgroup.controllers"), "memory pids\n").unwrap();
        let limits = Limits {
            cpu: Some(CpuQuota::from_cpus(0.5)),
            ..Limits::default()
        };
        let error = Cgroup::create(
            &Hierarchy::V2 { root: root.clone() },
            "/berth",
            "x",
            &limits,
        )
        .unwrap_err()
        .to_string();
        let left: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        fs::remove_dir_all(&root).unwrap();
        assert!(
            error.contains("the cpu controller is not available"),
            "{error}"
        );
        assert_eq!(left, ["cgroup.controllers"], "nothing else may be created");
    }

    #[test]
    fn cpus_become_a_quota() {
        assert_eq!(
            CpuQuota::from_cpus(0.5),
            CpuQuota {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(CpuQuota::from_cpus(2.0).quota_us, 200_000);
    }
}
