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
        test(
            "a_pull_killed_mid_download_is_completed_by_the_next",
            Needs::Program("docker-registry"),
            killed_pull,
        ),
        test(
            "run_an_image_its_layers_and_whiteouts_as_overlayfs_shows_them",
            Needs::RootAnd("docker-registry"),
            run_image,
        ),
        test(
            "the_demo_pulls_runs_and_removes_busybox",
            Needs::RootAnd("docker-registry"),
            demo,
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

fn killed_pull() -> Outcome {
    let registry = Registry::start()?;
    // A 128 MiB layer of bytes that do not compress, so the download takes
    // long enough to be interrupted.
    let mut data = vec![0u8; 128 << 20];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for chunk in data.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let layer = images::zstd_layer(&images::tar_of(&[("big", Some(&data))]));
    drop(data);
    let pushed = images::push_image(&registry.pusher(), "test/big", "v1", &[layer], false)?;
    let store = TempDir::new("berth-step05-killed").map_err(|e| e.to_string())?;
    let image = format!("{}/test/big:v1", registry.host());
    let partial = store
        .path()
        .join("blobs/partial")
        .join(pushed.layers[0].digest.trim_start_matches("sha256:"));
    let mut child = Command::new(OURS)
        .arg("--root")
        .arg(store.path())
        .args(["pull", "--quiet", &image])
        .spawn()
        .unwrap();
    // kill -9 once the layer is partly down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while partial.metadata().map_or(0, |m| m.len()) < (4 << 20) {
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            return Err("the pull finished or stalled before it could be interrupted".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let had = partial.metadata().map_or(0, |m| m.len());
    check(had > 0, || "the partial download should be kept".into())?;
    check_eq(
        text(&step05(store.path(), &["images"])),
        String::new(),
        "no name after a killed pull",
    )?;
    // The next pull completes it, resuming from what is there.
    let again = step05(store.path(), &["pull", "--quiet", &image]);
    check(again.status.success(), || text(&again))?;
    check(text(&again).contains("1 layers, 1 downloaded"), || {
        text(&again)
    })?;
    check(!partial.exists(), || {
        "the partial file should have become the blob".into()
    })?;
    let layer_dir = store
        .path()
        .join("layers/sha256")
        .join(pushed.layers[0].digest.trim_start_matches("sha256:"));
    let size = std::fs::metadata(layer_dir.join("big"))
        .map(|m| m.len())
        .unwrap_or(0);
    check_eq(size, 128 << 20, "the unpacked file")
}

fn run_image() -> Outcome {
    let registry = Registry::start()?;
    images::multi_layer(&registry.pusher(), "test/layers", "v1")?;
    let store = TempDir::new("berth-step05-run").map_err(|e| e.to_string())?;
    let image = format!("{}/test/layers:v1", registry.host());
    let pulled = step05(store.path(), &["pull", "--quiet", &image]);
    check(pulled.status.success(), || text(&pulled))?;
    // The image's own command.
    let own = step05(store.path(), &["run", &image]);
    check_eq(
        (text(&own), own.status.code()),
        ("hello from berth\n".to_string(), Some(0)),
        "the image's Cmd",
    )?;
    // The upper layer replaced /etc/passwd, deleted /etc/hostname (a
    // whiteout) and made /home opaque (only its own file shows).
    let script = "head -1 /etc/passwd; ls /etc/hostname 2>&1; ls /home; exit 3";
    // The image's Entrypoint is `sh -c`: a command replaces only its Cmd,
    // as with docker run.
    let seen = step05(store.path(), &["run", &image, script]);
    check_eq(
        (text(&seen), seen.status.code()),
        (
            "root:x:0:0:upper layer:/root:/bin/sh\nls: /etc/hostname: No such file or directory\nnew-file\n"
                .to_string(),
            Some(3),
        ),
        "the layers as the container sees them",
    )?;
    // Nothing is left: no bundle, no mount, no container state.
    let left: Vec<_> = std::fs::read_dir("/run/step-05/bundles")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    check(left.is_empty() && !mounts.contains("/run/step-05/"), || {
        format!("left behind: {left:?}")
    })
}

fn demo() -> Outcome {
    let out = Command::new(OURS).output().unwrap();
    let said = text(&out);
    check(out.status.success(), || said.clone())?;
    for expected in [
        "(1 layers, 2 downloaded)",
        "hello from berth\n",
        "I am root in berth",
        "removed layers/sha256/",
    ] {
        check(said.contains(expected), || {
            format!("the demo should say {expected:?}: {said}")
        })?;
    }
    Ok(())
}
