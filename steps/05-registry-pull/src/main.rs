//! Rung 05: pulling images from a registry into a content-addressed
//! store, and running them. Chapter 5 of the book walks through it and the
//! library modules it adds, `berth::registry` (the protocol) and
//! `berth::image` (references, digests, the store, layers).
//!
//! Rung 05 is rung 04 *plus* its image verbs: every runc verb rung 04 has
//! is here too, from the same library code, and rung 04's tests run
//! against this binary as well.
//!
//! ```text
//! just step 05                      # the demo: a local registry, pull, run, rmi
//! just registry                     # a registry of your own on 127.0.0.1:5000
//! step-05 pull IMAGE                # e.g. 127.0.0.1:5000/busybox:latest
//! step-05 pull --trace IMAGE        # …showing each request and answer
//! step-05 images                    # what the store holds
//! step-05 rmi IMAGE                 # remove it, and what no other image needs
//! step-05 run-image IMAGE [CMD…]    # run it (runc's `run` still runs a bundle)
//! step-05 create|start|state|…      # rung 04's verbs, unchanged
//! ```

use std::process::ExitCode;

use berth::{image, oci};
use clap::{Parser, Subcommand};

mod demo;

// ANCHOR: args
/// Rung 05 of berth: an OCI runtime with runc's command line that also
/// pulls images from a registry into a store of content-addressed blobs
/// and unpacked layers, and runs them.
#[derive(Debug, Parser)]
#[command(name = "step-05", version, about, long_about = None)]
struct Args {
    #[command(flatten)]
    global: oci::cli::Global,

    #[command(flatten)]
    store: image::cli::StoreArgs,

    #[command(subcommand)]
    command: Command,
}

/// Rung 04's verbs and rung 05's, side by side.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Runtime(oci::cli::Command),
    #[command(flatten)]
    Image(image::cli::Command),
}
// ANCHOR_END: args

fn main() -> ExitCode {
    // With no arguments at all: the demo.
    if std::env::args_os().len() == 1 {
        return berth::cli::exit_status("step-05", demo::run());
    }
    let args = Args::parse();
    args.global.install_warnings("step-05");
    let outcome = match &args.command {
        Command::Runtime(command) => oci::cli::run("step-05", &args.global, command),
        Command::Image(command) => image::cli::run(
            "step-05",
            &args.store.dir("step-05"),
            &args.global.root("step-05"),
            command,
        ),
    };
    args.global.exit("step-05", outcome)
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
    fn runcs_run_and_the_image_run_do_not_collide() {
        let args = Args::try_parse_from(["step-05", "run", "--bundle", "/b", "c1"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Runtime(oci::cli::Command::Run { .. })
        ));
        let args = Args::try_parse_from(["step-05", "run-image", "busybox", "echo", "hi"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Image(image::cli::Command::RunImage { ref command, .. }) if command == &["echo", "hi"]
        ));
    }
}
