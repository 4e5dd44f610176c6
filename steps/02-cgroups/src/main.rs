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

use berth::cgroup::args::CgroupArgs;
use berth::cgroup::{self, Cgroup, Hierarchy};
use berth::cli::{CommandArgs, NamespaceArgs};
use berth::container::Container;
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
    let (code, notes) = run_limited(container, &args.limits)?;
    for note in notes {
        eprintln!("step-02: {note}");
    }
    Ok(code)
}

// ANCHOR: run
/// Run `container` in a new cgroup with the limits `args` asks for, and
/// remove the cgroup. Returns the exit status, and what the cgroup's
/// counters say about why the container ended.
pub fn run_limited(container: Container, args: &CgroupArgs) -> anyhow::Result<(i32, Vec<String>)> {
    let hierarchy = Hierarchy::detect()?;
    cgroup::sweep_stale(&hierarchy, &args.cgroup_parent);
    let name = format!("step-02-{}", std::process::id());
    let cgroup = Cgroup::create(&hierarchy, &args.cgroup_parent, &name, &args.limits())?;

    // On any error from here on, dropping `cgroup` removes it.
    let status = container.stage(cgroup.join()).run()?;

    let stats = cgroup.stats();
    let mut notes = stats.explain(cgroup.limits());
    if args.stats {
        notes.extend(stats_lines(&cgroup, &stats));
    }
    cgroup.remove()?;
    Ok((status.code(), notes))
}
// ANCHOR_END: run

/// `--stats`: everything the cgroup counted, a line each.
fn stats_lines(cgroup: &Cgroup, stats: &cgroup::Stats) -> Vec<String> {
    let mut lines = vec![
        format!("cgroup {}: oom kills {}", cgroup.version(), stats.oom_kills),
        format!(
            "cgroup {}: forks refused {}",
            cgroup.version(),
            stats.forks_refused
        ),
        format!(
            "cgroup {}: throttled periods {}",
            cgroup.version(),
            stats.throttled_periods
        ),
    ];
    if let Some(peak) = stats.pids_peak {
        lines.push(format!("cgroup {}: pids peak {peak}", cgroup.version()));
    }
    if let Some(peak) = stats.memory_peak {
        lines.push(format!(
            "cgroup {}: memory peak {}",
            cgroup.version(),
            berth::cgroup::args::human(peak)
        ));
    }
    lines
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
