//! What PID 1 owes the processes under it.
//!
//! Introduced by rung 01; chapter 1 explains it.
//!
//! The first process in a PID namespace is its *init*, and the kernel treats
//! it specially:
//!
//! - **Orphans are re-parented to it.** When a process dies, its children
//!   become children of the namespace's PID 1, which must `wait` for them
//!   when they exit. A PID 1 that never waits fills the process table with
//!   zombies.
//! - **It is protected from signals.** Inside its namespace, PID 1 receives
//!   only the signals it has a handler for; `kill -TERM 1` is silently
//!   dropped if it has none. A shell or a web server started as PID 1 often
//!   has none, and so cannot be stopped politely.
//! - **Its death ends the namespace.** When PID 1 exits, the kernel kills
//!   every other process in the namespace with SIGKILL.
//!
//! So the rungs do not make the user's command PID 1. They start a small
//! init ([`supervise`]) that forks the command, passes on the signals meant
//! for it, reaps every zombie, and exits with the command's status — what
//! `docker run --init` (tini) does. The runtime's own process uses the same
//! loop to wait for the container from outside.
//!
//! The loop waits for signals with `sigwait(3)` instead of installing
//! handlers: the signals are *blocked*, so they queue up until the loop
//! asks for the next one. Nothing runs asynchronously, and nothing is lost
//! between "the child exited" and "we started waiting".

use nix::errno::Errno;
use nix::sys::signal::{kill, signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::{Error, Result};

// ANCHOR: forwarded
/// The signals an init passes on to its command rather than acting on
/// itself: the ones a terminal, a service manager or `kill` send to ask a
/// program to stop or to reload.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];
// ANCHOR_END: forwarded

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
}

impl ExitStatus {
    /// The status a shell reports in `$?`: the exit code, or 128 + the
    /// signal number for a process a signal killed (130 for SIGINT).
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal as i32,
        }
    }
}

/// The signals [`supervise`] waits for, blocked, with the mask to restore
/// before running anything else.
pub struct BlockedSignals {
    waited: SigSet,
    previous: SigSet,
}

// ANCHOR: block
/// Block the forwarded signals and SIGCHLD so they queue up for
/// [`supervise`]. Do this *before* creating the child: a child that exits
/// at once then still leaves its SIGCHLD waiting for us.
pub fn block_signals() -> Result<BlockedSignals> {
    let mut waited = SigSet::empty();
    for signal in FORWARDED {
        waited.add(signal);
    }
    waited.add(Signal::SIGCHLD);
    let mut previous = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited), Some(&mut previous))
        .map_err(|e| Error::sys("blocking signals", e))?;
    Ok(BlockedSignals { waited, previous })
}
// ANCHOR_END: block

impl BlockedSignals {
    /// Put the signal mask back as it was.
    pub fn restore(&self) -> Result<()> {
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.previous), None)
            .map_err(|e| Error::sys("restoring the signal mask", e))
    }

    // ANCHOR: reset
    /// Undo, just before `execve`, what this process did to signals that
    /// the user's command would otherwise inherit: the signal mask survives
    /// `execve`, and so does a signal that is *ignored*. The mask must be
    /// the original one, or the command would never see a SIGINT; and every
    /// Rust program ignores SIGPIPE from the start, so without a reset,
    /// `yes | head -1` in the container would never end.
    pub fn reset_for_exec(&self) -> Result<()> {
        // SAFETY: SIG_DFL installs no handler, so no code of ours can run
        // in signal context.
        unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }
            .map_err(|e| Error::sys("resetting SIGPIPE", e))?;
        self.restore()
    }
    // ANCHOR_END: reset
}

// ANCHOR: supervise
/// Wait for `child` to end: forward the [`FORWARDED`] signals to it, and
/// reap every other child that exits meanwhile (the orphans an init
/// inherits). Returns how `child` ended.
pub fn supervise(child: Pid, signals: &BlockedSignals) -> Result<ExitStatus> {
    loop {
        // Reap everything that has exited. Keep going until nothing is left
        // to reap: one SIGCHLD may stand for several children.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => {
                    return Ok(ExitStatus::Exited(code))
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                    return Ok(ExitStatus::Signaled(signal))
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => continue, // an orphan we inherited: reaped, forgotten
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(format!("waiting for process {child}"), e)),
            }
        }
        // Sleep until the next signal arrives.
        let signal = signals
            .waited
            .wait()
            .map_err(|e| Error::sys("waiting for signals", e))?;
        if signal != Signal::SIGCHLD {
            // The child may already be gone; then there is no one to tell.
            let _ = kill(child, signal);
        }
    }
}
// ANCHOR_END: supervise

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_exit_codes() {
        assert_eq!(ExitStatus::Exited(3).code(), 3);
        assert_eq!(ExitStatus::Signaled(Signal::SIGINT).code(), 130);
        assert_eq!(ExitStatus::Signaled(Signal::SIGKILL).code(), 137);
    }
}
