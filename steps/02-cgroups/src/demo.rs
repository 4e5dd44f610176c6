//! The demo `just step 02` runs: a memory hog and a fork bomb, each in a
//! container whose cgroup stops it.

use berth::cgroup::args::CgroupArgs;
use berth::cli::NamespaceArgs;

use berth::cgroup;

use crate::HOSTNAME;

// ANCHOR: demo
/// The two containers of the demo: what they run, and under which limits.
const HOG: &[&str] = &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
const BOMB: &[&str] = &[
    "sh",
    "-c",
    "bomb() { bomb | bomb & }; bomb 2>/dev/null; exec sleep 2",
];

pub fn run(namespaces: &NamespaceArgs, limits: &CgroupArgs) -> anyhow::Result<i32> {
    println!("Rung 02 puts each container in a cgroup of its own, with limits.");
    println!();
    println!("1. A memory hog, limited to 32 MiB: dd asks for a 64 MiB buffer.");
    println!("   $ just step 02 --memory 32M -- {}", HOG.join(" "));
    let mut hog = limits.clone();
    hog.memory = Some(32 << 20);
    let status = contained(namespaces, &hog, HOG)?;
    println!("   exit status {status}");
    println!();
    println!("2. A fork bomb, limited to 64 processes, for two seconds.");
    println!("   $ just step 02 --pids-limit 64 -- sh -c '{}'", BOMB[2]);
    let mut bomb = limits.clone();
    bomb.pids_limit = Some(64);
    let status = contained(namespaces, &bomb, BOMB)?;
    println!("   exit status {status}");
    println!();
    println!("The host never noticed: both cgroups are gone, and so is every process in them.");
    Ok(0)
}
// ANCHOR_END: demo

/// Run `command` under `limits`, and print what the cgroup says about it.
fn contained(
    namespaces: &NamespaceArgs,
    limits: &CgroupArgs,
    command: &[&str],
) -> anyhow::Result<i32> {
    let command = command.iter().map(Into::into).collect();
    let container = namespaces.container(HOSTNAME, command)?;
    let (code, notes) = cgroup::run_in_cgroup(container, limits, "step-02")?;
    for note in notes {
        println!("   {note}");
    }
    Ok(code)
}
