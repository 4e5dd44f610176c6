//! The demo `just step 04` runs: one container driven through the OCI
//! lifecycle — spec, create, state, start, state, delete — by running this
//! very binary as a container engine would, one verb at a time.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Where the demo keeps its bundle and its state (fixed, so the book's
/// transcript can show the paths; cleared at the start of every run).
const HOME: &str = "/tmp/berth-demo-04";

/// What the demo container runs.
const PROGRAM: &str =
    "echo \"hello from $(hostname), uid $(id -u)\"; grep CapEff /proc/self/status; \
                       mount -t tmpfs none /tmp && echo 'mounted a tmpfs over /tmp'";

// ANCHOR: demo
/// Drive one container through its life, printing each verb as a learner
/// would type it. With `all_caps`, the container keeps every capability:
/// chapter 4's "break it".
pub fn run(all_caps: bool) -> anyhow::Result<i32> {
    let home = Path::new(HOME);
    let _ = std::fs::remove_dir_all(home);
    let bundle = home.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    if all_caps {
        println!("The same container, but with every capability (a privileged container):");
    } else {
        println!("Rung 04 is an OCI runtime: it runs a bundle (a root filesystem and a");
        println!("config.json) through the verbs container engines use.");
    }

    step(
        "a bundle: a default config.json, then the busybox image as its root",
        &["spec", "--bundle", &path(&bundle)],
    )?;
    let image = berth::rootfs::busybox::image()?;
    edit(&bundle.join("config.json"), &image, all_caps)?;

    let state = ["--root", &format!("{HOME}/state")];
    step(
        "create: everything but the program",
        &[&state[..], &["create", "--bundle", &path(&bundle), "demo"]].concat(),
    )?;
    step(
        "the container exists; its process waits",
        &[&state[..], &["state", "demo"]].concat(),
    )?;
    step(
        "start: the program runs",
        &[&state[..], &["start", "demo"]].concat(),
    )?;
    wait_stopped(&state)?;
    step("it has exited", &[&state[..], &["list"]].concat())?;
    step(
        "delete: nothing is left",
        &[&state[..], &["delete", "demo"]].concat(),
    )?;
    std::fs::remove_dir_all(home)?;
    Ok(0)
}
// ANCHOR_END: demo

/// Print `args` as `just step 04 ARGS`, then run them.
fn step(what: &str, args: &[&str]) -> anyhow::Result<()> {
    println!();
    println!("{what}:");
    println!("  $ just step 04 {}", args.join(" "));
    let status = Command::new(std::env::current_exe()?).args(args).status()?;
    if !status.success() {
        bail!("step-04 {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Point the bundle at `image`, give it the demo's program, and with
/// `all_caps` every capability the runtime has.
fn edit(config: &Path, image: &Path, all_caps: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)?;
    let mut spec: Value = serde_json::from_str(&text)?;
    spec["root"] = json!({"path": image, "readonly": true});
    spec["process"]["args"] = json!(["sh", "-c", PROGRAM]);
    if all_caps {
        // Every capability the runtime itself has (this host may withhold
        // a few even from root).
        let every: Vec<String> = caps::read(None, caps::CapSet::Permitted)?
            .iter()
            .map(|c| c.to_string())
            .collect();
        let mut sorted = every;
        sorted.sort();
        for set in ["bounding", "effective", "permitted"] {
            spec["process"]["capabilities"][set] = json!(sorted);
        }
    }
    std::fs::write(config, serde_json::to_string_pretty(&spec)?).context("writing config.json")
}

/// Wait until the demo container's program has exited.
fn wait_stopped(state: &[&str]) -> anyhow::Result<()> {
    for _ in 0..500 {
        let out = Command::new(std::env::current_exe()?)
            .args(state)
            .args(["state", "demo"])
            .output()?;
        let now: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if now["status"] == "stopped" {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    bail!("the demo container did not stop within 5 s")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
