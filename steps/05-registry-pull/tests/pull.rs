//! Rung 05's promises, against a real registry (Debian's docker-registry,
//! started on 127.0.0.1 for each test and seeded with test images built
//! from busybox).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth::registry::local::{images, write_auth_file, Registry, TempDir};
use berth::testing::{check, check_eq, test, wait_with_timeout, Completion, Needs, Outcome, Trial};
use berth::unpack::layer::is_temporary;

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
            "a_config_that_lies_is_refused_before_anything_is_named",
            Needs::Program("docker-registry"),
            lying_configs,
        ),
        test(
            "a_pull_killed_mid_download_is_completed_by_the_next",
            Needs::Program("docker-registry"),
            killed_pull,
        ),
        test(
            "two_pulls_at_once_store_each_blob_and_layer_once",
            Needs::Program("docker-registry"),
            two_pulls_at_once,
        ),
        Trial::ignorable_test(
            "a_login_comes_from_the_auth_files_docker_and_podman_use",
            || match Registry::unavailable(true) {
                Some(reason) => Ok(Completion::ignored_with(reason)),
                None => pulls_with_login().map(|()| Completion::Completed),
            },
        ),
        test(
            "a_pull_killed_mid_unpack_leaves_a_temporary_the_next_sweeps",
            Needs::Program("docker-registry"),
            killed_unpack,
        ),
        test(
            "run_an_image_its_layers_and_whiteouts_as_overlayfs_shows_them",
            Needs::RootAnd("docker-registry"),
            run_image,
        ),
        test(
            "run_follows_the_images_entrypoint_env_workdir_and_user",
            Needs::RootAnd("docker-registry"),
            run_config,
        ),
        test(
            "the_demo_pulls_runs_and_removes_busybox",
            Needs::RootAnd("docker-registry"),
            demo,
        ),
    ];
    berth::testing::run(trials)
}

fn step05(store: &std::path::Path, args: &[&str]) -> Output {
    Command::new(OURS)
        .arg("--store")
        .arg(store)
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
    let store = TempDir::with_prefix("berth-step05-store").map_err(|e| e.to_string())?;
    let image = format!("{}/test/layers:v1", registry.host());
    let pulled = step05(store.path(), &["pull", "--quiet", &image]);
    check(pulled.status.success(), || text(&pulled))?;
    check_eq(
        text(&pulled),
        format!(
            "{image}: {} (2 layers, 3 blobs downloaded)\n",
            pushed.digest
        ),
        "pull's report",
    )?;
    let listed = step05(store.path(), &["images"]);
    check_eq(
        text(&listed),
        format!("{image}  {}\n", pushed.digest),
        "images",
    )?;
    let again = step05(store.path(), &["pull", "--quiet", &image]);
    check(text(&again).contains("0 blobs downloaded"), || text(&again))?;
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
    let store = TempDir::with_prefix("berth-step05-bad").map_err(|e| e.to_string())?;
    let out = step05(store.path(), &["pull", "Busy Box:latest"]);
    check(
        !out.status.success() && text(&out).contains("invalid image reference"),
        || text(&out),
    )
}

/// Push an image whose layer is the kit's busybox layer and whose config
/// is `config` (given the layer's real diff_id); returns its name.
fn push_with_config(
    registry: &Registry,
    repository: &str,
    config: impl Fn(&str) -> Vec<u8>,
) -> Result<String, String> {
    let pusher = registry.pusher();
    let layer = images::gzip_layer(&images::busybox_tar(), false);
    let blob = pusher.blob(repository, &layer.bytes)?;
    let config = pusher.blob(repository, &config(&layer.diff_id))?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": layer.media_type, "digest": blob.digest, "size": blob.size}]
    });
    pusher.manifest(
        repository,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    )?;
    Ok(format!("{}/{repository}:v1", registry.host()))
}

fn lying_configs() -> Outcome {
    let registry = Registry::start()?;
    let config = |architecture: &str, diff_id: &str| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": architecture, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        }))
        .unwrap()
    };
    let zeros = format!("sha256:{}", "0".repeat(64));
    /// A config, made from the layer's real diff_id.
    type MakeConfig = Box<dyn Fn(&str) -> Vec<u8>>;
    let cases: Vec<(&str, MakeConfig, Vec<&str>, &str)> = vec![
        (
            "lie/not-json",
            Box::new(|_: &str| b"this is not JSON".to_vec()),
            vec![],
            "is not an OCI image configuration",
        ),
        (
            "lie/diff-id",
            Box::new(move |_: &str| config("amd64", &zeros)),
            vec![],
            "the layer's uncompressed tar (diff_id) sha256:0000",
        ),
        (
            "lie/no-diff-ids",
            Box::new(|_: &str| {
                br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                    .to_vec()
            }),
            vec![],
            "lists 0 layers (rootfs.diff_ids), the manifest 1",
        ),
        (
            "lie/platform",
            Box::new(move |diff_id: &str| config("arm64", diff_id)),
            vec!["--platform", "linux/amd64"],
            "is for linux/arm64, not the linux/amd64 it was resolved for",
        ),
    ];
    for (repository, make, flags, said) in cases {
        let image = push_with_config(&registry, repository, make)?;
        let store = TempDir::with_prefix("berth-step05-lie").map_err(|e| e.to_string())?;
        let mut args = vec!["pull", "--quiet"];
        args.extend(flags);
        args.push(&image);
        let out = step05(store.path(), &args);
        check(!out.status.success() && text(&out).contains(said), || {
            format!(
                "{repository}: expected an error saying {said:?}, got: {}",
                text(&out)
            )
        })?;
        let images = step05(store.path(), &["images"]);
        check_eq(
            text(&images),
            String::new(),
            &format!("{repository}: images named"),
        )?;
        let layers: Vec<_> = std::fs::read_dir(store.path().join("layers/sha256"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        check_eq(layers, vec![], &format!("{repository}: layers kept"))?;
    }
    Ok(())
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
    let store = TempDir::with_prefix("berth-step05-killed").map_err(|e| e.to_string())?;
    let image = format!("{}/test/big:v1", registry.host());
    let partial = store
        .path()
        .join("blobs/partial")
        .join(pushed.layers[0].digest.trim_start_matches("sha256:"));
    let mut child = Command::new(OURS)
        .arg("--store")
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
    check(
        text(&again).contains("(1 layer, 1 blob downloaded)"),
        || text(&again),
    )?;
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

/// The names in `dir`, sorted (none if it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `sha256:HEX` → `HEX`, as the store names files.
fn hex(digest: &str) -> String {
    digest.trim_start_matches("sha256:").to_string()
}

/// The temporary layer directories in a store.
fn temporaries(store: &Path) -> Vec<String> {
    names_in(&store.join("layers/sha256"))
        .into_iter()
        .filter(|n| is_temporary(n.as_ref()))
        .collect()
}

fn two_pulls_at_once() -> Outcome {
    let registry = Registry::start()?;
    let pushed = images::multi_layer(&registry.pusher(), "test/layers", "v1")?;
    let store = TempDir::with_prefix("berth-step05-twice").map_err(|e| e.to_string())?;
    let image = format!("{}/test/layers:v1", registry.host());
    // Both started before either has done anything, into one empty store.
    let spawn = || {
        Command::new(OURS)
            .arg("--store")
            .arg(store.path())
            .args(["pull", "--quiet", &image])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    let a = wait_with_timeout(&mut a, Duration::from_secs(60))?;
    let b = wait_with_timeout(&mut b, Duration::from_secs(60))?;
    check(a.status.success() && b.status.success(), || {
        format!("first: {}\nsecond: {}", text(&a), text(&b))
    })?;
    // Each blob (the config and two layers) was downloaded by one of the
    // two: the other waited on the blob's lock and found it there.
    let downloaded = |out: &Output| {
        let said = text(out);
        let prefix = format!("{image}: {} (2 layers, ", pushed.digest);
        said.strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(" downloaded)\n"))
            .and_then(|n| n.strip_suffix(" blobs").or(n.strip_suffix(" blob")))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(said)
    };
    check_eq(
        downloaded(&a)? + downloaded(&b)?,
        3,
        "blobs downloaded by the two pulls together",
    )?;
    // One file per blob, one directory per layer: nothing twice, nothing
    // half-done.
    let mut blobs = vec![hex(&pushed.digest), hex(&pushed.config_digest)];
    blobs.extend(pushed.layers.iter().map(|l| hex(&l.digest)));
    blobs.sort();
    check_eq(
        names_in(&store.path().join("blobs/sha256")),
        blobs,
        "blobs/sha256",
    )?;
    let mut layers: Vec<String> = pushed.layers.iter().map(|l| hex(&l.digest)).collect();
    layers.sort();
    check_eq(
        names_in(&store.path().join("layers/sha256")),
        layers,
        "layers/sha256 (no temporary left)",
    )?;
    // In partial/ only the blobs' lock files remain: empty, and no
    // download left half-way.
    let partial = store.path().join("blobs/partial");
    for name in names_in(&partial) {
        let size = std::fs::metadata(partial.join(&name)).map_or(0, |m| m.len());
        check(name.ends_with(".lock") && size == 0, || {
            format!("blobs/partial/{name} ({size} bytes) was left behind")
        })?;
    }
    check_eq(
        text(&step05(store.path(), &["images"])),
        format!("{image}  {}\n", pushed.digest),
        "images",
    )
}

fn pulls_with_login() -> Outcome {
    let registry = Registry::start_with_login("learner", "s3cret")?;
    images::single_layer(&registry.pusher(), "private/busybox", "v1")?;
    let image = format!("{}/private/busybox:v1", registry.host());
    // A home of our own, and none of the variables that point elsewhere:
    // the test must not read (or depend on) the logins of whoever runs it.
    let home = TempDir::with_prefix("berth-step05-home").map_err(|e| e.to_string())?;
    let files = TempDir::with_prefix("berth-step05-auth").map_err(|e| e.to_string())?;
    let pull = |env: &[(&str, &Path)]| -> Result<Output, String> {
        let store = TempDir::with_prefix("berth-step05-login").map_err(|e| e.to_string())?;
        let mut command = Command::new(OURS);
        command
            .arg("--store")
            .arg(store.path())
            .args(["pull", "--quiet", &image])
            .env("HOME", home.path())
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("DOCKER_CONFIG");
        for (name, value) in env {
            command.env(name, value);
        }
        Ok(command.output().unwrap())
    };

    // No login anywhere: refused, saying which registry and where we looked.
    let anonymous = pull(&[])?;
    let said = text(&anonymous);
    let docker_config = home.path().join(".docker/config.json");
    check(
        !anonymous.status.success()
            && said.contains(registry.host())
            && said.contains("authentication required")
            && said.contains(&docker_config.display().to_string()),
        || format!("without a login: {said}"),
    )?;

    // Podman's REGISTRY_AUTH_FILE.
    let right = write_auth_file(files.path(), registry.host(), "learner", "s3cret");
    let with_file = pull(&[("REGISTRY_AUTH_FILE", &right)])?;
    check(with_file.status.success(), || text(&with_file))?;
    check(
        text(&with_file).contains("(1 layer, 2 blobs downloaded)"),
        || text(&with_file),
    )?;

    // A wrong password: refused, naming the user, never the password.
    let wrong_dir = TempDir::with_prefix("berth-step05-wrong").map_err(|e| e.to_string())?;
    let wrong = write_auth_file(wrong_dir.path(), registry.host(), "learner", "guess");
    let refused = pull(&[("REGISTRY_AUTH_FILE", &wrong)])?;
    let said = text(&refused);
    check(
        !refused.status.success()
            && said.contains(registry.host())
            && said.contains("refused")
            && said.contains("learner"),
        || format!("with a wrong password: {said}"),
    )?;
    check(!said.contains("guess"), || {
        format!("a password must never be printed: {said}")
    })?;

    // Docker's ~/.docker/config.json, found through HOME.
    std::fs::create_dir_all(home.path().join(".docker")).map_err(|e| e.to_string())?;
    write_auth_file(
        &home.path().join(".docker"),
        registry.host(),
        "learner",
        "s3cret",
    );
    let with_home = pull(&[])?;
    check(with_home.status.success(), || text(&with_home))
}

fn killed_unpack() -> Outcome {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let registry = Registry::start()?;
    // Small to download, big to unpack: 16 MiB of zeros gzip to a few KiB.
    let zeros = vec![0u8; 16 << 20];
    let layer = images::gzip_layer(&images::tar_of(&[("zeros", Some(&zeros))]), false);
    drop(zeros);
    check(layer.bytes.len() < 1 << 20, || {
        format!("the layer is {} bytes", layer.bytes.len())
    })?;
    let pushed = images::push_image(&registry.pusher(), "test/zeros", "v1", &[layer], false)?;
    let layer = hex(&pushed.layers[0].digest);
    let store = TempDir::with_prefix("berth-step05-unpack").map_err(|e| e.to_string())?;
    let image = format!("{}/test/zeros:v1", registry.host());

    // A file size limit of 1 MiB (`ulimit -f`): the download fits, the
    // unpacked file does not, and on the write that crosses it the kernel
    // kills the pull with SIGXFSZ — mid-unpack, as suddenly as kill -9.
    let mut command = Command::new(OURS);
    command
        .arg("--store")
        .arg(store.path())
        .args(["pull", "--quiet", &image])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the child between fork and exec, and
    // calls only setrlimit, sigaction and sigprocmask, which are
    // async-signal-safe; it touches no memory of the parent's.
    unsafe {
        command.pre_exec(|| {
            use nix::sys::resource::{setrlimit, Resource};
            use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
            setrlimit(Resource::RLIMIT_FSIZE, 1 << 20, 1 << 20)?;
            setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
            // Whatever this test process inherited: SIGXFSZ kills.
            signal(Signal::SIGXFSZ, SigHandler::SigDfl)?;
            let mut xfsz = SigSet::empty();
            xfsz.add(Signal::SIGXFSZ);
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&xfsz), None)?;
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let killed = wait_with_timeout(&mut child, Duration::from_secs(60))?;
    check_eq(
        killed.status.signal(),
        Some(nix::sys::signal::Signal::SIGXFSZ as i32),
        &format!("how the limited pull ended ({})", text(&killed)),
    )?;
    // It left its temporary, named for the layer and the dead process,
    // and no layer, and no image name.
    let left = temporaries(store.path());
    check(
        left.len() == 1 && left[0].starts_with(&format!(".{layer}.unpacking-{pid}-")),
        || format!("expected the temporary of PID {pid}, found {left:?}"),
    )?;
    let layer_dir = store.path().join("layers/sha256").join(&layer);
    check(!layer_dir.exists(), || {
        "a layer must never appear half-unpacked".into()
    })?;
    check_eq(
        text(&step05(store.path(), &["images"])),
        String::new(),
        "no name after a killed pull",
    )?;
    // The next pull sweeps it away (its owner is dead: nothing holds its
    // lock), finds the verified blob already stored, and unpacks it whole.
    let again = step05(store.path(), &["pull", "--quiet", &image]);
    check(again.status.success(), || text(&again))?;
    check(
        text(&again).contains("(1 layer, 0 blobs downloaded)"),
        || text(&again),
    )?;
    check_eq(temporaries(store.path()), Vec::new(), "temporaries left")?;
    let size = std::fs::metadata(layer_dir.join("zeros")).map_or(0, |m| m.len());
    check_eq(size, 16 << 20, "the unpacked file")
}

/// What `docker run` does with an image's config, rung 05 does too:
/// Entrypoint + Cmd (a command replaces Cmd only), Env, WorkingDir, and a
/// User name looked up in the image's own /etc/passwd.
fn run_config() -> Outcome {
    let registry = Registry::start()?;
    let config = serde_json::json!({
        "Entrypoint": ["/bin/echo", "entrypoint:"],
        "Cmd": ["the", "image's", "Cmd"],
        "Env": ["PATH=/bin", "GREETING=hi"],
        "WorkingDir": "/tmp",
        "User": "nobody"
    });
    images::with_run_config(&registry.pusher(), "test/config", "v1", config)?;
    let shell = serde_json::json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Env": ["PATH=/bin", "GREETING=hi"],
        "WorkingDir": "/tmp",
        "User": "nobody"
    });
    images::with_run_config(&registry.pusher(), "test/config", "shell", shell)?;
    let store = TempDir::with_prefix("berth-step05-config").map_err(|e| e.to_string())?;
    for tag in ["v1", "shell"] {
        let image = format!("{}/test/config:{tag}", registry.host());
        let pulled = step05(store.path(), &["pull", "--quiet", &image]);
        check(pulled.status.success(), || text(&pulled))?;
    }
    let echo = format!("{}/test/config:v1", registry.host());
    let own = step05(store.path(), &["run-image", &echo]);
    check_eq(
        (text(&own), own.status.code()),
        ("entrypoint: the image's Cmd\n".to_string(), Some(0)),
        "Entrypoint followed by Cmd",
    )?;
    let given = step05(store.path(), &["run-image", &echo, "mine"]);
    check_eq(
        text(&given),
        "entrypoint: mine\n".to_string(),
        "a command replaces Cmd, not Entrypoint",
    )?;
    let shell = format!("{}/test/config:shell", registry.host());
    let seen = step05(
        store.path(),
        &["run-image", &shell, "echo $GREETING; pwd; id -u; id -g"],
    );
    check_eq(
        (text(&seen), seen.status.code()),
        ("hi\n/tmp\n65534\n65534\n".to_string(), Some(0)),
        "Env, WorkingDir, and User nobody from the image's /etc/passwd",
    )
}

fn run_image() -> Outcome {
    let registry = Registry::start()?;
    images::multi_layer(&registry.pusher(), "test/layers", "v1")?;
    let store = TempDir::with_prefix("berth-step05-run").map_err(|e| e.to_string())?;
    let image = format!("{}/test/layers:v1", registry.host());
    let pulled = step05(store.path(), &["pull", "--quiet", &image]);
    check(pulled.status.success(), || text(&pulled))?;
    // The image's own command.
    let own = step05(store.path(), &["run-image", &image]);
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
    let seen = step05(store.path(), &["run-image", &image, script]);
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
        "(1 layer, 2 blobs downloaded)",
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
