//! `start ID`: let the program run.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::state::{Status, Store};
use crate::{Error, Result};

// ANCHOR: start
/// Release container `id`'s process: open its FIFO for reading, which
/// completes the open the process is blocked in, and read the byte it
/// writes to say so. Then it runs the program.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock()?;
    let mut stored = store.load(id)?;
    if stored.state.status != Status::Created {
        return Err(Error::Invalid(format!(
            "container {id:?} is {:?}, not created: only a created container can be started",
            stored.state.status
        )));
    }
    let fifo = store.fifo(id);
    // Non-blocking, so that a process that died cannot hang us: we wait
    // for its byte with a time limit instead.
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| Error::Invalid(format!("opening {}: {e}", fifo.display())))?;
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&file),
        PollFlags::POLLIN,
    )];
    let ready = poll(&mut fds, PollTimeout::from(10_000u16))
        .map_err(|e| Error::sys("waiting for the container", e))?;
    let mut byte = [0u8; 1];
    if ready == 0 || file.read(&mut byte).unwrap_or(0) != 1 {
        return Err(Error::Invalid(format!(
            "container {id:?} did not answer start (is its process alive?)"
        )));
    }
    fs::remove_file(&fifo)
        .map_err(|e| Error::Invalid(format!("removing {}: {e}", fifo.display())))?;
    stored.state.status = Status::Running;
    store.save(&stored)
}
// ANCHOR_END: start
