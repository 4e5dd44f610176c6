//! The demo `just step 01` runs: one container, looked at from inside and
//! from outside.

use std::fs;

use anyhow::Context;
use berth::cli::NamespaceArgs;
use berth::container::Stage;
use berth::ns::Namespace;

/// What the container runs: a few commands anyone can type in a shell.
const SCRIPT: &str = "hostname; echo \"my PID: $$\"; ps -e -o pid,comm; ip link";

// ANCHOR: demo
/// Start a container that runs [`SCRIPT`], then check from the host that
/// nothing leaked out of it.
pub fn run(namespaces: &NamespaceArgs, hostname: &str) -> anyhow::Result<i32> {
    let host_name = host_hostname()?;
    let host_mounts = fs::read_to_string("/proc/self/mountinfo")?;
    let host_namespaces = Namespace::ALL
        .into_iter()
        .map(|ns| (ns, ns.inode(None).ok()))
        .collect();

    println!("Rung 01 starts a container: a process in new namespaces.");
    println!();
    let command = ["sh", "-c", SCRIPT].map(Into::into).to_vec();
    let container = namespaces
        .container(hostname, command)?
        .stage(Compare { host_namespaces });
    println!("It runs: sh -c '{SCRIPT}'");
    let status = container.run().context("running the demo container")?;

    println!();
    println!("Back on the host:");
    let name_now = host_hostname()?;
    println!(
        "  hostname      {name_now} ({})",
        same(name_now == host_name)
    );
    let mounts_now = fs::read_to_string("/proc/self/mountinfo")?;
    println!("  mount table   {}", same(mounts_now == host_mounts));
    println!("  exit status   {}", status.code());
    Ok(status.code())
}
// ANCHOR_END: demo

/// This process's hostname, as its UTS namespace has it.
fn host_hostname() -> anyhow::Result<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")?;
    Ok(name.trim_end().to_string())
}

fn same(unchanged: bool) -> &'static str {
    if unchanged {
        "unchanged"
    } else {
        "CHANGED"
    }
}

/// A stage that prints, from inside, which namespaces differ from the
/// host's. It runs after the other stages, so every namespace exists.
struct Compare {
    host_namespaces: Vec<(Namespace, Option<u64>)>,
}

impl Stage for Compare {
    fn name(&self) -> &'static str {
        "comparing namespaces"
    }

    fn in_child(&mut self) -> berth::Result<()> {
        println!();
        println!("  namespace  host         container");
        for (ns, host) in &self.host_namespaces {
            let (Some(host), Ok(inside)) = (host, ns.inode(None)) else {
                println!("  {:<9}  (this kernel has none)", ns.proc_name());
                continue;
            };
            let verdict = if *host == inside { "shared" } else { "new" };
            println!(
                "  {:<9}  {host:<11}  {inside:<11}  {verdict}",
                ns.proc_name()
            );
        }
        println!();
        Ok(())
    }
}
