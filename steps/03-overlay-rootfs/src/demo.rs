//! The demo `just step 03` runs: three containers on the busybox image,
//! to show that each one has its own files and that writes vanish.

use std::process::Command;

/// One step of the demo: what the learner would type, and what it runs.
const STEPS: [(&str, &[&str]); 3] = [
    (
        "the image's files, not the host's",
        &["--busybox", "--", "ls", "/"],
    ),
    (
        "a write inside the container",
        &[
            "--busybox",
            "--",
            "sh",
            "-c",
            "echo hello > /greeting && cat /greeting",
        ],
    ),
    (
        "a new container from the same image",
        &["--busybox", "--", "cat", "/greeting"],
    ),
];

// ANCHOR: demo
/// Run the rung itself for each step, as a learner would type it.
pub fn run() -> anyhow::Result<i32> {
    println!("Rung 03 gives each container a root filesystem of its own:");
    println!("the kit's busybox image, under a writable layer that vanishes with it.");
    let me = std::env::current_exe()?;
    for (what, args) in STEPS {
        println!();
        println!("{what}:");
        println!("  $ just step 03 {}", quoted(args));
        let status = Command::new(&me).args(args).status()?;
        if !status.success() {
            println!("(exit status {})", status.code().unwrap_or(-1));
        }
    }
    println!();
    println!("The greeting vanished with the first container's writable layer.");
    Ok(0)
}
// ANCHOR_END: demo

/// The arguments as a shell would need them typed: quoted where they hold
/// spaces.
fn quoted(args: &[&str]) -> String {
    let quote = |a: &&str| {
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.to_string()
        }
    };
    args.iter().map(quote).collect::<Vec<_>>().join(" ")
}
