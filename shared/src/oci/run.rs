//! `run ID --bundle DIR`: create, start, wait, delete — all in one.

use std::path::Path;

use super::create::{create, Options};
use super::delete::delete;
use super::start::start;
use super::state::Store;
use crate::init;
use crate::Result;

// ANCHOR: run
/// Create container `id` from `bundle` and start it. With `detach`,
/// return then (0); otherwise stay in the foreground as its parent,
/// forwarding signals to it, and when it ends delete it and return its
/// exit status.
pub fn run(store: &Store, id: &str, bundle: &Path, options: &Options, detach: bool) -> Result<i32> {
    let signals = init::block_signals()?;
    let state = create(store, id, bundle, options)?;
    if let Err(error) = start(store, id) {
        let _ = delete(store, id, true);
        return Err(error);
    }
    if detach {
        signals.restore()?;
        return Ok(0);
    }
    let status = init::supervise(nix::unistd::Pid::from_raw(state.pid), &signals);
    signals.restore()?;
    delete(store, id, true)?;
    Ok(status?.code())
}
// ANCHOR_END: run
