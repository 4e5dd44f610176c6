//! Rung 03's promises, checked with real mounts (as root): the container's
//! files are its own, writes vanish, and the host is left exactly as it
//! was. Rung 01's and rung 02's promises run too, against rung 03's binary.

#[path = "../../01-namespaces/tests/rung01/mod.rs"]
mod rung01;
#[path = "../../02-cgroups/tests/rung02/mod.rs"]
mod rung02;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth::rootfs::{busybox, state_dir};
use berth::testing::{
    check, check_eq, test, wait_for_output, wait_with_timeout, Needs, Outcome, Rung, Trial,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn rung() -> Rung {
    Rung::new(env!("CARGO_BIN_EXE_step-03"))
}

fn main() {
    let mut trials: Vec<Trial> = vec![
        test(
            "the_container_sees_the_image_not_the_host",
            Needs::Root,
            sees_the_image,
        ),
        test(
            "proc_shows_only_its_processes",
            Needs::Root,
            proc_is_its_own,
        ),
        test("device_nodes_work", Needs::Root, devices_work),
        test(
            "writes_never_reach_the_layers_and_vanish",
            Needs::Root,
            writes_vanish,
        ),
        test("keep_keeps_the_writable_layer", Needs::Root, keep),
        test("read_only_root_refuses_writes", Needs::Root, read_only),
        test("a_volume_appears_and_ro_is_enforced", Needs::Root, volumes),
        test(
            "the_old_root_is_unreachable",
            Needs::Root,
            old_root_unreachable,
        ),
        test(
            "the_host_is_unchanged_after_every_ending",
            Needs::Root,
            host_unchanged,
        ),
        test(
            "a_killed_rungs_state_is_swept",
            Needs::Root,
            swept_after_sigkill,
        ),
        test("layers_stack_top_wins", Needs::Root, layers_stack),
        test("a_tarball_rootfs_works", Needs::Root, tarball),
        test(
            "a_tarball_that_escapes_through_a_symlink_is_refused_and_writes_nothing",
            Needs::Root,
            hostile_tarball,
        ),
        test("vfs_storage_works_and_writes_vanish", Needs::Root, vfs),
        test(
            "bad_input_gives_clear_errors_and_leaves_nothing",
            Needs::Root,
            bad_input,
        ),
        test("the_demo_runs", Needs::Root, demo),
    ];
    trials.extend(rung01::trials(&rung()));
    trials.extend(rung02::trials(&rung()));
    berth::testing::run(trials)
}

/// The kit's busybox image (built on first use).
fn image() -> PathBuf {
    busybox::image().expect("building the busybox image")
}

/// A fresh directory for one test.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-rootfs-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `sh -c SCRIPT` in a container on the busybox image, with `flags`.
fn busybox_sh(flags: &[&str], script: &str) -> berth::testing::Run {
    let mut args = vec!["--busybox"];
    args.extend(flags);
    rung().sh(&args, script)
}

/// Run the rung with `args` to the end; also return its PID, which names
/// its state directory (`/run/berth/step-03-PID`).
fn run_with_pid(args: &[&str]) -> (berth::testing::Run, u32) {
    let child = rung()
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let run = berth::testing::Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    };
    (run, pid)
}

/// The state directories, of the runtimes with these PIDs, still there.
fn left_behind(pids: &[u32]) -> Vec<PathBuf> {
    pids.iter()
        .map(|pid| state_dir().join(format!("step-03-{pid}")))
        .filter(|dir| dir.exists())
        .collect()
}

fn mountinfo() -> String {
    fs::read_to_string("/proc/self/mountinfo").unwrap()
}

fn sees_the_image() -> Outcome {
    let run = rung().run(["--busybox", "--", "ls", "/"]);
    run.success()?;
    let mut expected: Vec<String> = fs::read_dir(image())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    check_eq(
        run.lines(),
        expected.iter().map(String::as_str).collect(),
        "ls / inside",
    )?;
    // A file every Debian host has, and the image does not.
    busybox_sh(&[], "test ! -e /etc/os-release").success()
}

fn proc_is_its_own() -> Outcome {
    let run = rung().run(["--busybox", "--", "ps"]);
    run.success()?;
    // A header line, then PID 1 (the rung's init) and PID 2 (ps).
    check_eq(
        run.lines().len(),
        3,
        &format!("lines of ps inside:\n{}", run.stdout),
    )
}

fn devices_work() -> Outcome {
    let script = "echo gone > /dev/null && head -c 16 /dev/urandom | wc -c && head -c 4 /dev/zero | wc -c \
        && test -c /dev/tty && test -L /dev/fd && test -e /dev/pts/ptmx && echo shm > /dev/shm/x && cat /dev/shm/x";
    let run = busybox_sh(&[], script);
    run.success()?;
    check_eq(run.lines(), vec!["16", "4", "shm"], "device checks")?;
    // /dev/full refuses writes with ENOSPC.
    let full = busybox_sh(&[], "echo x > /dev/full");
    check(
        full.code != Some(0) && full.stderr.contains("No space left"),
        || full.stderr.clone(),
    )
}

/// A listing of every file under `dir` with its contents, to compare.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(here) = stack.pop() {
        for entry in fs::read_dir(&here).unwrap().flatten() {
            let path = entry.path();
            let meta = path.symlink_metadata().unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let content = if meta.is_file() {
                fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            out.push((path, content));
        }
    }
    out.sort();
    out
}

fn writes_vanish() -> Outcome {
    let top = scratch("writes");
    fs::write(top.join("greeting"), "hello\n").unwrap();
    let (lower, upper) = (image(), top.clone());
    let before = (snapshot(&lower), snapshot(&upper));
    let layers = [
        "--layer",
        lower.to_str().unwrap(),
        "--layer",
        upper.to_str().unwrap(),
    ];
    let mut args = layers.to_vec();
    args.extend([
        "--",
        "sh",
        "-c",
        "echo changed > /greeting && rm /bin/ls && echo new > /new && cat /greeting",
    ]);
    let run = rung().run(args);
    run.success()?;
    check_eq(run.lines(), vec!["changed"], "the change, seen inside")?;
    check(before == (snapshot(&lower), snapshot(&upper)), || {
        "a layer directory changed".into()
    })?;
    let mut again = layers.to_vec();
    again.extend([
        "--",
        "sh",
        "-c",
        "cat /greeting; test -e /bin/ls && test ! -e /new && echo clean",
    ]);
    let run = rung().run(again);
    let _ = fs::remove_dir_all(&top);
    run.success()?;
    check_eq(
        run.lines(),
        vec!["hello", "clean"],
        "a second container from the same layers",
    )
}

fn keep() -> Outcome {
    let run = busybox_sh(&["--keep"], "echo kept > /note");
    run.success()?;
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("step-03: warning: kept the writable layer: "));
    let upper = PathBuf::from(line.ok_or(format!("no 'kept' line: {}", run.stderr))?);
    let note = fs::read_to_string(upper.join("note")).unwrap_or_default();
    let _ = fs::remove_dir_all(upper.parent().unwrap());
    let _ = fs::remove_dir(state_dir());
    check_eq(note.as_str(), "kept\n", "the kept layer's file")
}

fn read_only() -> Outcome {
    let run = busybox_sh(&["--read-only"], "touch /x");
    run.exited(1)?;
    check(run.stderr.contains("Read-only file system"), || {
        run.stderr.clone()
    })?;
    // The mounts on it keep their own flags.
    busybox_sh(
        &["--read-only"],
        "echo ok > /dev/shm/x && echo ok > /dev/null",
    )
    .success()
}

fn volumes() -> Outcome {
    let host = scratch("volume");
    fs::write(host.join("from-host"), "host data\n").unwrap();
    let rw = format!("{}:/data", host.display());
    let run = busybox_sh(
        &["-v", &rw],
        "cat /data/from-host && echo back > /data/from-container",
    );
    let written = fs::read_to_string(host.join("from-container")).unwrap_or_default();
    let ro = format!("{}:/data:ro", host.display());
    let refused = busybox_sh(&["-v", &ro], "touch /data/nope");
    let _ = fs::remove_dir_all(&host);
    run.success()?;
    check_eq(run.lines(), vec!["host data"], "the volume, inside")?;
    check_eq(
        written.as_str(),
        "back\n",
        "a write through a rw volume, on the host",
    )?;
    refused.exited(1)?;
    check(refused.stderr.contains("Read-only file system"), || {
        refused.stderr.clone()
    })
}

fn old_root_unreachable() -> Outcome {
    let here = std::env::current_dir().unwrap();
    let marker = here.join("Cargo.toml");
    let script = format!(
        "cd /; cd ../../..; ls; test ! -e {} && test ! -e /proc/1/root{} && cut -d' ' -f5 /proc/self/mountinfo",
        marker.display(),
        marker.display()
    );
    let run = busybox_sh(&[], &script);
    run.success()?;
    let mounts: Vec<&str> = run
        .lines()
        .into_iter()
        .filter(|l| l.starts_with('/'))
        .collect();
    let expected = [
        "/",
        "/proc",
        "/sys",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    ];
    check_eq(
        mounts,
        expected.to_vec(),
        "every mount inside (no trace of the host's root)",
    )
}

fn host_unchanged() -> Outcome {
    let before = mountinfo();
    let mut pids = Vec::new();
    for (args, code) in [
        (vec!["--busybox", "--", "true"], 0),
        (vec!["--busybox", "--", "sh", "-c", "exit 3"], 3),
        (vec!["--busybox", "--", "no-such-command"], 127),
    ] {
        let (run, pid) = run_with_pid(&args);
        run.exited(code)?;
        pids.push(pid);
    }
    // Terminated from outside while it runs.
    let mut child = rung()
        .command(["--busybox", "--", "sh", "-c", "echo ready; sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    pids.push(child.id());
    wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    wait_with_timeout(&mut child, Duration::from_secs(10))?;
    check(before == mountinfo(), || {
        "the host's mount table changed".into()
    })?;
    check(left_behind(&pids).is_empty(), || {
        format!("left behind: {:?}", left_behind(&pids))
    })
}

fn swept_after_sigkill() -> Outcome {
    let mut child = rung()
        .command(["--busybox", "--", "sh", "-c", "echo ready; sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_output(&mut child, "ready", Duration::from_secs(10))?;
    let dir = state_dir().join(format!("step-03-{}", child.id()));
    check(dir.exists(), || {
        format!("{} should exist while it runs", dir.display())
    })?;
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200)); // its container dies with it
    busybox_sh(&[], "true").success()?;
    check(!dir.exists(), || format!("{} was not swept", dir.display()))
}

fn layers_stack() -> Outcome {
    let (a, b) = (scratch("layer-a"), scratch("layer-b"));
    fs::write(a.join("which"), "a\n").unwrap();
    fs::write(a.join("only-a"), "a\n").unwrap();
    fs::write(b.join("which"), "b\n").unwrap();
    let img = image();
    let run = rung().run([
        "--layer",
        img.to_str().unwrap(),
        "--layer",
        a.to_str().unwrap(),
        "--layer",
        b.to_str().unwrap(),
        "--",
        "cat",
        "/which",
        "/only-a",
    ]);
    let _ = (fs::remove_dir_all(&a), fs::remove_dir_all(&b));
    run.success()?;
    check_eq(
        run.lines(),
        vec!["b", "a"],
        "the top layer wins; lower files show through",
    )
}

fn tarball() -> Outcome {
    let dir = scratch("tarball");
    let tar = dir.join("rootfs.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tar)
        .arg("-C")
        .arg(image())
        .arg(".")
        .status()
        .unwrap();
    check(status.success(), || "making the tarball".into())?;
    let run = rung().run([
        "--rootfs",
        tar.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "test -x /bin/busybox && echo yes",
    ]);
    let _ = fs::remove_dir_all(&dir);
    run.success()?;
    check_eq(run.lines(), vec!["yes"], "busybox from the tarball")
}

fn hostile_tarball() -> Outcome {
    // A symlink `etc -> OUTSIDE`, then a file `etc/planted`: the path has
    // no `..` in it, and a path-checking unpacker would write OUTSIDE/planted.
    let dir = scratch("hostile");
    let outside = dir.join("outside");
    let content = dir.join("content");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(content.join("d")).unwrap();
    std::os::unix::fs::symlink(&outside, content.join("etc")).unwrap();
    fs::write(content.join("d/planted"), "x").unwrap();
    let tar = dir.join("hostile.tar");
    // GNU tar: the link first, then the file stored under etc/.
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&content)
        .args(["etc", "--transform", "s,^d/,etc/,", "d/planted"])
        .status()
        .unwrap();
    check(status.success(), || "making the tarball".into())?;
    let run = rung().run(["--rootfs", tar.to_str().unwrap(), "--", "true"]);
    let planted = outside.join("planted").exists();
    let _ = fs::remove_dir_all(&dir);
    check(!planted, || {
        "the tarball wrote through its symlink, outside the root".into()
    })?;
    check(
        run.code == Some(125) && run.stderr.contains("etc/planted"),
        || {
            format!(
                "expected a refusal naming etc/planted, got {:?}: {}",
                run.code, run.stderr
            )
        },
    )
}

fn vfs() -> Outcome {
    let run = busybox_sh(&["--storage", "vfs"], "echo x > /made && cat /made");
    run.success()?;
    check_eq(run.lines(), vec!["x"], "a write on the copy")?;
    busybox_sh(&["--storage", "vfs"], "test ! -e /made").success()
}

fn bad_input() -> Outcome {
    let before = mountinfo();
    let mut pids = Vec::new();
    let (missing, pid) = run_with_pid(&["--layer", "/no/such/layer", "--", "true"]);
    pids.push(pid);
    missing.exited(125)?;
    check(missing.stderr.contains("/no/such/layer"), || {
        missing.stderr.clone()
    })?;
    let (not_found, pid) = run_with_pid(&["--busybox", "--", "/bin/bash"]);
    pids.push(pid);
    not_found.exited(127)?;
    check(
        not_found.stderr.contains("/bin/bash: command not found"),
        || not_found.stderr.clone(),
    )?;
    // A root filesystem without /bin/sh, and no command: nothing to run.
    let empty = scratch("no-shell");
    fs::create_dir_all(empty.join("bin")).unwrap();
    let (no_shell, pid) = run_with_pid(&["--rootfs", empty.to_str().unwrap()]);
    pids.push(pid);
    let (not_a_root, pid) = run_with_pid(&[
        "--rootfs",
        empty.join("bin").to_str().unwrap(),
        "--",
        "true",
    ]);
    pids.push(pid);
    let _ = fs::remove_dir_all(&empty);
    no_shell.exited(127)?;
    check(
        no_shell.stderr.contains("/bin/sh: command not found"),
        || no_shell.stderr.clone(),
    )?;
    not_a_root.exited(125)?;
    check(
        not_a_root.stderr.contains("is it really a root filesystem"),
        || not_a_root.stderr.clone(),
    )?;
    // Sharing the host's mount namespace would mount the image over the
    // host's own root: refused before anything happens.
    let (shared, pid) = run_with_pid(&["--busybox", "--share", "mnt", "--", "true"]);
    pids.push(pid);
    shared.exited(125)?;
    check(
        shared.stderr.contains("needs a mount namespace of its own"),
        || shared.stderr.clone(),
    )?;
    let (bad_volume, pid) = run_with_pid(&["--busybox", "-v", "/no/such/dir:/data", "--", "true"]);
    pids.push(pid);
    bad_volume.exited(125)?;
    check(before == mountinfo(), || {
        "the host's mount table changed".into()
    })?;
    check(left_behind(&pids).is_empty(), || {
        format!("left behind: {:?}", left_behind(&pids))
    })
}

fn demo() -> Outcome {
    let run = rung().run(Vec::<&str>::new());
    run.success()?;
    check(
        run.stdout.contains("hello") && run.stdout.contains("vanished"),
        || run.stdout.clone(),
    )?;
    check(run.stderr.contains("can't open '/greeting'"), || {
        run.stderr.clone()
    })
}
