//! Rung 05: pulling images from a registry into a content-addressed
//! store, and running them with rung 04. Chapter 5 of the book walks
//! through it and the library modules it adds, `berth::registry` (the
//! protocol) and `berth::image` (references, digests, the store, layers).
//!
//! ```text
//! just step 05                # the demo: a local registry, pull, run, rmi
//! just registry               # a registry of your own on 127.0.0.1:5000
//! step-05 pull IMAGE          # e.g. 127.0.0.1:5000/busybox:latest
//! step-05 pull --trace IMAGE  # …showing each request and answer
//! step-05 images              # what the store holds
//! step-05 rmi IMAGE           # remove it, and what no other image needs
//! step-05 run IMAGE [CMD…]    # run it with rung 04's runtime
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use berth::image::pull::pull;
use berth::image::reference::Reference;
use berth::image::store::Store;
use berth::registry::client::{parse_platform, Options};
use clap::{Parser, Subcommand};

mod demo;

// ANCHOR: args
/// Rung 05 of berth: pull images from a registry into a store of
/// content-addressed blobs and unpacked layers.
#[derive(Debug, Parser)]
#[command(name = "step-05", version, about, long_about = None)]
struct Args {
    /// Where the store is
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/step-05",
        global = true
    )]
    root: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pull an image into the store
    Pull {
        /// The image, as docker and podman take it (NAME, NAME:TAG, NAME@DIGEST)
        image: String,
        /// The platform to choose from an index (OS/ARCH or OS/ARCH/VARIANT)
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<String>,
        /// A registry to reach over plain HTTP (loopback ones always are)
        #[arg(long, value_name = "HOST:PORT")]
        insecure_registry: Vec<String>,
        /// No progress bars
        #[arg(short, long)]
        quiet: bool,
        /// Show each request to the registry and its answer
        #[arg(long)]
        trace: bool,
    },
    /// Run a pulled image: a bundle over its layers, run by rung 04
    Run {
        /// The image, as it was pulled
        image: String,
        /// The command (instead of the image's Cmd)
        #[arg(trailing_var_arg = true)]
        command: Vec<String>,
    },
    /// List the images in the store
    Images,
    /// Remove an image, and every blob and layer no other image needs
    Rmi {
        /// The image, as it was pulled
        image: String,
    },
}
// ANCHOR_END: args

fn main() -> ExitCode {
    // With no arguments at all: the demo.
    if std::env::args_os().len() == 1 {
        return berth::cli::exit_status("step-05", demo::run());
    }
    let args = Args::parse();
    berth::cli::exit_status("step-05", run(args))
}

fn run(args: Args) -> anyhow::Result<i32> {
    let store = Store::open(&args.root)?;
    match args.command {
        Command::Pull {
            image,
            platform,
            insecure_registry,
            quiet,
            trace,
        } => {
            let reference = Reference::parse(&image)?;
            let options = Options {
                insecure: insecure_registry,
                trace,
                platform: platform.as_deref().map(parse_platform).transpose()?,
                ..Options::default()
            };
            let pulled = pull(&store, &reference, &options, !quiet)?;
            for (digest, actual) in &pulled.repaired {
                eprintln!(
                    "step-05: {digest} was damaged in the store (its bytes hash to {actual}): fetched it again"
                );
            }
            println!(
                "{}: {} ({}, {} downloaded)",
                pulled.name,
                pulled.manifest,
                count(pulled.layers.len(), "layer"),
                count(pulled.downloaded, "blob"),
            );
        }
        Command::Run { image, command } => return run_image(&store, &image, &command),
        Command::Images => {
            for (name, digest) in store.images()? {
                println!("{name}  {digest}");
            }
        }
        Command::Rmi { image } => {
            let name = Reference::parse(&image)?.to_string();
            let lock = store.lock()?;
            for removed in store.remove(&lock, &name)? {
                println!("removed {removed}");
            }
        }
    }
    Ok(0)
}

/// `1 layer`, `2 layers`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

// ANCHOR: run
/// `run IMAGE [CMD…]`: the image as a bundle (its layers under a writable
/// layer, its config as config.json), run in the foreground by rung 04's
/// runtime, then removed.
///
/// The whole run happens in a private mount namespace of this process:
/// the overlay mount that makes the bundle's root exists only there, so it
/// disappears with this process however it ends — even with kill -9.
fn run_image(store: &Store, image: &str, command: &[String]) -> anyhow::Result<i32> {
    let name = Reference::parse(image)?.to_string();
    let image = berth::image::bundle::image(store, &name)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| anyhow::anyhow!("a private mount namespace for the bundle: {e}"))?;
    berth::mount::make_private()?;
    let id = format!("step-05-{}", std::process::id());
    let dir = Path::new("/run/step-05/bundles").join(&id);
    let result = (|| -> anyhow::Result<i32> {
        berth::image::bundle::make(&image, command, &dir)?;
        let containers = berth::oci::Store::new(Path::new("/run/step-05/containers"));
        Ok(berth::oci::run::run(
            &containers,
            &id,
            &dir,
            &Default::default(),
            false,
        )?)
    })();
    let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(&dir);
    result
}
// ANCHOR_END: run
