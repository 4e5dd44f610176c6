//! Rung 03: a container on a layered root filesystem of its own.
//!
//! Chapter 3 of the book walks through this file and the library module it
//! adds, [`berth::rootfs`]. Namespaces are rung 01's, cgroups rung 02's.
//!
//! ```text
//! just step 03                                  # the demo
//! just step 03 --busybox                        # a shell in the busybox image
//! just step 03 --layer L1 --layer L2 -- CMD     # any command, on stacked layers
//! ```

mod demo;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::bail;
use berth::cgroup::{self, args::CgroupArgs};
use berth::cli::{CommandArgs, NamespaceArgs};
use berth::ns::Namespace;
use berth::rootfs::args::RootfsArgs;
use clap::Parser;

/// The hostname a container gets when `--hostname` is not given.
const HOSTNAME: &str = "rung-03";

// ANCHOR: args
/// Rung 03 of berth: run a command in new namespaces, in its own cgroup,
/// on a root filesystem of its own: layers stacked by overlayfs under a
/// writable layer that vanishes with the container, entered with
/// pivot_root.
#[derive(Debug, Parser)]
#[command(name = "step-03", version, about, long_about = None)]
#[command(after_help = berth::cli::EXIT_STATUS_HELP)]
struct Args {
    #[command(flatten)]
    namespaces: NamespaceArgs,

    #[command(flatten)]
    limits: CgroupArgs,

    #[command(flatten)]
    rootfs: RootfsArgs,

    #[command(flatten)]
    command: CommandArgs,
}
// ANCHOR_END: args

fn main() -> ExitCode {
    berth::cli::print_warnings("step-03");
    let args = Args::parse();
    let outcome =
        if args.command.command.is_empty() && args.rootfs.source().ok().flatten().is_none() {
            demo::run()
        } else {
            run(args)
        };
    berth::cli::exit_status("step-03", outcome)
}

// ANCHOR: run
/// Run the user's command (by default a shell) in a container on the root
/// filesystem the flags describe.
fn run(args: Args) -> anyhow::Result<i32> {
    let hostname = args.namespaces.hostname.clone().unwrap_or(HOSTNAME.into());
    let name = format!("step-03-{}", std::process::id());
    if args.rootfs.source()?.is_some() && args.namespaces.share.contains(&Namespace::Mount) {
        bail!("a root filesystem needs a mount namespace of its own: with --share mnt, its mounts would be the host's");
    }
    let rootfs = args.rootfs.prepare(&hostname, &name)?;
    let mut command = args.command.command;
    if command.is_empty() {
        command = vec![OsString::from("/bin/sh")];
    }
    let mut container = args.namespaces.container(HOSTNAME, command.clone())?;
    if let Some(rootfs) = rootfs {
        let program = command[0].to_string_lossy();
        if program.starts_with('/') && !rootfs.contains(&program) {
            return Err(berth::Error::not_found(program).into());
        }
        container = container.stage(rootfs);
    }
    let (code, notes) = cgroup::run_in_cgroup(container, &args.limits, "step-03")?;
    for note in notes {
        eprintln!("step-03: {note}");
    }
    Ok(code)
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_text() {
        // A fixed width, so the snapshot does not depend on the terminal.
        let help = Args::command().term_width(100).render_help().to_string();
        insta::assert_snapshot!(help);
    }

    #[test]
    fn a_rootfs_and_layers_do_not_mix() {
        let error = Args::try_parse_from(["step-03", "--rootfs", "/a", "--layer", "/b", "true"])
            .unwrap_err();
        assert!(error.to_string().contains("cannot be used with"), "{error}");
    }

    #[test]
    fn volumes_parse() {
        let args =
            Args::try_parse_from(["step-03", "--busybox", "-v", "/srv:/data:ro", "true"]).unwrap();
        assert!(args.rootfs.volumes[0].read_only);
    }
}
