//! Rung 01's promises, checked against the real kernel (as root).
//!
//! This file is also compiled into every later rung's tests (with
//! `#[path]`), which run [`trials`] against their own binary.
//!
//! Every test runs the rung's binary the way a learner does and checks what
//! a learner would look at: the hostname, `ps`, `ip link`, `/proc/self/ns`,
//! the host's mount table, exit statuses.

use std::collections::BTreeSet;
use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth::testing::{
    check, check_eq, children_of, host_namespace, is_alive, test, wait_for_output,
    wait_with_timeout, Needs, Outcome, Rung, Trial,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A promise: its name, what it needs from the host, and its check.
type Promise = (&'static str, Needs, fn(&Rung) -> Outcome);

/// Rung 01's promises. Every later rung must keep them too.
const PROMISES: &[Promise] = &[
    (
        "hostname_is_the_containers_own",
        Needs::Root,
        hostname_is_the_containers_own,
    ),
    (
        "hostname_change_stays_inside",
        Needs::Root,
        hostname_change_stays_inside,
    ),
    (
        "init_is_pid_1_and_the_command_pid_2",
        Needs::Root,
        init_is_pid_1_and_the_command_pid_2,
    ),
    (
        "no_init_makes_the_command_pid_1",
        Needs::Root,
        no_init_makes_the_command_pid_1,
    ),
    (
        "ps_sees_only_the_container",
        Needs::Root,
        ps_sees_only_the_container,
    ),
    ("network_has_only_lo", Needs::Root, network_has_only_lo),
    (
        "mounts_inside_do_not_reach_the_host",
        Needs::Root,
        mounts_inside_do_not_reach_the_host,
    ),
    (
        "exit_code_passes_through",
        Needs::Root,
        exit_code_passes_through,
    ),
    (
        "death_by_signal_is_128_plus_n",
        Needs::Root,
        death_by_signal_is_128_plus_n,
    ),
    (
        "sigterm_sigint_and_sighup_are_forwarded",
        Needs::Root,
        sigterm_sigint_and_sighup_are_forwarded,
    ),
    ("orphans_are_reaped", Needs::Root, orphans_are_reaped),
    ("stdio_passes_through", Needs::Root, stdio_passes_through),
    (
        "each_share_flag_shares_exactly_its_namespace",
        Needs::Root,
        each_share_flag_shares_exactly_its_namespace,
    ),
    (
        "unknown_command_is_127",
        Needs::Root,
        unknown_command_is_127,
    ),
    (
        "killing_the_rung_kills_the_container",
        Needs::Root,
        killing_the_rung_kills_the_container,
    ),
    (
        "hostname_needs_its_own_uts_namespace",
        Needs::Root,
        hostname_needs_its_own_uts_namespace,
    ),
    (
        "without_root_it_names_the_capability",
        Needs::Nothing,
        without_root_it_names_the_capability,
    ),
];

/// Rung 01's promises, as tests of `rung`: rung 01's own binary, or a later
/// rung's (the ladder is cumulative).
pub fn trials(rung: &Rung) -> Vec<Trial> {
    PROMISES
        .iter()
        .map(|&(name, needs, check)| {
            let rung = rung.clone();
            test(&format!("{}::{name}", rung.name()), needs, move || {
                check(&rung)
            })
        })
        .collect()
}

fn hostname_is_the_containers_own(rung: &Rung) -> Outcome {
    let run = rung.run(["--hostname", "tiny-box", "--", "hostname"]);
    run.success()?;
    check_eq(run.lines(), vec!["tiny-box"], "hostname inside")?;
    let default = rung.run(["--", "hostname"]);
    check_eq(
        default.lines(),
        vec![rung.default_hostname().as_str()],
        "default hostname",
    )
}

fn hostname_change_stays_inside(rung: &Rung) -> Outcome {
    let before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let run = rung.sh(&[], "hostname renamed-inside && hostname");
    run.success()?;
    check_eq(run.lines(), vec!["renamed-inside"], "hostname inside")?;
    let after = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    check_eq(after, before, "the host's hostname")
}

fn init_is_pid_1_and_the_command_pid_2(rung: &Rung) -> Outcome {
    let run = rung.sh(&[], "echo $$; cat /proc/1/comm");
    run.success()?;
    check_eq(
        run.lines(),
        vec!["2", rung.name().as_str()],
        "the shell's PID, then PID 1's name",
    )
}

fn no_init_makes_the_command_pid_1(rung: &Rung) -> Outcome {
    let run = rung.sh(&["--no-init"], "echo $$; cat /proc/1/comm");
    run.success()?;
    check_eq(
        run.lines(),
        vec!["1", "sh"],
        "the shell's PID, then PID 1's name",
    )
}

fn ps_sees_only_the_container(rung: &Rung) -> Outcome {
    let run = rung.run(["--", "ps", "-e", "-o", "pid=,comm="]);
    run.success()?;
    check_eq(
        run.lines(),
        vec![format!("1 {}", rung.name()).as_str(), "2 ps"],
        "ps -e inside",
    )
}

fn network_has_only_lo(rung: &Rung) -> Outcome {
    let run = rung.run(["--", "ip", "-o", "link"]);
    run.success()?;
    let names: Vec<&str> = run
        .lines()
        .iter()
        .filter_map(|line| line.split(": ").nth(1))
        .collect();
    check_eq(names, vec!["lo"], "network devices inside")?;
    check(run.stdout.contains("state DOWN"), || {
        format!("lo should be down in a fresh namespace: {}", run.stdout)
    })
}

fn mounts_inside_do_not_reach_the_host(rung: &Rung) -> Outcome {
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let target = tempfile_dir("mounts");
    let script = format!(
        "mount -t tmpfs berth-test-tmpfs {target} && grep -c berth-test-tmpfs /proc/self/mountinfo"
    );
    let run = rung.sh(&[], &script);
    let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let _ = fs::remove_dir(&target);
    run.success()?;
    check_eq(run.lines(), vec!["1"], "the tmpfs, seen from inside")?;
    check(before == after, || {
        format!("the host's mount table changed:\nbefore:\n{before}\nafter:\n{after}")
    })
}

fn exit_code_passes_through(rung: &Rung) -> Outcome {
    rung.sh(&[], "exit 42").exited(42)?;
    rung.run(["--", "false"]).exited(1)?;
    rung.run(["--", "true"]).exited(0)
}

fn death_by_signal_is_128_plus_n(rung: &Rung) -> Outcome {
    rung.sh(&[], "kill -TERM $$").exited(128 + 15)?;
    rung.sh(&[], "kill -KILL $$").exited(128 + 9)
}

fn sigterm_sigint_and_sighup_are_forwarded(rung: &Rung) -> Outcome {
    for (signal, name) in [
        (Signal::SIGTERM, "TERM"),
        (Signal::SIGINT, "INT"),
        (Signal::SIGHUP, "HUP"),
    ] {
        let script = format!(
            "trap 'echo got {name}; exit 3' {name}; echo ready; while :; do sleep 0.05; done"
        );
        let mut child = rung
            .command(["--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let output = wait_with_timeout(&mut child, Duration::from_secs(10))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        check_eq(
            stdout.trim(),
            format!("got {name}").as_str(),
            "the trap's output",
        )?;
        check_eq(
            output.status.code(),
            Some(3),
            "the exit status the trap chose",
        )?;
    }
    Ok(())
}

fn orphans_are_reaped(rung: &Rung) -> Outcome {
    // The subshell starts a sleep in the background and exits at once: the
    // sleep is orphaned and re-parented to PID 1. After it ends, PID 1 must
    // have reaped it: no process in state Z.
    let run = rung.sh(&[], "(sleep 0.1 &); sleep 0.5; ps -e -o stat=,comm=");
    run.success()?;
    let zombies: Vec<&str> = run
        .lines()
        .into_iter()
        .filter(|l| l.starts_with('Z'))
        .collect();
    check(zombies.is_empty(), || format!("zombies left: {zombies:?}"))?;

    // Without the init, nobody reaps: `exec sleep` makes PID 1 a program
    // that never calls wait, and the orphan stays a zombie under it.
    let mut child = rung
        .command([
            "--no-init",
            "--",
            "sh",
            "-c",
            "(sleep 0.1 &); echo ready; exec sleep 2",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(600));
    let pid_1 = children_of(child.id());
    let orphans: Vec<u32> = pid_1.iter().flat_map(|p| children_of(*p)).collect();
    let zombies = orphans.iter().filter(|p| is_zombie(**p)).count();
    wait_with_timeout(&mut child, Duration::from_secs(10))?;
    check_eq(zombies, 1, "zombies under a PID 1 that never waits")
}

/// Whether the process is a zombie: exited, and not yet waited for.
fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

fn stdio_passes_through(rung: &Rung) -> Outcome {
    use std::io::Write;
    let mut child = rung
        .command([
            "--",
            "sh",
            "-c",
            "read line; echo \"out: $line\"; echo \"err: $line\" >&2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let output = wait_with_timeout(&mut child, Duration::from_secs(10))?;
    check_eq(
        String::from_utf8_lossy(&output.stdout).as_ref(),
        "out: hello\n",
        "stdout",
    )?;
    check_eq(
        String::from_utf8_lossy(&output.stderr).as_ref(),
        "err: hello\n",
        "stderr",
    )
}

const ALL: [&str; 7] = ["mnt", "uts", "ipc", "net", "pid", "cgroup", "time"];

fn each_share_flag_shares_exactly_its_namespace(rung: &Rung) -> Outcome {
    let available: Vec<&str> = ALL
        .into_iter()
        .filter(|n| fs::metadata(format!("/proc/self/ns/{n}")).is_ok())
        .collect();
    let script: String = available
        .iter()
        .map(|n| format!("stat -L -c %i /proc/self/ns/{n}; "))
        .collect();
    for shared in available.iter().copied().chain([""]) {
        let mut flags = vec![];
        if !shared.is_empty() {
            flags = vec!["--share", shared];
        }
        let run = rung.sh(&flags, &script);
        run.success()?;
        let same: BTreeSet<&str> = available
            .iter()
            .zip(run.lines())
            .filter(|(n, inside)| inside.parse::<u64>().ok() == Some(host_namespace(n)))
            .map(|(n, _)| *n)
            .collect();
        let expected: BTreeSet<&str> = [shared].into_iter().filter(|s| !s.is_empty()).collect();
        check_eq(
            same,
            expected,
            &format!("namespaces shared with the host under --share {shared:?}"),
        )?;
    }
    Ok(())
}

fn unknown_command_is_127(rung: &Rung) -> Outcome {
    let run = rung.run(["--", "no-such-command-berth"]);
    run.exited(127)?;
    check_eq(
        run.stderr.trim(),
        format!("{}: no-such-command-berth: command not found", rung.name()).as_str(),
        "the error",
    )?;
    // A file without execute permission: found, but cannot run.
    let dir = tempfile_dir("noexec");
    let file = format!("{dir}/not-a-program");
    fs::write(&file, "just text\n").unwrap();
    let not_executable = rung.run(["--", file.as_str()]);
    let _ = fs::remove_dir_all(&dir);
    not_executable.exited(126)?;
    check(not_executable.stderr.contains("permission denied"), || {
        not_executable.stderr.clone()
    })
}

fn killing_the_rung_kills_the_container(rung: &Rung) -> Outcome {
    let mut child = rung
        .command(["--", "sh", "-c", "echo ready; sleep 60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
    let init = children_of(child.id());
    check_eq(init.len(), 1, "the rung's children (the container's init)")?;
    let mut container: Vec<u32> = init.clone();
    container.extend(children_of(init[0]));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while container.iter().any(|p| is_alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let alive: Vec<&u32> = container.iter().filter(|p| is_alive(**p)).collect();
    check(alive.is_empty(), || {
        format!("container processes outlived the rung: {alive:?}")
    })
}

fn hostname_needs_its_own_uts_namespace(rung: &Rung) -> Outcome {
    let run = rung.run(["--share", "uts", "--hostname", "x", "--", "true"]);
    run.exited(125)?;
    check(
        run.stderr.contains("--hostname needs a UTS namespace"),
        || run.stderr.clone(),
    )
}

fn without_root_it_names_the_capability(rung: &Rung) -> Outcome {
    use std::os::unix::process::CommandExt;
    let mut command = rung.command(["--", "true"]);
    if nix::unistd::geteuid().is_root() {
        // Become an ordinary user (nobody) for this run.
        command.uid(65534).gid(65534);
    }
    let output = command.output().unwrap();
    check_eq(output.status.code(), Some(125), "exit status")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Rung 01 is refused a namespace (CAP_SYS_ADMIN); from rung 02 on, the
    // cgroup tree comes first. Either way the error says what to do.
    check(
        (stderr.contains("CAP_SYS_ADMIN") || stderr.contains("cgroup"))
            && stderr.contains("run as root"),
        || format!("the error should name the capability and the fix: {stderr}"),
    )
}

/// A fresh empty directory under the system's temporary directory.
fn tempfile_dir(tag: &str) -> String {
    let dir = std::env::temp_dir().join(format!("berth-test-{tag}-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}
