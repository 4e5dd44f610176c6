//! `linux.seccomp`: which system calls the container's process may make.
//!
//! Introduced by rung 04; chapter 4 explains it.
//!
//! # Why seccomp
//!
//! Namespaces decide what a container can *see* and capabilities what it
//! is *allowed* to do, but every container still talks to the host's one
//! kernel, through some 450 system calls. Most programs use a few dozen.
//! The rest — `keyctl`, `bpf`, `userfaultfd`, `unshare`, `add_key`, the
//! 32-bit entry points, the system call added last month — are attack
//! surface: a bug in any of them is a bug a container can reach. Seccomp
//! ("secure computing") lets a process tell the kernel, once and for
//! ever, which system calls it and its descendants may make, and what
//! happens on the others: fail with an errno, kill the process, log.
//! Docker's default profile allows about 300 calls and answers `EPERM` to
//! the rest.
//!
//! # What BPF does here
//!
//! The filter is a small program in classic BPF, the instruction set of
//! packet filters. The kernel runs it on *every* system call the process
//! makes, before the call does anything, on a `struct seccomp_data`: the
//! architecture, the call's number, the instruction pointer and the six
//! arguments as raw 64-bit numbers. The program returns an action
//! (`SECCOMP_RET_ALLOW`, `SECCOMP_RET_ERRNO | 1`, …). It cannot follow
//! pointers, so a rule can compare an argument's *value* (`socket`'s
//! address family, `clone`'s flags) but never a string it points to (a
//! path): that is what `args` in `config.json` can express, and no more.
//!
//! Nobody writes that program by hand. [`Filter::compile`] hands the
//! profile to libseccomp, which turns names into numbers for every listed
//! architecture, checks the `arch` field first (an x86-64 process can make
//! i386 system calls, whose numbers mean other calls), and emits the
//! program. That happens in the runtime, before the container's process
//! exists, so that a bad profile fails `create` with nothing to clean up;
//! the process then only has to hand the finished program to the kernel
//! ([`Filter::load`]), one `seccomp(2)` call — as runc and crun do.
//!
//! # Why load order matters
//!
//! A filter can never be removed, and it applies to the runtime's own last
//! steps as much as to the program: every system call made after loading
//! it must be one the profile allows. So it is loaded as late as possible.
//! But loading one needs either `no_new_privs` (so that a setuid program
//! cannot be tricked by a filter into misbehaving with root's powers) or
//! `CAP_SYS_ADMIN`. With `process.noNewPrivileges` the filter is the very
//! last step; without it, it must come before the process gives up its
//! capabilities. [`ProcessSetup`](super::process::ProcessSetup) does the
//! ordering.

use std::io::{Read, Seek};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// A system call has six arguments, `args[0]` to `args[5]`.
const ARGUMENTS: usize = 6;

/// The longest program the kernel accepts (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

/// A compiled seccomp filter: the BPF program, ready for [`Filter::load`].
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    skipped: Vec<String>,
}

impl Filter {
    // ANCHOR: compile
    /// Compile `linux.seccomp` into a BPF program. Every error names the
    /// field at fault (`linux.seccomp.syscalls[3].args[0].index 7: …`).
    ///
    /// System call names this kernel and architecture do not know are
    /// skipped, as runc does: profiles list calls for every architecture
    /// and kernel version at once.
    pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter> {
        let default = action(
            seccomp.default_action(),
            seccomp.default_errno_ret(),
            "linux.seccomp.defaultAction",
            "linux.seccomp.defaultErrnoRet",
        )?;
        // A new filter already holds the native architecture.
        let mut filter = ScmpFilterContext::new(default)
            .map_err(|e| invalid("linux.seccomp", format!("libseccomp: {e}")))?;
        for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
            let at = format!("linux.seccomp.architectures[{i}] {:?}", spec_name(arch));
            let known = spec_name(arch)
                .parse::<ScmpArch>()
                .map_err(|_| invalid(&at, "libseccomp does not know this architecture"))?;
            filter.add_arch(known).map_err(|e| {
                invalid(
                    &at,
                    format!("this host's libseccomp cannot filter it ({e})"),
                )
            })?;
        }
        let flags = flags(seccomp.flags().iter().flatten())?;
        let mut skipped = Vec::new();
        for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
            let at = format!("linux.seccomp.syscalls[{i}]");
            let act = action(
                rule.action(),
                rule.errno_ret(),
                &format!("{at}.action"),
                &format!("{at}.errnoRet"),
            )?;
            let (conditions, one_per_rule) = conditions(rule, &at)?;
            if rule.names().is_empty() {
                return Err(invalid(&format!("{at}.names"), "lists no system call"));
            }
            if act == default {
                // Nothing to add (libseccomp refuses such a rule): the
                // default does it already.
                continue;
            }
            for name in rule.names() {
                let Ok(call) = ScmpSyscall::from_name(name) else {
                    skipped.push(name.clone());
                    continue;
                };
                let added = if one_per_rule {
                    conditions
                        .iter()
                        .try_for_each(|c| add(&mut filter, act, call, std::slice::from_ref(c)))
                } else {
                    add(&mut filter, act, call, &conditions)
                };
                added.map_err(|e| invalid(&format!("{at} ({name})"), e))?;
            }
        }
        let program = export(&filter)?;
        if program.len() > MAX_INSTRUCTIONS {
            return Err(invalid(
                "linux.seccomp",
                format!(
                    "the profile compiles to {} BPF instructions; the kernel takes at most {MAX_INSTRUCTIONS}",
                    program.len()
                ),
            ));
        }
        Ok(Filter {
            program,
            flags,
            skipped,
        })
    }
    // ANCHOR_END: compile

    // ANCHOR: load
    /// Hand the program to the kernel for this process: from now on, and
    /// in every process it becomes or starts, each system call goes
    /// through it. There is no way back.
    ///
    /// The kernel takes it only if the process has `no_new_privs` set or
    /// holds `CAP_SYS_ADMIN`. (libseccomp's own `seccomp_load` would set
    /// `no_new_privs` itself, by default; whether to is `config.json`'s
    /// decision, which is one reason to load the program here.)
    pub fn load(&self) -> Result<()> {
        let program = libc::sock_fprog {
            len: self.program.len() as u16, // at most 4096: checked by compile
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `program` points into `self.program`, which outlives the
        // call; the kernel copies the instructions and keeps no pointer.
        let done = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &program as *const libc::sock_fprog,
            )
        };
        match done {
            0 => Ok(()),
            // With SECCOMP_FILTER_FLAG_TSYNC: a thread that could not follow.
            thread if thread > 0 => Err(Error::Invalid(format!(
                "loading the seccomp filter: thread {thread} could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC)"
            ))),
            _ => Err(Error::sys_hint(
                "loading the seccomp filter (linux.seccomp)",
                Errno::last(),
                "without process.noNewPrivileges, loading a filter needs CAP_SYS_ADMIN",
            )),
        }
    }
    // ANCHOR_END: load

    /// How many BPF instructions the kernel will run, at most, on each
    /// system call.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }

    /// The profile's system call names this host does not know, skipped.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

/// A libseccomp action for an OCI one. `errnoRet` is what `SCMP_ACT_ERRNO`
/// returns (EPERM unless given) and what `SCMP_ACT_TRACE` tells the
/// tracer; the specification says other actions must refuse it.
fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
    errno_field: &str,
) -> Result<ScmpAction> {
    let errno = match errno_ret {
        None => libc::EPERM as u16,
        Some(n) => u16::try_from(n)
            .map_err(|_| invalid(&format!("{errno_field} {n}"), "must be at most 65535"))?,
    };
    if errno_ret.is_some()
        && !matches!(
            act,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        return Err(invalid(
            &format!("{errno_field} {}", errno),
            format!(
                "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return an errno, not {}",
                spec_name(&act)
            ),
        ));
    }
    Ok(match act {
        // SCMP_ACT_KILL is the old name of KILL_THREAD (runc's reading).
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(errno)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(invalid(
                &format!("{field} \"SCMP_ACT_NOTIFY\""),
                "handing system calls to a seccomp agent (linux.seccomp.listenerPath) is not supported by this runtime",
            ))
        }
    })
}

/// `linux.seccomp.flags`: how the kernel installs the filter. They are
/// `seccomp(2)`'s own flags (libseccomp calls them the filter attributes
/// `SCMP_FLTATR_CTL_TSYNC`, `_LOG` and `_SSB`, and passes them on).
fn flags<'a>(listed: impl Iterator<Item = &'a LinuxSeccompFilterFlag>) -> Result<libc::c_ulong> {
    let mut flags = 0;
    for (i, flag) in listed.enumerate() {
        flags |= match flag {
            // Every thread of the process gets the filter (ours has one).
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            // Log every action but ALLOW (see /proc/sys/kernel/seccomp).
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            // Keep the Speculative Store Bypass mitigation off.
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(invalid(
                    &format!("linux.seccomp.flags[{i}] \"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\""),
                    "it only matters with SCMP_ACT_NOTIFY, which this runtime does not support",
                ))
            }
        };
    }
    Ok(flags)
}

// ANCHOR: conditions
/// A rule's `args` as libseccomp comparisons, and whether they must go in
/// separate rules.
///
/// The conditions of one rule must all hold (AND). libseccomp can compare
/// each argument only once per rule, though, so a rule with two
/// conditions on the same argument (`socket` with `args[0] == AF_INET`
/// and `args[0] == AF_INET6`) could never match anyway. runc then adds
/// each condition as a rule of its own — so they mean OR — and so does
/// this runtime, since profiles are written for runc.
fn conditions(rule: &LinuxSyscall, at: &str) -> Result<(Vec<ScmpArgCompare>, bool)> {
    let mut compares = Vec::new();
    let mut seen = [0; ARGUMENTS];
    for (j, arg) in rule.args().iter().flatten().enumerate() {
        compares.push(compare(arg, &format!("{at}.args[{j}]"))?);
        seen[arg.index()] += 1;
    }
    let one_per_rule = seen.iter().any(|n| *n > 1);
    Ok((compares, one_per_rule))
}

/// One condition: argument `index` compared with `value` by `op`. For
/// `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo` what the
/// masked argument must equal: Docker allows `clone` only when
/// `flags & CLONE_NEW* == 0`, no new namespaces.
fn compare(arg: &LinuxSeccompArg, at: &str) -> Result<ScmpArgCompare> {
    let index = arg.index();
    if index >= ARGUMENTS {
        return Err(invalid(
            &format!("{at}.index {index}"),
            "a system call has six arguments, numbered 0 to 5",
        ));
    }
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}
// ANCHOR_END: conditions

fn add(
    filter: &mut ScmpFilterContext,
    act: ScmpAction,
    call: ScmpSyscall,
    conditions: &[ScmpArgCompare],
) -> Result<(), String> {
    filter
        .add_rule_conditional(act, call, conditions)
        .map(|_| ())
        .map_err(|e| format!("libseccomp refused the rule: {e}"))
}

/// The filter's BPF program, as libseccomp generates it.
fn export(filter: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    let failed = |e: String| invalid("linux.seccomp", format!("generating the BPF program: {e}"));
    // libseccomp 2.5 writes the program to a descriptor: an anonymous
    // file in memory (a pipe could fill up and block).
    let fd = nix::sys::memfd::memfd_create(c"seccomp-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| failed(e.to_string()))?;
    filter.export_bpf(&fd).map_err(|e| failed(e.to_string()))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| failed(e.to_string()))?;
    // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, in this
    // machine's byte order.
    Ok(bytes
        .chunks_exact(8)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

/// The seccomp part of the features document (`features.md`): what
/// [`Filter::compile`] accepts.
pub fn features() -> oci_spec::runtime::Seccomp {
    use LinuxSeccompAction::*;
    let actions = vec![
        ScmpActKill,
        ScmpActKillThread,
        ScmpActKillProcess,
        ScmpActTrap,
        ScmpActErrno,
        ScmpActTrace,
        ScmpActLog,
        ScmpActAllow,
    ];
    let operators = [
        LinuxSeccompOperator::ScmpCmpNe,
        LinuxSeccompOperator::ScmpCmpLt,
        LinuxSeccompOperator::ScmpCmpLe,
        LinuxSeccompOperator::ScmpCmpEq,
        LinuxSeccompOperator::ScmpCmpGe,
        LinuxSeccompOperator::ScmpCmpGt,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    ]
    .iter()
    .map(spec_name)
    .collect();
    let known_flags = [
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    ];
    // Supported: known to this kernel too. Asked with an empty program
    // the kernel answers EFAULT for a flag it knows, EINVAL for another.
    let supported_flags = known_flags
        .iter()
        .filter(|flag| kernel_knows(flags(std::iter::once(*flag)).unwrap_or(0)))
        .map(spec_name)
        .collect();
    let mut seccomp = oci_spec::runtime::Seccomp::default();
    seccomp
        .set_enabled(Some(true))
        .set_actions(Some(actions))
        .set_operators(Some(operators))
        .set_archs(Some(ARCHS.to_vec()))
        .set_known_flags(Some(known_flags.iter().map(spec_name).collect()))
        .set_supported_flags(Some(supported_flags));
    seccomp
}

/// The architectures libseccomp 2.5 (the oldest the kit supports) filters.
const ARCHS: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
];

/// Whether this kernel knows the `seccomp(2)` filter flags `flags`.
fn kernel_knows(flags: libc::c_ulong) -> bool {
    // SAFETY: a null program: the kernel checks the flags, then fails to
    // read the program (EFAULT); nothing is installed.
    let done = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    done == -1 && Errno::last() == Errno::EFAULT
}

// ANCHOR: explain
/// Why `linux.seccomp` in the text of a `config.json` that did not parse,
/// naming the field (`linux.seccomp.syscalls[3].action "SCMP_ACT_FOO"`),
/// or `None` if the trouble is not there. A JSON parser would only say
/// "unknown variant at line 40, column 23".
pub fn explain(config: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_str(config).ok()?;
    let seccomp = config.get("linux")?.get("seccomp")?;
    if seccomp.is_null() {
        return None;
    }
    let at = "linux.seccomp";
    let mut problems = Vec::new();
    problems.push(check::<LinuxSeccompAction>(
        seccomp.get("defaultAction"),
        &format!("{at}.defaultAction"),
    ));
    for (i, arch) in list(seccomp, "architectures") {
        problems.push(check::<Arch>(
            Some(arch),
            &format!("{at}.architectures[{i}]"),
        ));
    }
    for (i, flag) in list(seccomp, "flags") {
        problems.push(check::<LinuxSeccompFilterFlag>(
            Some(flag),
            &format!("{at}.flags[{i}]"),
        ));
    }
    for (i, rule) in list(seccomp, "syscalls") {
        let here = format!("{at}.syscalls[{i}]");
        problems.push(check::<LinuxSeccompAction>(
            rule.get("action"),
            &format!("{here}.action"),
        ));
        for (j, arg) in list(rule, "args") {
            problems.push(check::<LinuxSeccompOperator>(
                arg.get("op"),
                &format!("{here}.args[{j}].op"),
            ));
            problems.push(check::<LinuxSeccompArg>(
                Some(arg),
                &format!("{here}.args[{j}]"),
            ));
        }
        problems.push(check::<LinuxSyscall>(Some(rule), &here));
    }
    problems.push(check::<LinuxSeccomp>(Some(seccomp), at));
    problems.into_iter().flatten().next()
}
// ANCHOR_END: explain

/// The elements of array `key` of `value`, numbered.
fn list<'a>(
    value: &'a serde_json::Value,
    key: &str,
) -> impl Iterator<Item = (usize, &'a serde_json::Value)> {
    value
        .get(key)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .enumerate()
}

/// What is wrong with `value` as a `T`, if anything, naming `field`.
fn check<T: DeserializeOwned>(value: Option<&serde_json::Value>, field: &str) -> Option<String> {
    let value = value?;
    let error = serde_json::from_value::<T>(value.clone()).err()?;
    Some(match value {
        serde_json::Value::String(name) => format!("{field} {name:?}: {error}"),
        serde_json::Value::Object(_) => format!("{field}: {error}"),
        other => format!("{field} {other}: {error}"),
    })
}

/// A value as config.json spells it ("SCMP_ARCH_X86_64").
fn spec_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{field}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    fn error(json: serde_json::Value) -> String {
        match Filter::compile(&profile(json)) {
            Ok(_) => panic!("compiled"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_names_are_skipped_and_known_ones_compiled() {
        let filter = Filter::compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]
        })))
        .unwrap();
        assert_eq!(filter.skipped(), ["no_such_call"]);
        assert!(filter.instructions() > 3);
    }

    #[test]
    fn errors_name_the_field() {
        let too_far = error(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"},
                         {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 6, "value": 2, "op": "SCMP_CMP_EQ"}]}]
        }));
        assert!(
            too_far.starts_with("linux.seccomp.syscalls[1].args[0].index 6:"),
            "{too_far}"
        );
        let errno = error(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1
        }));
        assert!(
            errno.starts_with("linux.seccomp.defaultErrnoRet 1:"),
            "{errno}"
        );
        let notify = error(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]
        }));
        assert!(notify.contains("syscalls[0].action \"SCMP_ACT_NOTIFY\""));
    }

    #[test]
    fn explain_finds_the_misspelt_name() {
        let config = r#"{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["write"], "action": "SCMP_ACT_FOO"}]}}}"#;
        let why = explain(config).unwrap();
        assert!(
            why.starts_with("linux.seccomp.syscalls[1].action \"SCMP_ACT_FOO\": unknown variant"),
            "{why}"
        );
        assert_eq!(explain(r#"{"linux": {}}"#), None);
    }
}
