//! cgroup v1: one tree per controller.
//!
//! Introduced by rung 02; chapter 2 explains it (`Documentation/admin-guide/
//! cgroup-v1/` in the kernel's sources).
//!
//! In v1 every controller has a hierarchy of its own, mounted at
//! `/sys/fs/cgroup/CONTROLLER` (sometimes two share one, as in
//! `cpu,cpuacct`). A container therefore has one directory *per
//! controller*, and its first process is written into each one's
//! `cgroup.procs`. The limits have other names than in v2, and a few other
//! meanings: `memory.memsw.limit_in_bytes` limits memory *plus* swap where
//! v2's `memory.swap.max` limits swap alone, and `cpu.shares` (2–262144,
//! default 1024) is what v2 calls `cpu.weight` (1–10000, default 100).

use std::path::{Path, PathBuf};

use super::{keyed, mkdir, mkdir_new, number, write, Cgroup, Limits, Stats};
use crate::{Error, Result};

// ANCHOR: create
pub(super) fn create(
    cgroup: &mut Cgroup,
    mounts: &[(String, PathBuf)],
    relative: &Path,
) -> Result<()> {
    #[allow(unused_mut)] // (rung 04 adds to it)
    let mut controllers = super::wanted(&cgroup.limits);
    #[cfg(feature = "step-04")]
    if !cgroup.limits.devices.is_empty() {
        controllers.push("devices"); // v1 only: in v2 it is a BPF program
    }
    for controller in controllers {
        let Some((_, mount)) = mounts.iter().find(|(c, _)| c == controller) else {
            return Err(Error::Invalid(format!(
                "the {controller} controller is not mounted (cgroup v1: no /sys/fs/cgroup/{controller})"
            )));
        };
        let dir = mount.join(relative);
        if cgroup.dirs.iter().any(|(_, d)| *d == dir) {
            continue; // two controllers in one hierarchy (cpu,cpuacct)
        }
        let mut parent = mount.clone();
        for part in relative.parent().into_iter().flat_map(Path::iter) {
            parent.push(part);
            mkdir(&parent, &mut cgroup.parents)?;
            #[cfg(feature = "step-04")]
            super::tuning::inherit_cpuset(controller, &parent)?;
        }
        mkdir_new(&dir)?;
        #[cfg(feature = "step-04")]
        super::tuning::inherit_cpuset(controller, &dir)?;
        cgroup.dirs.push((controller.to_string(), dir));
    }
    set_limits(&cgroup.dirs, &cgroup.limits)
}
// ANCHOR_END: create

/// The directory of `controller`'s hierarchy.
fn dir_of<'a>(dirs: &'a [(String, PathBuf)], controller: &str) -> Option<&'a Path> {
    dirs.iter()
        .find(|(c, _)| c == controller)
        .map(|(_, d)| d.as_path())
}

/// v2's `cpu.weight` (1–10000) as v1's `cpu.shares` (2–262144): the
/// conversion runc and crun use, read backwards.
pub fn weight_to_shares(weight: u64) -> u64 {
    2 + (weight.clamp(1, 10_000) - 1) * 262_142 / 9_999
}

// ANCHOR: limits
fn set_limits(dirs: &[(String, PathBuf)], limits: &Limits) -> Result<()> {
    if let (Some(memory), Some(dir)) = (limits.memory, dir_of(dirs, "memory")) {
        write(&dir.join("memory.limit_in_bytes"), &memory.to_string())?;
        // memsw is memory + swap, and may not be below the memory limit:
        // so it is written second.
        let swap = limits.swap.unwrap_or(0);
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write(&memsw, &(memory + swap).to_string())?;
        } else if swap > 0 {
            return Err(Error::Invalid(
                "--memory-swap: swap accounting is off on this kernel (no memory.memsw.limit_in_bytes)".into(),
            ));
        }
    }
    #[cfg(feature = "step-04")]
    if let Some(dir) = dir_of(dirs, "devices") {
        super::devices::apply_v1(dir, &limits.devices)?;
    }
    if let (Some(pids), Some(dir)) = (limits.pids, dir_of(dirs, "pids")) {
        write(&dir.join("pids.max"), &pids.to_string())?;
    }
    if let Some(dir) = dir_of(dirs, "cpu") {
        if let Some(cpu) = limits.cpu {
            write(&dir.join("cpu.cfs_period_us"), &cpu.period_us.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &cpu.quota_us.to_string())?;
        }
        if let Some(weight) = limits.cpu_weight {
            write(
                &dir.join("cpu.shares"),
                &weight_to_shares(weight).to_string(),
            )?;
        }
    }
    if let Some(dir) = dir_of(dirs, "io") {
        for io in &limits.io {
            let (major, minor) = io.device;
            if let Some(bps) = io.read_bps {
                write(
                    &dir.join("blkio.throttle.read_bps_device"),
                    &format!("{major}:{minor} {bps}"),
                )?;
            }
            if let Some(bps) = io.write_bps {
                write(
                    &dir.join("blkio.throttle.write_bps_device"),
                    &format!("{major}:{minor} {bps}"),
                )?;
            }
        }
    }
    // Rung 04: the rest of linux.resources.
    #[cfg(feature = "step-04")]
    limits.tuning.apply_v1(dirs)?;
    Ok(())
}
// ANCHOR_END: limits

// ANCHOR: stats
pub(super) fn stats(dirs: &[(String, PathBuf)]) -> Stats {
    let file = |controller: &str, name: &str| dir_of(dirs, controller).map(|d| d.join(name));
    Stats {
        oom_kills: file("memory", "memory.oom_control").map_or(0, |f| keyed(&f, "oom_kill")),
        forks_refused: file("pids", "pids.events").map_or(0, |f| keyed(&f, "max")),
        throttled_periods: file("cpu", "cpu.stat").map_or(0, |f| keyed(&f, "nr_throttled")),
        memory_peak: file("memory", "memory.max_usage_in_bytes").and_then(|f| number(&f)),
        pids_peak: file("pids", "pids.peak").and_then(|f| number(&f)),
    }
}
// ANCHOR_END: stats

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_map_onto_shares() {
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        // The scales do not line up at their defaults: v2's 100 is not
        // v1's 1024 (weight 39 comes closest).
        assert_eq!(weight_to_shares(100), 2597);
        assert_eq!(weight_to_shares(39), 998);
    }
}
