//! `process.terminal` and `--console-socket`: giving the container a
//! terminal of its own.
//!
//! An interactive program (a shell, an editor) wants a terminal: line
//! editing, `^C` turned into SIGINT, a window size. A terminal is a pair of
//! devices: the **master**, which the terminal emulator (or `docker
//! attach`) holds, and the **slave** (`/dev/pts/N`), which the program
//! uses as its standard streams. The pair comes from `/dev/ptmx`.
//!
//! Two questions shape the code. *Whose* `/dev/ptmx`? The container's: its
//! `/dev/pts` is a fresh devpts instance (`newinstance`), so the slave must
//! be made there, after the root has changed, or it would not exist inside.
//! And *who* gets the master? Not the runtime, which exits after `create`:
//! the engine that called it. The engine passes the path of a Unix socket
//! (`--console-socket`); the container's process connects to it — or
//! rather the runtime connects before the root changes, since the path is
//! the host's — and sends the master as a file descriptor over it
//! (`SCM_RIGHTS`), the one way a descriptor can travel between processes.
//!
//! ```text
//!   engine                 runtime (create)          container process
//!   listen(socket) ◀────── connect(socket)
//!                                                    open /dev/ptmx → master, slave
//!   recvmsg ◀─────────────────────────────────────── sendmsg(SCM_RIGHTS: master)
//!   holds the master                                 slave → stdin, stdout, stderr,
//!                                                    /dev/console, controlling tty
//! ```

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use crate::container::Stage;
use crate::{Error, Result};

/// Stage: a new pseudo-terminal for the container's process, its master
/// sent over the console socket.
pub struct Console {
    socket: UnixStream,
}

impl Console {
    /// Connect to the engine's console socket at `path` (now, while the
    /// path still names the host's file).
    pub fn connect(path: &Path) -> Result<Console> {
        let socket = UnixStream::connect(path)
            .map_err(|e| Error::io("connecting to the console socket", path, e))?;
        Ok(Console { socket })
    }
}

impl Stage for Console {
    fn name(&self) -> &'static str {
        "the terminal"
    }

    // ANCHOR: console
    fn in_child(&mut self) -> Result<()> {
        // The container's /dev/ptmx (a link to its own pts/ptmx).
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .map_err(|e| Error::sys("opening /dev/ptmx", e))?;
        grantpt(&master).map_err(|e| Error::sys("grantpt", e))?;
        unlockpt(&master).map_err(|e| Error::sys("unlockpt", e))?;
        let name = ptsname_r(&master).map_err(|e| Error::sys("ptsname", e))?;
        // The master goes to the engine, with the slave's name as the
        // message (what runc sends, and what engines print).
        let fds = [master.as_raw_fd()];
        sendmsg::<()>(
            self.socket.as_raw_fd(),
            &[IoSlice::new(name.as_bytes())],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| Error::sys("sending the terminal over the console socket", e))?;
        drop(master);
        let slave: OwnedFd = nix::fcntl::open(
            name.as_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("opening {name}"), e))?;
        // Programs that write to the console should reach this terminal.
        std::fs::write("/dev/console", b"").map_err(|e| Error::os("creating /dev/console", e))?;
        mount(
            Some(name.as_str()),
            "/dev/console",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("binding {name} to /dev/console"), e))?;
        // A new session, with the terminal as its controlling terminal: so
        // ^C at the engine's end becomes SIGINT for the program.
        nix::unistd::setsid().map_err(|e| Error::sys("setsid", e))?;
        // SAFETY: TIOCSCTTY takes an integer argument, no pointer.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return Err(Error::sys("TIOCSCTTY", nix::errno::Errno::last()));
        }
        for target in 0..3 {
            // SAFETY: dup2 takes two descriptors; 0, 1 and 2 are replaced.
            if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
                return Err(Error::sys(
                    "dup2 of the terminal",
                    nix::errno::Errno::last(),
                ));
            }
        }
        Ok(())
    }
    // ANCHOR_END: console
}
