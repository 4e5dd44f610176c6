//! How the kernel treats the container's process: its execution domain
//! (`linux.personality`), its CPU scheduling (`process.scheduler`) and its
//! I/O priority (`process.ioPriority`).
//!
//! Three small system calls, each setting an attribute that `execve` keeps
//! and children inherit, so the runtime sets them on the container's
//! process just before it runs the program:
//!
//! - `personality(2)`: `LINUX32` makes `uname -m` say `i686` on a 64-bit
//!   kernel, for 32-bit build environments.
//! - `sched_setattr(2)`: the scheduling policy (normal, batch, idle,
//!   real-time FIFO or round-robin, deadline) and its parameters.
//! - `ioprio_set(2)`: the class (real-time, best-effort, idle) and level
//!   the block layer's scheduler gives the process's I/O.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

use crate::container::Stage;
use crate::{Error, Result};

/// Stage: personality, scheduler and I/O priority, set in the process that
/// is about to run the program.
#[derive(Debug, Default)]
pub struct Scheduling {
    personality: Option<libc::c_ulong>,
    scheduler: Option<SchedAttr>,
    io_priority: Option<libc::c_int>,
}

/// `struct sched_attr` (include/uapi/linux/sched/types.h), up to the
/// deadline fields.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

impl Scheduling {
    /// Check and convert the three settings; an error names the field.
    pub fn new(
        personality: Option<&LinuxPersonality>,
        scheduler: Option<&Scheduler>,
        io_priority: Option<&LinuxIOPriority>,
    ) -> Result<Scheduling> {
        let mut out = Scheduling::default();
        if let Some(p) = personality {
            if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(Error::Invalid(
                    "linux.personality.flags: no flags are supported (runc supports none either)"
                        .into(),
                ));
            }
            out.personality = Some(match p.domain() {
                LinuxPersonalityDomain::PerLinux => 0x0000,   // PER_LINUX
                LinuxPersonalityDomain::PerLinux32 => 0x0008, // PER_LINUX32
            });
        }
        if let Some(s) = scheduler {
            out.scheduler = Some(sched_attr(s)?);
        }
        if let Some(io) = io_priority {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            if !(0..=7).contains(&io.priority()) {
                return Err(Error::Invalid(format!(
                    "process.ioPriority.priority {}: must be 0 (highest) to 7",
                    io.priority()
                )));
            }
            // IOPRIO_PRIO_VALUE(class, level): the class in the top bits.
            out.io_priority = Some((class << 13) | io.priority() as libc::c_int);
        }
        Ok(out)
    }
}

fn sched_attr(s: &Scheduler) -> Result<SchedAttr> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => 6, // SCHED_DEADLINE
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::Invalid(
                "process.scheduler.policy SCHED_ISO: Linux has no such policy".into(),
            ))
        }
    };
    let mut flags = 0u64;
    for flag in s.flags().iter().flatten() {
        flags |= match flag {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy as u32,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    })
}

impl Stage for Scheduling {
    fn name(&self) -> &'static str {
        "the scheduling attributes"
    }

    // ANCHOR: before_exec
    fn before_exec(&mut self) -> Result<()> {
        if let Some(persona) = self.personality {
            // SAFETY: personality takes a number and returns one.
            if unsafe { libc::personality(persona) } < 0 {
                return Err(Error::sys("linux.personality", nix::errno::Errno::last()));
            }
        }
        if let Some(attr) = &self.scheduler {
            // SAFETY: `attr` is a sched_attr whose size field says how
            // much of it the kernel may read; pid 0 is this process.
            let done =
                unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
            if done < 0 {
                return Err(Error::sys(
                    "process.scheduler (sched_setattr)",
                    nix::errno::Errno::last(),
                ));
            }
        }
        if let Some(priority) = self.io_priority {
            // SAFETY: ioprio_set takes three integers. IOPRIO_WHO_PROCESS
            // is 1; who 0 is this process.
            let done = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, priority) };
            if done < 0 {
                return Err(Error::sys(
                    "process.ioPriority (ioprio_set)",
                    nix::errno::Errno::last(),
                ));
            }
        }
        Ok(())
    }
    // ANCHOR_END: before_exec
}
