//! Rung 05's promises, against a real registry (Debian's docker-registry,
//! started on 127.0.0.1 for each test and seeded with test images built
//! from busybox).

use std::process::{Command, Output};

use berth::registry::testing::{images, Registry, TempDir};
use berth::testing::{check, check_eq, test, Needs, Outcome, Trial};

const OURS: &str = env!("CARGO_BIN_EXE_step-05");

fn main() {
    let trials: Vec<Trial> = vec![
        test(
            "pull_images_and_rmi_through_the_command_line",
            Needs::Program("docker-registry"),
            pull_images_rmi,
        ),
        test(
            "a_bad_reference_is_refused_naming_the_bad_part",
            Needs::Nothing,
            bad_reference,
        ),
    ];
    berth::testing::run(trials)
}

fn step05(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(OURS)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pull_images_rmi() -> Outcome {
    let registry = Registry::start()?;
    let pushed = images::multi_layer(&registry.pusher(), "test/layers", "v1")?;
    let store = TempDir::new("berth-step05-store").map_err(|e| e.to_string())?;
    let image = format!("{}/test/layers:v1", registry.host());
    let pulled = step05(store.path(), &["pull", "--quiet", &image]);
    check(pulled.status.success(), || text(&pulled))?;
    check_eq(
        text(&pulled),
        format!("{image}: {} (2 layers, 3 downloaded)\n", pushed.digest),
        "pull's report",
    )?;
    let listed = step05(store.path(), &["images"]);
    check_eq(
        text(&listed),
        format!("{image}  {}\n", pushed.digest),
        "images",
    )?;
    let again = step05(store.path(), &["pull", "--quiet", &image]);
    check(text(&again).contains("0 downloaded"), || text(&again))?;
    let removed = step05(store.path(), &["rmi", &image]);
    check(removed.status.success(), || text(&removed))?;
    check_eq(
        text(&removed).lines().count(),
        6,
        "pieces removed (4 blobs, 2 layers)",
    )?;
    check_eq(
        text(&step05(store.path(), &["images"])),
        String::new(),
        "images after rmi",
    )
}

fn bad_reference() -> Outcome {
    let store = TempDir::new("berth-step05-bad").map_err(|e| e.to_string())?;
    let out = step05(store.path(), &["pull", "Busy Box:latest"]);
    check(
        !out.status.success() && text(&out).contains("invalid image reference"),
        || text(&out),
    )
}
