//! Rung 01: run a command in new namespaces.
//!
//! Chapter 1 of the book walks through this file and the library modules it
//! composes: [`berth::ns`], [`berth::clone`], [`berth::sync`],
//! [`berth::container`], [`berth::init`] and [`berth::mount`].
//!
//! ```text
//! just step 01                                # the demo
//! just step 01 -- CMD [ARGS…]                 # any command, in new namespaces
//! just step 01 --share net -- ip link         # keep the host's network
//! ```

mod demo;

use std::process::ExitCode;

use berth::cli::{CommandArgs, NamespaceArgs};
use clap::Parser;

/// The hostname a container gets when `--hostname` is not given.
const HOSTNAME: &str = "rung-01";

// ANCHOR: args
/// Rung 01 of berth: run a command in new UTS, PID, mount, IPC, network,
/// cgroup and time namespaces, on the host's filesystem.
#[derive(Debug, Parser)]
#[command(name = "step-01", version, about, long_about = None)]
#[command(after_help = berth::cli::EXIT_STATUS_HELP)]
struct Args {
    #[command(flatten)]
    namespaces: NamespaceArgs,

    #[command(flatten)]
    command: CommandArgs,
}
// ANCHOR_END: args

// ANCHOR: main
fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = if args.command.command.is_empty() {
        demo::run(&args.namespaces, HOSTNAME)
    } else {
        run(args)
    };
    berth::cli::exit_status("step-01", outcome)
}

/// Run the user's command in a container; its exit status becomes ours.
fn run(args: Args) -> anyhow::Result<i32> {
    let container = args.namespaces.container(HOSTNAME, args.command.command)?;
    let status = container.run()?;
    Ok(status.code())
}
// ANCHOR_END: main

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
    fn the_command_follows_the_double_dash() {
        let args =
            Args::try_parse_from(["step-01", "--share", "net,ipc", "--", "ls", "-l"]).unwrap();
        assert_eq!(args.command.command, ["ls", "-l"]);
        assert_eq!(args.namespaces.share.len(), 2);
    }

    #[test]
    fn an_unknown_namespace_is_refused() {
        let error = Args::try_parse_from(["step-01", "--share", "user", "true"]).unwrap_err();
        assert!(
            error.to_string().contains("invalid value 'user'"),
            "{error}"
        );
    }
}
