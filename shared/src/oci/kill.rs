//! `kill ID [SIGNAL]`: send a signal to the container's process.

use std::str::FromStr;

use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;

use super::state::{Status, Store};
use crate::{Error, Result};

/// "TERM", "SIGTERM" or "15", as runc accepts them.
pub fn parse_signal(text: &str) -> Result<Signal> {
    let parsed = match text.parse::<i32>() {
        Ok(number) => Signal::try_from(number).ok(),
        Err(_) => {
            let upper = text.to_ascii_uppercase();
            let name = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            Signal::from_str(&name).ok()
        }
    };
    parsed.ok_or_else(|| Error::Invalid(format!("unknown signal {text:?}")))
}

// ANCHOR: kill
/// Send `signal` to container `id`'s process — or, with `all`, to every
/// process in its cgroup.
pub fn kill(store: &Store, id: &str, signal: Signal, all: bool) -> Result<()> {
    let stored = store.load(id)?;
    let not_running = || Error::Invalid(format!("container {id:?} is not running"));
    if stored.state.status == Status::Stopped {
        return Err(not_running());
    }
    // The rest of its cgroup, listed *before* its first process is
    // signalled: once that one dies, so does its PID namespace, and the
    // others' PIDs may be freed and reused.
    let others: Vec<i32> = if all {
        let listed = stored
            .cgroup
            .iter()
            .flat_map(|dir| crate::cgroup::procs(dir));
        listed.filter(|pid| *pid != stored.state.pid).collect()
    } else {
        Vec::new()
    };
    // The container's own process, only if it is still the one that
    // started then (see `state::signal`).
    if !super::state::signal(stored.state.pid, stored.start_time, signal)? {
        return Err(not_running());
    }
    for pid in others {
        match send(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(Error::sys(format!("signalling process {pid}"), e)),
        }
    }
    Ok(())
}
// ANCHOR_END: kill

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
