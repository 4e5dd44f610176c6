//! The command-line flags for a container's root filesystem (rung 03 and
//! later). Without any of them, a container runs on the host's files, as
//! in rungs 01 and 02.

use std::path::PathBuf;

use super::{busybox, Options, Rootfs, Source, Storage, Volume};
use crate::{Error, Result};

// ANCHOR: args
/// Where the container's files come from, and how they are mounted.
#[derive(Debug, Clone, clap::Args)]
pub struct RootfsArgs {
    /// Root filesystem: a directory, or a tarball (.tar, .tar.gz)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["layer", "busybox"])]
    pub rootfs: Option<PathBuf>,

    /// A read-only layer, lowest first; repeat to stack several
    #[arg(long, value_name = "DIR", conflicts_with = "busybox")]
    pub layer: Vec<PathBuf>,

    /// Use the kit's busybox image (built from busybox-static on first use)
    #[arg(long)]
    pub busybox: bool,

    /// Make the root filesystem read-only
    #[arg(long)]
    pub read_only: bool,

    /// Bind-mount a host path into the container (SRC:DST, or SRC:DST:ro)
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]", value_parser = Volume::parse)]
    pub volumes: Vec<Volume>,

    /// Keep the writable layer when the container exits, and say where
    #[arg(long)]
    pub keep: bool,

    /// How to stack the layers
    #[arg(long, value_enum, default_value = "auto")]
    pub storage: Storage,
}
// ANCHOR_END: args

impl RootfsArgs {
    /// What the flags say the root is made of; `None`: the host's files.
    pub fn source(&self) -> Result<Option<Source>> {
        if self.busybox {
            return Ok(Some(Source::Layers(vec![busybox::image()?])));
        }
        if let Some(path) = &self.rootfs {
            return Ok(Some(if path.is_file() {
                Source::Tarball(path.clone())
            } else {
                Source::Layers(vec![path.clone()])
            }));
        }
        if !self.layer.is_empty() {
            return Ok(Some(Source::Layers(self.layer.clone())));
        }
        if self.read_only || self.keep || !self.volumes.is_empty() {
            return Err(Error::Invalid(
                "--read-only, --volume and --keep need a root filesystem: add --rootfs, --layer or --busybox".into(),
            ));
        }
        Ok(None)
    }

    /// The [`Rootfs`] stage for these flags, prepared under the state
    /// directory `name`; `None` when the container uses the host's files.
    pub fn prepare(&self, hostname: &str, name: &str) -> Result<Option<Rootfs>> {
        let Some(source) = self.source()? else {
            return Ok(None);
        };
        let options = Options {
            read_only: self.read_only,
            volumes: self.volumes.clone(),
            keep: self.keep,
            storage: self.storage,
            hostname: hostname.to_string(),
        };
        Rootfs::prepare(&source, options, name).map(Some)
    }
}
