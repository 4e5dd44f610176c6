//! containerd 1.6, driven with `ctr run --runc-binary`: the path Docker
//! takes under the hood, and the one Kubernetes takes through the runc
//! shim. A containerd of its own (root, state and socket under a
//! temporary directory, the CRI plugin off), and the busybox image as a
//! root filesystem it does not manage (`--rootfs`).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth::rootfs::busybox;

use super::{expect, expect_all, remove_state, said, same, start_daemon, state_dir, Runtime, Said};

pub struct Containerd {
    dir: PathBuf,
    rootfs: PathBuf,
    daemon: Mutex<Child>,
}

impl Containerd {
    pub fn start() -> Result<Containerd, String> {
        let dir = state_dir("containerd");
        let socket = dir.join("containerd.sock");
        fs::write(
            dir.join("config.toml"),
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n",
                dir.display(),
                socket.display()
            ),
        )
        .unwrap();
        let rootfs = dir.join("rootfs");
        if let Err(e) = copy_image(&rootfs) {
            remove_state(&dir);
            return Err(e);
        }
        let daemon = start_daemon(
            Command::new("containerd")
                .arg("--config")
                .arg(dir.join("config.toml")),
            &dir,
            &socket,
        )?;
        Ok(Containerd {
            dir,
            rootfs,
            daemon: Mutex::new(daemon),
        })
    }

    fn ctr(&self, args: &[&str]) -> Said {
        said(
            Command::new("ctr")
                .arg("--address")
                .arg(self.dir.join("containerd.sock"))
                .args(args),
        )
    }

    pub fn stop(&self) {
        super::stop_daemon(&mut self.daemon.lock().unwrap());
        remove_state(&self.dir);
    }
}

/// A copy of the busybox test image at `rootfs`, for `--rootfs`.
fn copy_image(rootfs: &std::path::Path) -> Result<(), String> {
    let image = busybox::image().map_err(|e| e.to_string())?;
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&image)
        .arg(rootfs)
        .status();
    match copied {
        Ok(status) if status.success() => Ok(()),
        other => Err(format!("copying the busybox image: {other:?}")),
    }
}

/// A container ID no other scenario uses.
fn id() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "berth-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `ctr run --rm --runc-binary RUNTIME FLAGS --rootfs ROOTFS ID COMMAND`.
fn run(c: &Containerd, runtime: Runtime, flags: &[&str], command: &[&str]) -> Said {
    let binary = runtime.path();
    let rootfs = c.rootfs.display().to_string();
    let id = id();
    let mut args = vec![
        "run",
        "--rm",
        "--runc-binary",
        &binary,
        "--env",
        "PATH=/bin",
    ];
    args.extend(flags);
    args.extend(["--rootfs", &rootfs, &id]);
    args.extend(command);
    c.ctr(&args)
}

fn both(flags: &[&str], command: &[&str]) -> Result<Said, String> {
    let c = crate::containerd()?;
    same(
        &format!("ctr run {flags:?} {command:?}"),
        run(c, Runtime::Runc, flags, command),
        run(c, Runtime::Ours, flags, command),
    )
}

fn echo() -> Result<(), String> {
    let s = both(&[], &["echo", "hello"])?;
    expect(
        &s,
        s.out == "hello\n" && s.code == Some(0),
        "echo prints hello",
    )
}

fn exit_code() -> Result<(), String> {
    let s = both(&[], &["sh", "-c", "exit 3"])?;
    expect(&s, s.code == Some(3), "the program's exit status is ctr's")
}

fn env_and_cwd() -> Result<(), String> {
    let s = both(
        &["--env", "GREETING=hello there", "--cwd", "/etc"],
        &["sh", "-c", "echo \"$GREETING\"; pwd"],
    )?;
    expect(
        &s,
        s.out == "hello there\n/etc\n",
        "the variable and the working directory",
    )
}

fn capabilities() -> Result<(), String> {
    let s = both(
        &["--cap-drop", "CAP_NET_RAW", "--cap-add", "CAP_SYS_TIME"],
        &["grep", "CapEff", "/proc/self/status"],
    )?;
    // containerd's default set (0xa80425fb) without CAP_NET_RAW (bit 13),
    // with CAP_SYS_TIME (bit 25).
    expect(
        &s,
        s.out == "CapEff:\t00000000aa0405fb\n",
        "the default set, changed",
    )
}

fn seccomp() -> Result<(), String> {
    let s = both(&["--seccomp"], &["grep", "Seccomp:", "/proc/self/status"])?;
    expect(&s, s.out == "Seccomp:\t2\n", "containerd's default profile")
}

/// The arguments of `ctr run -d` for container `id` on `rootfs`, run by the
/// shim with the runtime `binary`.
fn run_detached<'a>(
    binary: &'a str,
    rootfs: &'a str,
    id: &'a str,
    command: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["run", "-d", "--runc-binary", binary, "--env", "PATH=/bin"];
    args.extend(["--rootfs", rootfs, id]);
    args.extend(command);
    args
}

/// `ctr run -d`, `task exec`, `task kill --signal`, then the task stops by
/// the trap and is deleted.
fn life(c: &Containerd, runtime: Runtime) -> Result<String, String> {
    let binary = runtime.path();
    let rootfs = c.rootfs.display().to_string();
    let id = id();
    let script = "trap 'exit 7' USR1; while :; do sleep 0.1; done";
    let mut transcript = String::new();
    let mut step = |args: &[&str]| {
        let s = c.ctr(args);
        // ctr's own log lines carry a time and the task's ID.
        let out: String = s
            .out
            .lines()
            .filter(|l| !l.starts_with("time="))
            .map(|l| format!("{l}\n"))
            .collect();
        transcript += &format!("$ {} → {:?}\n{out}", args[..2].join(" "), s.code);
        s
    };
    step(&run_detached(&binary, &rootfs, &id, &["sh", "-c", script]));
    std::thread::sleep(Duration::from_millis(300));
    step(&["task", "exec", "--exec-id", "e1", &id, "echo", "inside"]);
    step(&["task", "kill", "--signal", "SIGUSR1", &id]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stopped = false;
    while !stopped && Instant::now() < deadline {
        let tasks = c.ctr(&["task", "ls"]).out;
        stopped = tasks
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("STOPPED"));
        std::thread::sleep(Duration::from_millis(100));
    }
    step(&["task", "delete", &id]);
    step(&["container", "delete", &id]);
    transcript += &format!("stopped by the signal: {stopped}\n");
    Ok(transcript)
}

fn detached_exec_signal() -> Result<(), String> {
    let c = crate::containerd()?;
    let ours = same(
        "ctr run -d",
        life(c, Runtime::Runc)?,
        life(c, Runtime::Ours)?,
    )?;
    expect_all(&ours, &["inside\n", "stopped by the signal: true\n"])
}

/// The bundle containerd's runc shim writes for `ctr run -d --rootfs`,
/// while that container runs, under runc and the rung outside containerd.
pub fn bundle_runs() -> Result<(), String> {
    let c = crate::containerd()?;
    let (binary, rootfs, id) = (Runtime::Runc.path(), c.rootfs.display().to_string(), id());
    let ran = c.ctr(&run_detached(&binary, &rootfs, &id, &["sleep", "1000"]));
    let dir = c
        .dir
        .join("state/io.containerd.runtime.v2.task/default")
        .join(&id);
    let result = match ran.code {
        Some(0) => super::bundles::read_bundle(&dir).and_then(|(config, root)| {
            super::bundles::same_under_both("containerd", &config, &root)
        }),
        _ => Err(format!("ctr run -d: {}", ran.out)),
    };
    c.ctr(&["task", "kill", "--signal", "SIGKILL", &id]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && c.ctr(&["task", "delete", &id]).code != Some(0) {
        std::thread::sleep(Duration::from_millis(100));
    }
    c.ctr(&["container", "delete", &id]);
    result
}

/// A scenario: it passes, or says why not.
pub type Scenario = fn() -> Result<(), String>;

/// The scenarios, by test name.
pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("containerd_echo_as_with_runc", echo),
    ("containerd_exit_code_as_with_runc", exit_code),
    ("containerd_env_and_cwd_as_with_runc", env_and_cwd),
    ("containerd_capabilities_as_with_runc", capabilities),
    ("containerd_seccomp_default_as_with_runc", seccomp),
    (
        "containerd_detached_exec_signal_as_with_runc",
        detached_exec_signal,
    ),
];
