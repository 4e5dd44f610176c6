#!/usr/bin/env bash
# Provision a machine for the berth kit: the learners' VM (Vagrant and Lima
# both run this), or any Debian 12 / Ubuntu 24.04 machine.
#
#   sudo vm/provision.sh [--user NAME]     (NAME: who gets Rust, just, mdbook)
#   vm/provision.sh --check                (only the kernel checks; no root)
#
# Safe to run again: it checks before it changes anything, and prints each
# change it makes. It ends with the kernel checks (cgroup v2, overlayfs,
# user namespaces), which `just vm-check` runs alone.
set -euo pipefail

user="${SUDO_USER:-}"
check_only=false
while [ $# -gt 0 ]; do
    case "$1" in
        --user) user="$2"; shift 2 ;;
        --check) check_only=true; shift ;;
        *) echo "provision: unknown argument $1" >&2; exit 2 ;;
    esac
done

changed=0
say() { echo "provision: $*"; }
did() { say "$*"; changed=$((changed + 1)); }

# ---------------------------------------------------------------- checks
# ANCHOR: checks
missing=0
need() { # need WHAT TEST...: report whether the kernel has WHAT
    local what="$1"; shift
    if "$@" >/dev/null 2>&1; then
        say "ok       $what"
    else
        say "MISSING  $what"
        missing=$((missing + 1))
    fi
}
kernel_checks() {
    say "checking the kernel ($(uname -r))"
    need "cgroup v2 mounted at /sys/fs/cgroup" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
    for controller in memory pids cpu io; do
        need "cgroup v2 controller: $controller" grep -qw "$controller" /sys/fs/cgroup/cgroup.controllers
    done
    need "overlayfs" sh -c 'grep -qw overlay /proc/filesystems || modprobe -n overlay'
    need "user namespaces" test "$(cat /proc/sys/user/max_user_namespaces)" -gt 0
    if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then
        need "unprivileged user namespaces allowed by AppArmor" \
            test "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns)" = 0
    fi
    need "time namespaces (Linux 5.6)" test -e /proc/self/ns/time
    if [ "$missing" -eq 0 ]; then
        say "the kernel has everything the kit needs"
    else
        say "$missing thing(s) missing: the rungs that need them will fail or skip their tests"
    fi
}
# ANCHOR_END: checks

if $check_only; then
    kernel_checks
    [ "$missing" -eq 0 ]
    exit
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision: run me as root (sudo vm/provision.sh)" >&2
    exit 1
fi

# ---------------------------------------------------------------- packages
# ANCHOR: packages
# Everything the rungs, their tests, the book and the benchmarks use.
PACKAGES=(
    build-essential pkg-config ca-certificates curl git   # building
    libseccomp-dev                                        # rung 04: linux.seccomp
    iproute2 procps util-linux kmod                       # the rungs' tools
    busybox-static cpio qemu-system-x86                   # the test image, the micro-VM
    uidmap                                                # rung 06: newuidmap, newgidmap
    passt                                                 # rung 07: pasta
    docker-registry apache2-utils                         # rung 05: a local registry; htpasswd for its auth tests
    runc crun skopeo umoci podman hyperfine time          # the runtimes and pullers we compare with; `just bench`
    debootstrap shellcheck                                # testing this very script
)
# ANCHOR_END: packages
absent=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        absent+=("$package")
    fi
done
if [ ${#absent[@]} -gt 0 ]; then
    did "installing ${absent[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${absent[@]}" >/dev/null
fi

# ---------------------------------------------------------------- users
# An unprivileged user for rung 06, with subordinate ID ranges for its
# user namespaces.
if ! id learner >/dev/null 2>&1; then
    did "creating the user 'learner'"
    useradd --create-home --shell /bin/bash learner
fi
for file in /etc/subuid /etc/subgid; do
    touch "$file"
    if ! grep -q '^learner:' "$file"; then
        did "giving learner the range 200000:65536 in $file"
        echo "learner:200000:65536" >> "$file"
    fi
done

# Ubuntu 24.04 forbids unprivileged user namespaces through AppArmor by
# default; the kit's VM exists to use them.
knob=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
if [ -e "$knob" ] && [ "$(cat "$knob")" != 0 ]; then
    did "allowing unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
    echo "kernel.apparmor_restrict_unprivileged_userns = 0" > /etc/sysctl.d/60-berth-userns.conf
    sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0 || true
fi

# ---------------------------------------------------------------- Rust, just, mdbook
# For the user who works in the VM (vagrant, or Lima's user), not for root.
if [ -n "$user" ] && [ "$user" != root ]; then
    as_user() { sudo -u "$user" -H bash -lc "$*"; }
else
    as_user() { bash -lc "$*"; }
fi
# Single quotes: $HOME is the user's, expanded by their shell.
# shellcheck disable=SC2016
cargo_path='export PATH="$HOME/.cargo/bin:$PATH"'
if ! as_user "$cargo_path; command -v cargo" >/dev/null; then
    did "installing Rust with rustup for ${user:-root}"
    as_user "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt" >/dev/null
fi
for tool in "just@1.59.0" "mdbook@0.5.4"; do
    if ! as_user "$cargo_path; command -v ${tool%@*}" >/dev/null; then
        did "installing $tool for ${user:-root} (cargo install)"
        as_user "$cargo_path; cargo install --locked --quiet $tool"
    fi
done

# ---------------------------------------------------------------- done
if [ "$changed" -eq 0 ]; then
    say "nothing to change"
else
    say "$changed change(s) made"
fi
kernel_checks
