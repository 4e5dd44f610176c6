//! The set-up sequence's round trips, checked on the real kernel: the
//! container's first process is dumpable exactly while the runtime acts on
//! it in a round trip that asks for it (rung 06's uid maps, written by an
//! unprivileged runtime into `/proc/PID/uid_map`, which belongs to root
//! while the child is not dumpable), and not dumpable before or after —
//! when a process of the container could reach it.

use berth::testing::{check_eq, test, Needs, Outcome};

fn main() {
    berth::testing::run(vec![
        test(
            "the_child_is_dumpable_only_for_a_round_trip_that_asks",
            Needs::Root,
            dumpable_window,
        ),
        test(
            "a_spawn_that_fails_cleans_up_every_stage",
            Needs::Nothing,
            spawn_cleanup,
        ),
        test(
            "an_unprivileged_user_maps_its_own_ids_with_setgroups_denied",
            Needs::Root,
            userns_single,
        ),
        test(
            "newuidmap_maps_a_users_subordinate_range",
            Needs::RootAnd("newuidmap"),
            userns_helpers,
        ),
        test("root_maps_any_range", Needs::Root, userns_root),
    ])
}

fn dumpable_window() -> Outcome {
    // nobody: any unprivileged user will do.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_setup-probe"))
        .args(["dumpable", "65534"])
        .output()
        .map_err(|e| e.to_string())?;
    check_eq(
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        ),
        (
            "during the round trip: uid_map owned by 65534\nafter it: uid_map owned by 0\n"
                .to_string(),
            String::new(),
            Some(0),
        ),
        "what the runtime saw",
    )
}

fn spawn_cleanup() -> Outcome {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_setup-probe"))
        .arg("spawn-cleanup")
        .output()
        .map_err(|e| e.to_string())?;
    check_eq(
        String::from_utf8_lossy(&out.stdout).into_owned(),
        "cleaned up\nspawn: refused on purpose\n".to_string(),
        "what spawn did when a stage failed",
    )
}

/// The probe's output for `args`, with its exit status.
fn probe(args: &[&str]) -> Result<(String, String, Option<i32>), String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_setup-probe"))
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    ))
}

fn userns_single() -> Outcome {
    // nobody, mapping its own uid: the container's root is 65534 outside.
    check_eq(
        probe(&["userns-single", "65534"])?,
        (
            "uid 0 gid 0; uid_map: 0 65534 1; gid_map: 0 65534 1; setgroups: deny\n".into(),
            String::new(),
            Some(0),
        ),
        "inside a user namespace of nobody's",
    )
}

fn userns_root() -> Outcome {
    check_eq(
        probe(&["userns-root"])?,
        (
            "uid 0 gid 0; uid_map: 0 100000 65536; gid_map: 0 100000 65536; setgroups: allow\n"
                .into(),
            String::new(),
            Some(0),
        ),
        "inside a user namespace root mapped",
    )
}

fn userns_helpers() -> Outcome {
    let user = TestUser::ensure()?;
    let (uid, gid) = (user.uid, user.gid);
    let (subuid, subgid) = (user.subuid, user.subgid);
    check_eq(
        probe(&["userns-helpers", TestUser::NAME])?,
        (
            format!(
                "uid 0 gid 0; uid_map: 0 {uid} 1 1 {subuid} 65536; \
                 gid_map: 0 {gid} 1 1 {subgid} 65536; setgroups: allow\n"
            ),
            String::new(),
            Some(0),
        ),
        "inside a user namespace mapped by newuidmap",
    )
}

/// A real unprivileged user with subordinate ID ranges, made for the test
/// if there is none; dropping it removes exactly what was made (the user,
/// the lines added to /etc/subuid and /etc/subgid, files that did not
/// exist).
struct TestUser {
    uid: u32,
    gid: u32,
    subuid: u32,
    subgid: u32,
    made_user: bool,
    added: Vec<(std::path::PathBuf, String, bool)>,
    /// Whether /etc/subuid and /etc/subgid existed before the test.
    files_before: Vec<bool>,
}

impl TestUser {
    const NAME: &'static str = "berth-rootless";

    fn ensure() -> Result<TestUser, String> {
        // useradd may create /etc/subuid and /etc/subgid: they go again
        // with the user if they were not there before.
        let files_before: Vec<bool> = ["/etc/subuid", "/etc/subgid"]
            .iter()
            .map(|f| std::path::Path::new(f).exists())
            .collect();
        let mut made_user = false;
        if nix::unistd::User::from_name(Self::NAME)
            .ok()
            .flatten()
            .is_none()
        {
            let status = std::process::Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    Self::NAME,
                ])
                .status()
                .map_err(|e| format!("useradd: {e}"))?;
            if !status.success() {
                return Err(format!("useradd {} failed", Self::NAME));
            }
            made_user = true;
        }
        let user = nix::unistd::User::from_name(Self::NAME)
            .ok()
            .flatten()
            .ok_or("the test user vanished")?;
        let mut this = TestUser {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            subuid: 0,
            subgid: 0,
            made_user,
            added: Vec::new(),
            files_before,
        };
        this.subuid = this.range_in("/etc/subuid")?;
        this.subgid = this.range_in("/etc/subgid")?;
        Ok(this)
    }

    /// The user's range in `file`, added (after every range already
    /// granted) if it has none of 65536.
    fn range_in(&mut self, file: &str) -> Result<u32, String> {
        let path = std::path::PathBuf::from(file);
        let existed = path.exists();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let ranges = berth::userns::subid::lookup(&text, Self::NAME, self.uid);
        if let Some(range) = ranges.iter().find(|r| r.count >= 65_536) {
            return Ok(range.start);
        }
        // After every range granted so far, and not below 100000.
        let end = berth::userns::subid::grants(&text)
            .iter()
            .map(|(_, r)| u64::from(r.start) + u64::from(r.count))
            .max()
            .unwrap_or(100_000)
            .max(100_000);
        let start = u32::try_from(end).map_err(|_| "no room for a subordinate range")?;
        let line = format!("{}:{start}:65536\n", Self::NAME);
        let mut all = text;
        if !all.is_empty() && !all.ends_with('\n') {
            all.push('\n');
        }
        all.push_str(&line);
        std::fs::write(&path, all).map_err(|e| format!("{file}: {e}"))?;
        self.added.push((path, line, existed));
        Ok(start)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        for (path, line, existed) in &self.added {
            if !existed {
                let _ = std::fs::remove_file(path);
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(path) {
                let _ = std::fs::write(path, text.replacen(line.as_str(), "", 1));
            }
        }
        if self.made_user {
            let _ = std::process::Command::new("userdel")
                .arg(Self::NAME)
                .status();
        }
        for (file, existed) in ["/etc/subuid", "/etc/subgid"]
            .iter()
            .zip(&self.files_before)
        {
            if !existed {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}
