//! Bundles as the world writes them, run outside the engines: the
//! config.json of `runc spec`, and the ones Podman, Docker and containerd
//! write for a container, captured live while that container exists, so
//! that its root is mounted and its files (hosts, resolv.conf,
//! .containerenv, a network namespace) are where its mounts say. Each goes
//! through `run`, and through create, state, start, kill and delete, under
//! runc and under the rung.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::{said, same, Podman, Runtime};
use crate::common::{self, text};

/// A copy of `config` in a bundle directory of its own, changed only where
/// a second run of the same bundle must differ: the process (a script
/// instead of the engine's), no terminal, its own cgroup.
fn bundle(tag: &str, config: &Value, root: &Path, args: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-captured-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mut config = config.clone();
    config["root"]["path"] = json!(root);
    config["process"]["args"] = json!(args);
    config["process"]["terminal"] = json!(false);
    config["linux"]["cgroupsPath"] = json!(common::cgroup_of(tag));
    fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    dir
}

/// What a user sees of one bundle under one runtime: `run`'s output and
/// status, then the statuses through create, start, kill and delete.
fn walk(source: &str, config: &Value, root: &Path, runtime: Runtime) -> String {
    let program = runtime.path();
    let tag = format!("{source}-{runtime:?}").to_lowercase();
    let rt = common::Runtime::new(&program, &tag);
    let script = "echo ok; id -u; grep -c . /proc/self/mountinfo > /dev/null && echo mounts";
    let dir = bundle(&tag, config, root, &["sh", "-c", script]);
    let ran = rt.run(&["run", "--bundle", dir.to_str().unwrap(), "c1"]);
    let mut seen = format!("run → {:?}\n{}", ran.status.code(), text(&ran));
    let dir2 = bundle(&format!("{tag}-life"), config, root, &["sleep", "100"]);
    let created = rt.run(&["create", "--bundle", dir2.to_str().unwrap(), "c2"]);
    seen += &format!("create → {:?} {}\n", created.status.code(), rt.status("c2"));
    let started = rt.run(&["start", "c2"]);
    seen += &format!("start → {:?} {}\n", started.status.code(), rt.status("c2"));
    let killed = rt.run(&["kill", "c2", "KILL"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    seen += &format!("kill → {:?} {}\n", killed.status.code(), rt.status("c2"));
    let deleted = rt.run(&["delete", "c2"]);
    seen += &format!("delete → {:?} {}\n", deleted.status.code(), rt.status("c2"));
    for out in [&created, &started, &killed, &deleted] {
        if !out.status.success() {
            seen += &text(out);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&dir2);
    seen
}

pub(super) fn same_under_both(source: &str, config: &Value, root: &Path) -> Result<(), String> {
    let runc = walk(source, config, root, Runtime::Runc);
    let ours = walk(source, config, root, Runtime::Ours);
    // The rung warns about what it leaves out (runc spec's ambient
    // capabilities), as the specification asks; runc is silent.
    let ours_quiet: String = ours
        .lines()
        .filter(|l| !l.starts_with("step-04: warning: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let ours = same(source, runc, ours_quiet)?;
    let wanted = "run → Some(0)\nok\n0\nmounts\ncreate → Some(0) created\nstart → Some(0) running\nkill → Some(0) stopped\ndelete → Some(0) gone\n";
    if ours != wanted {
        return Err(format!("{source}: expected\n{wanted}got\n{ours}"));
    }
    Ok(())
}

/// `runc spec`'s default config.json, unmodified but for the process.
fn runc_spec() -> Result<Value, String> {
    let dir = std::env::temp_dir().join(format!("berth-runc-spec-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let made = Command::new("runc").arg("spec").current_dir(&dir).status();
    let config = fs::read_to_string(dir.join("config.json"));
    let _ = fs::remove_dir_all(&dir);
    match (made, config) {
        (Ok(status), Ok(config)) if status.success() => {
            serde_json::from_str(&config).map_err(|e| e.to_string())
        }
        _ => Err("runc spec failed".into()),
    }
}

/// The bundle Podman writes for `podman create --sysctl … IMAGE`, with the
/// container left created (`podman init`), so that its root and files are
/// in place; and its root filesystem.
fn podman_bundle(podman: &Podman) -> Result<(String, Value, PathBuf), String> {
    let name = format!("berth-captured-{}", std::process::id());
    let created = said(podman.command(Runtime::Runc).args([
        "create",
        "--name",
        &name,
        "--network",
        "none",
        "--sysctl",
        "net.ipv4.ping_group_range=0 0",
        "localhost/busybox:test",
        "true",
    ]));
    if created.code != Some(0) {
        return Err(format!("podman create: {}", created.out));
    }
    let init = said(podman.command(Runtime::Runc).args(["init", &name]));
    let id = said(
        podman
            .command(Runtime::Runc)
            .args(["inspect", "--format", "{{.Id}}", &name]),
    );
    let id = id.out.trim().to_string();
    let path = podman
        .dir
        .join("root/overlay-containers")
        .join(&id)
        .join("userdata/config.json");
    let config = fs::read_to_string(&path);
    match (init.code, config) {
        (Some(0), Ok(config)) => {
            let config: Value = serde_json::from_str(&config).map_err(|e| e.to_string())?;
            let root = PathBuf::from(config["root"]["path"].as_str().unwrap_or_default());
            Ok((name, config, root))
        }
        (_, config) => Err(format!(
            "podman init: {} ({path:?}: {:?})",
            init.out,
            config.err()
        )),
    }
}

/// The config.json in an engine's bundle directory `dir`, with its root
/// made absolute (containerd's shim names it relative to the bundle).
pub(super) fn read_bundle(dir: &Path) -> Result<(Value, PathBuf), String> {
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let root = dir.join(config["root"]["path"].as_str().unwrap_or_default());
    Ok((config, root))
}

pub fn runc_spec_bundle() -> Result<(), String> {
    let image = berth::rootfs::busybox::image().map_err(|e| e.to_string())?;
    let mut spec = runc_spec()?;
    // runc spec's root is writable; the shared test image must not be.
    spec["root"]["readonly"] = json!(true);
    same_under_both("runc-spec", &spec, &image)
}

pub fn podman_bundle_runs() -> Result<(), String> {
    let podman = crate::podman()?;
    let (name, config, root) = podman_bundle(podman)?;
    let result = same_under_both("podman", &config, &root);
    let _ = said(podman.command(Runtime::Runc).args(["rm", "--force", &name]));
    result
}

/// The bundle dockerd (through containerd's runc shim) writes for `docker
/// run -d --network none --memory 64m --cap-add NET_RAW`, while that
/// container runs.
pub fn docker_bundle_runs() -> Result<(), String> {
    let docker = crate::docker()?;
    let name = format!("berth-captured-{}", std::process::id());
    let ran = said(docker.command().args([
        "run",
        "-d",
        "--name",
        &name,
        "--runtime",
        "runc",
        "--network",
        "none",
        "--memory",
        "64m",
        "--cap-add",
        "NET_RAW",
        "busybox:test",
        "sleep",
        "1000",
    ]));
    let id = ran.out.trim().to_string();
    let dir = docker
        .dir
        .join("exec/containerd/daemon/io.containerd.runtime.v2.task/moby")
        .join(&id);
    let result = match ran.code {
        Some(0) => read_bundle(&dir).and_then(|(mut config, root)| {
            // Docker's prestart hook calls back into dockerd about *its*
            // container (libnetwork-setkey); for a copy it would lie.
            config["hooks"] = Value::Null;
            same_under_both("docker", &config, &root)
        }),
        _ => Err(format!("docker run -d: {}", ran.out)),
    };
    let _ = said(docker.command().args(["rm", "--force", &name]));
    result
}
