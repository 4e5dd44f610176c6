//! `start ID`: let the program run.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::hooks;
use super::state::{Status, Store};
use crate::{Error, Result};

// ANCHOR: start
/// Release container `id`'s process: open its FIFO for reading, which
/// completes the open the process is blocked in, and read the byte it
/// writes to say so. Then it runs the program.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock(id)?;
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
        .map_err(|e| Error::io("opening", &fifo, e))?;
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
    fs::remove_file(&fifo).map_err(|e| Error::io("removing", &fifo, e))?;
    // The process keeps its end open until its exec closes it: the end
    // of the FIFO means the program runs. Anything written before that
    // is why it does not (a startContainer hook failed, the exec did).
    let why = read_to_end(&mut file)?;
    if !why.is_empty() {
        return Err(Error::Invalid(format!(
            "container {id:?} could not start: {why}"
        )));
    }
    stored.state.status = Status::Running;
    store.save(&stored)?;
    // The program runs (or is about to). A failing poststart hook cannot
    // undo that: the specification asks only for a warning.
    let poststart = stored.hooks.as_ref().and_then(|h| h.poststart().clone());
    if let Err(error) = hooks::run(
        "poststart",
        &poststart.unwrap_or_default(),
        &stored.hook_state("running"),
    ) {
        crate::warning::warn(error.report());
    }
    Ok(())
}
// ANCHOR_END: start

/// Read a non-blocking FIFO until every writer has closed it.
fn read_to_end(file: &mut fs::File) -> Result<String> {
    let mut text = Vec::new();
    loop {
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&*file),
            PollFlags::POLLIN,
        )];
        poll(&mut fds, PollTimeout::NONE)
            .map_err(|e| Error::sys("waiting for the container", e))?;
        let mut chunk = [0u8; 512];
        match file.read(&mut chunk) {
            Ok(0) => return Ok(String::from_utf8_lossy(&text).into_owned()),
            Ok(n) => text.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(Error::os("reading the start FIFO", e)),
        }
    }
}
