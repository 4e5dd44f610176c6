//! Probes of the set-up sequence, which drive the library directly (run by
//! `tests/setup.rs`).
//!
//! `setup-probe dumpable UID`: is the container's first process dumpable
//! while the runtime acts on it in a round trip asked with `ask_dumpable`,
//! and not dumpable again afterwards?
//!
//! Dumpability shows in who owns the files under `/proc/PID` (though not
//! the directory itself): the process's own user when it is dumpable,
//! root when it is not. So the probe drops to an
//! unprivileged user (given as its argument) before it starts a container
//! with no namespaces, and the runtime's half of each round trip reports
//! the owner of `/proc/PID/uid_map` — the file rung 06's runtime, or its
//! `newuidmap`, writes the child's uid map into.

use std::os::unix::fs::MetadataExt;

use berth::container::lifecycle::{Answer, Ask};
use berth::container::{Container, Stage};
use nix::unistd::{setresgid, setresuid, Gid, Pid, Uid};

/// Asks twice: once dumpable, once not, and prints what the runtime saw.
struct Probe;

impl Stage for Probe {
    fn name(&self) -> &'static str {
        "the dumpability probe"
    }

    fn in_child_first(&mut self, runtime: &Ask) -> berth::Result<()> {
        let during = runtime.ask_dumpable()?;
        let after = runtime.ask()?;
        println!(
            "during the round trip: {}\nafter it: {}",
            String::from_utf8_lossy(&during.data),
            String::from_utf8_lossy(&after.data)
        );
        Ok(())
    }

    fn answer(&mut self, child: Pid) -> berth::Result<Answer> {
        let owner = std::fs::metadata(format!("/proc/{child}/uid_map"))
            .map(|m| format!("uid_map owned by {}", m.uid()))
            .unwrap_or_else(|e| format!("uid_map: {e}"));
        Ok(Answer {
            data: owner.into_bytes(),
            fds: Vec::new(),
        })
    }
}

/// A stage whose outside half fails, and which says when it is cleaned
/// up: `spawn` (create, exec --detach) must clean up every stage when it
/// fails, as `run` does.
struct Refused;

impl Stage for Refused {
    fn name(&self) -> &'static str {
        "a stage that fails"
    }

    fn in_parent(&mut self, _child: Pid) -> berth::Result<()> {
        Err(berth::Error::Invalid("refused on purpose".into()))
    }

    fn cleanup(&mut self) {
        println!("cleaned up");
    }
}

fn main() -> std::process::ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "spawn-cleanup" {
        let spawned = Container::new(vec!["true".into()])
            .expect("a command")
            .stage(Refused)
            .spawn();
        println!(
            "spawn: {}",
            spawned.map_or_else(|e| e.report(), |s| s.pid.to_string())
        );
        return std::process::ExitCode::SUCCESS;
    }
    let id: u32 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .expect("usage: setup-probe dumpable UID | setup-probe spawn-cleanup");
    setresgid(Gid::from_raw(id), Gid::from_raw(id), Gid::from_raw(id)).expect("setresgid");
    setresuid(Uid::from_raw(id), Uid::from_raw(id), Uid::from_raw(id)).expect("setresuid");
    let container = Container::new(vec!["true".into()])
        .expect("a command")
        .init(false)
        .stage(Probe);
    berth::cli::exit_status(
        "setup-probe",
        container
            .run()
            .map(|status| status.code())
            .map_err(anyhow::Error::from),
    )
}
