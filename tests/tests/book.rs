//! The book's terminal sessions, run for real and compared with the page.
//!
//! Every ```` ```console ```` block in a chapter is a transcript: `$ ` lines
//! are commands, the lines under them what the terminal shows (stdout and
//! stderr together), `? N` an exit status other than 0. trycmd runs each
//! command and fails the test if the output differs. In the book, `[..]`
//! stands for the part of a line that differs from run to run (a PID, a
//! namespace's inode number, the host's name) and `...` for whole lines
//! that do.
//!
//! The sessions type `just step NN …`, as a learner does, so the real `just`
//! runs the real recipe. They need root, like the rungs themselves; without
//! it they are reported as skipped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use berth::testing::{test, Needs, Outcome, Trial};

fn main() {
    // The micro-VM fetches its kernel the first time it runs, and says so;
    // do that now, so that the sessions show what every later run shows.
    let prepare =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vm/microvm/run"))
            .arg("--prepare")
            .status();
    if !prepare.is_ok_and(|s| s.success()) {
        eprintln!("warning: vm/microvm/run --prepare failed; chapter 2's guest sessions will fail");
    }
    let trials: Vec<Trial> = CHAPTERS
        .iter()
        .map(|&(name, file)| test(name, Needs::Root, move || chapter(file)))
        .collect();
    berth::testing::run(trials)
}

/// The chapters whose sessions are checked: every chapter that has some.
const CHAPTERS: &[(&str, &str)] = &[
    ("chapter_1_sessions", "ch01-namespaces.md"),
    ("chapter_2_sessions", "ch02-cgroups.md"),
    ("chapter_3_sessions", "ch03-overlay-rootfs.md"),
    ("chapter_4_sessions", "ch04-oci-spec.md"),
];

/// The programs sessions may start, looked up on `PATH`.
const HOST_PROGRAMS: &[&str] = &["just", "findmnt"];

/// Run every session of one chapter.
fn chapter(file: &str) -> Outcome {
    let cases = trycmd::TestCases::new();
    // The programs the sessions type: `just`, and host tools a learner
    // would use to look at the host.
    for program in HOST_PROGRAMS {
        let path =
            which(program).ok_or(format!("`{program}` is not on PATH: run scripts/setup"))?;
        cases.register_bin(*program, path);
    }
    let page = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../book/src")
        .join(file);
    // trycmd reports a mismatch by panicking, with a diff, when the cases
    // run (as `TestCases` is dropped).
    catch_unwind(AssertUnwindSafe(|| {
        cases.case(&page);
        drop(cases);
    }))
    .map_err(|_| format!("a session in {file} no longer matches the book (diff above)").into())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| path.is_file())
}
