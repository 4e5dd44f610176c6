//! Helpers for the rungs' tests (the `testing` feature; tests only).
//!
//! The rungs' tests run the real binaries against the real kernel, so some
//! of them cannot run everywhere: creating namespaces needs root, a time
//! namespace needs Linux 5.6. Such a test must not pass silently where it
//! did not run. The test files therefore use a small harness (libtest-mimic,
//! with `harness = false`) that lets a test decide *at run time* that it is
//! skipped, and why; `cargo test` then counts it as ignored and prints the
//! reason next to its name.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use libtest_mimic::{Completion, Failed, Trial};

/// What a test returns: `Ok(())` when it passed, or a failure message.
pub type Outcome = Result<(), Failed>;

/// What a test needs from the host before it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: it runs anywhere.
    Nothing,
    /// Root (CAP_SYS_ADMIN): creating namespaces, mounting.
    Root,
    /// A program on `PATH` (a peer the test runs against).
    Program(&'static str),
    /// Root, and a program on `PATH`.
    RootAnd(&'static str),
}

impl Needs {
    /// Why a test with this need cannot run here, or `None` if it can.
    pub fn missing(self) -> Option<String> {
        match self {
            Needs::Nothing => None,
            Needs::Root if nix::unistd::geteuid().is_root() => None,
            Needs::Root => Some("needs root, to create namespaces: run the tests as root".into()),
            Needs::Program(program) if on_path(program) => None,
            Needs::Program(program) => Some(format!(
                "needs {program}, which is not installed (scripts/setup installs it)"
            )),
            Needs::RootAnd(program) => Needs::Root.missing().or(Needs::Program(program).missing()),
        }
    }
}

pub use crate::cli::on_path;

/// A test that runs only where `needs` is met, and reports itself as
/// skipped, with the reason, everywhere else.
pub fn test(name: &str, needs: Needs, body: impl FnOnce() -> Outcome + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || match needs.missing() {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => body().map(|()| Completion::Completed),
    })
}

/// Run the trials like `cargo test` would, and exit with its verdict.
pub fn run(trials: Vec<Trial>) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials).exit()
}

/// Fail the test with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(message().into())
    }
}

/// Fail the test unless `actual == expected`, showing both.
pub fn check_eq<T: PartialEq + std::fmt::Debug>(actual: T, expected: T, what: &str) -> Outcome {
    check(actual == expected, || {
        format!("{what}: expected {expected:?}, got {actual:?}")
    })
}

/// A rung's binary, as the tests run it.
#[derive(Debug, Clone)]
pub struct Rung {
    path: PathBuf,
}

/// What a finished run of a rung printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
    /// The exit code; a rung never dies of a signal on its own, so `None`
    /// (killed by a signal) is always worth a failure.
    pub code: Option<i32>,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code(),
        }
    }

    /// Fail unless the run exited 0; show what it printed.
    pub fn success(&self) -> Outcome {
        self.exited(0)
    }

    /// Fail unless the run exited with `code`; show what it printed.
    pub fn exited(&self, code: i32) -> Outcome {
        check(self.code == Some(code), || {
            format!(
                "expected exit status {code}, got {:?}\n--- stdout\n{}--- stderr\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// The standard output's lines, trimmed.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().map(str::trim).collect()
    }
}

impl Rung {
    /// The binary at `path` (in a rung's tests: `env!("CARGO_BIN_EXE_step-NN")`).
    pub fn new(path: impl AsRef<Path>) -> Rung {
        Rung {
            path: path.as_ref().to_path_buf(),
        }
    }

    /// The binary's name, `step-NN`: what `ps` shows for the container's
    /// init, and how the rung's error messages start.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The hostname the rung gives a container by default, `rung-NN`.
    pub fn default_hostname(&self) -> String {
        self.name().replace("step-", "rung-")
    }

    /// A `Command` for the rung with `args`, ready to adjust.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.path);
        command.args(args).stdin(Stdio::null());
        command
    }

    /// Run the rung with `args` to the end, capturing its output.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.path.display()));
        Run::from(output)
    }

    /// Run `sh -c SCRIPT` in a container with the rung's default flags
    /// plus `flags`.
    pub fn sh(&self, flags: &[&str], script: &str) -> Run {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["--", "sh", "-c", script]);
        self.run(args)
    }
}

/// Read from a child's stdout until `marker` shows up, or fail after
/// `timeout`. For tests that must act while a container is running.
pub fn wait_for_output(
    child: &mut Child,
    marker: &str,
    timeout: Duration,
) -> Result<String, Failed> {
    let stdout = child
        .stdout
        .as_mut()
        .ok_or("the child's stdout is not piped")?;
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while Instant::now() < deadline {
        match stdout.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                seen.push(byte[0]);
                if String::from_utf8_lossy(&seen).contains(marker) {
                    return Ok(String::from_utf8_lossy(&seen).into_owned());
                }
            }
            Err(e) => return Err(format!("reading the child's output: {e}").into()),
        }
    }
    Err(format!(
        "{marker:?} did not appear; output so far: {:?}",
        String::from_utf8_lossy(&seen)
    )
    .into())
}

/// Wait for `child` to exit, killing it (and failing) after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<Output, Failed> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {timeout:?}; killed").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut output = Output {
        status: child.wait().map_err(|e| e.to_string())?,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_end(&mut output.stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_end(&mut output.stderr);
    }
    Ok(output)
}

/// The inode of this test process's namespace `name` (as in
/// `/proc/self/ns/NAME`), to compare with what a container reports.
pub fn host_namespace(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/ns/{name}"))
        .map(|m| m.ino())
        .unwrap_or_else(|e| panic!("/proc/self/ns/{name}: {e}"))
}

/// The process IDs of `pid`'s children, from `/proc/PID/task/PID/children`.
pub fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether a process with this PID exists (and is not a zombie) on the host.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
