//! Rung 04's promises, checked against the real kernel (as root) and, where
//! it is installed, against runc itself: the same bundles run under both,
//! and what a container engine or a learner can observe must agree.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth::rootfs::busybox;
use berth::testing::{check, check_eq, test, Needs, Outcome, Trial};
use serde_json::{json, Value};

use super::common::{bundle, cgroup_of, name, run_in, rung, text, Runtime};

/// The trials, for the binary `super::common::rung()` names.
pub fn trials() -> Vec<Trial> {
    vec![
        test(
            "the_lifecycle_walks_through_its_states",
            Needs::Root,
            || lifecycle(rung()),
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
        test(
            "hooks_run_in_the_specs_order_with_the_state",
            Needs::RootAnd("runc"),
            hook_order,
        ),
        test(
            "runtime_hooks_find_the_container_in_its_joined_namespaces_as_with_runc",
            Needs::RootAnd("runc"),
            hooks_see_joined_netns,
        ),
        test(
            "errors_and_warnings_reach_the_log_file_as_runc_writes_it",
            Needs::Root,
            log_file,
        ),
        test(
            "a_create_waiting_on_its_hooks_does_not_hold_up_another",
            Needs::Root,
            creates_in_parallel,
        ),
        test(
            "one_id_is_created_once_however_many_ask_at_once",
            Needs::Root,
            one_id_once,
        ),
        test("a_reused_pid_is_never_signalled", Needs::Root, reused_pid),
        test(
            "a_failing_or_hanging_hook_fails_create_and_leaves_nothing",
            Needs::Root,
            failing_hooks,
        ),
        test(
            "a_failing_start_hook_stops_a_failing_poststart_or_poststop_warns",
            Needs::Root,
            late_hooks,
        ),
        test(
            "joins_an_existing_network_namespace_by_path",
            Needs::RootAnd("ip"),
            join_netns,
        ),
        test(
            "joins_another_containers_pid_namespace",
            Needs::Root,
            join_pidns,
        ),
        test(
            "only_stdio_and_preserved_fds_reach_the_program_as_with_runc",
            Needs::RootAnd("runc"),
            descriptors,
        ),
        test(
            "a_missing_program_or_a_file_as_cwd_fails_create_not_start",
            Needs::Root,
            create_time_errors,
        ),
        test(
            "the_terminal_reaches_the_console_socket_as_with_runc",
            Needs::RootAnd("runc"),
            terminal,
        ),
        test(
            "a_terminal_needs_a_console_socket_and_the_reverse",
            Needs::Root,
            terminal_errors,
        ),
        test(
            "exec_joins_the_container_as_with_runc",
            Needs::RootAnd("runc"),
            exec_like_runc,
        ),
        test(
            "exec_detached_writes_its_pid_and_a_stopped_container_refuses_exec",
            Needs::Root,
            exec_detached,
        ),
        test(
            "the_runtime_binary_is_out_of_the_containers_reach",
            Needs::Root,
            binary_protected,
        ),
        test(
            "a_leaked_descriptor_cannot_become_the_working_directory",
            Needs::Root,
            leaky_cwd,
        ),
        test(
            "a_mount_point_swapped_for_a_link_mid_create_stays_inside",
            Needs::Root,
            symlink_exchange_race,
        ),
        test(
            "a_symlink_in_the_image_cannot_send_a_mount_out_as_with_runc",
            Needs::RootAnd("runc"),
            symlink_escape,
        ),
        test(
            "device_nodes_and_the_device_cgroup_as_with_runc",
            Needs::RootAnd("runc"),
            devices,
        ),
        test(
            "the_device_rules_hold_under_cgroup_v2_in_the_micro_vm",
            Needs::RootAnd("qemu-system-x86_64"),
            devices_v2,
        ),
        test(
            "personality_scheduler_and_io_priority_reach_the_process",
            Needs::Root,
            scheduling,
        ),
        test(
            "unknown_fields_are_ignored_as_the_spec_requires",
            Needs::Root,
            unknown_fields,
        ),
        test(
            "without_a_mount_namespace_the_runtimes_own_is_shared_and_nothing_mounted",
            Needs::Root,
            no_mount_namespace,
        ),
        test(
            "a_hostname_is_set_in_a_joined_uts_namespace_as_with_runc",
            Needs::RootAnd("runc"),
            hostname_in_joined_uts,
        ),
        test(
            "time_offsets_move_the_containers_clocks",
            Needs::Root,
            time_offsets,
        ),
        test(
            "the_domainname_is_set_in_the_container",
            Needs::Root,
            domainname,
        ),
        test(
            "the_cgroup_mount_shows_the_containers_own_cgroup_as_with_runc",
            Needs::RootAnd("runc"),
            cgroup_mount,
        ),
        Trial::ignorable_test("resources_reach_their_cgroup_files_as_with_runc", || {
            if !Path::new("/sys/fs/cgroup/memory").is_dir() {
                let why = "cgroup v1 only (the micro-VM test covers v2)";
                return Ok(berth::testing::Completion::ignored_with(why));
            }
            if let Some(why) = Needs::RootAnd("runc").missing() {
                return Ok(berth::testing::Completion::ignored_with(why));
            }
            resources().map(|()| berth::testing::Completion::Completed)
        }),
        test(
            "resources_reach_their_cgroup_files_under_cgroup_v2_in_the_micro_vm",
            Needs::RootAnd("qemu-system-x86_64"),
            resources_v2,
        ),
        test(
            "resources_this_runtime_or_host_lacks_are_refused_by_name",
            Needs::Root,
            resources_refused,
        ),
        test(
            "list_ps_and_kill_all_as_with_runc",
            Needs::RootAnd("runc"),
            list_ps_kill_all,
        ),
    ]
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
    let name = name(program);
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
    for program in [rung(), "runc"] {
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

fn observables() -> Outcome {
    let script =
        "hostname; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ulimit -n; ulimit -Hn; \
        cat /proc/kcore 2>&1 | head -c 20 | wc -c; ls /dev | sort; \
        cut -d' ' -f5 /proc/self/mountinfo | grep -v '^/sys/fs/cgroup' | sort; \
        ip -o link show lo | cut -d' ' -f2,3";
    let ours = run_in(rung(), "seen", &["sh", "-c", script], |_| {});
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
    let ours = run_in(rung(), "user", &["sh", "-c", script], edit);
    let runc = run_in("runc", "user", &["sh", "-c", script], edit);
    check_eq(
        ours,
        runc,
        "identity, environment and directory, ours against runc's",
    )
}

fn run_status() -> Outcome {
    let (out, code) = run_in(rung(), "status", &["sh", "-c", "echo bye; exit 3"], |_| {});
    check_eq(code, Some(3), "run's exit status")?;
    check_eq(out.as_str(), "bye\n", "output")?;
    let (_, code) = run_in(rung(), "signal", &["sh", "-c", "kill -TERM $$"], |_| {});
    // The shell is PID 1 and has no handler: SIGTERM is ignored, it exits 0.
    check_eq(code, Some(0), "a PID 1 without a handler ignores SIGTERM")
}

/// Run `create` on a bundle edited by `edit`; it must fail, saying `says`,
/// and leave no container behind.
fn refused(tag: &str, edit: impl Fn(&mut Value), says: &str) -> Outcome {
    let rt = Runtime::new(rung(), tag);
    let dir = bundle(tag, &["true"], edit);
    // The tag as the ID: tests run in parallel, and IDs name cgroups.
    let out = rt.run(&["create", "--bundle", dir.to_str().unwrap(), tag]);
    let left = rt.root.join(tag).exists();
    // If create wrongly succeeded, do not leave its container waiting.
    rt.run(&["delete", "--force", tag]);
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
    let rt = Runtime::new(rung(), "syntax");
    let dir = bundle("syntax", &["true"], |_| {});
    fs::write(dir.join("config.json"), "{ not json").unwrap();
    let out = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "syntax"]);
    let _ = fs::remove_dir_all(&dir);
    check(
        !out.status.success() && text(&out).contains("config.json"),
        || text(&out),
    )
}

fn wrong_state() -> Outcome {
    let rt = Runtime::new(rung(), "state");
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
    // (linux.seccomp is supported now: tests/seccomp.rs.)
    refused(
        "userns",
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]),
        "user namespaces",
    )?;
    refused(
        "mountlabel",
        |c| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"),
        "linux.mountLabel (SELinux)",
    )?;
    // An AppArmor profile is applied where the host has AppArmor; where it
    // has none (this host), refused rather than ignored, as runc does.
    if !Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        refused(
            "apparmor",
            |c| c["process"]["apparmorProfile"] = json!("docker-default"),
            "AppArmor is not enabled on this host",
        )?;
    }
    Ok(())
}

/// A hook that appends "KIND STATUS" (the status from the state on its
/// standard input) to `log`.
fn logging_hook(kind: &str, log: &str) -> Value {
    let script =
        format!("sed -n 's/.*\"status\":\"\\([a-z]*\\)\".*/{kind} \\1/p' >> {log}; echo >> {log}");
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// The hooks, in the order they ran, with the status each was given.
fn hook_log(program: &str) -> std::result::Result<Vec<String>, String> {
    let name = name(program);
    let logs = std::env::temp_dir().join(format!("berth-hooklog-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&logs);
    fs::create_dir_all(&logs).unwrap();
    let host_log = logs.join("log").display().to_string();
    let dir = bundle(&format!("hooks-{name}"), &["true"], |c| {
        let mut hooks = json!({});
        for kind in [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop",
        ] {
            hooks[kind] = json!([logging_hook(kind, &host_log)]);
        }
        // startContainer runs inside the container, after pivot_root: it
        // writes through a bind mount of the log's folder.
        hooks["startContainer"] = json!([logging_hook("startContainer", "/tmp/log")]);
        c["hooks"] = hooks;
        c["mounts"]
            .as_array_mut()
            .unwrap()
            // (onto a folder the image has: the shared image is never changed)
            .push(json!({"destination": "/tmp", "type": "bind", "source": logs, "options": ["rbind", "rw"]}));
    });
    let rt = Runtime::new(program, "hooks");
    let bundle = dir.to_str().unwrap();
    let mut steps = Vec::new();
    steps.push(rt.run(&["create", "--bundle", bundle, "h1"]));
    steps.push(rt.run(&["start", "h1"]));
    wait_stopped(&rt, "h1");
    steps.push(rt.run(&["delete", "h1"]));
    let log = fs::read_to_string(&host_log).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&logs);
    for out in &steps {
        if !out.status.success() {
            return Err(format!("{program}: {}", text(out)));
        }
    }
    Ok(log
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

fn hook_order() -> Outcome {
    // The specification's order. poststart runs "after the user-specified
    // process is executed": after startContainer, and the container is
    // running by then.
    let spec = [
        "prestart creating",
        "createRuntime creating",
        "createContainer creating",
        "startContainer created",
        "poststart running",
        "poststop stopped",
    ];
    check_eq(
        hook_log(rung())?,
        spec.map(String::from).to_vec(),
        "our hooks",
    )?;
    // runc 1.1 runs poststart as soon as the process is released, racing
    // startContainer, with the state still "created": compare the hooks it
    // runs, and their order, apart from that.
    let kinds = |log: Vec<String>| {
        let mut kinds: Vec<String> = log
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        kinds.sort();
        kinds
    };
    check_eq(
        kinds(hook_log("runc")?),
        kinds(spec.map(String::from).to_vec()),
        "the hooks runc runs",
    )
}

fn failing_hooks() -> Outcome {
    refused(
        "failing-hook",
        |c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}),
        "hooks.createRuntime[0] (/bin/false): it failed",
    )?;
    refused(
        "failing-container-hook",
        |c| c["hooks"] = json!({"createContainer": [{"path": "/no/such/hook"}]}),
        "hooks.createContainer[0] (/no/such/hook): cannot run it",
    )?;
    let began = Instant::now();
    refused(
        "hanging-hook",
        |c| {
            c["hooks"] =
                json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
        },
        "after its timeout of 1 s",
    )?;
    let took = began.elapsed();
    check(took < Duration::from_secs(5), || {
        format!("a hook with a 1 s timeout held create for {took:?}")
    })?;
    // The refused containers' cgroups are gone too.
    let left: Vec<PathBuf> = ["memory", "pids", "unified"]
        .iter()
        .flat_map(|c| {
            ["failing-hook", "failing-container-hook", "hanging-hook"].map(|tag| {
                Path::new("/sys/fs/cgroup")
                    .join(c)
                    .join(cgroup_of(tag).trim_start_matches('/'))
            })
        })
        .filter(|p| p.exists())
        .collect();
    check(left.is_empty(), || format!("cgroups left behind: {left:?}"))
}

fn late_hooks() -> Outcome {
    let rt = Runtime::new(rung(), "late-hooks");
    let dir = bundle("late-hooks", &["true"], |c| {
        c["hooks"] = json!({
            "poststart": [{"path": "/bin/false"}],
            "poststop": [{"path": "/bin/false"}],
        })
    });
    let path = dir.to_str().unwrap();
    let created = rt.run(&["create", "--bundle", path, "l1"]);
    let started = rt.run(&["start", "l1"]);
    wait_stopped(&rt, "l1");
    let deleted = rt.run(&["delete", "l1"]);
    let _ = fs::remove_dir_all(&dir);
    check(created.status.success(), || text(&created))?;
    check(
        started.status.success() && text(&started).contains("warning: hooks.poststart[0]"),
        || text(&started),
    )?;
    check(
        deleted.status.success() && text(&deleted).contains("warning: hooks.poststop[0]"),
        || text(&deleted),
    )?;
    check_eq(rt.status("l1"), "gone".to_string(), "after delete")?;
    // startContainer runs in the container, after start released it: if
    // it fails, start says so and the program never runs.
    let rt = Runtime::new(rung(), "start-hook");
    let dir = bundle("start-hook", &["touch", "/tmp/ran"], |c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]})
    });
    let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "s1"]);
    let started = rt.run(&["start", "s1"]);
    let status = wait_stopped(&rt, "s1");
    rt.run(&["delete", "--force", "s1"]);
    let _ = fs::remove_dir_all(&dir);
    check(created.status.success(), || text(&created))?;
    check(
        !started.status.success()
            && text(&started).contains("hooks.startContainer[0] (/bin/false): it failed"),
        || text(&started),
    )?;
    check_eq(
        status.as_str(),
        "stopped",
        "the container after a failed startContainer hook",
    )
}

/// Replace namespace `typ`'s entry with one that joins `path`.
fn join(config: &mut Value, typ: &str, path: &str) {
    for ns in config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == typ {
            ns["path"] = json!(path);
        }
    }
}

fn join_netns() -> Outcome {
    let name = format!("berth-test-{}", std::process::id());
    let added = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    check(added.success(), || format!("ip netns add {name}"))?;
    let path = format!("/var/run/netns/{name}");
    let inode = fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let (out, code) = run_in(rung(), "netns", &["readlink", "/proc/self/ns/net"], |c| {
        join(c, "network", &path)
    });
    Command::new("ip")
        .args(["netns", "delete", &name])
        .status()
        .unwrap();
    check_eq(code, Some(0), "exit status")?;
    check_eq(
        out.trim().to_string(),
        format!("net:[{}]", inode.unwrap()),
        "the container's network namespace",
    )
}

fn log_file() -> Outcome {
    // Engines pass --log and read it when a runtime fails: one JSON object
    // a line, {"level", "msg", "time"}, as runc writes them.
    let rt = Runtime::new(rung(), "logfile");
    let log = rt.root.with_extension("log");
    let _ = fs::remove_file(&log);
    let log_arg = log.to_str().unwrap();
    // A warning (runc spec's ambient capabilities cannot all be raised),
    // then an error (a bundle whose root does not exist).
    let warned = bundle("log-warn", &["true"], |c| {
        c["process"]["capabilities"]["ambient"] = json!(["CAP_SYS_ADMIN"]);
    });
    let failing = bundle("log-fail", &["true"], |c| {
        c["root"]["path"] = json!("/no/such/rootfs")
    });
    let with_log = |args: &[&str]| {
        let mut all = vec!["--log", log_arg, "--log-format", "json"];
        all.extend_from_slice(args);
        rt.run(&all)
    };
    let ran = with_log(&["run", "--bundle", warned.to_str().unwrap(), "l1"]);
    let refused = with_log(&["create", "--bundle", failing.to_str().unwrap(), "l2"]);
    let written = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    for dir in [&warned, &failing] {
        let _ = fs::remove_dir_all(dir);
    }
    check(ran.status.success() && !refused.status.success(), || {
        format!("{}{}", text(&ran), text(&refused))
    })?;
    let lines: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{l:?}: {e}")))
        .collect::<std::result::Result<_, _>>()?;
    let levels: Vec<&str> = lines
        .iter()
        .map(|l| l["level"].as_str().unwrap_or(""))
        .collect();
    check_eq(levels, vec!["warning", "error"], "the log's levels")?;
    check(
        lines[0]["msg"].as_str().unwrap_or("").contains("ambient")
            && lines[1]["msg"]
                .as_str()
                .unwrap_or("")
                .contains("/no/such/rootfs")
            && lines.iter().all(|l| l["time"].is_string()),
        || written.clone(),
    )
}

fn creates_in_parallel() -> Outcome {
    // A's createRuntime hook takes 3 s; B, created meanwhile in the same
    // root, must not wait for it (a lock on the whole root would make it).
    let slow = bundle("slow-hook", &["true"], |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
    });
    let quick = bundle("quick", &["true"], |_| {});
    let rt = Runtime::new(rung(), "parallel");
    let (slow_dir, quick_dir) = (slow.to_str().unwrap(), quick.to_str().unwrap());
    let (a, b_took) = std::thread::scope(|scope| {
        let a = scope.spawn(|| rt.run(&["create", "--bundle", slow_dir, "a"]));
        // Let A reach its hook first.
        std::thread::sleep(Duration::from_millis(500));
        let began = Instant::now();
        let b = rt.run(&["create", "--bundle", quick_dir, "b"]);
        let took = began.elapsed();
        (a.join().unwrap(), (b, took))
    });
    let (b, took) = b_took;
    let listed = rt.run(&["list", "-q"]);
    for id in ["a", "b"] {
        rt.run(&["delete", "--force", id]);
    }
    let _ = fs::remove_dir_all(&slow);
    let _ = fs::remove_dir_all(&quick);
    check(a.status.success() && b.status.success(), || {
        format!("{}{}", text(&a), text(&b))
    })?;
    check(took < Duration::from_millis(1500), || {
        format!("create b took {took:?} while a's hook ran: it waited for a's lock")
    })?;
    // Listed by creation time: b was done while a's hook still ran.
    check_eq(
        String::from_utf8_lossy(&listed.stdout).into_owned(),
        "b\na\n".to_string(),
        "both containers, listed",
    )
}

fn one_id_once() -> Outcome {
    let dir = bundle("once", &["true"], |_| {});
    let rt = Runtime::new(rung(), "once");
    // What a create killed half-way leaves: the ID's folder, no state.
    fs::create_dir_all(rt.root.join("same")).unwrap();
    let bundle_dir = dir.to_str().unwrap();
    let outs: Vec<_> = std::thread::scope(|scope| {
        let creates: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| rt.run(&["create", "--bundle", bundle_dir, "same"])))
            .collect();
        creates.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let listed = rt.run(&["list", "-q"]);
    rt.run(&["delete", "--force", "same"]);
    let _ = fs::remove_dir_all(&dir);
    let won = outs.iter().filter(|o| o.status.success()).count();
    check_eq(won, 1, "creates of one ID that succeeded")?;
    check(
        outs.iter()
            .filter(|o| !o.status.success())
            .all(|o| text(o).contains("already exists")),
        || outs.iter().map(text).collect::<Vec<_>>().join("\n"),
    )?;
    check_eq(
        String::from_utf8_lossy(&listed.stdout).into_owned(),
        "same\n".to_string(),
        "the containers listed",
    )
}

fn reused_pid() -> Outcome {
    // A created container's state names its process by PID and start time.
    // Pretend the process is gone and its PID reused: point the state at
    // another live process (same start time as before, so it no longer
    // matches). The runtime must see a stopped container and leave that
    // process alone.
    let dir = bundle("reused", &["true"], |_| {});
    let rt = Runtime::new(rung(), "reused");
    let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "r"]);
    check(created.status.success(), || text(&created))?;
    // Start times count clock ticks (10 ms): a process started in the same
    // tick as the container's would be indistinguishable by it — as it is
    // for runc — but a PID is not reused that fast. Let a tick pass.
    std::thread::sleep(Duration::from_millis(30));
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let path = rt.root.join("r/state.json");
    let mut state: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let container_pid = state["pid"].clone();
    state["pid"] = json!(bystander.id());
    fs::write(&path, state.to_string()).unwrap();
    let status = rt.status("r");
    let killed = rt.run(&["kill", "r", "KILL"]);
    let bystander_alive = bystander.try_wait().unwrap().is_none();
    let _ = bystander.kill();
    let _ = bystander.wait();
    // Put the real PID back, so that delete can clean up.
    state["pid"] = container_pid;
    fs::write(&path, state.to_string()).unwrap();
    let deleted = rt.run(&["delete", "--force", "r"]);
    let _ = fs::remove_dir_all(&dir);
    check_eq(
        status.as_str(),
        "stopped",
        "the state of a container whose PID was reused",
    )?;
    check(!killed.status.success(), || {
        "kill succeeded on a reused PID".into()
    })?;
    check(bystander_alive, || {
        "the process that reused the PID was killed".into()
    })?;
    check(deleted.status.success(), || text(&deleted))
}

/// What the prestart and createRuntime hooks of `program` find as the
/// network namespace of the container's process, when the bundle joins
/// the namespace `ip netns add` made: one line per hook.
fn netns_seen_by_hooks(program: &str) -> std::result::Result<(String, String), String> {
    let name = format!("berth-hooks-{}-{}", name(program), std::process::id());
    let added = Command::new("ip").args(["netns", "add", &name]).status();
    if !added.is_ok_and(|s| s.success()) {
        return Err(format!("ip netns add {name} failed"));
    }
    let path = format!("/var/run/netns/{name}");
    let inode = fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let _ = fs::remove_file(&log);
    // The state on the hook's stdin holds the container's PID.
    let hook = |kind: &str| {
        let script = format!(
            "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); echo {kind} $(readlink /proc/$pid/ns/net) >> {}",
            log.display()
        );
        json!([{"path": "/bin/sh", "args": ["sh", "-c", script]}])
    };
    let dir = bundle(
        &format!("hooksns-{}", super::common::name(program)),
        &["true"],
        |c| {
            join(c, "network", &path);
            c["hooks"] =
                json!({"prestart": hook("prestart"), "createRuntime": hook("createRuntime")});
        },
    );
    let rt = Runtime::new(program, "hooksns");
    let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "n1"]);
    let deleted = rt.run(&["delete", "--force", "n1"]);
    let _ = Command::new("ip").args(["netns", "delete", &name]).status();
    let _ = fs::remove_dir_all(&dir);
    let seen = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);
    if !created.status.success() || !deleted.status.success() {
        return Err(format!("{program}: {}{}", text(&created), text(&deleted)));
    }
    let want = format!("net:[{}]", inode.map_err(|e| e.to_string())?);
    Ok((seen, want))
}

fn hooks_see_joined_netns() -> Outcome {
    for program in [rung(), "runc"] {
        let (seen, want) = netns_seen_by_hooks(program)?;
        check_eq(
            seen,
            format!("prestart {want}\ncreateRuntime {want}\n"),
            &format!("the namespace {program}'s runtime hooks find the container in"),
        )?;
    }
    Ok(())
}

fn join_pidns() -> Outcome {
    let rt = Runtime::new(rung(), "pidns");
    let first = bundle("pidns-first", &["sleep", "30"], |_| {});
    let run = rt.run(&["run", "--detach", "--bundle", first.to_str().unwrap(), "p1"]);
    let result = (|| {
        check(run.status.success(), || text(&run))?;
        let pid = rt.state("p1").unwrap()["pid"].as_i64().unwrap();
        let path = format!("/proc/{pid}/ns/pid");
        let (out, code) = run_in(rung(), "pidns-second", &["ps", "-o", "pid,args"], |c| {
            join(c, "pid", &path)
        });
        check_eq(code, Some(0), "exit status")?;
        check(out.contains("1 sleep 30"), || {
            format!("the second container should see the first's sleep as PID 1: {out}")
        })
    })();
    rt.run(&["delete", "--force", "p1"]);
    let _ = fs::remove_dir_all(&first);
    result
}

fn descriptors() -> Outcome {
    let mut seen = Vec::new();
    for program in [rung(), "runc"] {
        let name = name(program);
        let dir = bundle(&format!("fds-{name}"), &["ls", "/proc/self/fd"], |_| {});
        let root =
            std::env::temp_dir().join(format!("berth-oci-fds-{name}-{}", std::process::id()));
        // Descriptors 3 and 4 open in the runtime; only 3 is to be passed.
        let script = format!(
            "exec 3</etc/hostname 4</etc/hostname; {program} --root {root} run --bundle {dir} --preserve-fds 1 f1; \
             {program} --root {root} run --bundle {dir} f2",
            root = root.display(),
            dir = dir.display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&root);
        check(out.status.success(), || text(&out))?;
        seen.push(text(&out));
    }
    check(seen[0].starts_with("0\n1\n2\n3\n"), || seen[0].clone())?;
    check_eq(
        &seen[0],
        &seen[1],
        "descriptors in the container, ours against runc's",
    )
}

fn create_time_errors() -> Outcome {
    refused(
        "no-program",
        |c| c["process"]["args"] = json!(["/no/such/program"]),
        "/no/such/program",
    )?;
    // A working directory the image lacks is made, as runc makes it; one
    // that is not a directory cannot be entered.
    refused(
        "file-cwd",
        |c| c["process"]["cwd"] = json!("/etc/passwd"),
        "entering process.cwd /etc/passwd",
    )
}

/// Listen on a console socket at `path`; the thread receives the
/// terminal's master and reads everything the container writes to it.
fn console_receiver(path: &Path) -> std::thread::JoinHandle<std::result::Result<String, String>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
        let mut name = [0u8; 64];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut name)];
        let message = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .map_err(|e| e.to_string())?;
        let mut fd = None;
        for cmsg in message.cmsgs().map_err(|e| e.to_string())? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                fd = fds.first().copied();
            }
        }
        let fd = fd.ok_or("no descriptor in the message")?;
        // SAFETY: the descriptor was just received, and nothing else owns it.
        let mut master = unsafe { fs::File::from_raw_fd(fd) };
        let mut output = Vec::new();
        // Reading ends with EIO once the container's side has closed.
        let _ = master.read_to_end(&mut output);
        Ok(String::from_utf8_lossy(&output).into_owned())
    })
}

fn terminal() -> Outcome {
    let script = "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-terminal; \
                  ls -l /dev/console | cut -c1; ps -o stat | sed -n 2p | cut -c2";
    let mut seen = Vec::new();
    for program in [rung(), "runc"] {
        let name = name(program);
        let rt = Runtime::new(program, "tty");
        let dir = bundle(&format!("tty-{name}"), &["sh", "-c", script], |c| {
            c["process"]["terminal"] = json!(true)
        });
        let socket = dir.join("console.sock");
        let receiver = console_receiver(&socket);
        let args = [
            "create",
            "--bundle",
            dir.to_str().unwrap(),
            "--console-socket",
        ];
        let created = rt.run(&[&args[..], &[socket.to_str().unwrap(), "t1"]].concat());
        let started = rt.run(&["start", "t1"]);
        wait_stopped(&rt, "t1");
        rt.run(&["delete", "--force", "t1"]);
        let _ = fs::remove_dir_all(&dir);
        check(created.status.success() && started.status.success(), || {
            format!("{program}: {}{}", text(&created), text(&started))
        })?;
        seen.push(receiver.join().unwrap()?);
    }
    check(
        seen[0].contains("/dev/pts/0\r\nstdio-is-a-terminal\r\n"),
        || format!("our container's terminal: {:?}", seen[0]),
    )?;
    check_eq(
        &seen[0],
        &seen[1],
        "what the terminal shows, ours against runc's",
    )
}

fn terminal_errors() -> Outcome {
    refused(
        "tty-no-socket",
        |c| c["process"]["terminal"] = json!(true),
        "no --console-socket",
    )?;
    let rt = Runtime::new(rung(), "socket-no-tty");
    let dir = bundle("socket-no-tty", &["true"], |_| {});
    let out = rt.run(&[
        "create",
        "--bundle",
        dir.to_str().unwrap(),
        "--console-socket",
        "/nowhere",
        "st",
    ]);
    let _ = fs::remove_dir_all(&dir);
    check(
        !out.status.success() && text(&out).contains("process.terminal is false"),
        || text(&out),
    )
}

/// Under `program`: a running container of `sleep 30`, and what a few
/// `exec`s into it printed (output and status each).
fn execs(
    program: &str,
    runs: &[&[&str]],
) -> std::result::Result<Vec<(String, Option<i32>)>, String> {
    let name = name(program);
    let rt = Runtime::new(program, "exec");
    let dir = bundle(&format!("exec-{name}"), &["sleep", "30"], |_| {});
    let started = rt.run(&["run", "--detach", "--bundle", dir.to_str().unwrap(), "x1"]);
    let mut seen = Vec::new();
    if started.status.success() {
        for args in runs {
            let out = rt.run(&[&["exec"][..], args].concat());
            seen.push((text(&out), out.status.code()));
        }
    }
    rt.run(&["delete", "--force", "x1"]);
    let _ = fs::remove_dir_all(&dir);
    if !started.status.success() {
        return Err(format!("{program} run --detach: {}", text(&started)));
    }
    Ok(seen)
}

fn exec_like_runc() -> Outcome {
    let runs: [&[&str]; 6] = [
        &[
            "x1",
            "sh",
            "-c",
            "hostname; id; cat /proc/self/cgroup; ps -o args",
        ],
        &[
            "--user",
            "65534:65534",
            "--env",
            "GREETING=hi",
            "--cwd",
            "/tmp",
            "x1",
            "sh",
            "-c",
            "id; echo $GREETING; pwd; grep -E '^Cap(Eff|Bnd)' /proc/self/status",
        ],
        &["x1", "sh", "-c", "exit 7"],
        &["--ignore-paused", "x1", "echo", "not paused"],
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            "x1",
            "grep",
            "^Cap",
            "/proc/self/status",
        ],
        &[
            "-c",
            "CAP_NET_RAW",
            "--no-new-privs",
            "-u",
            "1000:1000",
            "-g",
            "10",
            "-e",
            "A=b",
            "x1",
            "sh",
            "-c",
            "id; echo $A; grep -E '^(Cap|NoNewPrivs)' /proc/self/status",
        ],
    ];
    let ours = execs(rung(), &runs)?;
    check(ours[0].0.contains("\nsleep 30\n"), || {
        format!("exec should see the container's processes: {}", ours[0].0)
    })?;
    check_eq(ours[2].1, Some(7), "exec's exit status")?;
    check_eq(ours, execs("runc", &runs)?, "exec, ours against runc's")
}

fn exec_detached() -> Outcome {
    let rt = Runtime::new(rung(), "exec-detach");
    let dir = bundle("exec-detach", &["sleep", "30"], |_| {});
    let pid_file = dir.join("exec.pid");
    let result = (|| {
        let run = rt.run(&["run", "--detach", "--bundle", dir.to_str().unwrap(), "d1"]);
        check(run.status.success(), || text(&run))?;
        let out = rt.run(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "d1",
            "sleep",
            "20",
        ]);
        check(out.status.success(), || text(&out))?;
        let pid: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        check_eq(
            cmdline.as_str(),
            "sleep\u{0}20\u{0}",
            "the detached process",
        )?;
        let ps = rt.run(&["ps", "--format", "json", "d1"]);
        let listed: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap_or_default();
        check(listed.contains(&pid), || {
            format!(
                "ps should list the exec'd process {pid} (it is in the cgroup): {}",
                text(&ps)
            )
        })?;
        let killed = rt.run(&["kill", "d1", "KILL"]);
        check(killed.status.success(), || text(&killed))?;
        wait_stopped(&rt, "d1");
        let refused = rt.run(&["exec", "d1", "true"]);
        check(
            !refused.status.success()
                && text(&refused).contains("exec needs a created or running container"),
            || text(&refused),
        )
    })();
    rt.run(&["delete", "--force", "d1"]);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn binary_protected() -> Outcome {
    // In a created container, PID 1 is still the runtime's binary, waiting
    // for start: the moment of CVE-2019-5736. A process exec'd into the
    // container must not be able to reach that binary through /proc.
    let before = fs::read(rung()).unwrap();
    let rt = Runtime::new(rung(), "exe");
    let dir = bundle("exe", &["true"], |_| {});
    let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), "p1"]);
    let attempt = rt.run(&[
        "exec",
        "p1",
        "sh",
        "-c",
        "cat /proc/1/exe > /dev/null; echo overwrite > /proc/1/exe; ls /proc/1/root/ > /dev/null",
    ]);
    rt.run(&["delete", "--force", "p1"]);
    let _ = fs::remove_dir_all(&dir);
    check(created.status.success(), || text(&created))?;
    let said = text(&attempt);
    check(said.matches("Permission denied").count() >= 3, || {
        format!("reading /proc/1/exe, writing it and its root must all be refused: {said}")
    })?;
    check(fs::read(rung()).unwrap() == before, || {
        "the runtime's binary changed".into()
    })
}

/// CVE-2024-21626 ("Leaky Vessels"): a runtime that enters `process.cwd`
/// while one of its own descriptors to a host directory is still open lets
/// `/proc/self/fd/N` be that directory, and `../..` from there is the
/// host's root. Tried for every low descriptor number, at create and at
/// exec (with a descriptor the caller leaked into the runtime).
fn leaky_cwd() -> Outcome {
    let host = fs::read_to_string("/etc/hostname").unwrap_or_default();
    let climb = "../../../../../../../../etc/hostname";
    for fd in 3..10 {
        let cwd = format!("/proc/self/fd/{fd}");
        let (out, status) = run_in(rung(), &format!("leak{fd}"), &["cat", climb], |c| {
            c["process"]["cwd"] = json!(cwd)
        });
        check(
            status != Some(0) && !out.lines().any(|l| l == host.trim()),
            || format!("cwd {cwd}: the container read the host's /etc/hostname: {status:?} {out}"),
        )?;
        check(out.contains("process.cwd"), || {
            format!("cwd {cwd}: expected a refusal naming process.cwd, got: {out}")
        })?;
    }
    // exec, from a caller that leaks descriptor 7 (the host's /etc) into the
    // runtime: the container's process must not be able to enter it.
    let rt = Runtime::new(rung(), "leak-exec");
    let dir = bundle("leak-exec", &["sleep", "30"], |_| {});
    let started = rt.run(&["run", "--detach", "--bundle", dir.to_str().unwrap(), "l1"]);
    let script = "exec 7</etc; \"$0\" --root \"$1\" exec --cwd /proc/self/fd/7 l1 cat hostname 2>&1; echo \"status $?\"";
    let out = Command::new("sh")
        .args(["-c", script, rung()])
        .arg(&rt.root)
        .output()
        .unwrap();
    rt.run(&["delete", "--force", "l1"]);
    let _ = fs::remove_dir_all(&dir);
    check(started.status.success(), || text(&started))?;
    let said = String::from_utf8_lossy(&out.stdout);
    check(
        !said.lines().any(|l| l == host.trim())
            && !said.contains("status 0")
            && said.contains("process.cwd"),
        || format!("exec --cwd /proc/self/fd/7 must be refused, got: {said}"),
    )
}

fn symlink_escape() -> Outcome {
    // A copy of the image with a link an attacker would plant: /escape
    // leads to /etc — the container's /etc if resolved inside the root,
    // the host's if a runtime followed it from outside.
    let name = format!("berth-escape-{}", std::process::id());
    let image = std::env::temp_dir().join(&name);
    let _ = fs::remove_dir_all(&image);
    let copied = Command::new("cp")
        .arg("-a")
        .arg(busybox::image().unwrap())
        .arg(&image)
        .status()
        .unwrap();
    check(copied.success(), || "copying the image".into())?;
    std::os::unix::fs::symlink("/etc", image.join("escape")).unwrap();
    let target = format!("/escape/{name}");
    let script = format!("grep -c ' /etc/{name} ' /proc/self/mountinfo");
    let mut seen = Vec::new();
    for program in [rung(), "runc"] {
        let edit = |c: &mut Value| {
            c["root"]["path"] = json!(image);
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": target, "type": "tmpfs", "source": "tmpfs"}));
        };
        seen.push(run_in(program, "escape", &["sh", "-c", &script], edit));
    }
    let on_host = Path::new("/etc").join(&name).exists();
    let _ = fs::remove_dir_all(&image);
    check(!on_host, || format!("/etc/{name} was created on the host"))?;
    check_eq(
        &seen[0],
        &(String::from("1\n"), Some(0)),
        "the mount, inside the container's /etc",
    )?;
    check_eq(&seen[0], &seen[1], "ours against runc's")
}

/// CVE-2021-30465: a container that can write to a directory on another
/// container's mount path swaps it for a link, over and over
/// (renameat2 with RENAME_EXCHANGE), while that container is created,
/// hoping the runtime checks the directory and then mounts through the
/// link. Here a thread of the test plays the attacker; the link leads to
/// an empty directory of the host's. Whatever each create does — succeed
/// with the tmpfs inside the container, or fail — nothing may appear in
/// the host's directory.
fn symlink_exchange_race() -> Outcome {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let pid = std::process::id();
    let image = std::env::temp_dir().join(format!("berth-race-image-{pid}"));
    let host = std::env::temp_dir().join(format!("berth-race-host-{pid}"));
    let _ = fs::remove_dir_all(&image);
    let _ = fs::remove_dir_all(&host);
    fs::create_dir_all(&host).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(busybox::image().unwrap())
        .arg(&image)
        .status()
        .unwrap();
    check(copied.success(), || "copying the image".into())?;
    let race = image.join("race");
    fs::create_dir_all(race.join("d")).unwrap();
    std::os::unix::fs::symlink(&host, race.join("l")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = {
        let (stop, race) = (stop.clone(), race.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let flags = nix::fcntl::RenameFlags::RENAME_EXCHANGE;
                let at = nix::fcntl::AT_FDCWD;
                if nix::fcntl::renameat2(at, &race.join("d"), at, &race.join("l"), flags).is_ok() {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let edit = |c: &mut Value| {
        c["root"]["path"] = json!(image);
        // A new directory under the swapped one, and an option that makes
        // the runtime come back to the mount after making it.
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/race/d/new/x", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "rprivate"]
        }));
    };
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        let script = "grep -c ' /race/d/new/x ' /proc/self/mountinfo";
        outcomes.push(run_in(rung(), "race", &["sh", "-c", script], edit));
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swaps.join().unwrap();
    let on_host: Vec<_> = fs::read_dir(&host)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let _ = fs::remove_dir_all(&image);
    let _ = fs::remove_dir_all(&host);
    check(swaps > 1000, || {
        format!("the attacker swapped only {swaps} times")
    })?;
    check(on_host.is_empty(), || {
        format!("the runtime followed the link out of the root: {on_host:?}")
    })?;
    // A create that succeeded has its tmpfs inside, where it was asked for.
    let wrong: Vec<_> = outcomes
        .iter()
        .filter(|(out, status)| *status == Some(0) && out != "1\n")
        .collect();
    check(wrong.is_empty(), || {
        format!("containers without their mount: {wrong:?}")
    })
}

fn devices() -> Outcome {
    // Two nodes of the bundle's own: /dev/loop0's numbers (b 7:0) and
    // /dev/null's (1:3), owned by 0:1000, mode 0640.
    let nodes = json!([
        {"path": "/dev/berth-loop", "type": "b", "major": 7, "minor": 0, "fileMode": 416, "uid": 0, "gid": 1000},
        {"path": "/dev/berth-null", "type": "c", "major": 1, "minor": 3, "fileMode": 416, "uid": 0, "gid": 1000},
    ]);
    let script = "stat -c '%A %u:%g %t:%T %n' /dev/berth-loop /dev/berth-null; \
                  (exec 3</dev/berth-loop && echo loop opened); \
                  echo hi > /dev/berth-null && echo null written; head -c 4 /dev/zero | wc -c";
    let mut seen = Vec::new();
    // Allowed by a rule of the bundle's; then, with no rules, denied: like
    // runc, the kit allows only the standard nodes unless told otherwise.
    let allow_loop = json!([{"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm"}]);
    for rules in [allow_loop, json!([])] {
        for program in [rung(), "runc"] {
            let edit = |c: &mut Value| {
                c["linux"]["devices"] = nodes.clone();
                c["linux"]["resources"] = json!({"devices": rules});
            };
            seen.push(run_in(program, "devices", &["sh", "-c", script], edit));
        }
    }
    check(
        seen[0].0.contains("loop opened")
            && seen[0].0.contains("brw-r----- 0:1000 7:0 /dev/berth-loop"),
        || {
            format!(
                "with an allow rule, the nodes are there and usable: {:?}",
                seen[0]
            )
        },
    )?;
    check(
        seen[2].0.contains("Operation not permitted") && seen[2].0.contains("null written\n4\n"),
        || {
            format!(
                "without rules, the loop device is refused, null and zero still allowed: {:?}",
                seen[2]
            )
        },
    )?;
    check_eq(
        &seen[0],
        &seen[1],
        "with an allow rule, ours against runc's",
    )?;
    check_eq(&seen[2], &seen[3], "without rules, ours against runc's")
}

/// cgroup v2 has no device files: the rules become an eBPF program. This
/// host may be v1, so the check runs in rung 02's micro-VM (pure v2): the
/// same two bundles as above, with and without a rule allowing the loop
/// device.
/// A change to a default config.json.
type Edit<'a> = &'a dyn Fn(&mut Value);

/// Run each bundle (a default config.json changed by its edit, the
/// busybox image as its root) with the rung, in the cgroup-v2 micro-VM;
/// what each said, after a line "== NAME".
fn in_the_micro_vm(bundles: &[(&str, Edit)]) -> std::result::Result<String, String> {
    // Named for its bundles: tests run in parallel.
    let tag: Vec<&str> = bundles.iter().map(|(name, _)| *name).collect();
    let work =
        std::env::temp_dir().join(format!("berth-v2-{}-{}", tag.join("-"), std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let image = work.join("image.tar");
    let tarred = Command::new("tar")
        .arg("-C")
        .arg(busybox::image().unwrap())
        .arg("-cf")
        .arg(&image)
        .arg(".")
        .status()
        .unwrap();
    if !tarred.success() {
        return Err("tar of the image".into());
    }
    let mut configs = Vec::new();
    let mut names = Vec::new();
    for (name, edit) in bundles {
        let config = work.join(format!("{name}.json"));
        let made = bundle(&format!("v2-{name}"), &["true"], |c| edit(c));
        let mut spec: Value =
            serde_json::from_str(&fs::read_to_string(made.join("config.json")).unwrap()).unwrap();
        let _ = fs::remove_dir_all(&made);
        spec["root"] = json!({"path": "/tmp/image", "readonly": true});
        fs::write(&config, spec.to_string()).unwrap();
        configs.push(config);
        names.push(*name);
    }
    let guest = work.join("guest.sh");
    let w = work.display();
    fs::write(
        &guest,
        format!(
            "mkdir -p /tmp/image && tar -C /tmp/image -xf {w}/image.tar\n\
             for v in {}; do mkdir -p /tmp/b-$v; cp {w}/$v.json /tmp/b-$v/config.json; \
             echo \"== $v\"; {ours} --root /run/s run --bundle /tmp/b-$v c-$v 2>&1; done\n",
            names.join(" "),
            ours = rung(),
        ),
    )
    .unwrap();
    let mut vm = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../vm/microvm/run"));
    vm.args(["--timeout", "300", "--with", rung(), "--with"])
        .arg(&image)
        .arg("--with")
        .arg(&guest);
    for config in &configs {
        vm.arg("--with").arg(config);
    }
    let out = vm.arg("--").arg("/bin/sh").arg(&guest).output().unwrap();
    let _ = fs::remove_dir_all(&work);
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn devices_v2() -> Outcome {
    let script =
        "(exec 3</dev/berth-loop && echo loop allowed); echo hi > /dev/null && echo null written";
    let with = |rules: Value| {
        move |spec: &mut Value| {
            spec["process"]["args"] = json!(["sh", "-c", script]);
            spec["linux"]["devices"] = json!([{"path": "/dev/berth-loop", "type": "b", "major": 7, "minor": 0, "fileMode": 384}]);
            spec["linux"]["resources"] = json!({"devices": rules.clone()});
        }
    };
    let allow =
        with(json!([{"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm"}]));
    let none = with(json!([]));
    let said = in_the_micro_vm(&[("allow", &allow), ("none", &none)])?;
    check_eq(
        said.as_str(),
        "== allow\nsh: can't open /dev/berth-loop: No such device or address\nnull written\n\
         == none\nsh: can't open /dev/berth-loop: Operation not permitted\nnull written\n",
        "in the guest: the loop device reached (no such device) only when allowed",
    )
}

/// The same resources under cgroup v2, read from the container's own
/// cgroup (its cgroup namespace's root): cpuset, memory.low for the
/// reservation, a file named by `unified`; and v1's swappiness refused.
fn resources_v2() -> Outcome {
    let tuned = |spec: &mut Value| {
        spec["process"]["args"] = json!([
            "sh",
            "-c",
            "cd /sys/fs/cgroup; cat cpuset.cpus cpuset.mems memory.low memory.high"
        ]);
        spec["linux"]["resources"] = json!({
            "memory": {"limit": 67108864, "reservation": 33554432},
            "cpu": {"cpus": "0", "mems": "0"},
            "unified": {"memory.high": "50003968"}
        });
    };
    let swappiness = |spec: &mut Value| {
        spec["linux"]["resources"] = json!({"memory": {"swappiness": 10}});
    };
    let said = in_the_micro_vm(&[("tuned", &tuned), ("swappiness", &swappiness)])?;
    check_eq(
        said.as_str(),
        "== tuned\n0\n0\n33554432\n50003968\n\
         == swappiness\nSTEP: linux.resources.memory.swappiness: cgroup v2 has no such control\n"
            .replace("STEP", &name(rung()))
            .as_str(),
        "in the guest: the v2 files, and swappiness refused",
    )
}

fn scheduling() -> Outcome {
    // All three came after runc 1.1, which ignores them (a runc-1.1
    // container under LINUX32 still says x86_64): check what the kernel
    // says instead. In /proc/self/stat, field 19 is the nice value and 41
    // the policy (3: SCHED_BATCH).
    let linux32 = |c: &mut Value| c["linux"]["personality"] = json!({"domain": "LINUX32"});
    let ours = run_in(rung(), "persona", &["uname", "-m"], linux32);
    check_eq(
        &ours,
        &(String::from("i686\n"), Some(0)),
        "uname -m under LINUX32",
    )?;
    let (out, code) = run_in(
        rung(),
        "sched",
        &["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; ionice"],
        |c| {
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        },
    );
    check_eq(code, Some(0), "exit status")?;
    check_eq(out.as_str(), "5 3\nidle\n", "nice, policy and I/O class")?;
    refused(
        "bad-ioprio",
        |c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9}),
        "process.ioPriority.priority 9",
    )
}

fn unknown_fields() -> Outcome {
    // config.md: "MUST NOT generate an error if they encounter an unknown
    // property. Instead they MUST ignore unknown properties."
    let (out, code) = run_in(rung(), "unknown", &["echo", "ran"], |c| {
        c["org.example.future"] = json!({"anything": [1, 2]});
        c["process"]["someNewSetting"] = json!(true);
    });
    check_eq(
        (out.as_str(), code),
        ("ran\n", Some(0)),
        "a config.json with unknown fields",
    )
}

/// `linux.resources` beyond memory, pids and CPU time, as Podman writes
/// them for `--cpuset-cpus 0 --memory-reservation 32m --memory-swappiness
/// 10 --oom-kill-disable`, read back from inside through the container's
/// own cgroup mount (cgroup v1 here; v2 in the micro-VM test below).
fn resources() -> Outcome {
    let edit = |c: &mut Value| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                       "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"cpus": "0", "mems": "0"},
            "pids": {"limit": 2048},
            "blockIO": {}
        });
    };
    let script = "cd /sys/fs/cgroup; cat cpuset/cpuset.cpus cpuset/cpuset.mems \
                  memory/memory.soft_limit_in_bytes memory/memory.swappiness; \
                  head -1 memory/memory.oom_control";
    let ours = run_in(rung(), "tuning", &["sh", "-c", script], edit);
    let runc = run_in("runc", "tuning", &["sh", "-c", script], edit);
    check_eq(&ours, &runc, "the cgroup files, ours against runc's")?;
    check_eq(
        ours,
        (
            "0\n0\n33554432\n10\noom_kill_disable 1\n".to_string(),
            Some(0),
        ),
        "cpuset, soft limit, swappiness and the OOM killer off",
    )
}

fn resources_refused() -> Outcome {
    let cases: [(&str, Value, &str); 4] = [
        (
            "realtime",
            json!({"cpu": {"realtimeRuntime": 950000, "realtimePeriod": 1000000}}),
            "linux.resources.cpu.realtimeRuntime",
        ),
        (
            "netcls",
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network",
        ),
        (
            "weightdev",
            json!({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}}),
            "linux.resources.blockIO.weightDevice",
        ),
        (
            "unified-v1",
            json!({"unified": {"memory.high": "50000000"}}),
            "linux.resources.unified",
        ),
    ];
    for (tag, resources, says) in cases {
        if tag == "unified-v1" && !Path::new("/sys/fs/cgroup/memory").is_dir() {
            continue; // v2 has the files unified names
        }
        refused(tag, |c| c["linux"]["resources"] = resources.clone(), says)?;
        let left: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|h| h.path().join(cgroup_of(tag).trim_start_matches('/')))
            .filter(|p| p.exists())
            .collect();
        check(left.is_empty(), || {
            format!("{tag}: cgroups left behind: {left:?}")
        })?;
    }
    Ok(())
}

/// `runc spec`'s namespaces without `mount`: the container shares the
/// runtime's mount namespace (an unlisted namespace is inherited), and a
/// bundle that would then mount, mask or make read-only on the host is
/// refused. Not compared with runc on purpose: runc 1.1 makes such a
/// bundle's mounts in the host's mount namespace and leaves them there
/// (the image's /proc, /dev, /sys stay mounted after the container).
fn no_mount_namespace() -> Outcome {
    let no_mount = |c: &mut Value| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "mount");
    };
    let bare = |c: &mut Value| {
        no_mount(c);
        c["mounts"] = json!([]);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    };
    let host = format!("mnt:[{}]", berth::testing::host_namespace("mnt"));
    let args = ["readlink", "/proc/self/ns/mnt"];
    let ours = run_in(rung(), "nomnt", &args, bare);
    check_eq(
        ours,
        (format!("{host}\n"), Some(0)),
        "the runtime's mount namespace",
    )?;
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (said, status) = run_in(rung(), "nomnt-mounts", &args, no_mount);
    let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    check(
        status != Some(0) && said.contains("mounts needs a mount namespace"),
        || format!("mounts without a mount namespace must be refused: {status:?} {said}"),
    )?;
    check(before.lines().count() == after.lines().count(), || {
        "the host's mount table changed".into()
    })
}

/// A hostname in a UTS namespace joined by path is set in that namespace,
/// where the container that owns it sees it.
fn joined_uts_hostname(program: &str) -> std::result::Result<String, String> {
    let rt = Runtime::new(program, "uts");
    let owner = bundle(
        &format!("uts-owner-{}", name(program)),
        &["sleep", "30"],
        |_| {},
    );
    let started = rt.run(&["run", "--detach", "--bundle", owner.to_str().unwrap(), "u1"]);
    let pid = rt
        .state("u1")
        .map(|s| s["pid"].as_i64().unwrap_or(0))
        .unwrap_or(0);
    let joiner = bundle(
        &format!("uts-joiner-{}", name(program)),
        &["hostname"],
        |c| {
            join(c, "uts", &format!("/proc/{pid}/ns/uts"));
            c["hostname"] = json!("joined");
        },
    );
    let joined = rt.run(&["run", "--bundle", joiner.to_str().unwrap(), "u2"]);
    let seen = rt.run(&["exec", "u1", "hostname"]);
    rt.run(&["delete", "--force", "u1"]);
    let _ = fs::remove_dir_all(&owner);
    let _ = fs::remove_dir_all(&joiner);
    if !started.status.success() {
        return Err(format!("{program} run --detach: {}", text(&started)));
    }
    Ok(format!("joiner: {}owner: {}", text(&joined), text(&seen)))
}

fn hostname_in_joined_uts() -> Outcome {
    let ours = joined_uts_hostname(rung())?;
    let runc = joined_uts_hostname("runc")?;
    check_eq(
        &ours,
        &runc,
        "a hostname in a joined UTS namespace, ours against runc's",
    )?;
    check_eq(
        ours.as_str(),
        "joiner: joined\nowner: joined\n",
        "both see the new hostname",
    )
}

/// `linux.timeOffsets` in a new time namespace: the container's boot
/// clock is a day ahead of the host's. (runc 1.1 has no time namespaces,
/// so the kernel is the reference: /proc/uptime reads CLOCK_BOOTTIME.)
fn time_offsets() -> Outcome {
    let day = 86_400;
    let with_offsets = |time_ns: bool| {
        move |c: &mut Value| {
            if time_ns {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "time"}));
            }
            c["linux"]["timeOffsets"] = json!({
                "boottime": {"secs": day, "nanosecs": 0},
                "monotonic": {"secs": day, "nanosecs": 0}
            });
        }
    };
    let host_uptime = || -> i64 {
        let text = fs::read_to_string("/proc/uptime").unwrap();
        text.split('.').next().unwrap().parse().unwrap()
    };
    let before = host_uptime();
    let (out, status) = run_in(
        rung(),
        "timens",
        &["cut", "-d.", "-f1", "/proc/uptime"],
        with_offsets(true),
    );
    let after = host_uptime();
    let inside: i64 = out
        .trim()
        .parse()
        .map_err(|_| format!("uptime inside: {status:?} {out}"))?;
    check(inside >= before + day && inside <= after + day + 1, || {
        format!("uptime inside {inside} s, outside {before}..{after} s: expected a day more")
    })?;
    let (out, status) = run_in(rung(), "timens-none", &["true"], with_offsets(false));
    check(
        status != Some(0) && out.contains("linux.timeOffsets needs a new time namespace"),
        || format!("offsets without a time namespace must be refused: {status:?} {out}"),
    )
}

fn domainname() -> Outcome {
    // runc 1.1.5 leaves `domainname` unset, so this is checked against
    // the kernel: the UTS namespace's second name.
    let (out, code) = run_in(
        rung(),
        "domain",
        &["cat", "/proc/sys/kernel/domainname"],
        |c| c["domainname"] = json!("berth.test"),
    );
    check_eq(
        (out.as_str(), code),
        ("berth.test\n", Some(0)),
        "the domain name inside",
    )?;
    let host = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    check(host.trim() != "berth.test", || {
        "the host's domain name changed".into()
    })
}

fn cgroup_mount() -> Outcome {
    // The limit, read through the container's own /sys/fs/cgroup (v1: the
    // pids hierarchy's folder; v2: the one tree): its root is the
    // container's cgroup, so the file there is the container's.
    let script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
                  grep -c . /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null || grep -c . /sys/fs/cgroup/cgroup.procs";
    let limit = |c: &mut Value| c["linux"]["resources"] = json!({"pids": {"limit": 77}});
    let ours = run_in(rung(), "cgmount", &["sh", "-c", script], limit);
    // 77, and two processes in the cgroup: the shell and grep.
    check_eq(
        &ours,
        &(String::from("77\n2\n"), Some(0)),
        "the container's limit and processes",
    )?;
    check_eq(
        ours,
        run_in("runc", "cgmount", &["sh", "-c", script], limit),
        "ours against runc's",
    )
}

/// Under `program`: `list`, `ps` and `kill --all` of a container with two
/// processes, with what varies from run to run (PIDs, times) left out.
fn list_ps_kill(program: &str) -> std::result::Result<Vec<String>, String> {
    let name = name(program);
    let rt = Runtime::new(program, "listps");
    let dir = bundle(
        &format!("listps-{name}"),
        &["sh", "-c", "sleep 30 & exec sleep 31"],
        |_| {},
    );
    let mut seen = Vec::new();
    let result = (|| {
        let run = rt.run(&["run", "--detach", "--bundle", dir.to_str().unwrap(), "l1"]);
        if !run.status.success() {
            return Err(format!("{program} run: {}", text(&run)));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while text(&rt.run(&["ps", "--format", "json", "l1"]))
            .matches(',')
            .count()
            < 1
        {
            if Instant::now() > deadline {
                return Err(format!("{program}: the second process never appeared"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for line in text(&rt.run(&["list"])).lines() {
            // ID, STATUS, BUNDLE, OWNER: not the PID or the time.
            let cells: Vec<&str> = line.split_whitespace().collect();
            seen.push(format!(
                "{} {} {} {}",
                cells[0], cells[2], cells[3], cells[5]
            ));
        }
        let ps = text(&rt.run(&["ps", "l1"]));
        let mut commands: Vec<String> = ps
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().skip(7).collect::<Vec<_>>().join(" "))
            .collect();
        commands.sort();
        seen.extend(commands);
        let killed = rt.run(&["kill", "--all", "l1", "KILL"]);
        seen.push(format!("kill --all: {}", killed.status.success()));
        seen.push(wait_stopped(&rt, "l1"));
        Ok(())
    })();
    rt.run(&["delete", "--force", "l1"]);
    let _ = fs::remove_dir_all(&dir);
    result.map(|()| seen)
}

fn list_ps_kill_all() -> Outcome {
    let ours = list_ps_kill(rung())?;
    check(
        ours.iter().any(|l| l == "sleep 30") && ours.iter().any(|l| l == "sleep 31"),
        || format!("ps should show both processes: {ours:?}"),
    )?;
    // The bundle paths differ (one per runtime): compare the rest.
    let without_bundle = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| {
                l.replace(&format!("listps-{}", name(rung())), "B")
                    .replace("listps-runc", "B")
            })
            .collect()
    };
    check_eq(
        without_bundle(ours),
        without_bundle(list_ps_kill("runc")?),
        "ours against runc's",
    )
}
