//! The container's process: what `config.json`'s `process` says about
//! the one process that will run the program.

use std::path::PathBuf;

use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, setgid, setgroups, setuid, Gid, Uid};
use oci_spec::runtime::Process;

use crate::container::Stage;
use crate::{Error, Result};

/// Stage: the process's working directory, umask and identity, applied in
/// the process itself just before it runs the program.
pub struct ProcessSetup {
    cwd: PathBuf,
    uid: u32,
    gid: u32,
    umask: Option<u32>,
    groups: Vec<u32>,
}

impl ProcessSetup {
    /// The stage for `process`.
    pub fn new(process: &Process) -> ProcessSetup {
        let user = process.user();
        ProcessSetup {
            cwd: process.cwd().clone(),
            uid: user.uid(),
            gid: user.gid(),
            umask: user.umask(),
            groups: user.additional_gids().clone().unwrap_or_default(),
        }
    }
}

impl Stage for ProcessSetup {
    fn name(&self) -> &'static str {
        "the container's process"
    }

    // ANCHOR: before_exec
    fn before_exec(&mut self) -> Result<()> {
        chdir(&self.cwd).map_err(|e| Error::sys(format!("entering process.cwd {}", self.cwd.display()), e))?;
        if let Some(mask) = self.umask {
            umask(Mode::from_bits_truncate(mask));
        }
        // Groups first, then the group, then the user: once the user is
        // not root any more, the process may no longer change the others.
        let groups: Vec<Gid> = self.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        setgroups(&groups).map_err(|e| Error::sys("setgroups (process.user.additionalGids)", e))?;
        setgid(Gid::from_raw(self.gid)).map_err(|e| Error::sys("setgid (process.user.gid)", e))?;
        setuid(Uid::from_raw(self.uid)).map_err(|e| Error::sys("setuid (process.user.uid)", e))
    }
    // ANCHOR_END: before_exec
}
