//! Rung 04: an OCI runtime, with runc's command line.
//!
//! Chapter 4 of the book walks through this file and the library module it
//! adds, [`berth::oci`], whose `cli` module holds the command line itself:
//! rungs 05 to 08 flatten the same pieces and add to them. Namespaces are
//! rung 01's, cgroups rung 02's, pivot_root and the devices rung 03's.
//!
//! ```text
//! just step 04                               # the demo: one container's life
//! just step 04 demo --all-caps               # …with every capability
//! step-04 spec                               # a config.json to start from
//! step-04 create --bundle DIR ID             # set up, wait before the program
//! step-04 start ID | state ID | kill ID [SIGNAL] | delete [--force] ID
//! step-04 run --bundle DIR ID                # all of it, in the foreground
//! ```

mod demo;

use std::process::ExitCode;

use berth::oci::cli::{self, Command, Global};
use clap::Parser;

// ANCHOR: args
/// Rung 04 of berth: an OCI runtime. It runs containers from bundles (a
/// root filesystem and a config.json), with runc's command line, so that
/// container engines can drive it.
#[derive(Debug, Parser)]
#[command(name = "step-04", version, about, long_about = None)]
struct Args {
    #[command(flatten)]
    global: Global,

    #[command(subcommand)]
    command: Command,
}

/// The demo's own command line: `step-04` alone, or `step-04 demo
/// --all-caps`. It is the book's, not runc's, so it is not one of the
/// verbs an engine sees.
#[derive(Debug, Parser)]
#[command(name = "step-04 demo")]
struct DemoArgs {
    /// Give the container every capability (chapter 4's "break it")
    #[arg(long)]
    all_caps: bool,
}
// ANCHOR_END: args

fn main() -> ExitCode {
    let first = std::env::args_os().nth(1);
    if first.is_none() || first.is_some_and(|a| a == "demo") {
        // (`demo` takes the place of the program's name for clap.)
        let demo = DemoArgs::parse_from(std::env::args_os().skip(1));
        return berth::cli::exit_status("step-04", demo::run(demo.all_caps));
    }
    let args = Args::parse();
    args.global.install_warnings("step-04");
    let outcome = cli::run("step-04", &args.global, &args.command);
    args.global.exit("step-04", outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_text() {
        let help = Args::command().term_width(100).render_help().to_string();
        insta::assert_snapshot!(help);
    }

    #[test]
    fn runc_style_command_lines_parse() {
        let args = Args::try_parse_from([
            "step-04",
            "--root",
            "/tmp/r",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "c1",
        ])
        .unwrap();
        assert!(matches!(args.command, Command::Create { .. }));
        let args = Args::try_parse_from(["step-04", "kill", "c1", "KILL"]).unwrap();
        assert!(matches!(args.command, Command::Kill { ref signal, .. } if signal == "KILL"));
        let args = Args::try_parse_from(["step-04", "delete", "--force", "c1"]).unwrap();
        assert!(matches!(args.command, Command::Delete { force: true, .. }));
        assert!(
            Args::try_parse_from(["step-04", "demo"]).is_err(),
            "demo is not one of runc's verbs"
        );
    }

    #[test]
    fn the_default_spec() {
        let spec = berth::oci::generate::default_spec(false);
        insta::assert_snapshot!(berth::oci::generate::to_json(&spec));
    }

    #[test]
    fn the_features_document() {
        insta::assert_snapshot!(serde_json::to_string_pretty(&cli::features("step-04")).unwrap());
    }
}
