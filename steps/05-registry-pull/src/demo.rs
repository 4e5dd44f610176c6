//! The demo `just step 05` runs: a registry of its own on 127.0.0.1, the
//! kit's busybox image pushed to it, then pulled, listed, run and removed
//! by this very binary, one command at a time.

use std::process::Command;

use anyhow::{anyhow, bail};
use berth::registry::local::{images, Registry, TempDir};

// ANCHOR: demo
/// Run the demo; returns the exit status.
pub fn run() -> anyhow::Result<i32> {
    println!("Rung 05 pulls images from a registry and runs them with rung 04.");
    println!("A registry of its own first (Debian's docker-registry, on 127.0.0.1),");
    println!("with the kit's busybox image pushed to it as demo/busybox.");
    let registry = Registry::start().map_err(|e| anyhow!("starting docker-registry: {e}"))?;
    images::single_layer(&registry.pusher(), "demo/busybox", "latest")
        .map_err(|e| anyhow!("pushing the image: {e}"))?;
    let store = TempDir::with_prefix("berth-demo-05")?;
    let root = store.path().display().to_string();
    let image = format!("{}/demo/busybox", registry.host());
    let script = "echo \"I am $(id -un) in $(hostname), on layers:\"; grep -c overlay /proc/mounts";
    let steps: [(&str, Vec<&str>); 5] = [
        (
            "pull: manifest, config and layer, each checked against its digest",
            vec!["pull", "--quiet", &image],
        ),
        ("the store now holds it", vec!["images"]),
        (
            "run it: its own command (the image's Cmd)",
            vec!["run-image", &image],
        ),
        (
            "run it with another command",
            vec!["run-image", &image, script],
        ),
        (
            "rmi: the image, and every blob and layer nothing else needs",
            vec!["rmi", &image],
        ),
    ];
    for (what, args) in steps {
        println!();
        println!("{what}:");
        let typed: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!("  $ just step 05 --store STORE {}", typed.join(" "));
        let status = Command::new(std::env::current_exe()?)
            .arg("--store")
            .arg(&root)
            .args(&args)
            .status()?;
        if !status.success() {
            bail!("step-05 {} failed ({status})", args.join(" "));
        }
    }
    Ok(0)
}
// ANCHOR_END: demo
