//! The learners' VM files, checked as far as this machine can: the
//! Vagrantfile with `vagrant validate`, lima.yaml against a schema of the
//! fields the kit uses, the shell scripts with shellcheck, and
//! vm/provision.sh for real, on a fresh Debian 12 made with debootstrap
//! (vm/test-provision). Booting the Vagrant box or the Lima image needs the
//! internet, which the tests do not have.

use std::path::PathBuf;
use std::process::Command;

use berth::testing::{check, test, Needs, Outcome, Trial};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    let trials: Vec<Trial> = vec![
        test(
            "the_vagrantfile_validates",
            Needs::Program("vagrant"),
            vagrantfile,
        ),
        test(
            "lima_yaml_matches_the_schema",
            Needs::Program("python3"),
            lima,
        ),
        test(
            "the_shell_scripts_pass_shellcheck",
            Needs::Program("shellcheck"),
            shellcheck,
        ),
        test(
            "provision_sh_turns_a_fresh_debian_into_a_kit_machine",
            Needs::RootAnd("debootstrap"),
            provision,
        ),
    ];
    berth::testing::run(trials)
}

/// Run `command`, failing with its output unless it succeeds.
fn succeeds(command: &mut Command, what: &str) -> Outcome {
    let output = command.output().map_err(|e| format!("{what}: {e}"))?;
    check(output.status.success(), || {
        format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn vagrantfile() -> Outcome {
    // -p: ignore provider blocks, which need VirtualBox or vagrant-libvirt.
    let home = std::env::temp_dir().join(format!("berth-vagrant-home-{}", std::process::id()));
    let result = succeeds(
        Command::new("vagrant")
            .args(["validate", "-p"])
            .env("VAGRANT_CWD", repo().join("vm"))
            .env("VAGRANT_HOME", &home),
        "vagrant validate",
    );
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn lima() -> Outcome {
    let script = "import json, sys, yaml, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        jsonschema.validate(yaml.safe_load(open(sys.argv[2])), schema)\n";
    succeeds(
        Command::new("python3")
            .args(["-c", script])
            .arg(repo().join("vm/lima.schema.json"))
            .arg(repo().join("vm/lima.yaml")),
        "checking vm/lima.yaml",
    )
}

fn shellcheck() -> Outcome {
    let scripts = [
        "vm/provision.sh",
        "vm/test-provision",
        "vm/microvm/run",
        "scripts/setup",
        "scripts/kit",
        "scripts/build-each-rung",
        "scripts/test-in-microvm",
        "scripts/test-summary",
        "scripts/bench",
        "scripts/bench-pull",
        "scripts/bench-lib",
        ".ci/run",
    ];
    succeeds(
        Command::new("shellcheck").current_dir(repo()).args(scripts),
        "shellcheck",
    )
}

fn provision() -> Outcome {
    succeeds(
        &mut Command::new(repo().join("vm/test-provision")),
        "vm/test-provision",
    )
}
