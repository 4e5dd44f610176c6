//! `linux.resources` beyond rung 02's limits: each field either reaches a
//! cgroup file ([`Tuning`], [`IoLimit`]) or is refused by name. The runtime
//! specification asks for an error when a configuration refers to a
//! controller that is not there; the kit's rule is the same for anything
//! it does not implement. Nothing is dropped on the floor.
//!
//! Engines write many of these fields with "nothing asked" values (a
//! weight of 0, `disableOOMKiller: false`, empty lists): those are not
//! requests, and are not refused.

use oci_spec::runtime::{LinuxResources, LinuxThrottleDevice};

use crate::cgroup::tuning::Tuning;
use crate::cgroup::IoLimit;
use crate::{Error, Result};

// ANCHOR: tuning
/// The controls of `r` that rung 02's limits do not have.
pub fn tuning(r: &LinuxResources) -> Result<Tuning> {
    refuse_unsupported(r)?;
    let mut tuning = Tuning::default();
    if let Some(cpu) = r.cpu() {
        tuning.cpus = cpu.cpus().clone().filter(|c| !c.is_empty());
        tuning.mems = cpu.mems().clone().filter(|m| !m.is_empty());
    }
    if let Some(memory) = r.memory() {
        tuning.memory_low = memory.reservation().filter(|b| *b > 0).map(|b| b as u64);
        tuning.swappiness = memory.swappiness().filter(|s| *s <= 100);
        tuning.no_oom_killer = memory.disable_oom_killer() == Some(true);
    }
    if let Some(io) = r.block_io() {
        tuning.io_weight = io.weight().filter(|w| *w > 0).map(u64::from);
        let mut iops: Vec<(u64, u64, Option<u64>, Option<u64>)> = Vec::new();
        for (list, read) in [
            (io.throttle_read_iops_device(), true),
            (io.throttle_write_iops_device(), false),
        ] {
            for d in list.iter().flatten() {
                let (major, minor) = device(d)?;
                let at = match iops.iter().position(|e| (e.0, e.1) == (major, minor)) {
                    Some(at) => at,
                    None => {
                        iops.push((major, minor, None, None));
                        iops.len() - 1
                    }
                };
                if read {
                    iops[at].2 = Some(d.rate());
                } else {
                    iops[at].3 = Some(d.rate());
                }
            }
        }
        tuning.iops = iops;
    }
    for limit in r.hugepage_limits().iter().flatten() {
        let bytes = u64::try_from(limit.limit()).map_err(|_| {
            Error::Invalid(format!(
                "linux.resources.hugepageLimits {}: a limit cannot be negative",
                limit.page_size()
            ))
        })?;
        tuning.hugepages.push((limit.page_size().clone(), bytes));
    }
    let mut unified: Vec<(String, String)> = r
        .unified()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    unified.sort();
    tuning.unified = unified;
    Ok(tuning)
}
// ANCHOR_END: tuning

/// `blockIO.throttleReadBpsDevice` and `throttleWriteBpsDevice`, as rung
/// 02's bandwidth limits.
pub fn bandwidth(r: &LinuxResources) -> Result<Vec<IoLimit>> {
    let mut limits: Vec<IoLimit> = Vec::new();
    let Some(io) = r.block_io() else {
        return Ok(limits);
    };
    for (list, read) in [
        (io.throttle_read_bps_device(), true),
        (io.throttle_write_bps_device(), false),
    ] {
        for d in list.iter().flatten() {
            let device = device(d)?;
            let at = match limits.iter().position(|l| l.device == device) {
                Some(at) => at,
                None => {
                    limits.push(IoLimit {
                        device,
                        read_bps: None,
                        write_bps: None,
                    });
                    limits.len() - 1
                }
            };
            if read {
                limits[at].read_bps = Some(d.rate());
            } else {
                limits[at].write_bps = Some(d.rate());
            }
        }
    }
    Ok(limits)
}

fn device(d: &LinuxThrottleDevice) -> Result<(u64, u64)> {
    match (u64::try_from(d.major()), u64::try_from(d.minor())) {
        (Ok(major), Ok(minor)) => Ok((major, minor)),
        _ => Err(Error::Invalid(format!(
            "linux.resources.blockIO: device {}:{} is not a device number",
            d.major(),
            d.minor()
        ))),
    }
}

// ANCHOR: refused
/// The fields the kit does not implement, when they ask for something.
fn refuse_unsupported(r: &LinuxResources) -> Result<()> {
    let mut asked: Vec<&str> = Vec::new();
    if let Some(cpu) = r.cpu() {
        let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
        if set(cpu.realtime_runtime()) || cpu.realtime_period().is_some_and(|p| p != 0) {
            asked.push("cpu.realtimeRuntime/realtimePeriod (real-time scheduling)");
        }
        if set(cpu.idle()) {
            asked.push("cpu.idle");
        }
        if cpu.burst().is_some_and(|b| b != 0) {
            asked.push("cpu.burst");
        }
    }
    if let Some(memory) = r.memory() {
        if memory.kernel().is_some_and(|k| k > 0) || memory.kernel_tcp().is_some_and(|k| k > 0) {
            asked.push("memory.kernel/kernelTCP (kernel memory limits, gone from Linux 6.x)");
        }
        if memory.swappiness().is_some_and(|s| s > 100) {
            asked.push("memory.swappiness above 100");
        }
        if memory.use_hierarchy() == Some(false) {
            asked.push("memory.useHierarchy false (Linux 6.x is always hierarchical)");
        }
        if memory.check_before_update() == Some(true) {
            asked.push("memory.checkBeforeUpdate");
        }
    }
    if let Some(io) = r.block_io() {
        if io.leaf_weight().is_some_and(|w| w > 0) {
            asked.push("blockIO.leafWeight (CFQ's, gone from the kernel)");
        }
        if io.weight_device().as_ref().is_some_and(|d| !d.is_empty()) {
            asked.push("blockIO.weightDevice");
        }
    }
    if let Some(network) = r.network() {
        let priorities = network.priorities().as_ref().is_some_and(|p| !p.is_empty());
        if network.class_id().is_some() || priorities {
            asked.push("network (net_cls and net_prio: cgroup v1 only, and no engine sets them)");
        }
    }
    if r.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        asked.push("rdma");
    }
    match asked.as_slice() {
        [] => Ok(()),
        fields => Err(Error::Invalid(format!(
            "linux.resources.{} is not supported by this runtime",
            fields.join(", linux.resources.")
        ))),
    }
}
// ANCHOR_END: refused
