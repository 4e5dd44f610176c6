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
