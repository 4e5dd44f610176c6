//! `just registry`: a registry of your own on 127.0.0.1, filled with the
//! kit's test images, for chapter 5's sessions, your own experiments, and
//! a room of laptops with no way out to Docker Hub.
//!
//! It runs Debian's `docker-registry` (the CNCF distribution server, the
//! same code as Docker Hub's registry) on `127.0.0.1:PORT` and, on
//! `PORT + 1`, the same images behind Docker Hub's token login (see
//! `berth::registry::testing::token_gate`). Ctrl-C stops both and removes
//! the registry's storage.
//!
//! ```text
//! just registry                 # 127.0.0.1:5000, and the token login on 5001
//! just registry --port 6000
//! just registry --big 200       # also big:latest, with a 200 MiB layer
//! ```

use std::io::Write;

use anyhow::{anyhow, Context};
use berth::registry::local::{images, Registry};
use berth::registry::testing::token_gate;
use clap::Parser;
use nix::sys::signal::{SigSet, Signal};

/// A local registry with the kit's test images.
#[derive(Debug, Parser)]
#[command(name = "registry")]
struct Args {
    /// The port of the registry (the token login listens on the next one)
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Also push big:latest, whose second layer is this many MiB of random
    /// bytes (for measuring memory use while pulling)
    #[arg(long, value_name = "MIB")]
    big: Option<u32>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Ctrl-C and kill are waited for, not handled: blocked here, before
    // any thread starts, so that every thread inherits the mask and the
    // signal reaches the `wait` at the end.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGINT);
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGHUP);
    stop.thread_block()?;

    let registry = Registry::start_at(args.port)
        .map_err(|e| anyhow!("starting docker-registry on 127.0.0.1:{}: {e}", args.port))?;
    let host = registry.host().to_string();
    let pusher = registry.pusher();
    let push = |what: &str, result: Result<images::TestImage, String>| {
        result.map_err(|e| anyhow!("pushing {what}: {e}"))
    };
    push(
        "busybox",
        images::single_layer(&pusher, "busybox", "latest"),
    )?;
    push("layers", images::multi_layer(&pusher, "layers", "latest"))?;
    images::multi_platform(&pusher, "multi", "latest")
        .map_err(|e| anyhow!("pushing multi: {e}"))?;
    push("zstd", images::zstd_image(&pusher, "zstd", "latest"))?;
    push("docker", images::docker_image(&pusher, "docker", "latest"))?;
    let mut listing = vec![
        ("busybox", "one gzip layer: the kit's busybox"),
        (
            "layers",
            "busybox, and a layer that deletes, replaces and hides files",
        ),
        (
            "multi",
            "an index: linux/amd64 (busybox) and linux/arm64/v8",
        ),
        ("zstd", "one zstd layer"),
        ("docker", "Docker's own media types (schema 2)"),
    ];
    let big_note;
    if let Some(mib) = args.big {
        let layers = [
            images::gzip_layer(&images::busybox_tar(), false),
            images::gzip_layer(&big_tar(mib), false),
        ];
        push(
            "big",
            images::push_image(&pusher, "big", "latest", &layers, false),
        )?;
        big_note = format!("busybox, and a layer of {mib} MiB of random bytes");
        listing.push(("big", &big_note));
    }
    let gate_address = format!("127.0.0.1:{}", args.port + 1);
    let gate = token_gate(&host, &gate_address)
        .with_context(|| format!("listening on {gate_address} for the token login"))?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "docker-registry on {host}, with:")?;
    for (name, what) in &listing {
        writeln!(out, "  {host}/{name:<8} {what}")?;
    }
    writeln!(
        out,
        "the same images behind Docker Hub's token login: {}",
        gate.host()
    )?;
    writeln!(out, "ready; Ctrl-C stops it")?;
    out.flush()?;
    drop(out);

    let signal = stop.wait()?;
    eprintln!("registry: {signal}: stopping, and removing its storage");
    drop(gate);
    drop(registry);
    Ok(())
}

/// A tar with one file, `big`, of `mib` MiB of bytes that do not compress
/// (so the layer is as big as the file): a xorshift generator, which is
/// enough to defeat gzip and much faster than /dev/urandom.
fn big_tar(mib: u32) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
    let mut data = Vec::with_capacity((mib as usize) << 20);
    while data.len() < (mib as usize) << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    images::tar_of(&[("big", Some(&data))])
}
