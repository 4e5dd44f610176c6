//! `clone3(2)`: fork, with a list of namespaces.
//!
//! Introduced by rung 01; chapter 1 explains it.
//!
//! `fork(2)` copies the calling process. `clone3(2)` is the system call
//! underneath it, and takes flags: with `CLONE_NEWPID | CLONE_NEWUTS | …` the
//! copy starts life inside new namespaces. That matters most for the PID
//! namespace: a process can never change its own PID, so the only way to get
//! a PID 1 is to *create* a process in a new PID namespace.
//!
//! With no stack given, `clone3` behaves like `fork`: it returns twice, once
//! in each process. That is why the child's code below simply carries on
//! from the call — no callback, no separate stack.
//!
//! The C library has no wrapper for `clone3`, so we call it by number with
//! the argument structure from `include/uapi/linux/sched.h`.

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

// ANCHOR: clone_args
/// `struct clone_args`, as the kernel defines it (version 2, Linux 5.7).
/// Every field is a 64-bit integer, pointers included, so the layout is the
/// same on every architecture.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    /// The signal the parent gets when the child exits: SIGCHLD, as for fork.
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    /// A cgroup2 directory to start the child in (`CLONE_INTO_CGROUP`).
    cgroup: u64,
}
// ANCHOR_END: clone_args

/// Which side of the fork we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The original process; `child` is the new one's PID as *we* see it.
    Parent {
        /// The child's PID in the parent's PID namespace.
        child: Pid,
    },
    /// The new process.
    Child,
}

// ANCHOR: clone3
/// Create a child process in the namespaces `flags` asks for.
///
/// # Safety
///
/// As for `fork(2)`: the child is a copy of a single thread, so call this
/// only while the process has one thread, and in the child use only what a
/// freshly forked process may (no locks another thread could have held).
/// The rungs call it from `main`, before any thread exists.
pub unsafe fn clone3(flags: CloneFlags) -> nix::Result<Forked> {
    // SAFETY: the caller's promise, passed on.
    unsafe { clone3_into(flags, None) }
}

/// [`clone3`], with the child born in the cgroup v2 directory `cgroup`
/// (`CLONE_INTO_CGROUP`, Linux 5.7): it never runs a single instruction
/// outside it, and nobody has to move it there afterwards — a write to
/// `cgroup.procs` that can cost milliseconds (rung 04's `just bench`).
///
/// # Safety
///
/// As for [`clone3`].
pub unsafe fn clone3_into(
    flags: CloneFlags,
    cgroup: Option<std::os::fd::BorrowedFd>,
) -> nix::Result<Forked> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags: flags.bits() as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = std::os::fd::AsRawFd::as_raw_fd(&fd) as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size we pass; with no
    // stack, the kernel duplicates ours, exactly as fork does.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            child: Pid::from_raw(pid as i32),
        }),
    }
}
// ANCHOR_END: clone3
