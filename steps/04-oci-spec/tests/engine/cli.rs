//! The everyday scenarios, for the two engines with Docker's command line
//! (Podman copied it): each runs under runc and under the rung, the two
//! must agree, and what they say must be what a user expects.

use std::path::Path;

use super::{expect, expect_all, said, same, Docker, Podman, Runtime, Said};

/// An engine with Docker's command line.
pub trait Cli: Sync {
    fn engine(&self) -> &'static str;
    fn image(&self) -> &'static str;
    fn volume(&self) -> &Path;
    /// `ENGINE ARGS…`, the container to be run by `runtime`.
    fn verb(&self, runtime: Runtime, args: &[&str]) -> Said;
    /// What `run` needs to pick `runtime` (Docker: `--runtime NAME`).
    fn runtime_flags(&self, runtime: Runtime) -> Vec<String>;
}

impl Cli for Podman {
    fn engine(&self) -> &'static str {
        "podman"
    }
    fn image(&self) -> &'static str {
        "localhost/busybox:test"
    }
    fn volume(&self) -> &Path {
        &self.volume
    }
    fn verb(&self, runtime: Runtime, args: &[&str]) -> Said {
        said(self.command(runtime).args(args))
    }
    fn runtime_flags(&self, _: Runtime) -> Vec<String> {
        Vec::new() // podman's global --runtime, in `command`
    }
}

impl Cli for Docker {
    fn engine(&self) -> &'static str {
        "docker"
    }
    fn image(&self) -> &'static str {
        "busybox:test"
    }
    fn volume(&self) -> &Path {
        &self.volume
    }
    fn verb(&self, _: Runtime, args: &[&str]) -> Said {
        said(self.command().args(args))
    }
    fn runtime_flags(&self, runtime: Runtime) -> Vec<String> {
        let name = match runtime {
            Runtime::Runc => "runc",
            Runtime::Ours => "berth",
        };
        vec!["--runtime".into(), name.into()]
    }
}

/// `ENGINE run --rm --network none FLAGS IMAGE COMMAND` under `runtime`.
fn run(e: &impl Cli, runtime: Runtime, flags: &[&str], command: &[&str]) -> Said {
    let mut args: Vec<String> = ["run", "--rm", "--network", "none"]
        .map(String::from)
        .to_vec();
    args.extend(e.runtime_flags(runtime));
    args.extend(flags.iter().map(|f| f.to_string()));
    args.push(e.image().into());
    args.extend(command.iter().map(|c| c.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    e.verb(runtime, &args)
}

/// The scenario under runc and under the rung: they must say the same.
fn both(e: &impl Cli, flags: &[&str], command: &[&str]) -> Result<Said, String> {
    same(
        &format!("{} run {flags:?} {command:?}", e.engine()),
        run(e, Runtime::Runc, flags, command),
        run(e, Runtime::Ours, flags, command),
    )
}

pub fn echo(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &[], &["echo", "hello"])?;
    expect(
        &s,
        s.out == "hello\n" && s.code == Some(0),
        "echo prints hello",
    )
}

pub fn exit_code(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &[], &["sh", "-c", "exit 3"])?;
    expect(
        &s,
        s.code == Some(3),
        "the program's exit status is the engine's",
    )
}

/// A program the image does not have: the engine must give the shell's
/// 127 under both runtimes, and say so once — without the noise of a
/// `delete --force` of the container the failed create left nothing of
/// (runc says nothing there).
pub fn missing_command(e: &impl Cli) -> Result<(), String> {
    let runc = run(e, Runtime::Runc, &[], &["nosuchcmd"]);
    let ours = run(e, Runtime::Ours, &[], &["nosuchcmd"]);
    let said = format!("--- runc:\n{runc}\n--- rung:\n{ours}");
    if runc.code != Some(127) || ours.code != Some(127) {
        return Err(format!(
            "{} run nosuchcmd: not 127 both times\n{said}",
            e.engine()
        ));
    }
    let noise = ["does not exist", "inside the container"];
    if noise.iter().any(|n| ours.out.contains(n)) || !ours.out.contains("nosuchcmd") {
        return Err(format!(
            "{} run nosuchcmd: the rung's error should name the command, once\n{said}",
            e.engine()
        ));
    }
    Ok(())
}

pub fn env_and_workdir(e: &impl Cli) -> Result<(), String> {
    let s = both(
        e,
        &["-e", "GREETING=hello there", "-w", "/etc"],
        &["sh", "-c", "echo \"$GREETING\"; pwd"],
    )?;
    expect(
        &s,
        s.out == "hello there\n/etc\n",
        "the variable and the (new) working directory",
    )
}

pub fn user(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &["-u", "1000:1000"], &["id"])?;
    expect(
        &s,
        s.out.starts_with("uid=1000") && s.out.contains(" gid=1000"),
        "uid and gid 1000",
    )
}

pub fn read_only_volume(e: &impl Cli) -> Result<(), String> {
    let volume = format!("{}:/data:ro", e.volume().display());
    let s = both(
        e,
        &["-v", &volume],
        &["sh", "-c", "cat /data/note; touch /data/x"],
    )?;
    expect(
        &s,
        s.out.contains("from the host")
            && s.out.contains("Read-only file system")
            && s.code == Some(1),
        "the volume is readable and read-only",
    )
}

pub fn terminal(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &["-t"], &["tty"])?;
    expect(
        &s,
        s.out.starts_with("/dev/pts/"),
        "a terminal from the console socket",
    )
}

/// The cgroup file the engine's limit lands in, read from inside: v2's
/// name, else v1's.
fn limit(v2: &str, v1: &str) -> String {
    format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}")
}

pub fn memory_limit(e: &impl Cli) -> Result<(), String> {
    let script = limit("memory.max", "memory/memory.limit_in_bytes");
    let s = both(e, &["--memory", "64m"], &["sh", "-c", &script])?;
    expect(&s, s.out == "67108864\n", "64 MiB, read back from inside")
}

pub fn cpuset_and_reservation(e: &impl Cli) -> Result<(), String> {
    let script = format!(
        "{}; {}",
        limit("cpuset.cpus", "cpuset/cpuset.cpus"),
        limit("memory.low", "memory/memory.soft_limit_in_bytes")
    );
    let s = both(
        e,
        &["--cpuset-cpus", "0", "--memory-reservation", "32m"],
        &["sh", "-c", &script],
    )?;
    expect(
        &s,
        s.out == "0\n33554432\n",
        "CPU 0 only, and 32 MiB kept under pressure",
    )
}

pub fn sysctl(e: &impl Cli) -> Result<(), String> {
    let s = both(
        e,
        &["--sysctl", "net.ipv4.ip_unprivileged_port_start=99"],
        &["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
    )?;
    expect(
        &s,
        s.out == "99\n",
        "the sysctl's value, with /proc/sys read-only",
    )
}

pub fn capabilities(e: &impl Cli) -> Result<(), String> {
    let s = both(
        e,
        &["--cap-drop", "all", "--cap-add", "NET_RAW"],
        &["grep", "CapEff", "/proc/self/status"],
    )?;
    expect(
        &s,
        s.out == "CapEff:\t0000000000002000\n",
        "CAP_NET_RAW (bit 13) alone",
    )
}

pub fn read_only_root(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &["--read-only"], &["sh", "-c", "touch /x"])?;
    expect(
        &s,
        s.out.contains("Read-only file system") && s.code == Some(1),
        "a read-only root",
    )
}

pub fn pids_limit(e: &impl Cli) -> Result<(), String> {
    let script = limit("pids.max", "pids/pids.max");
    let s = both(e, &["--pids-limit", "32"], &["sh", "-c", &script])?;
    expect(&s, s.out == "32\n", "pids.max 32, read back from inside")
}

pub fn tmpfs(e: &impl Cli) -> Result<(), String> {
    let s = both(
        e,
        &["--tmpfs", "/scratch:size=1m"],
        &[
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts | cut -d' ' -f1-3",
        ],
    )?;
    expect(&s, s.out == "tmpfs /scratch tmpfs\n", "a tmpfs at /scratch")
}

pub fn seccomp_default(e: &impl Cli) -> Result<(), String> {
    let s = both(e, &[], &["grep", "Seccomp:", "/proc/self/status"])?;
    expect(
        &s,
        s.out == "Seccomp:\t2\n",
        "the engine's default profile (mode 2: a filter)",
    )
}

pub fn seccomp_unconfined(e: &impl Cli) -> Result<(), String> {
    let s = both(
        e,
        &["--security-opt", "seccomp=unconfined"],
        &["grep", "Seccomp:", "/proc/self/status"],
    )?;
    expect(&s, s.out == "Seccomp:\t0\n", "no filter")
}

/// A container's life as `ENGINE run -d`, `exec`, `kill --signal`, `wait`,
/// `logs`, `stop` and `rm` walk it, as a transcript: the same under both
/// runtimes.
fn life(e: &impl Cli, runtime: Runtime) -> String {
    let name = format!("berth-life-{}-{runtime:?}", std::process::id()).to_lowercase();
    let stopped = format!("{name}-stop");
    let script = "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.1; done";
    let mut detached: Vec<String> = ["run", "-d", "--network", "none", "--name"]
        .map(String::from)
        .to_vec();
    detached.push(name.clone());
    detached.extend(e.runtime_flags(runtime));
    detached.extend([
        e.image().to_string(),
        "sh".into(),
        "-c".into(),
        script.into(),
    ]);
    let mut sleeper: Vec<String> = ["run", "-d", "--network", "none", "--name"]
        .map(String::from)
        .to_vec();
    sleeper.push(stopped.clone());
    sleeper.extend(e.runtime_flags(runtime));
    sleeper.extend([e.image().to_string(), "sleep".into(), "1000".into()]);
    let steps: Vec<Vec<String>> = vec![
        detached,
        ["exec", &name, "echo", "inside"].map(String::from).to_vec(),
        ["kill", "--signal", "USR1", &name]
            .map(String::from)
            .to_vec(),
        ["wait", &name].map(String::from).to_vec(),
        ["logs", &name].map(String::from).to_vec(),
        ["rm", &name].map(String::from).to_vec(),
        sleeper,
        ["stop", "-t", "1", &stopped].map(String::from).to_vec(),
        ["rm", &stopped].map(String::from).to_vec(),
    ];
    let mut transcript = String::new();
    for step in &steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let s = e.verb(runtime, &args);
        // IDs and names differ from run to run; what matters is the rest.
        let out: String = s
            .out
            .lines()
            .filter(|l| !(l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit())))
            .filter(|l| !l.starts_with("time="))
            .map(|l| l.replace(&stopped, "NAME2").replace(&name, "NAME") + "\n")
            .collect();
        transcript += &format!("$ {} → {:?}\n{out}", step[0], s.code);
        if step[0] == "run" {
            // Let the trap be set before the signal comes.
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    let _ = e.verb(runtime, &["rm", "--force", &name, &stopped]);
    transcript
}

pub fn detached_exec_signal_stop_rm(e: &impl Cli) -> Result<(), String> {
    let ours = same(e.engine(), life(e, Runtime::Runc), life(e, Runtime::Ours))?;
    expect_all(
        &ours,
        &[
            "inside\n",
            "$ wait → Some(0)\n7\n",
            "got USR1\n",
            "$ stop → Some(0)\n",
        ],
    )
}
