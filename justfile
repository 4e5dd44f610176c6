# berth: build your own container runtime, one rung at a time.
# `just --list` shows every recipe; the README says where to start.

set positional-arguments
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list --unsorted

# Build rung NN and run it: its demo, or `just step NN -- CMD ARGS…`
[no-exit-message]
step NN *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    rung="$1"; shift
    if ! ls -d steps/"$rung"-* >/dev/null 2>&1; then
        echo "there is no rung '$rung'; the ladder so far: $(ls steps | tr '\n' ' ')" >&2
        exit 2
    fi
    cargo build --quiet -p "step-$rung"
    bin="target/debug/step-$rung"
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "rung $rung creates namespaces and mounts, which needs root (CAP_SYS_ADMIN); run it as root" >&2
            exit 1
        fi
        echo "rung $rung creates namespaces and mounts, which needs root (CAP_SYS_ADMIN): running $bin with sudo" >&2
        exec sudo "$bin" "$@"
    fi
    exec "$bin" "$@"

# Build rung NN and run it inside the micro-VM (cgroup v2): `just vm-step 02 -- CMD`
[no-exit-message]
vm-step NN *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    rung="$1"; shift
    cargo build --quiet -p "step-$rung"
    exec vm/microvm/run --with "target/debug/step-$rung" -- "target/debug/step-$rung" "$@"

# Start the learners' VM (Lima or Vagrant, whichever is installed) and enter it
vm:
    #!/usr/bin/env bash
    set -euo pipefail
    if command -v limactl >/dev/null; then
        if ! limactl list --quiet | grep -qx berth; then
            limactl start --name=berth --tty=false \
                --set ".mounts[0].location = \"$PWD\" | .env.BERTH_REPO = \"$PWD\"" vm/lima.yaml
        else
            limactl start berth >/dev/null 2>&1 || true
        fi
        exec limactl shell --workdir "$PWD" berth
    elif command -v vagrant >/dev/null; then
        cd vm
        vagrant up
        exec vagrant ssh -c "cd ~/berth && exec bash -l"
    else
        echo "neither Lima nor Vagrant is installed." >&2
        echo "  macOS:          brew install lima" >&2
        echo "  Linux:          your distribution's lima or vagrant package" >&2
        echo "  Windows:        Vagrant and VirtualBox, from their websites" >&2
        echo "then run 'just vm' again (the book's set-up chapter has the details)" >&2
        exit 1
    fi

# Inside the VM (or on any host): check the kernel has what the kit needs
vm-check:
    vm/provision.sh --check

# Run the most complete rung's demo
demo:
    just step 05

# Podman, with state of its own, driving rung NN as its runtime: `just podman 04 run --rm busybox echo hi`
[no-exit-message]
podman NN *ARGS:
    @scripts/podman-on "$@"

# A registry of your own on 127.0.0.1:5000 with the kit's test images (Ctrl-C stops it)
registry *ARGS:
    cargo run --quiet -p step-05 --example registry -- "$@"

# Everything CI checks: format, lints, each rung alone, all tests, the book
test:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    scripts/build-each-rung
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
    # --include-ignored: the library's unit tests that need root or a real
    # registry are #[ignore]d for a plain `cargo test`, so that they are
    # reported as skipped with the reason; here they run. (The 200 MiB
    # measurement stays `just bench`'s.)
    cargo test --workspace --locked -- --include-ignored --skip large_blob_streams_in_constant_memory 2>&1 | tee target/test-output.txt
    scripts/test-in-microvm 2>&1 | tee -a target/test-output.txt
    mdbook build book
    scripts/test-summary target/test-output.txt

# Time rung 04 against crun and runc, and rung 05's pull against skopeo+umoci and podman: `just bench --help`
bench *ARGS:
    scripts/bench "$@"

# Build the book and serve it on http://localhost:3000
book:
    mdbook serve book --open

# Install what this machine lacks (apt packages, Rust, just, mdbook)
setup:
    scripts/setup
