//! Rung 04 driven by the real container engines, the way a user would
//! drive it: Podman (`--runtime`), Docker (`--add-runtime`, through
//! containerd's runc shim), containerd itself (`ctr run --runc-binary`) and
//! Buildah (`--runtime`, `--isolation oci`).
//!
//! Our own tests feed the rung bundles the kit writes; the engines write
//! theirs, with bind remounts, propagation, sysctls, cgroup mounts, ambient
//! capabilities and seccomp profiles the kit's bundles never had. Every
//! scenario runs twice, with runc and with the rung, and must give the same
//! answer — and the answer a user expects, so that two runtimes failing
//! alike cannot pass.
//!
//! Each engine runs with state of its own under a temporary directory (its
//! storage, its sockets, its daemon's files), the cgroupfs driver, no
//! network set-up (`--network none`, no bridge, no iptables) and ulimits
//! at or below the host's. Nothing of the host's own engines is touched.

use std::sync::OnceLock;

use berth::testing::{on_path, Completion, Trial};

#[path = "rung04/common.rs"]
mod common;
mod engine;
use engine::{Buildah, Containerd, Docker, Podman};

/// A trial that runs only where root and every program in `programs` are
/// there, and says which is missing otherwise.
fn needing(
    name: &str,
    programs: &'static [&'static str],
    body: fn() -> Result<(), String>,
) -> Trial {
    Trial::ignorable_test(name, move || {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Completion::ignored_with(
                "needs root: the engines run rootful here",
            ));
        }
        if let Some(missing) = programs.iter().find(|p| !on_path(p)) {
            return Ok(Completion::ignored_with(format!(
                "needs {missing}, which is not installed (scripts/setup installs it)"
            )));
        }
        body().map(|()| Completion::Completed).map_err(Into::into)
    })
}

const PODMAN: &[&str] = &["podman", "conmon", "runc"];
const DOCKER: &[&str] = &["dockerd", "containerd", "containerd-shim-runc-v2", "runc"];
const CONTAINERD: &[&str] = &["containerd", "ctr", "containerd-shim-runc-v2", "runc"];
const BUILDAH: &[&str] = &["buildah", "runc"];

static PODMAN_ENGINE: OnceLock<Result<Podman, String>> = OnceLock::new();
static DOCKER_ENGINE: OnceLock<Result<Docker, String>> = OnceLock::new();
static CONTAINERD_ENGINE: OnceLock<Result<Containerd, String>> = OnceLock::new();

fn podman() -> Result<&'static Podman, String> {
    PODMAN_ENGINE
        .get_or_init(Podman::start)
        .as_ref()
        .map_err(Clone::clone)
}

fn docker() -> Result<&'static Docker, String> {
    DOCKER_ENGINE
        .get_or_init(Docker::start)
        .as_ref()
        .map_err(Clone::clone)
}

fn containerd() -> Result<&'static Containerd, String> {
    CONTAINERD_ENGINE
        .get_or_init(Containerd::start)
        .as_ref()
        .map_err(Clone::clone)
}

macro_rules! scenarios {
    ($engine:ident, $needs:ident, $prefix:literal: $($name:ident),* $(,)?) => {
        vec![$(needing(
            concat!($prefix, stringify!($name), "_as_with_runc"),
            $needs,
            || engine::cli::$name($engine()?),
        )),*]
    };
}

fn main() {
    let mut trials = Vec::new();
    trials.extend(scenarios!(podman, PODMAN, "podman_":
        echo, exit_code, env_and_workdir, user, read_only_volume, terminal, memory_limit,
        cpuset_and_reservation, sysctl, capabilities, read_only_root, pids_limit, tmpfs, seccomp_default,
        seccomp_unconfined, detached_exec_signal_stop_rm, missing_command,
    ));
    trials.extend(scenarios!(docker, DOCKER, "docker_":
        echo, exit_code, env_and_workdir, user, read_only_volume, terminal, memory_limit,
        cpuset_and_reservation, sysctl, capabilities, read_only_root, pids_limit, tmpfs, seccomp_default,
        seccomp_unconfined, detached_exec_signal_stop_rm, missing_command,
    ));
    for (name, body) in engine::containerd::SCENARIOS {
        trials.push(needing(name, CONTAINERD, *body));
    }
    trials.push(needing(
        "buildah_run_and_build_as_with_runc",
        BUILDAH,
        || engine::buildah::run_and_build(&Buildah::new(podman()?)),
    ));
    // The bundles themselves, outside the engines.
    trials.push(needing(
        "runc_spec_bundle_runs_unmodified_as_with_runc",
        &["runc"],
        engine::bundles::runc_spec_bundle,
    ));
    trials.push(needing(
        "podman_bundle_runs_unmodified_as_with_runc",
        PODMAN,
        engine::bundles::podman_bundle_runs,
    ));
    trials.push(needing(
        "docker_bundle_runs_unmodified_as_with_runc",
        DOCKER,
        engine::bundles::docker_bundle_runs,
    ));
    trials.push(needing(
        "containerd_bundle_runs_unmodified_as_with_runc",
        CONTAINERD,
        engine::containerd::bundle_runs,
    ));
    let args = libtest_mimic::Arguments::from_args();
    let conclusion = libtest_mimic::run(&args, trials);
    // The daemons and their files go, whatever the verdict.
    if let Some(Ok(engine)) = PODMAN_ENGINE.get() {
        engine.stop();
    }
    if let Some(Ok(engine)) = DOCKER_ENGINE.get() {
        engine.stop();
    }
    if let Some(Ok(engine)) = CONTAINERD_ENGINE.get() {
        engine.stop();
    }
    conclusion.exit()
}
