//! Rung 04's promises, checked against the real kernel (as root) and, where
//! it is installed, against runc itself: the same bundles run under both,
//! and what a container engine or a learner can observe must agree.

use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth::rootfs::busybox;
use berth::testing::{check, check_eq, test, Needs, Outcome, Trial};
use serde_json::{json, Value};

const OURS: &str = env!("CARGO_BIN_EXE_step-04");

fn main() {
    let trials: Vec<Trial> = vec![
        test(
            "the_lifecycle_walks_through_its_states",
            Needs::Root,
            || lifecycle(OURS),
        ),
        test(
            "runc_walks_the_same_lifecycle",
            Needs::RootAnd("runc"),
            || lifecycle("runc"),
        ),
        test(
            "the_state_json_has_runcs_shape",
            Needs::RootAnd("runc"),
            state_shape,
        ),
        test(
            "what_the_container_sees_matches_runc",
            Needs::RootAnd("runc"),
            observables,
        ),
        test(
            "user_env_and_cwd_match_runc",
            Needs::RootAnd("runc"),
            user_env_cwd,
        ),
        test("run_returns_the_programs_status", Needs::Root, run_status),
        test(
            "bad_bundles_get_clear_errors_and_leave_nothing",
            Needs::Root,
            bad_bundles,
        ),
        test(
            "verbs_in_the_wrong_state_are_refused",
            Needs::Root,
            wrong_state,
        ),
        test(
            "unsupported_features_are_refused_not_ignored",
            Needs::Root,
            unsupported,
        ),
    ];
    berth::testing::run(trials)
}

/// A runtime binary with a state root of its own for one test.
struct Runtime {
    program: String,
    root: PathBuf,
}

impl Runtime {
    fn new(program: &str, tag: &str) -> Runtime {
        let name = Path::new(program)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let root =
            std::env::temp_dir().join(format!("berth-oci-{tag}-{name}-{}", std::process::id()));
        Runtime {
            program: program.to_string(),
            root,
        }
    }

    /// Run one runtime command. Its output goes to files, not pipes: a
    /// created container inherits the runtime's stdout and stderr and keeps
    /// them open, so reading a pipe to its end would wait for the container.
    fn run(&self, args: &[&str]) -> Output {
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

    /// A fresh, empty file beside the state root, removed when dropped.
    fn scratch(&self, what: &str) -> fs::File {
        let path = self.root.with_extension(what);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let _ = fs::remove_file(&path);
        file
    }

    /// `state ID`'s JSON, or `None` if the runtime does not know the ID.
    fn state(&self, id: &str) -> Option<Value> {
        let out = self.run(&["state", id]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    fn status(&self, id: &str) -> String {
        self.state(id)
            .map_or("gone".into(), |s| s["status"].as_str().unwrap().to_string())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A bundle in a fresh folder: the default config.json (from `spec`), the
/// busybox image as a read-only root, `args` as the process, and `edit`.
fn bundle(tag: &str, args: &[&str], edit: impl Fn(&mut Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-bundle-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let spec = Command::new(OURS)
        .args(["spec", "--bundle"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(spec.success());
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["root"] = json!({"path": busybox::image().unwrap(), "readonly": true});
    config["process"]["args"] = json!(args);
    edit(&mut config);
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    dir
}

fn read_all(mut file: fs::File) -> Vec<u8> {
    let mut bytes = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Wait until `id` is stopped (its process has exited), up to 10 s.
fn wait_stopped(rt: &Runtime, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = rt.status(id);
    while status != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        status = rt.status(id);
    }
    status
}

fn lifecycle(program: &str) -> Outcome {
    let rt = Runtime::new(program, "lifecycle");
    let name = Path::new(program).file_name().unwrap().to_string_lossy();
    let dir = bundle(&format!("lifecycle-{name}"), &["sleep", "30"], |_| {});
    let bundle = dir.to_str().unwrap();
    let mut seen = vec![rt.status("c1")];
    let created = rt.run(&["create", "--bundle", bundle, "c1"]);
    check(created.status.success(), || {
        format!("create: {}", text(&created))
    })?;
    seen.push(rt.status("c1"));
    let started = rt.run(&["start", "c1"]);
    check(started.status.success(), || {
        format!("start: {}", text(&started))
    })?;
    seen.push(rt.status("c1"));
    let killed = rt.run(&["kill", "c1", "KILL"]);
    check(killed.status.success(), || {
        format!("kill: {}", text(&killed))
    })?;
    seen.push(wait_stopped(&rt, "c1"));
    let deleted = rt.run(&["delete", "c1"]);
    check(deleted.status.success(), || {
        format!("delete: {}", text(&deleted))
    })?;
    seen.push(rt.status("c1"));
    let _ = fs::remove_dir_all(&dir);
    check_eq(
        seen,
        ["gone", "created", "running", "stopped", "gone"]
            .map(String::from)
            .to_vec(),
        "statuses",
    )
}

fn state_shape() -> Outcome {
    let dir = bundle("shape", &["sleep", "30"], |_| {});
    let mut shapes = Vec::new();
    for program in [OURS, "runc"] {
        let rt = Runtime::new(program, "shape");
        let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "s1"]);
        check(created.status.success(), || {
            format!("{program} create: {}", text(&created))
        })?;
        let state = rt.state("s1").unwrap_or_default();
        rt.run(&["delete", "--force", "s1"]);
        let keys: Vec<String> = state
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        check(state["pid"].as_i64().is_some_and(|p| p > 0), || {
            format!("{program}: pid in {state}")
        })?;
        check_eq(
            state["bundle"].as_str(),
            dir.to_str(),
            &format!("{program}: bundle"),
        )?;
        shapes.push(keys);
    }
    let _ = fs::remove_dir_all(&dir);
    // runc may add fields of its own (annotations); ours must all be there.
    let missing: Vec<&String> = shapes[0]
        .iter()
        .filter(|k| !shapes[1].contains(k))
        .collect();
    check(missing.is_empty(), || {
        format!(
            "fields runc does not have: {missing:?} (runc: {:?})",
            shapes[1]
        )
    })
}

/// Run `args` in a container from a bundle edited by `edit`, under
/// `program`; its output and exit status.
fn run_in(
    program: &str,
    tag: &str,
    args: &[&str],
    edit: impl Fn(&mut Value),
) -> (String, Option<i32>) {
    let rt = Runtime::new(program, tag);
    let dir = bundle(
        &format!(
            "{tag}-{}",
            Path::new(program).file_name().unwrap().to_string_lossy()
        ),
        args,
        edit,
    );
    let out = rt.run(&["run", "--bundle", dir.to_str().unwrap(), "r1"]);
    let _ = fs::remove_dir_all(&dir);
    (text(&out), out.status.code())
}

fn observables() -> Outcome {
    let script =
        "hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ulimit -n; ulimit -Hn; \
        cat /proc/kcore 2>&1 | head -c 20 | wc -c; ls /dev | sort; \
        cut -d' ' -f5 /proc/self/mountinfo | grep -v '^/sys/fs/cgroup' | sort";
    let ours = run_in(OURS, "seen", &["sh", "-c", script], |_| {});
    let runc = run_in("runc", "seen", &["sh", "-c", script], |_| {});
    check_eq(ours, runc, "what the container sees, ours against runc's")
}

fn user_env_cwd() -> Outcome {
    let edit = |c: &mut Value| {
        c["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [5, 7]});
        c["process"]["env"] = json!(["PATH=/bin", "GREETING=hello there"]);
        c["process"]["cwd"] = json!("/tmp");
    };
    let script = "id; echo \"$GREETING\"; pwd; env | sort";
    let ours = run_in(OURS, "user", &["sh", "-c", script], edit);
    let runc = run_in("runc", "user", &["sh", "-c", script], edit);
    check_eq(
        ours,
        runc,
        "identity, environment and directory, ours against runc's",
    )
}

fn run_status() -> Outcome {
    let (out, code) = run_in(OURS, "status", &["sh", "-c", "echo bye; exit 3"], |_| {});
    check_eq(code, Some(3), "run's exit status")?;
    check_eq(out.as_str(), "bye\n", "output")?;
    let (_, code) = run_in(OURS, "signal", &["sh", "-c", "kill -TERM $$"], |_| {});
    // The shell is PID 1 and has no handler: SIGTERM is ignored, it exits 0.
    check_eq(code, Some(0), "a PID 1 without a handler ignores SIGTERM")
}

/// Run `create` on a bundle edited by `edit`; it must fail, saying `says`,
/// and leave no container behind.
fn refused(tag: &str, edit: impl Fn(&mut Value), says: &str) -> Outcome {
    let rt = Runtime::new(OURS, tag);
    let dir = bundle(tag, &["true"], edit);
    let out = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "bad"]);
    let left = rt.root.join("bad").exists();
    let _ = fs::remove_dir_all(&dir);
    check(!out.status.success() && text(&out).contains(says), || {
        format!(
            "expected an error saying {says:?}, got {:?}: {}",
            out.status.code(),
            text(&out)
        )
    })?;
    check(!left, || {
        format!("{tag}: a state directory was left behind")
    })
}

fn bad_bundles() -> Outcome {
    refused(
        "relative-cwd",
        |c| c["process"]["cwd"] = json!("tmp"),
        "must be an absolute path",
    )?;
    refused(
        "no-rootfs",
        |c| c["root"]["path"] = json!("/no/such/rootfs"),
        "is not a directory",
    )?;
    refused(
        "wrong-type",
        |c| c["process"]["args"] = json!("sh"),
        "config.json",
    )?;
    refused(
        "no-args",
        |c| c["process"]["args"] = json!([]),
        "process.args is empty",
    )?;
    // Not JSON at all.
    let rt = Runtime::new(OURS, "syntax");
    let dir = bundle("syntax", &["true"], |_| {});
    fs::write(dir.join("config.json"), "{ not json").unwrap();
    let out = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "bad"]);
    let _ = fs::remove_dir_all(&dir);
    check(
        !out.status.success() && text(&out).contains("config.json"),
        || text(&out),
    )
}

fn wrong_state() -> Outcome {
    let rt = Runtime::new(OURS, "state");
    let dir = bundle("state", &["sleep", "30"], |_| {});
    let bundle = dir.to_str().unwrap();
    let result = (|| {
        check(
            rt.run(&["create", "--bundle", bundle, "w1"])
                .status
                .success(),
            || "create".into(),
        )?;
        let again = rt.run(&["create", "--bundle", bundle, "w1"]);
        check(text(&again).contains("already exists"), || text(&again))?;
        check(rt.run(&["start", "w1"]).status.success(), || "start".into())?;
        let twice = rt.run(&["start", "w1"]);
        check(
            !twice.status.success() && text(&twice).contains("not created"),
            || text(&twice),
        )?;
        let busy = rt.run(&["delete", "w1"]);
        check(
            !busy.status.success() && text(&busy).contains("is running"),
            || text(&busy),
        )?;
        let forced = rt.run(&["delete", "--force", "w1"]);
        check(forced.status.success(), || text(&forced))?;
        let unknown = rt.run(&["state", "w1"]);
        check(text(&unknown).contains("does not exist"), || text(&unknown))
    })();
    rt.run(&["delete", "--force", "w1"]);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn unsupported() -> Outcome {
    refused(
        "seccomp",
        |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW"}),
        "linux.seccomp",
    )?;
    refused(
        "hooks",
        |c| c["hooks"] = json!({"poststart": [{"path": "/bin/true"}]}),
        "hooks",
    )?;
    refused(
        "terminal",
        |c| c["process"]["terminal"] = json!(true),
        "terminal",
    )?;
    refused(
        "userns",
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]),
        "user namespaces",
    )
}
