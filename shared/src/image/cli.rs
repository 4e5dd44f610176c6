//! The image verbs rung 05 adds to runc's: `pull`, `images`, `rmi` and
//! `run-image`, as clap pieces the rungs above flatten too.
//!
//! runc's `run` already means "run the bundle in this directory", and an
//! engine that drives the runtime must keep getting exactly that. So
//! running an *image* — make a bundle from its layers and config, then run
//! that bundle — gets a verb of its own, `run-image`, in the same way
//! Podman keeps `podman run IMAGE` apart from the runtime's `run`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::pull::{pull, quietly, ProgressMaker};
use super::reference::Reference;
use super::store::Store;
use crate::registry::client::{parse_platform, Options, Progress, Quiet};
use crate::{Error, Result};

// ANCHOR: args
/// Where the images are: the option the image verbs add.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where the image store is [default: /var/lib/PROGRAM for root, $XDG_DATA_HOME/PROGRAM for a user]
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

/// The image verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// List the images in the store
    Images,
    /// Remove an image, and every blob and layer no other image needs
    Rmi {
        /// The image, as it was pulled
        image: String,
    },
    /// Run a pulled image: a bundle over its layers, run in the foreground
    RunImage {
        /// The image, as it was pulled
        image: String,
        /// The command (instead of the image's Cmd)
        #[arg(trailing_var_arg = true)]
        command: Vec<String>,
    },
}
// ANCHOR_END: args

impl StoreArgs {
    /// The store's directory: `--store`, or the default for `program` and
    /// this user (see [`crate::dirs::data`]).
    pub fn dir(&self, program: &str) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| crate::dirs::data(program))
    }
}

/// Carry out one image verb for `program`, with the store at `store` and
/// containers' state (for `run-image`) under `state`; returns the exit
/// status.
pub fn run(program: &str, store: &Path, state: &Path, command: &Command) -> Result<i32> {
    let store = Store::open(store)?;
    match command {
        Command::Pull {
            image,
            platform,
            insecure_registry,
            quiet,
            trace,
        } => {
            let reference = Reference::parse(image)?;
            let options = Options {
                insecure: insecure_registry.clone(),
                trace: *trace,
                platform: platform.as_deref().map(parse_platform).transpose()?,
                ..Options::default()
            };
            let bars: ProgressMaker = if *quiet { &quietly } else { &progress_bar };
            let pulled = pull(&store, &reference, &options, bars)?;
            for (digest, actual) in &pulled.repaired {
                crate::warning::warn(format!(
                    "{digest} was damaged in the store (its bytes hash to {actual}): fetched it again"
                ));
            }
            println!(
                "{}: {} ({}, {} downloaded)",
                pulled.name,
                pulled.manifest,
                count(pulled.layers.len(), "layer"),
                count(pulled.downloaded, "blob"),
            );
        }
        Command::Images => {
            for (name, digest) in store.images()? {
                println!("{name}  {digest}");
            }
        }
        Command::Rmi { image } => {
            let name = Reference::parse(image)?.to_string();
            let lock = store.lock()?;
            for removed in store.remove(&lock, &name)? {
                println!("removed {removed}");
            }
        }
        Command::RunImage { image, command } => {
            let id = format!("{program}-{}", std::process::id());
            return run_image(&store, image, command, state, &id);
        }
    }
    Ok(0)
}

/// `1 layer`, `2 layers`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

// ANCHOR: run
/// `run-image IMAGE [CMD…]`: the image as a bundle (its layers under a
/// writable layer, its config as config.json), run in the foreground as
/// container `id` by rung 04's `run`, with its state under `state`, then
/// removed.
///
/// The whole run happens in a private mount namespace of this process:
/// the overlay mount that makes the bundle's root exists only there, so it
/// disappears with this process however it ends — even with kill -9.
pub fn run_image(
    store: &Store,
    image: &str,
    command: &[String],
    state: &Path,
    id: &str,
) -> Result<i32> {
    let name = Reference::parse(image)?.to_string();
    let image = super::bundle::image(store, &name)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::sys("a private mount namespace for the bundle", e))?;
    crate::mount::make_private()?;
    // Beside the state root, not in it: every folder in the root is a
    // container to `list`.
    let bundles = state.with_extension("bundles");
    let dir = bundles.join(id);
    let result = super::bundle::make(&image, command, &dir).and_then(|()| {
        let containers = crate::oci::Store::new(state);
        crate::oci::run::run(&containers, id, &dir, &Default::default(), false)
    });
    let _ = nix::mount::umount2(&dir.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir(&bundles);
    result
}
// ANCHOR_END: run

/// A download's progress bar (indicatif): the command line's, not the
/// protocol's.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn update(&mut self, done: u64, total: Option<u64>) {
        if let Some(total) = total {
            self.0.set_length(total);
        }
        self.0.set_position(done);
    }
    fn finish(&mut self) {
        self.0.finish();
    }
}

/// A progress bar named `name` on stderr if stderr is a terminal, and
/// [`Quiet`] otherwise — so logs and tests are not filled with escape codes.
pub fn progress_bar(name: &str, total: Option<u64>) -> Box<dyn Progress> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return Box::new(Quiet);
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let short = name.strip_prefix("sha256:").unwrap_or(name);
    bar.set_message(short.chars().take(19).collect::<String>());
    Box::new(Bar(bar))
}
