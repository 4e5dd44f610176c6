//! cgroup v2: one tree, controllers enabled per subtree.
//!
//! Introduced by rung 02; chapter 2 explains it (`Documentation/admin-guide/
//! cgroup-v2.rst` in the kernel's sources).
//!
//! Two rules shape this file:
//!
//! - **Controllers are passed down explicitly.** A cgroup's children get a
//!   controller (and its files: `memory.max`, …) only if the cgroup lists it
//!   in its `cgroup.subtree_control`. So every ancestor of the container's
//!   cgroup, from the root down, must have `+memory +pids …` written there.
//! - **No internal processes.** A cgroup that passes controllers down may
//!   not have processes of its own (the root excepted). That is why the kit
//!   creates its cgroups under a parent of their own (`/berth`), which
//!   holds nothing but containers, instead of under the cgroup the rung
//!   itself runs in.

use std::path::Path;

use super::{keyed, mkdir, mkdir_new, number, read, write, Cgroup, Limits, Stats};
use crate::{Error, Result};

// ANCHOR: create
pub(super) fn create(cgroup: &mut Cgroup, root: &Path, relative: &Path) -> Result<()> {
    let wanted = super::wanted(&cgroup.limits);
    let available = read(&root.join("cgroup.controllers"))?;
    for controller in &wanted {
        if !available.split_whitespace().any(|c| c == *controller) {
            return Err(Error::Invalid(format!(
                "the {controller} controller is not available: {}/cgroup.controllers lists {:?}",
                root.display(),
                available.trim()
            )));
        }
    }

    // Pass the controllers down from the root to the new cgroup's parent,
    // creating the parents that do not exist yet.
    let enable: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
    let mut dir = root.to_path_buf();
    let parts: Vec<_> = relative.iter().collect();
    for (i, part) in parts.iter().enumerate() {
        write(&dir.join("cgroup.subtree_control"), &enable.join(" "))?;
        dir.push(part);
        if i + 1 < parts.len() {
            mkdir(&dir, &mut cgroup.parents)?;
        }
    }
    mkdir_new(&dir)?;
    cgroup.dirs.push((String::new(), dir.clone()));
    set_limits(&dir, &cgroup.limits)
}
// ANCHOR_END: create

// ANCHOR: limits
fn set_limits(dir: &Path, limits: &Limits) -> Result<()> {
    #[cfg(feature = "step-04")]
    if !limits.devices.is_empty() {
        super::devices::apply_v2(dir, &limits.devices)?;
    }
    if let Some(memory) = limits.memory {
        write(&dir.join("memory.max"), &memory.to_string())?;
        // No swap beyond the memory limit unless asked: otherwise a
        // memory hog would slowly swap instead of meeting its limit.
        let swap = limits.swap.unwrap_or(0);
        let swap_file = dir.join("memory.swap.max");
        if swap_file.exists() {
            write(&swap_file, &swap.to_string())?;
        } else if swap > 0 {
            return Err(Error::Invalid(
                "--memory-swap: this kernel does not account swap (no memory.swap.max)".into(),
            ));
        }
    }
    if let Some(pids) = limits.pids {
        write(&dir.join("pids.max"), &pids.to_string())?;
    }
    if let Some(cpu) = limits.cpu {
        write(
            &dir.join("cpu.max"),
            &format!("{} {}", cpu.quota_us, cpu.period_us),
        )?;
    }
    if let Some(weight) = limits.cpu_weight {
        write(&dir.join("cpu.weight"), &weight.to_string())?;
    }
    for io in &limits.io {
        let (major, minor) = io.device;
        let mut line = format!("{major}:{minor}");
        if let Some(bps) = io.read_bps {
            line += &format!(" rbps={bps}");
        }
        if let Some(bps) = io.write_bps {
            line += &format!(" wbps={bps}");
        }
        write(&dir.join("io.max"), &line)?;
    }
    // Rung 04: the rest of linux.resources.
    #[cfg(feature = "step-04")]
    limits.tuning.apply_v2(dir)?;
    Ok(())
}
// ANCHOR_END: limits

// ANCHOR: stats
pub(super) fn stats(dir: &Path) -> Stats {
    Stats {
        oom_kills: keyed(&dir.join("memory.events"), "oom_kill"),
        forks_refused: keyed(&dir.join("pids.events"), "max"),
        throttled_periods: keyed(&dir.join("cpu.stat"), "nr_throttled"),
        memory_peak: number(&dir.join("memory.peak")),
        pids_peak: number(&dir.join("pids.peak")),
    }
}
// ANCHOR_END: stats
