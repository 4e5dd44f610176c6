//! Probes of the set-up sequence, which drive the library directly (run by
//! `tests/setup.rs`).
//!
//! `setup-probe userns-single UID | userns-helpers USER | userns-root`: a
//! new user namespace, its maps written the three ways rung 06 teaches,
//! and what the process inside sees.
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
use berth::ns::Namespace;
use berth::userns::{IdMap, UserNamespace};
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

/// Prints what the container's process sees of its user namespace.
struct Report;

impl Stage for Report {
    fn name(&self) -> &'static str {
        "the report"
    }

    fn in_child(&mut self) -> berth::Result<()> {
        let read = |file: &str| {
            std::fs::read_to_string(format!("/proc/self/{file}"))
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|e| e.to_string())
        };
        println!(
            "uid {} gid {}; uid_map: {}; gid_map: {}; setgroups: {}",
            nix::unistd::getuid(),
            nix::unistd::getgid(),
            read("uid_map"),
            read("gid_map"),
            read("setgroups"),
        );
        Ok(())
    }
}

/// Run `true` in a new user namespace set up by `userns`, reporting.
fn in_user_namespace(userns: berth::Result<UserNamespace>) -> std::process::ExitCode {
    let run = userns.and_then(|userns| {
        Container::new(vec!["true".into()])?
            .namespaces(vec![Namespace::User])
            .init(false)
            .stage(userns)
            .stage(Report)
            .run()
    });
    berth::cli::exit_status(
        "setup-probe",
        run.map(|status| status.code()).map_err(anyhow::Error::from),
    )
}

/// Become `uid`/`gid` for good, as an unprivileged runtime would be.
fn become_user(uid: u32, gid: u32) {
    setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)).expect("setresgid");
    nix::unistd::setgroups(&[]).expect("setgroups");
    setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)).expect("setresuid");
}

fn main() -> std::process::ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let arg = std::env::args().nth(2).unwrap_or_default();
    match mode.as_str() {
        // An unprivileged user's own IDs, written by the runtime itself.
        "userns-single" => {
            let uid: u32 = arg.parse().expect("userns-single UID");
            become_user(uid, uid);
            return in_user_namespace(Ok(UserNamespace::single(uid, uid)));
        }
        // A user's subordinate range, written by newuidmap/newgidmap.
        "userns-helpers" => {
            let user = nix::unistd::User::from_name(&arg)
                .ok()
                .flatten()
                .expect("userns-helpers USER");
            become_user(user.uid.as_raw(), user.gid.as_raw());
            return in_user_namespace(UserNamespace::for_user(
                &arg,
                user.uid.as_raw(),
                user.gid.as_raw(),
            ));
        }
        // Root, mapping a range of its choice.
        "userns-root" => {
            let range = vec![IdMap {
                inside: 0,
                outside: 100_000,
                count: 65_536,
            }];
            return in_user_namespace(UserNamespace::written(range.clone(), range));
        }
        _ => {}
    }
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
