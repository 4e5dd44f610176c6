//! `delete [--force] ID`: remove what is left of a container.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::hooks;
use super::state::{alive, signal, Status, Store};
use crate::cgroup::Cgroup;
use crate::{Error, Result};

// ANCHOR: delete
/// Delete container `id`: its cgroup and its state directory. A running
/// container must be stopped first, unless `force`; a created one (whose
/// program never ran) is killed, as runc does.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let locked = store.lock(id).and_then(|lock| Ok((lock, store.load(id)?)));
    let (_lock, stored) = match locked {
        // Forced, a container that is not there is deleted already — as
        // runc has it: an engine cleaning up after a failed `create` calls
        // `delete --force` on an ID that create left nothing of.
        Err(Error::NoSuchContainer(_)) if force => return Ok(()),
        other => other?,
    };
    let (pid, started) = (stored.state.pid, stored.start_time);
    match stored.state.status {
        Status::Stopped => {}
        Status::Running if !force => {
            return Err(Error::Invalid(format!(
                "container {id:?} is running: stop it first (kill), or delete --force"
            )))
        }
        _ => {
            let _ = signal(pid, started, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(pid, started) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    // What the stages left behind (helper processes, mounts): released
    // now that the container's process is gone. A failure is a warning:
    // the rest must still go.
    for leftover in &stored.leftovers {
        if let Err(error) = leftover.release() {
            crate::warning::warn(error.report());
        }
    }
    let poststop = stored.hooks.as_ref().and_then(|h| h.poststop().clone());
    let state = stored.hook_state("stopped");
    let parents: Vec<_> = stored
        .cgroup
        .iter()
        .filter_map(|d| d.parent().map(|p| p.to_path_buf()))
        .collect();
    Cgroup::adopt(stored.cgroup).remove()?;
    // The kit's default parent, /berth, goes with its last container
    // (rmdir refuses while another container's cgroup is in it). A parent
    // named by linux.cgroupsPath is the engine's, and stays.
    for parent in parents
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "berth"))
    {
        let _ = std::fs::remove_dir(parent);
    }
    std::fs::remove_dir_all(store.dir(id))
        .map_err(|e| Error::io("removing the state folder", store.dir(id), e))?;
    // Everything is released; a failing poststop hook only gets a warning.
    if let Err(error) = hooks::run("poststop", &poststop.unwrap_or_default(), &state) {
        crate::warning::warn(error.report());
    }
    Ok(())
}
// ANCHOR_END: delete
