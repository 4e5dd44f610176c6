//! Rung 04: an OCI runtime, with runc's command line.
//!
//! Chapter 4 of the book walks through this file and the library module it
//! adds, [`berth::oci`]. Namespaces are rung 01's, cgroups rung 02's,
//! pivot_root and the devices rung 03's.
//!
//! ```text
//! just step 04                               # the demo: one container's life
//! step-04 spec                               # a config.json to start from
//! step-04 create --bundle DIR ID             # set up, wait before the program
//! step-04 start ID | state ID | kill ID [SIGNAL] | delete [--force] ID
//! step-04 run --bundle DIR ID                # all of it, in the foreground
//! ```

mod cli;
mod demo;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // With no arguments at all: the demo.
    let args = if std::env::args_os().len() == 1 {
        cli::Args::parse_from(["step-04", "demo"])
    } else {
        cli::Args::parse()
    };
    let outcome = cli::run(&args);
    if let (Err(error), Some(log)) = (&outcome, &args.global.log) {
        cli::log_error(log, args.global.log_format, &format!("{error:#}"));
    }
    berth::cli::exit_status("step-04", outcome)
}
