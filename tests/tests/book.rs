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
use std::path::{Path, PathBuf};

use berth::testing::{test, Completion, Needs, Outcome, Trial};

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
    let mut trials: Vec<Trial> = CHAPTERS
        .iter()
        .map(|&(name, file)| test(name, Needs::Root, move || chapter(file)))
        .collect();
    trials.push(Trial::ignorable_test("chapter_5_sessions", || {
        if let Some(why) = Needs::Root.missing() {
            return Ok(Completion::ignored_with(why));
        }
        // Chapter 5's sessions pull from `just registry`, as a learner's
        // do: started here, on the port the page names, for the chapter's
        // duration.
        let registry = match LocalRegistry::start() {
            Ok(registry) => registry,
            Err(Unavailable(why)) => return Ok(Completion::ignored_with(why)),
        };
        let store_existed = Path::new(STEP_05_STORE).exists();
        let outcome = chapter("ch05-registry-pull.md");
        drop(registry);
        // The sessions end by removing every image they pulled; the store's
        // empty skeleton goes too unless it was there before.
        if !store_existed {
            let _ = std::fs::remove_dir_all(STEP_05_STORE);
        }
        outcome.map(|()| Completion::Completed)
    }));
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
const HOST_PROGRAMS: &[&str] = &["just", "findmnt", "sh"];

/// Rung 05's default store, which chapter 5's sessions use.
const STEP_05_STORE: &str = "/var/lib/step-05";

/// Why the local registry cannot run here.
struct Unavailable(String);

/// `just registry` (the kit's registry program, on 127.0.0.1:5000 and
/// its token login on 5001), stopped by its PID when dropped.
struct LocalRegistry(std::process::Child);

impl LocalRegistry {
    fn start() -> Result<LocalRegistry, Unavailable> {
        use std::io::BufRead;
        if let Some(why) = berth::registry::local::Registry::unavailable(false) {
            return Err(Unavailable(why));
        }
        for port in [5000, 5001] {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(Unavailable(format!(
                    "127.0.0.1:{port} is taken, and chapter 5's sessions name that port"
                )));
            }
        }
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "step-05", "--example", "registry"])
            .status();
        if !built.is_ok_and(|s| s.success()) {
            panic!("cargo build --example registry failed");
        }
        let program =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/examples/registry");
        let mut child = std::process::Command::new(program)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the registry example");
        let stdout = child.stdout.take().expect("piped");
        let ready = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with("ready"));
        let registry = LocalRegistry(child);
        assert!(ready, "the registry example ended before it was ready");
        Ok(registry)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        // SIGTERM, so that it stops docker-registry and removes its storage.
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

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
