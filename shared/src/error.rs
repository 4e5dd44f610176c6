//! The library's error type.
//!
//! A container runtime fails in the kernel far more often than in its own
//! logic: a flag the kernel refuses, a capability the caller lacks, a path
//! that is not there. So most errors here are a system call's `errno` wrapped
//! with *what we were doing* and, where we can tell, *what to check*. The
//! binaries add their own context with `anyhow` and print the whole chain.

use nix::errno::Errno;

// ANCHOR: error
/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed. `action` says what we were doing ("mounting
    /// proc on /proc"), `hint` what the learner can check.
    #[error("{action}: {errno}{}", hint_suffix(.hint))]
    Sys {
        /// What the runtime was doing when the call failed.
        action: String,
        /// The kernel's answer.
        errno: Errno,
        /// A hint for the learner, or `None` when there is nothing useful to add.
        hint: Option<&'static str>,
    },

    /// The command could not be executed (`execvp` failed inside the
    /// container). Shells report this as 127 (not found) or 126 (found but
    /// not executable); the rungs do the same.
    #[error("{command}: {}", exec_reason(*.errno))]
    Exec {
        /// The program the user asked for.
        command: String,
        /// Why `execvp` failed.
        errno: Errno,
    },

    /// The container's side of the set-up failed and told us why over the
    /// [`sync`](crate::sync) channel.
    #[error("inside the container: {0}")]
    Child(String),

    /// The container's first process died before it reported anything.
    #[error("the container's first process died during set-up ({0})")]
    ChildDied(String),

    /// Reading, writing or opening a file failed. The message names the
    /// action and the path; the cause is the [`source`](std::error::Error::source),
    /// so `step-NN: reading /x/config.json: No such file or directory`
    /// comes out of walking the chain, and code can match on
    /// `source.kind()`.
    #[error("{action} {}", path.display())]
    Io {
        /// What the runtime was doing ("reading", "creating the state directory").
        action: String,
        /// The file or directory it was doing it to.
        path: std::path::PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },

    /// Content that does not hash to the digest that names it: a blob or
    /// manifest a registry (or something between us and it) changed, a
    /// layer whose unpacked bytes are not the image config's `diff_id`, a
    /// damaged file in the store. Whatever it is, it was not kept.
    #[error(
        "{what} {expected} does not match its digest: its {bytes} bytes hash to {actual}; refused"
    )]
    DigestMismatch {
        /// What was checked ("blob", "the manifest of …", "layer …").
        what: String,
        /// The digest that names it.
        expected: String,
        /// What its bytes hash to.
        actual: String,
        /// How many bytes were hashed.
        bytes: u64,
    },

    /// A registry answered a request with an error status. `message` is
    /// what the kit makes of it for a person; `status` and `code` (the
    /// distribution specification's error code from the answer's body,
    /// such as `MANIFEST_UNKNOWN` or `DENIED`) are for code to match.
    #[cfg(feature = "step-05")]
    #[error("{message}")]
    Registry {
        /// The HTTP status (404, 403, …).
        status: u16,
        /// The registry's own error code, if its answer carried one.
        code: Option<String>,
        /// The explanation, naming what was asked for.
        message: String,
    },

    /// No container of this ID in the runtime's state root (rung 04).
    #[cfg(feature = "step-04")]
    #[error("container {0:?} does not exist")]
    NoSuchContainer(String),

    /// A feature a later rung of the ladder teaches: refused by name, never
    /// ignored, with the chapter to read.
    #[error("{what}: not supported yet — it comes with rung {rung:02} (chapter {rung})")]
    NotYet {
        /// What was asked for (a `config.json` field, a flag).
        what: String,
        /// The rung (and chapter) that adds it.
        rung: u8,
    },

    /// The user asked for something that cannot work.
    #[error("{0}")]
    Invalid(String),
}
// ANCHOR_END: error

/// The library's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failed system call with what we were doing.
    pub fn sys(action: impl Into<String>, errno: Errno) -> Self {
        Error::Sys {
            action: action.into(),
            errno,
            hint: None,
        }
    }

    /// A failed system call with what we were doing and what to check.
    pub fn sys_hint(action: impl Into<String>, errno: Errno, hint: &'static str) -> Self {
        Error::Sys {
            action: action.into(),
            errno,
            hint: Some(hint),
        }
    }

    /// An io error with what we were doing and to which path.
    pub fn io(
        action: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action: action.into(),
            path: path.into(),
            source,
        }
    }

    /// A failed operation whose `io::Error` carries the kernel's errno:
    /// kept as [`Error::Sys`], so the errno stays something code can match
    /// (`EPERM`, `ENOSPC`); an error with no errno keeps its text.
    pub fn os(action: impl Into<String>, error: std::io::Error) -> Self {
        let action = action.into();
        match error.raw_os_error() {
            Some(code) => Error::sys(action, Errno::from_raw(code)),
            None => Error::Invalid(format!("{action}: {error}")),
        }
    }

    /// The whole message: this error and each of its causes, joined by
    /// `: ` — what `exit_status` prints, for places that keep the text
    /// (a warning, the message sent back from inside a container).
    pub fn report(&self) -> String {
        let mut message = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            message.push_str(": ");
            message.push_str(&e.to_string());
            cause = e.source();
        }
        message
    }

    /// "`command`: command not found" (exit status 127), found out before
    /// the container even started.
    pub fn not_found(command: impl Into<String>) -> Self {
        Error::Exec {
            command: command.into(),
            errno: Errno::ENOENT,
        }
    }

    /// The exit status a shell would give for this failure: 127 for a
    /// command that does not exist, 126 for one that cannot run, and 125 —
    /// Docker's and Podman's choice — when the runtime itself failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { errno, .. } if *errno == Errno::ENOENT => 127,
            Error::Exec { .. } => 126,
            _ => 125,
        }
    }
}

fn hint_suffix(hint: &Option<&'static str>) -> String {
    match hint {
        Some(hint) => format!(" — {hint}"),
        None => String::new(),
    }
}

fn exec_reason(errno: Errno) -> String {
    match errno {
        Errno::ENOENT => "command not found".to_string(),
        Errno::EACCES => "permission denied".to_string(),
        other => format!("cannot execute: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        let missing = Error::Exec {
            command: "nope".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(missing.exit_code(), 127);
        assert_eq!(missing.to_string(), "nope: command not found");
        let not_executable = Error::Exec {
            command: "/etc/passwd".into(),
            errno: Errno::EACCES,
        };
        assert_eq!(not_executable.exit_code(), 126);
        assert_eq!(Error::Invalid("x".into()).exit_code(), 125);
    }

    #[test]
    fn a_hint_follows_the_errno() {
        let e = Error::sys_hint("creating namespaces", Errno::EPERM, "run as root");
        assert_eq!(
            e.to_string(),
            "creating namespaces: EPERM: Operation not permitted — run as root"
        );
    }
}
