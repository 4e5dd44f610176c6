//! The finer controls of an OCI bundle's `linux.resources`, beyond rung
//! 02's limits: which CPUs and memory nodes, how much memory is kept for
//! the container under pressure, how eagerly it swaps, whether the OOM
//! killer may act, its share of block I/O and its I/O operations per
//! second, hugepages, and v2's files by name (`unified`).
//!
//! Introduced by rung 04; chapter 4 explains it. The runtime specification
//! says a runtime MUST fail when the configuration asks for a controller
//! that is not there: each control is written where this host's cgroup
//! version has it, and refused, naming the field, where it has not.

use std::path::{Path, PathBuf};

use super::{read, write};
use crate::{Error, Result};

/// The controls, as `linux.resources` states them. Empty: nothing asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    /// `cpu.cpus`: the CPUs it may run on ("0-3", "0,2").
    pub cpus: Option<String>,
    /// `cpu.mems`: the memory nodes it may allocate from.
    pub mems: Option<String>,
    /// `memory.reservation`, bytes: kept for it when memory is short (v2
    /// `memory.low`, v1's soft limit).
    pub memory_low: Option<u64>,
    /// `memory.swappiness`, 0–100 (v1 only: v2 has none per cgroup).
    pub swappiness: Option<u64>,
    /// `memory.disableOOMKiller`: at the limit, wait rather than be killed
    /// (v1 only).
    pub no_oom_killer: bool,
    /// `blockIO.weight`, 10–1000: its share of the disks when they are
    /// contended.
    pub io_weight: Option<u64>,
    /// `blockIO.throttle*IopsDevice`: (major, minor, reads, writes) per
    /// second.
    pub iops: Vec<(u64, u64, Option<u64>, Option<u64>)>,
    /// `hugepageLimits`: (page size as "2MB", bytes).
    pub hugepages: Vec<(String, u64)>,
    /// `unified`: v2 files and the values to write in them, as given.
    pub unified: Vec<(String, String)>,
}

impl Tuning {
    /// The controllers these controls need, beyond rung 02's.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut wanted = Vec::new();
        if self.cpus.is_some() || self.mems.is_some() {
            wanted.push("cpuset");
        }
        if self.io_weight.is_some() || !self.iops.is_empty() {
            wanted.push("io");
        }
        if !self.hugepages.is_empty() {
            wanted.push("hugetlb");
        }
        wanted
    }

    // ANCHOR: v2
    /// Write the controls into the v2 cgroup `dir`.
    pub fn apply_v2(&self, dir: &Path) -> Result<()> {
        if self.swappiness.is_some() {
            return Err(unsupported("memory.swappiness", "v2"));
        }
        if self.no_oom_killer {
            return Err(unsupported("memory.disableOOMKiller", "v2"));
        }
        self.cpuset(dir)?;
        if let Some(low) = self.memory_low {
            write(&dir.join("memory.low"), &low.to_string())?;
        }
        if let Some(weight) = self.io_weight {
            // BFQ's file takes the OCI scale itself; io.weight is 1–10000.
            let bfq = dir.join("io.bfq.weight");
            if bfq.exists() {
                write(&bfq, &weight.to_string())?;
            } else {
                let scaled = 1 + (weight.clamp(10, 1000) - 10) * 9999 / 990;
                write(
                    &existing(dir, "io.weight", "blockIO.weight")?,
                    &scaled.to_string(),
                )?;
            }
        }
        for (major, minor, reads, writes) in &self.iops {
            let mut line = format!("{major}:{minor}");
            if let Some(n) = reads {
                line += &format!(" riops={n}");
            }
            if let Some(n) = writes {
                line += &format!(" wiops={n}");
            }
            write(&dir.join("io.max"), &line)?;
        }
        for (size, bytes) in &self.hugepages {
            let file = existing(dir, &format!("hugetlb.{size}.max"), "hugepageLimits")?;
            write(&file, &bytes.to_string())?;
        }
        for (name, value) in &self.unified {
            // Only a file of this cgroup's own: no path out of it.
            if name.contains('/') || !dir.join(name).is_file() {
                return Err(Error::Invalid(format!(
                    "linux.resources.unified: {name:?} is not a file of the container's cgroup"
                )));
            }
            write(&dir.join(name), value)?;
        }
        Ok(())
    }
    // ANCHOR_END: v2

    // ANCHOR: v1
    /// Write the controls into the v1 cgroup's directories, one per
    /// controller.
    pub fn apply_v1(&self, dirs: &[(String, PathBuf)]) -> Result<()> {
        if !self.unified.is_empty() {
            return Err(unsupported("unified", "v1"));
        }
        let dir = |controller: &str| {
            dirs.iter()
                .find(|(c, _)| c == controller)
                .map(|(_, d)| d.as_path())
        };
        if let Some(cpuset) = dir("cpuset") {
            self.cpuset(cpuset)?;
        }
        if let Some(memory) = dir("memory") {
            if let Some(low) = self.memory_low {
                write(&memory.join("memory.soft_limit_in_bytes"), &low.to_string())?;
            }
            if let Some(swappiness) = self.swappiness {
                write(&memory.join("memory.swappiness"), &swappiness.to_string())?;
            }
            if self.no_oom_killer {
                write(&memory.join("memory.oom_control"), "1")?;
            }
        }
        if let Some(blkio) = dir("io") {
            if let Some(weight) = self.io_weight {
                let file = existing(blkio, "blkio.weight", "blockIO.weight")
                    .or_else(|_| existing(blkio, "blkio.bfq.weight", "blockIO.weight"))?;
                write(&file, &weight.to_string())?;
            }
            for (major, minor, reads, writes) in &self.iops {
                for (n, name) in [(reads, "read"), (writes, "write")] {
                    if let Some(n) = n {
                        let file = blkio.join(format!("blkio.throttle.{name}_iops_device"));
                        write(&file, &format!("{major}:{minor} {n}"))?;
                    }
                }
            }
        }
        if let Some(hugetlb) = dir("hugetlb") {
            for (size, bytes) in &self.hugepages {
                let name = format!("hugetlb.{size}.limit_in_bytes");
                write(
                    &existing(hugetlb, &name, "hugepageLimits")?,
                    &bytes.to_string(),
                )?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: v1

    /// `cpuset.cpus` and `cpuset.mems`, in either version.
    fn cpuset(&self, dir: &Path) -> Result<()> {
        if let Some(cpus) = &self.cpus {
            write(&dir.join("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = &self.mems {
            write(&dir.join("cpuset.mems"), mems)?;
        }
        Ok(())
    }
}

/// v1's cpuset controller starts a new cgroup with no CPUs and no memory
/// nodes, and no process can join it like that: give `dir`, if it is in
/// `controller`'s hierarchy and that is cpuset's, its parent's, as
/// `cgroup.clone_children` would.
pub fn inherit_cpuset(controller: &str, dir: &Path) -> Result<()> {
    if controller != "cpuset" {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(dir);
    for name in ["cpuset.cpus", "cpuset.mems"] {
        if read(&dir.join(name))?.trim().is_empty() {
            write(&dir.join(name), read(&parent.join(name))?.trim())?;
        }
    }
    Ok(())
}

/// `dir/name`, if this kernel has it; otherwise an error naming the field.
fn existing(dir: &Path, name: &str, field: &str) -> Result<PathBuf> {
    let file = dir.join(name);
    if file.exists() {
        Ok(file)
    } else {
        Err(Error::Invalid(format!(
            "linux.resources.{field}: this host has no {name} (is the controller or the I/O scheduler there?)"
        )))
    }
}

fn unsupported(field: &str, version: &str) -> Error {
    Error::Invalid(format!(
        "linux.resources.{field}: cgroup {version} has no such control"
    ))
}
