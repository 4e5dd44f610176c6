//! The stage that gives a new user namespace its maps.
//!
//! `clone3(CLONE_NEWUSER)` makes the namespace with no map at all: until
//! one is written, the child is `nobody` in it, and can do nothing that
//! needs an identity. Only a process *outside* may write the maps, once,
//! so this is a round trip (rung 04's): the child asks, the runtime writes
//! `/proc/CHILD/uid_map` and `gid_map`, the child goes on — and becomes
//! the namespace's root with `setresuid(0, 0, 0)`.
//!
//! Who may write which map is the kernel's business, and it is the lesson:
//!
//! - **Root** (`CAP_SETUID`/`CAP_SETGID` over the parent namespace) may map
//!   any range: `0 100000 65536` makes the container's root host uid
//!   100000 (Podman's `--uidmap`, `--userns=auto`).
//! - **An unprivileged user** may map exactly one ID, its own — and only
//!   after writing `deny` to `/proc/CHILD/setgroups`. Otherwise the
//!   container's root could drop a supplementary group the user holds, and
//!   walk through a file whose permissions say "everyone but that group"
//!   (a *negative* group permission: CVE-2014-8989). No helper, no setuid
//!   binary: what rootless tools fall back to.
//! - **For a whole range**, an unprivileged user asks the setuid helpers
//!   `newuidmap`/`newgidmap` (package `uidmap`), which check the ranges the
//!   administrator granted in `/etc/subuid` and `/etc/subgid`.
//!
//! The runtime writes the child's files as its own user, so the child must
//! own them: it is dumpable for exactly this round trip
//! ([`Ask::ask_dumpable`]).

use std::path::Path;
use std::process::Command;

use nix::unistd::{setresgid, setresuid, Gid, Pid, Uid};

use super::map::{self, IdMap};
use super::subid;
use crate::container::lifecycle::{Answer, Ask};
use crate::container::Stage;
use crate::{Error, Result};

/// Who writes the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The runtime itself (root, or an unprivileged user mapping only its
    /// own IDs, with `setgroups` denied first).
    Runtime {
        /// Write `deny` to `setgroups` before the gid map.
        deny_setgroups: bool,
    },
    /// `newuidmap` and `newgidmap`, for ranges from `/etc/subuid`.
    Helpers,
}

// ANCHOR: stage
/// Stage: a new user namespace's maps, written by the runtime in a round
/// trip, and the child made the namespace's root.
#[derive(Debug, Clone)]
pub struct UserNamespace {
    uids: Vec<IdMap>,
    gids: Vec<IdMap>,
    writer: Writer,
}
// ANCHOR_END: stage

impl UserNamespace {
    /// These maps, written by the runtime itself: any maps for root, only
    /// one's own IDs otherwise (see [`single`](Self::single)).
    pub fn written(uids: Vec<IdMap>, gids: Vec<IdMap>) -> Result<UserNamespace> {
        map::validate(&uids, "the uid map")?;
        map::validate(&gids, "the gid map")?;
        Ok(UserNamespace {
            uids,
            gids,
            writer: Writer::Runtime {
                deny_setgroups: false,
            },
        })
    }

    /// The mapping an unprivileged user can make with no helper: the
    /// container's root is `uid`/`gid` outside, and nothing else is
    /// mapped. `setgroups` is denied in the namespace.
    pub fn single(uid: u32, gid: u32) -> UserNamespace {
        let one = |outside| {
            vec![IdMap {
                inside: 0,
                outside,
                count: 1,
            }]
        };
        UserNamespace {
            uids: one(uid),
            gids: one(gid),
            writer: Writer::Runtime {
                deny_setgroups: true,
            },
        }
    }

    /// These maps, written by `newuidmap`/`newgidmap`.
    pub fn with_helpers(uids: Vec<IdMap>, gids: Vec<IdMap>) -> Result<UserNamespace> {
        map::validate(&uids, "the uid map")?;
        map::validate(&gids, "the gid map")?;
        Ok(UserNamespace {
            uids,
            gids,
            writer: Writer::Helpers,
        })
    }

    // ANCHOR: for_user
    /// Rootless Podman's default for user `name` (`uid`, `gid`): the
    /// container's root is the user, and inside IDs 1 to 65536 are the
    /// first 65536 of the user's subordinate range — enough for every
    /// owner an image's files have.
    pub fn for_user(name: &str, uid: u32, gid: u32) -> Result<UserNamespace> {
        let range = |file: &str, own: u32| -> Result<Vec<IdMap>> {
            let sub = subid::range_for(Path::new(file), name, uid, 65_536)?;
            Ok(vec![
                IdMap {
                    inside: 0,
                    outside: own,
                    count: 1,
                },
                IdMap {
                    inside: 1,
                    outside: sub.start,
                    count: 65_536,
                },
            ])
        };
        UserNamespace::with_helpers(range(subid::SUBUID, uid)?, range(subid::SUBGID, gid)?)
    }
    // ANCHOR_END: for_user

    /// The uid map.
    pub fn uids(&self) -> &[IdMap] {
        &self.uids
    }

    /// The gid map.
    pub fn gids(&self) -> &[IdMap] {
        &self.gids
    }
}

// ANCHOR: write
/// Write `child`'s maps, the way `writer` says.
fn write_maps(child: Pid, uids: &[IdMap], gids: &[IdMap], writer: Writer) -> Result<()> {
    let proc = format!("/proc/{child}");
    match writer {
        Writer::Runtime { deny_setgroups } => {
            let write = |file: &str, text: &str| {
                let path = format!("{proc}/{file}");
                std::fs::write(&path, text).map_err(|e| Error::io("writing", path, e))
            };
            // Before gid_map: the kernel refuses an unprivileged gid map
            // while setgroups is still allowed.
            if deny_setgroups {
                write("setgroups", "deny")?;
            }
            write("uid_map", &map::to_text(uids))?;
            write("gid_map", &map::to_text(gids))
        }
        Writer::Helpers => {
            helper("newuidmap", child, uids, subid::SUBUID)?;
            helper("newgidmap", child, gids, subid::SUBGID)
        }
    }
}

/// Run `newuidmap PID INSIDE OUTSIDE COUNT…` (or `newgidmap`).
fn helper(program: &str, child: Pid, maps: &[IdMap], file: &str) -> Result<()> {
    let mut command = Command::new(program);
    command.arg(child.to_string());
    for m in maps {
        command.args([m.inside, m.outside, m.count].map(|n| n.to_string()));
    }
    let out = command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Invalid(format!(
            "{program} is missing: install the uidmap package (scripts/setup does)"
        )),
        _ => Error::io("running", program, e),
    })?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{program} refused the map {:?}: {} — check {file}",
            map::to_text(maps).trim_end().replace('\n', ", "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
// ANCHOR_END: write

impl Stage for UserNamespace {
    fn name(&self) -> &'static str {
        "the user namespace"
    }

    // ANCHOR: in_child_first
    fn in_child_first(&mut self, runtime: &Ask) -> Result<()> {
        // Dumpable while the runtime writes our maps: the files are ours.
        runtime.ask_dumpable()?;
        // The maps give uid 0 a meaning now: become it. (The capabilities
        // the new namespace gave us stay: we become its root.)
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(|e| Error::sys("becoming gid 0 in the user namespace", e))?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(|e| Error::sys("becoming uid 0 in the user namespace", e))?;
        // Drop the host's supplementary groups, unless setgroups was
        // denied in this namespace (then the kernel keeps them, unmapped).
        let denied = matches!(
            self.writer,
            Writer::Runtime {
                deny_setgroups: true
            }
        );
        if !denied {
            nix::unistd::setgroups(&[])
                .map_err(|e| Error::sys("dropping supplementary groups", e))?;
        }
        Ok(())
    }
    // ANCHOR_END: in_child_first

    fn answer(&mut self, child: Pid) -> Result<Answer> {
        write_maps(child, &self.uids, &self.gids, self.writer)?;
        Ok(Answer::default())
    }
}
