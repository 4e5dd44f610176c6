//! Rung 02: a container in its own cgroup, with limits it cannot escape.
//!
//! Chapter 2 of the book walks through this file and the library module it
//! adds, [`berth::cgroup`]. Everything else is rung 01's.
//!
//! ```text
//! just step 02                                      # the demo
//! just step 02 --memory 64M --pids-limit 100 -- CMD  # any command, limited
//! ```

mod demo;

use std::process::ExitCode;

use berth::cgroup::{self, args::CgroupArgs};
use berth::cli::{CommandArgs, NamespaceArgs};
use clap::Parser;

/// The hostname a container gets when `--hostname` is not given.
const HOSTNAME: &str = "rung-02";

// ANCHOR: args
/// Rung 02 of berth: run a command in new namespaces and in a cgroup of its
/// own, under memory, pids, CPU and I/O limits (cgroup v2, or v1).
#[derive(Debug, Parser)]
#[command(name = "step-02", version, about, long_about = None)]
#[command(after_help = berth::cli::EXIT_STATUS_HELP)]
struct Args {
    #[command(flatten)]
    namespaces: NamespaceArgs,

    #[command(flatten)]
    limits: CgroupArgs,

    #[command(flatten)]
    command: CommandArgs,
}
// ANCHOR_END: args

fn main() -> ExitCode {
    berth::cli::print_warnings("step-02");
    let args = Args::parse();
    let outcome = if args.command.command.is_empty() {
        demo::run(&args.namespaces, &args.limits)
    } else {
        run(args)
    };
    berth::cli::exit_status("step-02", outcome)
}

/// Run the user's command in a limited container; its exit status becomes
/// ours, and what the cgroup counted is said on stderr.
fn run(args: Args) -> anyhow::Result<i32> {
    let container = args.namespaces.container(HOSTNAME, args.command.command)?;
    let (code, notes) = cgroup::run_in_cgroup(container, &args.limits, "step-02")?;
    for note in notes {
        eprintln!("step-02: {note}");
    }
    Ok(code)
}

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
    fn malformed_cpus_are_refused_before_anything_is_made() {
        let error = Args::try_parse_from(["step-02", "--cpus", "half", "true"]).unwrap_err();
        assert!(
            error.to_string().contains("not a number of CPUs"),
            "{error}"
        );
    }

    #[test]
    fn limits_come_from_the_flags() {
        let args = Args::try_parse_from([
            "step-02",
            "--memory",
            "64M",
            "--pids-limit",
            "20",
            "--cpus",
            "0.5",
            "--",
            "true",
        ])
        .unwrap();
        let limits = args.limits.limits();
        assert_eq!(limits.memory, Some(64 << 20));
        assert_eq!(limits.pids, Some(20));
        assert_eq!(limits.cpu.map(|c| c.quota_us), Some(50_000));
        assert_eq!(args.limits.cgroup_parent, "/berth");
    }
}
