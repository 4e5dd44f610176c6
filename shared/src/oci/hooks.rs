//! Hooks: programs `config.json` asks the runtime to run at fixed points of
//! a container's life.
//!
//! Hooks are how the rest of the world plugs into a container without the
//! runtime knowing about it: a network plugin gives the new network
//! namespace an interface, a GPU toolkit mounts its devices, a logger
//! records that the container started. Each hook is a program with
//! arguments and an environment; it gets the container's state as JSON on
//! its standard input, and may have a `timeout` in seconds.
//!
//! The specification fixes *when* each kind runs, *where* (in the
//! runtime's namespaces or the container's), and what a failure means:
//!
//! ```text
//!  kind             verb     where                     if it fails
//!  ───────────────  ───────  ────────────────────────  ──────────────────────
//!  prestart         create   runtime (deprecated)      create fails, nothing left
//!  createRuntime    create   runtime                   create fails, nothing left
//!  createContainer  create   container, before mounts  create fails, nothing left
//!  startContainer   start    container, before exec    the container stops
//!  poststart        start    runtime                   a warning; start succeeds
//!  poststop         delete   runtime                   a warning; delete succeeds
//! ```
//!
//! The runtime-side hooks run while the container's process exists but
//! waits (so `/proc/PID/ns/net` is there for a network plugin to fill).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::{Hook, Hooks, Spec};
use serde_json::{json, Value};

use crate::container::lifecycle::{Answer, Ask};
use crate::container::Stage;
use crate::{Error, Result};

// ANCHOR: run
/// Run `hooks` of kind `kind` one after the other, each with `state` on
/// its standard input; stop at the first that fails or outlives its
/// timeout (it is killed).
pub fn run(kind: &str, hooks: &[Hook], state: &Value) -> Result<()> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, state).map_err(|why| {
            Error::Invalid(format!(
                "hooks.{kind}[{index}] ({}): {why}",
                hook.path().display()
            ))
        })?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state: &Value) -> std::result::Result<(), String> {
    let mut command = Command::new(hook.path());
    // args[0] is the program's name as it sees it, which may differ from
    // the path (execv semantics).
    if let Some((name, args)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        command.arg0(name).args(args);
    }
    command.env_clear();
    for pair in hook.env().iter().flatten() {
        if let Some((key, value)) = pair.split_once('=') {
            command.env(key, value);
        }
    }
    command.stdin(Stdio::piped());
    // SAFETY: only an async-signal-safe call between fork and exec. The
    // runtime blocks signals while it sets a container up; a hook must not
    // inherit that.
    unsafe {
        command.pre_exec(|| {
            nix::sys::signal::SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().map_err(|e| format!("cannot run it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input is fine: ignore EPIPE.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let limit = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("it failed ({status})"))
            };
        }
        if limit.is_some_and(|limit| Instant::now() >= limit) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "it was still running after its timeout of {} s, and was killed",
                hook.timeout().unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
// ANCHOR_END: run

/// The state a hook reads on its standard input: the specification's
/// fields only (`pid` while there is a process, `annotations` if any).
/// `create` makes it from the bundle, `start` and `delete` from what the
/// state directory kept: one document either way.
pub fn state(
    version: &str,
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Value {
    let mut state = json!({
        "ociVersion": version,
        "id": id,
        "status": status,
        "bundle": bundle,
    });
    if pid > 0 {
        state["pid"] = json!(pid);
    }
    if let Some(annotations) = annotations {
        state["annotations"] = json!(annotations);
    }
    state
}

/// Whether `hooks` has any of the hooks `create` and `start` run from
/// inside (`createContainer`, `startContainer`).
fn any(hooks: &Option<Vec<Hook>>) -> bool {
    hooks.as_ref().is_some_and(|h| !h.is_empty())
}

// ANCHOR: stage
/// Stage: the hooks of `create` (prestart, createRuntime, createContainer)
/// and `start`'s startContainer, which runs in the container's process.
///
/// The runtime-side hooks run in `in_parent`, once the process exists and
/// is in its namespaces. The container-side ones need the state too, with
/// the PID only the runtime knows: the child asks for it in a round trip
/// before Go, and keeps it for createContainer and startContainer.
pub struct CreateHooks {
    hooks: Hooks,
    state: Value,
    /// The state, as the child received it (for the container-side hooks).
    inside: Option<Value>,
}

impl CreateHooks {
    /// The stage for `spec`'s hooks.
    pub fn new(spec: &Spec, id: &str, bundle: &std::path::Path) -> Option<CreateHooks> {
        let hooks = spec.hooks().clone()?;
        Some(CreateHooks {
            hooks,
            state: state(
                spec.version(),
                id,
                "creating",
                0,
                bundle,
                spec.annotations().as_ref(),
            ),
            inside: None,
        })
    }

    /// Whether any hook runs inside the container.
    fn inside_hooks(&self) -> bool {
        any(self.hooks.create_container()) || any(self.hooks.start_container())
    }
}

impl Stage for CreateHooks {
    fn name(&self) -> &'static str {
        "the hooks"
    }

    fn in_child_first(&mut self, runtime: &Ask) -> Result<()> {
        if self.inside_hooks() {
            let answer = runtime.ask()?;
            let state = serde_json::from_slice(&answer.data)
                .map_err(|e| Error::Invalid(format!("the hooks' state: {e}")))?;
            self.inside = Some(state);
        }
        Ok(())
    }

    fn answer(&mut self, child: Pid) -> Result<Answer> {
        self.state["pid"] = json!(child.as_raw());
        Ok(Answer {
            data: self.state.to_string().into_bytes(),
            fds: Vec::new(),
        })
    }

    fn in_parent(&mut self, child: Pid) -> Result<()> {
        self.state["pid"] = json!(child.as_raw());
        #[allow(deprecated)]
        let prestart = self.hooks.prestart().clone().unwrap_or_default();
        run("prestart", &prestart, &self.state)?;
        let create_runtime = self.hooks.create_runtime().clone().unwrap_or_default();
        run("createRuntime", &create_runtime, &self.state)
    }

    fn in_child(&mut self) -> Result<()> {
        if let Some(state) = &self.inside {
            let create_container = self.hooks.create_container().clone().unwrap_or_default();
            run("createContainer", &create_container, state)?;
        }
        Ok(())
    }

    fn after_start(&mut self) -> Result<()> {
        if let Some(state) = &mut self.inside {
            state["status"] = json!("created");
            let start_container = self.hooks.start_container().clone().unwrap_or_default();
            run("startContainer", &start_container, state)?;
        }
        Ok(())
    }
}
// ANCHOR_END: stage
