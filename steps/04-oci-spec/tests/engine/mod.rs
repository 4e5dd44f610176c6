//! The engines, each started with private state, and what the scenarios
//! share.

pub mod buildah;
pub mod bundles;
pub mod cli;
pub mod containerd;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common;
use std::time::{Duration, Instant};

use berth::rootfs::busybox;

pub use buildah::Buildah;
pub use containerd::Containerd;

/// Our runtime, rung 04.
pub const OURS: &str = env!("CARGO_BIN_EXE_step-04");

/// Which runtime an engine is to use for a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// runc, the reference.
    Runc,
    /// The rung.
    Ours,
}

impl Runtime {
    /// The runtime's binary.
    pub fn path(self) -> String {
        match self {
            Runtime::Runc => which("runc"),
            Runtime::Ours => OURS.to_string(),
        }
    }
}

/// What a command said: its output (stdout then stderr, carriage returns
/// of a terminal removed) and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub out: String,
    pub code: Option<i32>,
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "({:?}):\n{}", self.code, self.out)
    }
}

/// `what` under runc and under the rung must give the same answer:
/// the rung's, if it does.
pub fn same<T: PartialEq + std::fmt::Display>(what: &str, runc: T, ours: T) -> Result<T, String> {
    if runc == ours {
        Ok(ours)
    } else {
        Err(format!(
            "{what}: runc and the rung differ\n--- runc:\n{runc}\n--- rung:\n{ours}"
        ))
    }
}

/// What a user expects of an answer both runtimes gave.
pub fn expect(said: &Said, ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}; got {said}"))
    }
}

/// Every one of `wanted` in a transcript both runtimes gave.
pub fn expect_all(transcript: &str, wanted: &[&str]) -> Result<(), String> {
    match wanted.iter().find(|w| !transcript.contains(**w)) {
        None => Ok(()),
        Some(w) => Err(format!("expected {w:?} in:\n{transcript}")),
    }
}

/// Run `command`, with a time limit: an engine that hangs fails the test
/// instead of hanging it. Its output goes to files, not pipes: what an
/// engine leaves running (conmon, a shim) may hold a pipe open long after
/// the command has returned.
pub fn said(command: &mut Command) -> Said {
    let what = format!("{command:?}");
    let out = scratch();
    let err = scratch();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let code = match berth::testing::wait_with_timeout(&mut child, Duration::from_secs(120)) {
        Ok(output) => output.status.code(),
        Err(e) => panic!("{what}: {}", e.message().unwrap_or_default()),
    };
    let text = |file: fs::File| String::from_utf8_lossy(&common::read_all(file)).into_owned();
    Said {
        out: format!("{}{}", text(out), text(err)).replace('\r', ""),
        code,
    }
}

/// An unnamed temporary file, for one command's output.
fn scratch() -> fs::File {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    common::scratch(&std::env::temp_dir().join(format!(
        "berth-engine-out-{}-{:?}-{nanos}",
        std::process::id(),
        std::thread::current().id(),
    )))
}

/// Where `program` is on `PATH`.
pub fn which(program: &str) -> String {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
        .map_or_else(|| program.to_string(), |p| p.display().to_string())
}

/// A fresh directory for one engine's state.
pub fn state_dir(engine: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{engine}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tarball of the busybox test image, for `podman import` and `docker
/// import`.
pub fn image_tarball(dir: &Path) -> Result<PathBuf, String> {
    let image = busybox::image().map_err(|e| e.to_string())?;
    let tarball = dir.join("busybox.tar");
    let made = Command::new("tar")
        .arg("-C")
        .arg(&image)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .map_err(|e| e.to_string())?;
    if !made.success() {
        return Err("tar of the busybox image failed".into());
    }
    Ok(tarball)
}

/// `ENGINE import` of the busybox test image, as `name`.
fn import(mut engine: Command, dir: &Path, name: &str) -> Result<(), String> {
    let tarball = image_tarball(dir)?;
    let imported = said(engine.arg("import").arg(&tarball).arg(name));
    match imported.code {
        Some(0) => Ok(()),
        _ => Err(format!("{engine:?}: {}", imported.out)),
    }
}

/// A file on the host for the read-only volume scenario.
pub fn volume(dir: &Path) -> PathBuf {
    let volume = dir.join("volume");
    fs::create_dir_all(&volume).unwrap();
    fs::write(volume.join("note"), "from the host\n").unwrap();
    volume
}

/// Start a daemon with its log in `dir`, and wait until it listens on
/// `socket`; if it does not, stop it and remove `dir`.
pub fn start_daemon(command: &mut Command, dir: &Path, socket: &Path) -> Result<Child, String> {
    let log = dir.join("daemon.log");
    let mut daemon = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if let Err(e) = wait_for(socket, &mut daemon, &log) {
        stop_daemon(&mut daemon);
        remove_state(dir);
        return Err(e);
    }
    Ok(daemon)
}

/// Wait until `path` exists (a daemon's socket), or fail with the tail of
/// its log.
fn wait_for(path: &Path, daemon: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        if let Ok(Some(status)) = daemon.try_wait() {
            return Err(format!("the daemon exited ({status}): {}", tail(log)));
        }
        if Instant::now() > deadline {
            return Err(format!("no {} after 30 s: {}", path.display(), tail(log)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The last lines of a log file.
pub fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Stop a daemon this test started: SIGTERM, then SIGKILL after 20 s.
pub fn stop_daemon(daemon: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = daemon.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
}

/// Unmount whatever an engine left mounted under `dir`, deepest first,
/// then remove `dir`.
pub fn remove_state(dir: &Path) {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort();
    for point in points.iter().rev() {
        let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir_all(dir);
}

/// The parent cgroups an engine creates for its containers (`docker`,
/// `libpod_parent`) that the host did not have before: removed when the
/// engine stops, with what is left under them (empty by then).
pub struct CgroupParents(Vec<PathBuf>);

impl CgroupParents {
    pub fn note(name: &str) -> CgroupParents {
        let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
        roots.extend(
            fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !p.is_symlink()),
        );
        CgroupParents(
            roots
                .into_iter()
                .map(|r| r.join(name))
                .filter(|p| !p.exists())
                .collect(),
        )
    }

    pub fn remove(&self) {
        fn rmdir_tree(dir: &Path) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    rmdir_tree(&entry.path());
                }
            }
            let _ = fs::remove_dir(dir);
        }
        // A conmon or shim may take a moment to leave after its container.
        for _ in 0..100 {
            for dir in &self.0 {
                rmdir_tree(dir);
            }
            if self.0.iter().all(|d| !d.exists()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Podman 4, with storage, run directory, temporary files and events of
/// its own, and a containers.conf that pins the cgroup manager, the
/// network and the ulimits.
pub struct Podman {
    pub dir: PathBuf,
    pub volume: PathBuf,
    cgroups: CgroupParents,
}

impl Podman {
    pub fn start() -> Result<Podman, String> {
        let dir = state_dir("podman");
        let conf = dir.join("containers.conf");
        fs::create_dir_all(dir.join("tmp")).unwrap();
        fs::write(
            &conf,
            format!(
                "[containers]\nnetns = \"none\"\nlog_driver = \"k8s-file\"\n\
                 default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let podman = Podman {
            volume: volume(&dir),
            dir,
            cgroups: CgroupParents::note("libpod_parent"),
        };
        // Whatever fails from here on, nothing of the engine's is left.
        if let Err(e) = import(
            podman.command(Runtime::Runc),
            &podman.dir,
            "localhost/busybox:test",
        ) {
            podman.stop();
            return Err(e);
        }
        Ok(podman)
    }

    /// `podman` with the private state, using `runtime`.
    pub fn command(&self, runtime: Runtime) -> Command {
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .args(["--storage-driver", "overlay", "--runtime"])
            .arg(runtime.path());
        command
    }

    pub fn stop(&self) {
        let _ = said(self.command(Runtime::Runc).args(["rm", "--all", "--force"]));
        let _ = said(
            self.command(Runtime::Runc)
                .args(["system", "reset", "--force"]),
        );
        remove_state(&self.dir);
        self.cgroups.remove();
    }
}

/// dockerd 20.10 with a daemon.json of its own: data and exec roots,
/// socket and pidfile under a temporary directory; no bridge, iptables or
/// forwarding; cgroupfs; the rung added as the runtime `berth`.
pub struct Docker {
    pub dir: PathBuf,
    pub volume: PathBuf,
    daemon: std::sync::Mutex<Child>,
    cgroups: CgroupParents,
}

impl Docker {
    pub fn start() -> Result<Docker, String> {
        let dir = state_dir("docker");
        let socket = dir.join("docker.sock");
        let config = serde_json::json!({
            "data-root": dir.join("data"),
            "exec-root": dir.join("exec"),
            "pidfile": dir.join("docker.pid"),
            "hosts": [format!("unix://{}", socket.display())],
            "iptables": false,
            "ip-forward": false,
            "ip-masq": false,
            "bridge": "none",
            "exec-opts": ["native.cgroupdriver=cgroupfs"],
            "default-ulimits": {
                "nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024},
                "nproc": {"Name": "nproc", "Hard": 1024, "Soft": 1024}
            },
            "runtimes": {"berth": {"path": OURS}}
        });
        fs::write(dir.join("daemon.json"), config.to_string()).unwrap();
        let cgroups = CgroupParents::note("docker");
        let daemon = start_daemon(
            Command::new("dockerd")
                .arg("--config-file")
                .arg(dir.join("daemon.json")),
            &dir,
            &socket,
        )?;
        let docker = Docker {
            volume: volume(&dir),
            dir: dir.clone(),
            daemon: std::sync::Mutex::new(daemon),
            cgroups,
        };
        if let Err(e) = import(docker.command(), &dir, "busybox:test") {
            docker.stop();
            return Err(e);
        }
        Ok(docker)
    }

    /// Debian's docker client (20.10, the daemon's version), on the private
    /// socket.
    pub fn command(&self) -> Command {
        let client = if Path::new("/usr/bin/docker").exists() {
            "/usr/bin/docker".to_string()
        } else {
            which("docker")
        };
        let mut command = Command::new(client);
        command
            .arg("-H")
            .arg(format!("unix://{}", self.dir.join("docker.sock").display()));
        command
    }

    pub fn stop(&self) {
        let _ = said(
            self.command()
                .args(["rm", "--force", "--volumes"])
                .args(self.all()),
        );
        stop_daemon(&mut self.daemon.lock().unwrap());
        remove_state(&self.dir);
        self.cgroups.remove();
    }

    fn all(&self) -> Vec<String> {
        said(self.command().args(["ps", "-aq"]))
            .out
            .split_whitespace()
            .map(String::from)
            .collect()
    }
}
