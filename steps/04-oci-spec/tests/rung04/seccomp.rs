//! Rung 04's `linux.seccomp`, checked against the real kernel (as root)
//! and, where it is installed, against runc: the same profile in the same
//! bundle must refuse the same system calls, with the same errno, under
//! both runtimes.

use std::fs;
use std::path::{Path, PathBuf};

use berth::testing::{check, check_eq, test, Needs, Outcome, Trial};
use serde_json::{json, Value};

use super::common::{rung, text, Runtime};

/// moby's profiles/seccomp/default.json, as Docker ships it (Apache-2.0;
/// see tests/data/README.md).
const DOCKER_DEFAULT: &str = include_str!("../data/docker-default.json");

/// The trials, for the binary `super::common::rung()` names.
pub fn trials() -> Vec<Trial> {
    vec![
        test(
            "a_rule_makes_mkdir_fail_with_its_errno_as_with_runc",
            Needs::RootAnd("runc"),
            mkdir_refused,
        ),
        test(
            "proc_status_shows_the_filter_as_with_runc",
            Needs::RootAnd("runc"),
            proc_status,
        ),
        test(
            "conditions_on_one_argument_are_alternatives_as_with_runc",
            Needs::RootAnd("runc"),
            socket_families,
        ),
        test(
            "dockers_default_profile_runs_a_shell_and_refuses_unshare_as_with_runc",
            Needs::RootAnd("runc"),
            docker_default,
        ),
        test(
            "bad_profiles_are_refused_naming_the_field_and_leave_nothing",
            Needs::Root,
            bad_profiles,
        ),
        test(
            "a_deny_by_default_profile_needs_nothing_for_the_runtime",
            Needs::RootAnd("runc"),
            strict,
        ),
        test(
            "a_profile_that_refuses_execve_fails_start_and_leaves_nothing",
            Needs::Root,
            exec_refused,
        ),
    ]
}

/// A bundle as the other tests make them, with a tmpfs on /tmp (the
/// root is read-only, and the scripts here write).
fn bundle(tag: &str, args: &[&str], edit: impl Fn(&mut Value)) -> PathBuf {
    super::common::bundle(tag, args, with_tmp(edit))
}

/// Run `script` with `sh -c` in a container from a bundle edited by
/// `edit` (and a tmpfs on /tmp), under `program`; its output and exit
/// status.
fn run_in(
    program: &str,
    tag: &str,
    script: &str,
    edit: impl Fn(&mut Value),
) -> (String, Option<i32>) {
    super::common::run_in(program, tag, &["sh", "-c", script], with_tmp(edit))
}

fn with_tmp(edit: impl Fn(&mut Value)) -> impl Fn(&mut Value) {
    move |config: &mut Value| {
        config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        edit(config)
    }
}

/// The same script under both runtimes must print the same thing.
fn same_as_runc(tag: &str, script: &str, edit: impl Fn(&mut Value)) -> Result<String, String> {
    let ours = run_in(rung(), tag, script, &edit);
    let runc = run_in("runc", tag, script, &edit);
    if ours != runc {
        return Err(format!(
            "{tag}: ours and runc's differ\n--- ours ({:?}):\n{}--- runc ({:?}):\n{}",
            ours.1, ours.0, runc.1, runc.0
        ));
    }
    Ok(ours.0)
}

/// `linux.seccomp` set to `profile`.
fn with(profile: Value) -> impl Fn(&mut Value) {
    move |c: &mut Value| c["linux"]["seccomp"] = profile.clone()
}

fn mkdir_refused() -> Outcome {
    let script = "mkdir /tmp/x; echo \"mkdir: $?\"; touch /tmp/y && echo touch works";
    // Without a profile, mkdir works: what fails below fails by the filter.
    let (plain, _) = run_in(rung(), "mkdir-plain", script, |_| {});
    check_eq(
        plain.as_str(),
        "mkdir: 0\ntouch works\n",
        "mkdir without a profile",
    )?;
    let rule = |errno: Option<u32>| {
        let mut rule = json!({
            // A name this kernel does not know is skipped, not an error.
            "names": ["mkdir", "mkdirat", "no_such_syscall"],
            "action": "SCMP_ACT_ERRNO"
        });
        if let Some(errno) = errno {
            rule["errnoRet"] = json!(errno);
        }
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
    };
    let eperm = same_as_runc("mkdir-eperm", script, with(rule(Some(1))))?;
    check(eperm.contains("Operation not permitted"), || {
        format!("errnoRet 1 (EPERM): {eperm}")
    })?;
    check(
        eperm.contains("mkdir: 1") && eperm.contains("touch works"),
        || format!("only mkdir should fail: {eperm}"),
    )?;
    // No errnoRet: EPERM, the specification's default.
    let default = same_as_runc("mkdir-default", script, with(rule(None)))?;
    check_eq(&default, &eperm, "no errnoRet against errnoRet 1")?;
    // Any errno the profile chooses: 28 is ENOSPC.
    let enospc = same_as_runc("mkdir-enospc", script, with(rule(Some(28))))?;
    check(enospc.contains("No space left on device"), || {
        format!("errnoRet 28 (ENOSPC): {enospc}")
    })
}

/// The `/proc/self/status` line `key`'s value in `out`.
fn status_line(out: &str, key: &str) -> Option<u32> {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().parse().ok())
}

fn proc_status() -> Outcome {
    let script = "grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status";
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    });
    // Whatever filters this test itself runs under (a CI container's),
    // the container has them too: count from there.
    let (plain, _) = run_in(rung(), "status-plain", script, |_| {});
    let before = status_line(&plain, "Seccomp_filters").unwrap_or(0);
    for no_new_privileges in [true, false] {
        let edit = |c: &mut Value| {
            c["process"]["noNewPrivileges"] = json!(no_new_privileges);
            c["linux"]["seccomp"] = profile.clone();
        };
        let tag = format!("status-nnp-{no_new_privileges}");
        let out = same_as_runc(&tag, script, edit)?;
        // 2 is SECCOMP_MODE_FILTER.
        check_eq(
            status_line(&out, "Seccomp"),
            Some(2),
            &format!("{tag}: Seccomp"),
        )?;
        check_eq(
            status_line(&out, "Seccomp_filters"),
            Some(before + 1),
            &format!("{tag}: Seccomp_filters, one more than without a profile"),
        )?;
        // The filter must not set no_new_privs behind config.json's back.
        if status_line(&plain, "NoNewPrivs") == Some(0) {
            check_eq(
                status_line(&out, "NoNewPrivs"),
                Some(u32::from(no_new_privileges)),
                &format!("{tag}: NoNewPrivs"),
            )?;
        }
    }
    Ok(())
}

fn socket_families() -> Outcome {
    // Two conditions on the same argument: libseccomp can compare an
    // argument once per rule, so runc makes each a rule of its own — they
    // mean "AF_INET or AF_INET6". Other families (netlink, for ip) work.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "args": [
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}
            ]
        }]
    });
    let script = "nc 127.0.0.1 9 </dev/null; nc ::1 9 </dev/null; \
        ip link show lo >/dev/null && echo netlink works";
    let out = same_as_runc("socket", script, with(profile))?;
    check_eq(
        out.matches("nc: socket: Operation not permitted").count(),
        2,
        &format!("inet and inet6 sockets both refused in: {out}"),
    )?;
    check(out.contains("netlink works"), || {
        format!("a netlink socket should still work: {out}")
    })
}

/// Docker's default profile as dockerd hands it to a runtime: for this
/// machine's architecture, this kernel and the container's capabilities.
/// The profile's `archMap`, `includes` and `excludes` are Docker's, not the
/// runtime specification's; dockerd resolves them (moby's
/// profiles/seccomp/seccomp_linux.go) and writes plain `linux.seccomp`.
fn docker_profile(bounding: &[String]) -> Value {
    let profile: Value = serde_json::from_str(DOCKER_DEFAULT).unwrap();
    let (native, arch) = match std::env::consts::ARCH {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
        "s390x" => ("SCMP_ARCH_S390X", "s390x"),
        other => panic!("no Docker archMap entry for {other}"),
    };
    let mut architectures = Vec::new();
    for entry in profile["archMap"].as_array().unwrap() {
        if entry["architecture"] == native {
            architectures.push(entry["architecture"].clone());
            architectures.extend(
                entry["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let release = nix::sys::utsname::uname().unwrap();
    let kernel = version(&release.release().to_string_lossy());
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let mut syscalls = Vec::new();
    for call in profile["syscalls"].as_array().unwrap() {
        let (inc, exc) = (&call["includes"], &call["excludes"]);
        let excluded = names(&exc["arches"]).iter().any(|a| a == arch)
            || names(&exc["caps"]).iter().any(|c| bounding.contains(c))
            || exc["minKernel"]
                .as_str()
                .is_some_and(|min| kernel >= version(min));
        let included = (names(&inc["arches"]).is_empty()
            || names(&inc["arches"]).iter().any(|a| a == arch))
            && names(&inc["caps"]).iter().all(|c| bounding.contains(c))
            && inc["minKernel"]
                .as_str()
                .is_none_or(|min| kernel >= version(min));
        if included && !excluded {
            let mut call = call.clone();
            let fields = call.as_object_mut().unwrap();
            for docker_only in ["includes", "excludes", "comment"] {
                fields.remove(docker_only);
            }
            syscalls.push(call);
        }
    }
    json!({
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "architectures": architectures,
        "syscalls": syscalls,
    })
}

/// "6.1.0-18-amd64" as (6, 1).
fn version(text: &str) -> (u32, u32) {
    let mut parts = text.split(['.', '-']).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn docker_default() -> Outcome {
    // The capabilities the container gets: the default spec's.
    let dir = bundle("caps", &["true"], |_| {});
    let config: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let _ = fs::remove_dir_all(&dir);
    let bounding: Vec<String> =
        serde_json::from_value(config["process"]["capabilities"]["bounding"].clone()).unwrap();
    let profile = docker_profile(&bounding);
    let allowed = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "SCMP_ACT_ALLOW")
        .map(|c| c["names"].as_array().unwrap().len())
        .sum::<usize>();
    check(allowed > 300, || {
        format!("Docker's profile allows {allowed} system calls here, expected about 350")
    })?;
    // A user namespace needs no capability: without a profile, unshare
    // works; Docker's profile refuses unshare to a container without
    // CAP_SYS_ADMIN. linux32 calls personality(PER_LINUX32): allowed by a
    // condition on its argument.
    let script = "echo ok; unshare -U true && echo unshare works; linux32 uname -m";
    let (plain, _) = run_in(rung(), "docker-plain", script, |_| {});
    check(plain.contains("unshare works"), || {
        format!("without a profile, unshare -U should work: {plain}")
    })?;
    let out = same_as_runc("docker", script, with(profile))?;
    check(out.starts_with("ok\n"), || {
        format!("sh under Docker's profile: {out}")
    })?;
    check(
        out.contains("unshare: unshare(0x10000000): Operation not permitted"),
        || format!("unshare under Docker's profile: {out}"),
    )?;
    check(!out.contains("unshare works"), || out.clone())
}

/// `create` of a bundle with `linux.seccomp` = `profile` must fail, with
/// an error that contains `says`, and leave no container behind.
fn refused(tag: &str, profile: Value, says: &str) -> Outcome {
    let rt = Runtime::new(rung(), tag);
    let dir = bundle(tag, &["true"], with(profile));
    let id = format!("sc-{tag}-{}", std::process::id());
    let out = rt.run(&["create", "--bundle", dir.to_str().unwrap(), &id]);
    let _ = fs::remove_dir_all(&dir);
    check(!out.status.success() && text(&out).contains(says), || {
        format!(
            "{tag}: expected an error saying {says:?}, got {:?}: {}",
            out.status.code(),
            text(&out)
        )
    })?;
    let state = rt.run(&["state", &id]);
    check(!state.status.success(), || {
        format!("{tag}: the runtime still knows {id}")
    })?;
    check(!rt.root.join(&id).exists(), || {
        format!("{tag}: a state directory was left behind")
    })?;
    let cgroups: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|c| c.path().join("berth").join(&id))
        .chain([Path::new("/sys/fs/cgroup/berth").join(&id)])
        .filter(|p| p.exists())
        .collect();
    check(cgroups.is_empty(), || {
        format!("{tag}: cgroups left behind: {cgroups:?}")
    })
}

fn bad_profiles() -> Outcome {
    let allow_read = json!({"names": ["read"], "action": "SCMP_ACT_ALLOW"});
    let one =
        |rule: Value| json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [allow_read, rule]});
    refused(
        "action",
        one(json!({"names": ["write"], "action": "SCMP_ACT_FOO"})),
        "linux.seccomp.syscalls[1].action \"SCMP_ACT_FOO\"",
    )?;
    refused(
        "default-action",
        json!({"defaultAction": "SCMP_ACT_BAR"}),
        "linux.seccomp.defaultAction \"SCMP_ACT_BAR\"",
    )?;
    refused(
        "arch",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]}),
        "linux.seccomp.architectures[1] \"SCMP_ARCH_VAX\"",
    )?;
    refused(
        "operator",
        one(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_ALMOST"}]})),
        "linux.seccomp.syscalls[1].args[0].op \"SCMP_CMP_ALMOST\"",
    )?;
    refused(
        "index",
        one(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 6, "value": 2, "op": "SCMP_CMP_EQ"}]})),
        "linux.seccomp.syscalls[1].args[0].index 6",
    )?;
    refused(
        "errno-ret",
        one(json!({"names": ["write"], "action": "SCMP_ACT_KILL", "errnoRet": 1})),
        "linux.seccomp.syscalls[1].errnoRet 1",
    )?;
    refused(
        "notify",
        one(json!({"names": ["write"], "action": "SCMP_ACT_NOTIFY"})),
        "linux.seccomp.syscalls[1].action \"SCMP_ACT_NOTIFY\"",
    )?;
    refused(
        "flag",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
        "linux.seccomp.flags[0] \"SECCOMP_FILTER_FLAG_FAST\"",
    )
}

/// What busybox's `echo` needs from the kernel after `execve`, and nothing
/// the runtime uses (no close_range, capset, openat, sendmsg, prctl):
/// found with `strace -f chroot IMAGE /bin/echo hi`.
const ECHO_NEEDS: [&str; 15] = [
    "execve",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "getrandom",
    "getuid",
    "geteuid",
    "write",
    "exit_group",
];

/// A profile that denies every call by default, as conformance suites and
/// hardened engines write them, and allows only `names`.
fn strict_profile(names: &[&str]) -> Value {
    json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
           "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]})
}

fn strict() -> Outcome {
    let profile = strict_profile(&ECHO_NEEDS);
    // With no_new_privs (runc spec's default), the filter is the last thing
    // before execve: the program runs under it.
    let ours = super::common::run_in(rung(), "strict-nnp", &["echo", "ok"], with(profile.clone()));
    check_eq(
        &ours,
        &("ok\n".to_string(), Some(0)),
        "echo under a strict profile",
    )?;
    // Without no_new_privs, the filter needs CAP_SYS_ADMIN to load, which
    // the container does not keep: capget and capset after it give that up.
    let mut with_capset = ECHO_NEEDS.to_vec();
    with_capset.extend(["capget", "capset"]);
    let no_nnp = |c: &mut Value| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = strict_profile(&with_capset);
    };
    let ours = super::common::run_in(rung(), "strict-caps", &["echo", "ok"], no_nnp);
    check_eq(
        &ours,
        &("ok\n".to_string(), Some(0)),
        "echo under a strict profile, no no_new_privs",
    )?;
    // Where the kit differs from runc on purpose: runc 1.1 makes a dozen
    // more calls after loading the filter (it closes its pipes, waits on
    // the FIFO), so the same profile stops it before the program runs.
    let runc = super::common::run_in("runc", "strict-nnp", &["echo", "ok"], with(profile));
    check(runc.1 != Some(0), || {
        format!("runc ran under the strict profile; the difference this test documents is gone: {runc:?}")
    })
}

fn exec_refused() -> Outcome {
    // Everything but write and exit_group is refused, execve included: the
    // runtime itself needs nothing after loading the filter, so create
    // succeeds; start then fails with the exec's errno, and delete leaves
    // nothing.
    let rt = Runtime::new(rung(), "no-exec");
    let dir = bundle(
        "no-exec",
        &["true"],
        with(strict_profile(&["write", "exit_group"])),
    );
    let id = format!("sc-no-exec-{}", std::process::id());
    let created = rt.run(&["create", "--bundle", dir.to_str().unwrap(), &id]);
    let _ = fs::remove_dir_all(&dir);
    check(created.status.success(), || {
        format!("create: {}", text(&created))
    })?;
    let started = rt.run(&["start", &id]);
    let said = text(&started);
    let deleted = rt.run(&["delete", "--force", &id]);
    check(
        !started.status.success() && said.contains("exec true: Operation not permitted"),
        || {
            format!(
                "start should fail with the exec's EPERM, got {:?}: {said}",
                started.status.code()
            )
        },
    )?;
    check(deleted.status.success(), || {
        format!("delete: {}", text(&deleted))
    })?;
    check(!rt.root.join(&id).exists(), || {
        "a state directory was left behind".into()
    })
}
