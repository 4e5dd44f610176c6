//! Command-line pieces the rungs share.
//!
//! Introduced by rung 01. Each rung's `main.rs` flattens these `clap`
//! argument groups into its own, so rung 02's command line is rung 01's plus
//! the cgroup limits, without a second copy of rung 01's flags.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::container::Container;
use crate::mount::PrivateProc;
use crate::ns::{self, CgroupNamespace, Hostname, Namespace};
use crate::{Error, Result};

// ANCHOR: args
/// Which namespaces to create, and what to put in them.
#[derive(Debug, Clone, clap::Args)]
pub struct NamespaceArgs {
    /// Hostname inside the container [default: the rung's name]
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// Share the host's namespace of this type instead of creating a new one
    /// (repeat, or separate with commas)
    #[arg(long, value_name = "NS", value_delimiter = ',')]
    pub share: Vec<Namespace>,

    /// Run the command as PID 1 itself, without the rung's init
    #[arg(long)]
    pub no_init: bool,
}

/// The command to run in the container.
#[derive(Debug, Clone, clap::Args)]
pub struct CommandArgs {
    /// Command to run in the container, then its arguments (put them after
    /// `--`); without one, the rung runs its demo
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}
// ANCHOR_END: args

// ANCHOR: container
impl NamespaceArgs {
    /// The container these flags describe: the namespaces, and the stages
    /// that fill them in. `default_hostname` names the rung.
    pub fn container(&self, default_hostname: &str, command: Vec<OsString>) -> Result<Container> {
        let namespaces = ns::to_create(&self.share);
        let new = |ns| namespaces.contains(&ns);
        let mut container = Container::new(command)?
            .namespaces(namespaces.clone())
            .init(!self.no_init);
        if new(Namespace::Cgroup) {
            container = container.stage(CgroupNamespace);
        }
        if new(Namespace::Mount) {
            container = container.stage(PrivateProc);
        }
        match (new(Namespace::Uts), &self.hostname) {
            (true, name) => {
                let name = name.as_deref().unwrap_or(default_hostname);
                container = container.stage(Hostname(name.to_string()));
            }
            (false, Some(_)) => {
                return Err(Error::Invalid(
                    "--hostname needs a UTS namespace of its own: with --share uts it would rename the host".into(),
                ))
            }
            (false, None) => {}
        }
        Ok(container)
    }
}
// ANCHOR_END: container

/// Whether `program` is an executable file in one of `PATH`'s folders
/// (what a shell would find), to say which package is missing before
/// trying to run it.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Print the library's warnings on stderr as `rung: warning: …` (the
/// library hands them over instead of printing them: see
/// [`warning`](crate::warning)).
pub fn print_warnings(rung: &'static str) {
    crate::warning::set_handler(move |message| eprintln!("{rung}: warning: {message}"));
}

// ANCHOR: exit
/// The help text's last paragraph, the same for every rung.
pub const EXIT_STATUS_HELP: &str = "Exit status: the command's; 128+N if signal N killed it; \
    125 if the container could not be set up; 126/127 if the command cannot run / was not found.";

/// What a rung's `main` ends with: print an error as `step-NN: what failed:
/// why` (the whole chain of causes), and turn the outcome into the exit
/// status a shell user expects (see [`Error::exit_code`]).
pub fn exit_status<E>(rung: &str, outcome: std::result::Result<i32, E>) -> ExitCode
where
    E: AsRef<dyn std::error::Error + Send + Sync>,
{
    let code = match &outcome {
        Ok(code) => *code,
        Err(error) => {
            // Walk the chain of causes: print each, and let the library's
            // error, wherever it is, say which status it deserves (anything
            // else is the runtime's own failure: 125).
            let mut message = Vec::new();
            let mut code = None;
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(e) = cause {
                message.push(e.to_string());
                code = code.or_else(|| e.downcast_ref::<Error>().map(Error::exit_code));
                cause = e.source();
            }
            eprintln!("{rung}: {}", message.join(": "));
            code.unwrap_or(125)
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}
// ANCHOR_END: exit
