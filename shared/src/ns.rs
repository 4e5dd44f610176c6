//! Namespaces: what a process can see.
//!
//! Introduced by rung 01; chapter 1 explains it (`man 7 namespaces`).
//!
//! The kernel keeps one global view of each kind of resource — hostnames,
//! process IDs, mounts, network devices — *per namespace*. Every process
//! belongs to exactly one namespace of each type, and `/proc/PID/ns/` shows
//! which: two processes in the same namespace have links with the same inode
//! number. A "container" starts when its first process is put into fresh
//! namespaces, so that it sees its own hostname, its own PID 1, its own
//! (empty) network and its own mount table.
//!
//! Three system calls manage namespaces:
//!
//! - `clone(2)`/`clone3(2)` create a *child* in new namespaces
//!   (see [`clone`](crate::clone));
//! - `unshare(2)` moves the *caller* into new namespaces — except the PID
//!   and time namespaces, which only apply to the caller's future children,
//!   because a process's PID cannot change under its feet;
//! - `setns(2)` joins an existing namespace through a `/proc/PID/ns/` file.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::container::Stage;
use crate::{Error, Result};

// ANCHOR: namespace
/// The namespace types rung 01 creates. (The user namespace comes in
/// rung 06: it changes who is root, which deserves a chapter of its own.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Namespace {
    /// The mount table: what is mounted where.
    #[value(name = "mnt", alias = "mount")]
    Mount,
    /// The hostname and NIS domain name ("UNIX Time-Sharing").
    Uts,
    /// System V IPC objects and POSIX message queues.
    Ipc,
    /// Network devices, addresses, routes, ports, firewall rules.
    Net,
    /// Process IDs: the first process in a new one is PID 1.
    Pid,
    /// The root of the cgroup tree a process sees in `/proc/self/cgroup`.
    Cgroup,
    /// The offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME (Linux 5.6).
    Time,
    /// User and group IDs, and the capabilities that go with them (rung
    /// 06): the container's root is an unprivileged user outside. Not one
    /// of `--share`'s values: rungs 01 to 05 never make one to share.
    #[cfg(feature = "step-06")]
    #[value(skip)]
    User,
}
// ANCHOR_END: namespace

impl Namespace {
    /// Every type rung 01 knows, in the order `lsns` lists them.
    pub const ALL: [Namespace; 7] = [
        Namespace::Mount,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The name of the namespace's file in `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
            #[cfg(feature = "step-06")]
            Namespace::User => "user",
        }
    }

    /// The `CLONE_NEW*` flag that asks `clone3(2)` or `unshare(2)` for a new
    /// namespace of this type.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            // Newer than the flag list of some libc versions; the value is
            // fixed by the kernel's ABI (include/uapi/linux/sched.h).
            Namespace::Time => CloneFlags::from_bits_retain(0x0000_0080),
            #[cfg(feature = "step-06")]
            Namespace::User => CloneFlags::CLONE_NEWUSER,
        }
    }

    /// Whether the running kernel has this namespace type. A kernel without
    /// it has no `/proc/self/ns/NAME` file (time namespaces arrived in 5.6).
    pub fn is_supported(self) -> bool {
        PathBuf::from("/proc/self/ns")
            .join(self.proc_name())
            .exists()
    }

    /// The identity of `pid`'s namespace of this type: the inode number of
    /// its `/proc/PID/ns/` link (what `readlink` shows as `uts:[4026531838]`).
    /// `None` means this process.
    pub fn inode(self, pid: Option<Pid>) -> Result<u64> {
        let who = pid.map_or("self".to_string(), |p| p.to_string());
        let path = format!("/proc/{who}/ns/{}", self.proc_name());
        fs::metadata(&path)
            .map(|m| m.ino())
            .map_err(|e| Error::io("reading", &path, e))
    }
}

/// Which namespaces a container gets: every supported type, minus the ones
/// the user asked to share with the host.
pub fn to_create(shared: &[Namespace]) -> Vec<Namespace> {
    Namespace::ALL
        .into_iter()
        .filter(|ns| !shared.contains(ns) && ns.is_supported())
        .collect()
}

// ANCHOR: hostname
/// Stage: give the container its own hostname. It runs inside the new UTS
/// namespace, so the host's name is untouched.
pub struct Hostname(pub String);

impl Stage for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }

    fn in_child(&mut self) -> Result<()> {
        nix::unistd::sethostname(&self.0)
            .map_err(|e| Error::sys(format!("setting the hostname to {:?}", self.0), e))
    }
}
// ANCHOR_END: hostname

/// Stage: the NIS domain name, the UTS namespace's other name (rung 04's
/// `domainname`; `/proc/sys/kernel/domainname` shows it).
pub struct Domainname(pub String);

impl Stage for Domainname {
    fn name(&self) -> &'static str {
        "domainname"
    }

    fn in_child(&mut self) -> Result<()> {
        // SAFETY: the pointer and length describe `self.0`'s bytes.
        let done = unsafe { libc::setdomainname(self.0.as_ptr().cast(), self.0.len()) };
        if done < 0 {
            return Err(Error::sys(
                format!("setting the domain name to {:?}", self.0),
                nix::errno::Errno::last(),
            ));
        }
        Ok(())
    }
}

// ANCHOR: cgroupns
/// Stage: enter a new cgroup namespace.
///
/// Unlike the other namespaces, this one is not created by `clone3`: a
/// cgroup namespace's root is the cgroup its creator is in *at that moment*,
/// so the child creates it itself, after the runtime has said "go". Rung 02
/// uses that window to move the child into the container's own cgroup first,
/// so that inside, `/proc/self/cgroup` shows `/`.
pub struct CgroupNamespace;

impl Stage for CgroupNamespace {
    fn name(&self) -> &'static str {
        "cgroup namespace"
    }

    fn in_child(&mut self) -> Result<()> {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("creating a cgroup namespace", e))
    }
}
// ANCHOR_END: cgroupns

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_names_match_the_kernel() {
        // Every type this kernel has shows up under /proc/self/ns.
        for ns in Namespace::ALL {
            if ns.is_supported() {
                assert!(ns.inode(None).unwrap() > 0, "{ns:?}");
            }
        }
        assert!(
            Namespace::Uts.is_supported(),
            "every Linux since 2.6.19 has UTS"
        );
    }

    #[test]
    fn sharing_removes_exactly_that_type() {
        let all = to_create(&[]);
        let without_net = to_create(&[Namespace::Net]);
        assert!(all.contains(&Namespace::Net));
        assert!(!without_net.contains(&Namespace::Net));
        assert_eq!(all.len(), without_net.len() + 1);
    }

    #[test]
    fn clone_flags_are_distinct() {
        let mut seen = CloneFlags::empty();
        for ns in Namespace::ALL {
            assert!(!seen.intersects(ns.clone_flag()), "{ns:?}");
            seen |= ns.clone_flag();
        }
    }
}
