//! What rung 04's test files share: a runtime binary (ours or runc) with a
//! state root of its own, and bundles made from the busybox image.
//!
//! (Each test file is its own crate and uses only part of this module.)
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth::rootfs::busybox;
use serde_json::{json, Value};

/// Our runtime: rung 04's binary, or a later rung's (every rung from 04 up
/// keeps rung 04's promises). The test binary's `main` names it once.
static OURS: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Name the binary the trials run as "ours".
pub fn set_rung(program: &'static str) {
    OURS.set(program).expect("set_rung is called once, by main");
}

/// The binary `set_rung` named.
pub fn rung() -> &'static str {
    OURS.get()
        .expect("main calls set_rung before running the trials")
}

/// A runtime binary with a state root of its own for one test.
pub struct Runtime {
    pub program: String,
    pub root: PathBuf,
}

impl Runtime {
    pub fn new(program: &str, tag: &str) -> Runtime {
        let root = std::env::temp_dir().join(format!(
            "berth-oci-{tag}-{}-{}",
            name(program),
            std::process::id()
        ));
        Runtime {
            program: program.to_string(),
            root,
        }
    }

    /// Run one runtime command. Its output goes to files, not pipes: a
    /// created container inherits the runtime's stdout and stderr and keeps
    /// them open, so reading a pipe to its end would wait for the container.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.scratch("out");
        let err = self.scratch("err");
        let status = Command::new(&self.program)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.program));
        Output {
            status,
            stdout: read_all(out),
            stderr: read_all(err),
        }
    }

    /// A fresh, empty file beside the state root, removed when dropped;
    /// one of its own for every call, so that threads may run commands
    /// of one runtime at once.
    fn scratch(&self, what: &str) -> fs::File {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        scratch(&self.root.with_extension(format!("{what}{n}")))
    }

    /// `state ID`'s JSON, or `None` if the runtime does not know the ID.
    pub fn state(&self, id: &str) -> Option<Value> {
        let out = self.run(&["state", id]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)
            .map_or("gone".into(), |s| s["status"].as_str().unwrap().to_string())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The cgroup of the bundle tagged `tag`: one of the test's own, at the
/// top of each hierarchy. IDs name cgroups by default, and other runs
/// (other tests, a benchmark) may use the same IDs at the same time. No
/// shared parent either: runc leaves parents behind, and removing one
/// while another test's runtime is creating a cgroup in it breaks that
/// test.
pub fn cgroup_of(tag: &str) -> String {
    format!("/berth-test-{tag}-{}", std::process::id())
}

/// A runtime's name: the last part of its path.
pub fn name(program: &str) -> String {
    Path::new(program)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A bundle in a fresh folder: the default config.json (from `spec`), the
/// busybox image as a read-only root, `args` as the process, and `edit`.
pub fn bundle(tag: &str, args: &[&str], edit: impl Fn(&mut Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-bundle-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let spec = Command::new(rung())
        .args(["spec", "--bundle"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(spec.success());
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["root"] = json!({"path": busybox::image().unwrap(), "readonly": true});
    config["process"]["args"] = json!(args);
    config["linux"]["cgroupsPath"] = json!(cgroup_of(tag));
    edit(&mut config);
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    dir
}

/// Run `args` in a container from a bundle edited by `edit`, under
/// `program`; its output and exit status.
pub fn run_in(
    program: &str,
    tag: &str,
    args: &[&str],
    edit: impl Fn(&mut Value),
) -> (String, Option<i32>) {
    let rt = Runtime::new(program, tag);
    let dir = bundle(&format!("{tag}-{}", name(program)), args, edit);
    let out = rt.run(&["run", "--bundle", dir.to_str().unwrap(), "r1"]);
    let _ = fs::remove_dir_all(&dir);
    (text(&out), out.status.code())
}

/// A fresh, empty file at `path`, already unlinked: it goes when closed.
pub fn scratch(path: &Path) -> fs::File {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let _ = fs::remove_file(path);
    file
}

pub fn read_all(mut file: fs::File) -> Vec<u8> {
    let mut bytes = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

/// What a command printed, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
