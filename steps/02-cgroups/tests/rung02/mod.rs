//! Rung 02's promises: limits a container cannot escape, on whichever
//! cgroup version the machine has. Rung 02's tests run them against its
//! binary (on the host, and in the cgroup-v2 micro-VM); every later rung's
//! tests include this file (with `#[path]`) and run them against theirs.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth::cgroup::Hierarchy;
use berth::testing::{
    check, check_eq, children_of, is_alive, test, wait_for_output, wait_with_timeout, Needs,
    Outcome, Rung, Trial,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A promise: its name, what it needs from the host, and its check.
type Promise = (&'static str, Needs, fn(&Rung) -> Outcome);

/// Rung 02's promises.
const PROMISES: &[Promise] = &[
    (
        "the_hierarchy_is_detected",
        Needs::Root,
        the_hierarchy_is_detected,
    ),
    (
        "memory_limit_is_enforced_and_the_oom_kill_reported",
        Needs::Root,
        oom,
    ),
    ("pids_limit_stops_a_fork_bomb", Needs::Root, fork_bomb),
    ("cpu_quota_throttles_a_busy_loop", Needs::Root, cpu_quota),
    (
        "proc_self_cgroup_inside_is_the_root",
        Needs::Root,
        proc_self_cgroup,
    ),
    (
        "limits_land_in_the_kernels_files",
        Needs::Root,
        limits_in_files,
    ),
    (
        "the_cgroup_is_gone_after_exit",
        Needs::Root,
        gone_after_exit,
    ),
    (
        "the_cgroup_is_gone_after_the_rung_is_terminated",
        Needs::Root,
        gone_after_term,
    ),
    (
        "a_sigkilled_rungs_cgroup_is_swept",
        Needs::Root,
        swept_after_sigkill,
    ),
    (
        "a_refused_limit_names_file_and_value",
        Needs::Root,
        refused_limit,
    ),
    (
        "a_failed_command_leaves_no_cgroup",
        Needs::Root,
        failed_command,
    ),
    (
        "malformed_flags_are_refused",
        Needs::Nothing,
        malformed_flags,
    ),
];

/// Rung 02's promises as tests of `rung`, named `step-NN::cgroups::…` (the
/// micro-VM runs exactly those).
pub fn trials(rung: &Rung) -> Vec<Trial> {
    PROMISES
        .iter()
        .map(|&(name, needs, check)| {
            let rung = rung.clone();
            test(
                &format!("{}::cgroups::{name}", rung.name()),
                needs,
                move || check(&rung),
            )
        })
        .collect()
}

/// A cgroup parent of this test's own, so tests running in parallel never
/// see each other's cgroups.
fn parent(tag: &str) -> String {
    format!("/berth-test-{tag}-{}", std::process::id())
}

/// The directories the rung with PID `pid` has under `parent`, in every
/// hierarchy of this host (in v1, only the controllers it needs).
fn cgroup_dirs(rung: &Rung, parent: &str, pid: u32) -> Vec<PathBuf> {
    let relative = format!("{}/{}-{pid}", parent.trim_start_matches('/'), rung.name());
    let candidates = match Hierarchy::detect().unwrap() {
        Hierarchy::V2 { root } => vec![root.join(relative)],
        Hierarchy::V1 { mounts } => mounts.iter().map(|(_, m)| m.join(&relative)).collect(),
    };
    candidates.into_iter().filter(|d| d.exists()).collect()
}

/// Whether anything of `parent` is left in any hierarchy.
fn parent_left(parent: &str) -> Vec<PathBuf> {
    let relative = parent.trim_start_matches('/');
    let roots = match Hierarchy::detect().unwrap() {
        Hierarchy::V2 { root } => vec![root],
        Hierarchy::V1 { mounts } => mounts.into_iter().map(|(_, m)| m).collect(),
    };
    roots
        .into_iter()
        .map(|r| r.join(relative))
        .filter(|d| d.exists())
        .collect()
}

fn the_hierarchy_is_detected(_: &Rung) -> Outcome {
    let hierarchy = Hierarchy::detect().map_err(|e| e.to_string())?;
    let unified = fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok();
    println!("this host has cgroup {}", hierarchy.version());
    check_eq(
        hierarchy.version(),
        if unified { "v2" } else { "v1" },
        "cgroup version",
    )
}

fn oom(rung: &Rung) -> Outcome {
    let p = parent("oom");
    let run = rung.run([
        "--cgroup-parent",
        &p,
        "--memory",
        "32M",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    run.exited(137)?;
    check(
        run.stderr.contains("out of memory") && run.stderr.contains("32 MiB"),
        || {
            format!(
                "the OOM kill should be reported with the limit: {}",
                run.stderr
            )
        },
    )?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn fork_bomb(rung: &Rung) -> Outcome {
    let p = parent("bomb");
    let script = "bomb() { bomb | bomb & }; bomb 2>/dev/null; exec sleep 1";
    let run = rung.run([
        "--cgroup-parent",
        &p,
        "--pids-limit",
        "20",
        "--",
        "sh",
        "-c",
        script,
    ]);
    run.success()?;
    check(
        run.stderr.contains("forks failed") && run.stderr.contains("20 processes"),
        || format!("the refused forks should be reported: {}", run.stderr),
    )?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

/// The `--stats` line `cgroup vN: LABEL NUMBER`, as a number.
fn stat(stderr: &str, label: &str) -> Option<u64> {
    stderr
        .lines()
        .find(|l| l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}

fn cpu_quota(rung: &Rung) -> Outcome {
    // A fixed amount of work, not a fixed time: the kernel's counters say
    // whether the quota ran out, however fast the machine is.
    let work = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done";
    let p = parent("cpu");
    let limited = rung.run([
        "--cgroup-parent",
        &p,
        "--cpus",
        "0.05",
        "--stats",
        "--",
        "sh",
        "-c",
        work,
    ]);
    limited.success()?;
    let throttled = stat(&limited.stderr, "throttled periods");
    check(throttled.is_some_and(|n| n > 0), || {
        format!(
            "with --cpus 0.05 the loop should be throttled: {}",
            limited.stderr
        )
    })
}

fn proc_self_cgroup(rung: &Rung) -> Outcome {
    let p = parent("self");
    let run = rung.run(["--cgroup-parent", &p, "--", "cat", "/proc/self/cgroup"]);
    run.success()?;
    let lines = run.lines();
    check(
        !lines.is_empty() && lines.iter().all(|l| l.ends_with(":/")),
        || {
            format!(
                "inside its cgroup namespace, every line should end in ':/':\n{}",
                run.stdout
            )
        },
    )
}

/// Start a container that waits, and return it with its init's host PID.
fn start_waiting(
    rung: &Rung,
    args: &[&str],
) -> Result<(std::process::Child, u32), berth::testing::Failed> {
    let mut all = args.to_vec();
    all.extend(["--", "sh", "-c", "echo ready; sleep 30"]);
    let mut child = rung.command(all).stdout(Stdio::piped()).spawn().unwrap();
    wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
    let init = children_of(child.id());
    check_eq(init.len(), 1, "the rung's children")?;
    Ok((child, init[0]))
}

fn limits_in_files(rung: &Rung) -> Outcome {
    let p = parent("files");
    let (mut child, init) = start_waiting(
        rung,
        &[
            "--cgroup-parent",
            &p,
            "--memory",
            "64M",
            "--pids-limit",
            "20",
            "--cpus",
            "0.5",
        ],
    )?;
    // From the host, /proc/PID/cgroup shows the init's real cgroup path.
    let host_view = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let dirs = cgroup_dirs(rung, &p, child.id());
    let read = |file: &str| -> String {
        dirs.iter()
            .map(|d| d.join(file))
            .find(|f| f.exists())
            .and_then(|f| fs::read_to_string(f).ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let result = (|| {
        check(
            host_view.contains(&format!("{p}/{}-{}", rung.name(), child.id())),
            || format!("the init should be in the rung's cgroup: {host_view}"),
        )?;
        check_eq(read("pids.max"), "20".into(), "pids.max")?;
        if read("memory.max").is_empty() {
            check_eq(
                read("memory.limit_in_bytes"),
                "67108864".into(),
                "memory.limit_in_bytes",
            )?;
            check_eq(read("cpu.cfs_quota_us"), "50000".into(), "cpu.cfs_quota_us")
        } else {
            check_eq(read("memory.max"), "67108864".into(), "memory.max")?;
            check_eq(read("memory.swap.max"), "0".into(), "memory.swap.max")?;
            check_eq(read("cpu.max"), "50000 100000".into(), "cpu.max")
        }
    })();
    // Stop it politely, so that it removes its cgroup.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    wait_with_timeout(&mut child, Duration::from_secs(10))?;
    result?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn gone_after_exit(rung: &Rung) -> Outcome {
    let p = parent("exit");
    let mut child = rung
        .command(["--cgroup-parent", &p, "--memory", "16M", "--", "true"])
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    check_eq(status.code(), Some(0), "exit status")?;
    let left: Vec<PathBuf> = cgroup_dirs(rung, &p, child.id())
        .into_iter()
        .filter(|d| d.exists())
        .collect();
    check(left.is_empty(), || format!("left behind: {left:?}"))?;
    check(parent_left(&p).is_empty(), || {
        format!("parent left behind: {:?}", parent_left(&p))
    })
}

fn gone_after_term(rung: &Rung) -> Outcome {
    let p = parent("term");
    let (mut child, init) = start_waiting(rung, &["--cgroup-parent", &p, "--pids-limit", "10"])?;
    let dirs = cgroup_dirs(rung, &p, child.id());
    check(dirs.iter().all(|d| d.exists()), || {
        format!("the cgroup should exist while it runs: {dirs:?}")
    })?;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let output = wait_with_timeout(&mut child, Duration::from_secs(10))?;
    check_eq(output.status.code(), Some(143), "exit status after SIGTERM")?;
    check(!is_alive(init), || {
        "the container's init outlived the rung".into()
    })?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn swept_after_sigkill(rung: &Rung) -> Outcome {
    let p = parent("sweep");
    let (mut child, init) = start_waiting(rung, &["--cgroup-parent", &p])?;
    let dirs = cgroup_dirs(rung, &p, child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    // The container dies with its runtime (PR_SET_PDEATHSIG)...
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_alive(init) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    check(!is_alive(init), || {
        "the container outlived its SIGKILLed runtime".into()
    })?;
    // ...but a SIGKILLed runtime cannot remove its cgroup: the next run does.
    check(dirs.iter().all(|d| d.exists()), || {
        "expected the stale cgroup to be there".into()
    })?;
    rung.run(["--cgroup-parent", &p, "--", "true"]).success()?;
    let left: Vec<&PathBuf> = dirs.iter().filter(|d| d.exists()).collect();
    check(left.is_empty(), || {
        format!("the stale cgroup was not swept: {left:?}")
    })?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn refused_limit(rung: &Rung) -> Outcome {
    let p = parent("refused");
    // 0.001 CPUs is a quota of 100 µs per period; the kernel's minimum is 1 ms.
    let run = rung.run(["--cgroup-parent", &p, "--cpus", "0.001", "--", "true"]);
    run.exited(125)?;
    let names_file = run.stderr.contains("cpu.max") || run.stderr.contains("cpu.cfs_quota_us");
    check(
        names_file && run.stderr.contains("\"100") && run.stderr.contains("EINVAL"),
        || {
            format!(
                "the error should name the file, the value and the errno: {}",
                run.stderr
            )
        },
    )?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn failed_command(rung: &Rung) -> Outcome {
    let p = parent("failed");
    rung.run([
        "--cgroup-parent",
        &p,
        "--memory",
        "16M",
        "--",
        "no-such-command-berth",
    ])
    .exited(127)?;
    check(parent_left(&p).is_empty(), || {
        format!("left behind: {:?}", parent_left(&p))
    })
}

fn malformed_flags(rung: &Rung) -> Outcome {
    let run = rung.run(["--cpus", "half", "--", "true"]);
    run.exited(2)?;
    check(run.stderr.contains("not a number of CPUs"), || {
        run.stderr.clone()
    })?;
    let run = rung.run(["--memory", "lots", "--", "true"]);
    run.exited(2)?;
    check(run.stderr.contains("not a size"), || run.stderr.clone())?;
    let run = rung.run(["--device-read-bps", "/dev/null:1M", "--", "true"]);
    run.exited(2)?;
    check(run.stderr.contains("not a block device"), || {
        run.stderr.clone()
    })
}
