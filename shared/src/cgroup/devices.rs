//! Which device nodes a container may use: the device controller.
//!
//! Used from rung 04 (`linux.resources.devices`); chapter 4 explains it.
//!
//! Namespaces do not cover devices. A container whose root can `mknod`
//! (`CAP_MKNOD`) could make `/dev/sda` and read the host's disk, whatever
//! its mount namespace shows. The device controller closes that: a list of
//! rules, "type major:minor access", each allowing or denying, and the
//! kernel checks every open and `mknod` of a device node against it.
//! Engines send a list that denies everything, then allows the usual
//! nodes (`/dev/null`, `/dev/zero`, the terminals…); the last matching
//! rule decides.
//!
//! The two cgroup versions express it very differently:
//!
//! - **v1** has files: `devices.deny` and `devices.allow` in the
//!   container's directory of the `devices` hierarchy. Writing `a` to
//!   `devices.deny` empties the list; each allow adds to it.
//! - **v2** has no such files. Instead a small **eBPF program** is attached
//!   to the cgroup (`BPF_PROG_TYPE_CGROUP_DEVICE`); the kernel runs it on
//!   every device access and it answers 1 (allow) or 0 (deny). So the
//!   runtime *compiles the rules into a program*: a dozen instructions per
//!   rule, written out below by hand, since they are few and regular.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::{Error, Result};

/// One rule of the device list (`linux.resources.devices[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow (true) or deny (false) what the rule matches.
    pub allow: bool,
    /// `a` (all), `c` (character) or `b` (block).
    pub kind: char,
    /// The major number; `None` matches any.
    pub major: Option<i64>,
    /// The minor number; `None` matches any.
    pub minor: Option<i64>,
    /// Some of `r` (read), `w` (write), `m` (mknod).
    pub access: String,
}

impl DeviceRule {
    /// Check the fields; the error names the rule's index.
    pub fn check(&self, index: usize) -> Result<()> {
        let bad = |what: &str| {
            Err(Error::Invalid(format!(
                "linux.resources.devices[{index}]: {what}"
            )))
        };
        if !matches!(self.kind, 'a' | 'c' | 'b') {
            return bad(&format!("type {:?} is not a, c or b", self.kind));
        }
        if self.access.is_empty() || !self.access.chars().all(|c| "rwm".contains(c)) {
            return bad(&format!(
                "access {:?} is not made of r, w and m",
                self.access
            ));
        }
        if self.major.is_some_and(|n| n < 0) || self.minor.is_some_and(|n| n < 0) {
            return bad("a negative device number");
        }
        Ok(())
    }

    // ANCHOR: v1
    /// The rule as v1's `devices.allow` / `devices.deny` take it:
    /// `c 1:3 rwm`, `*` for any number, and plain `a` for "every device".
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".into();
        }
        let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
    // ANCHOR_END: v1
}

/// Apply `rules` to a v1 `devices` directory, in order.
pub fn apply_v1(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        super::write(&dir.join(file), &rule.v1_line())?;
    }
    Ok(())
}

// The instructions of an eBPF program, and the few opcodes used here
// (include/uapi/linux/bpf.h and bpf_common.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8, // destination register in the low four bits, source in the high
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND32_K: u8 = 0x54; // dst &= imm (32-bit)
const RSH32_K: u8 = 0x74; // dst >>= imm (32-bit)
const MOV32_X: u8 = 0xbc; // dst = src (32-bit)
const MOV64_K: u8 = 0xb7; // dst = imm
const JNE_K: u8 = 0x55; // if dst != imm: skip `off` instructions
const JNE_X: u8 = 0x5d; // if dst != src: skip `off` instructions
const EXIT: u8 = 0x95; // return r0

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

// ANCHOR: program
/// The rules as an eBPF program for v2's device controller.
///
/// The kernel calls it with r1 pointing at `struct bpf_cgroup_dev_ctx {
/// u32 access_type; u32 major; u32 minor; }`, where `access_type` is the
/// device type (1 block, 2 character) in its low 16 bits and the access
/// (1 mknod, 2 read, 4 write) in its high 16. The last matching rule
/// decides, so the program tests the rules from the last one back and
/// returns at the first match; if none matches, the device is allowed,
/// which is why lists begin with "deny all".
pub fn program(rules: &[DeviceRule]) -> Vec<u8> {
    let mut code = vec![
        insn(LDX_W, 2, 1, 0, 0),        // r2 = access_type
        insn(AND32_K, 2, 0, 0, 0xffff), // r2 = type
        insn(LDX_W, 3, 1, 0, 0),        // r3 = access_type
        insn(RSH32_K, 3, 0, 0, 16),     // r3 = access
        insn(LDX_W, 4, 1, 4, 0),        // r4 = major
        insn(LDX_W, 5, 1, 8, 0),        // r5 = minor
    ];
    for rule in rules.iter().rev() {
        let mut tests = Vec::new();
        match rule.kind {
            'c' => tests.push(insn(JNE_K, 2, 0, 0, 2)),
            'b' => tests.push(insn(JNE_K, 2, 0, 0, 1)),
            _ => {}
        }
        let access = rule.access.chars().fold(0, |bits, c| {
            bits | match c {
                'm' => 1,
                'r' => 2,
                _ => 4,
            }
        });
        if access != 7 {
            // Matches only if every bit asked for is in the rule.
            tests.push(insn(MOV32_X, 1, 3, 0, 0)); // r1 = access
            tests.push(insn(AND32_K, 1, 0, 0, access)); // r1 &= rule's
            tests.push(insn(JNE_X, 1, 3, 0, 0)); // r1 != access: no match
        }
        if let Some(major) = rule.major.filter(|_| rule.kind != 'a') {
            tests.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor.filter(|_| rule.kind != 'a') {
            tests.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        // Every failed test jumps past the rest of this rule: past the
        // tests after it and the two instructions that return.
        let count = tests.len();
        for (i, test) in tests.iter_mut().enumerate() {
            if test.code == JNE_K || test.code == JNE_X {
                test.off = (count - i - 1 + 2) as i16;
            }
        }
        let matches_all = tests.is_empty();
        code.extend(tests);
        code.push(insn(MOV64_K, 0, 0, 0, rule.allow as i32));
        code.push(insn(EXIT, 0, 0, 0, 0));
        if matches_all {
            // Nothing after a rule that matches everything can run (and
            // the verifier refuses unreachable code).
            return to_bytes(&code);
        }
    }
    code.push(insn(MOV64_K, 0, 0, 0, 1)); // nothing matched: allow
    code.push(insn(EXIT, 0, 0, 0, 0));
    to_bytes(&code)
}

/// The instructions as the kernel reads them.
fn to_bytes(code: &[Insn]) -> Vec<u8> {
    code.iter()
        .flat_map(|i| {
            let mut bytes = vec![i.code, i.regs];
            bytes.extend(i.off.to_ne_bytes());
            bytes.extend(i.imm.to_ne_bytes());
            bytes
        })
        .collect()
}
// ANCHOR_END: program

// ANCHOR: attach
/// Load the program for `rules` and attach it to the v2 cgroup `dir`. The
/// attachment lives as long as the cgroup, so the program's descriptor can
/// be closed afterwards.
pub fn apply_v2(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let code = program(rules);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 4096];
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns,
    // license, log_level, log_size, log_buf (the fields up to there).
    let mut load = [0u64; 16];
    load[0] = BPF_PROG_TYPE_CGROUP_DEVICE as u64 | ((code.len() as u64 / 8) << 32);
    load[1] = code.as_ptr() as u64;
    load[2] = license.as_ptr() as u64;
    load[3] = 1 | ((log.len() as u64) << 32); // log_level 1, log_size
    load[4] = log.as_mut_ptr() as u64;
    // SAFETY: `load` is a valid bpf_attr prefix (the rest is zero), and
    // every pointer in it outlives the call.
    let prog = unsafe { bpf(BPF_PROG_LOAD, &load) };
    if prog < 0 {
        let errno = nix::errno::Errno::last();
        let text = String::from_utf8_lossy(&log);
        let why = text.trim_end_matches('\0').trim();
        return Err(Error::Invalid(format!(
            "loading the device-cgroup eBPF program (linux.resources.devices): {}{}",
            errno.desc(),
            if why.is_empty() {
                String::new()
            } else {
                format!("; the verifier said: {why}")
            }
        )));
    }
    // SAFETY: bpf returned a new descriptor, owned by nobody else.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("opening {}", dir.display()), e))?;
    // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd,
    // attach_type, attach_flags (four u32s).
    let mut attach = [0u64; 16];
    attach[0] = cgroup.as_raw_fd() as u64 | ((prog.as_raw_fd() as u64) << 32);
    attach[1] = BPF_CGROUP_DEVICE as u64 | ((BPF_F_ALLOW_MULTI as u64) << 32);
    // SAFETY: as above; the descriptors are open.
    if unsafe { bpf(BPF_PROG_ATTACH, &attach) } < 0 {
        return Err(Error::sys(
            format!("attaching the device program to {}", dir.display()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}
// ANCHOR_END: attach

const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_ATTACH: i64 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `bpf(2)` system call (libc has no wrapper).
unsafe fn bpf(command: i64, attr: &[u64; 16]) -> i64 {
    // SAFETY: the caller's promise: `attr` is a valid bpf_attr.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_ptr(),
            std::mem::size_of_val(attr),
        ) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn v1_lines() {
        assert_eq!(rule(false, 'a', None, None, "rwm").v1_line(), "a");
        assert_eq!(
            rule(true, 'c', Some(1), Some(3), "rwm").v1_line(),
            "c 1:3 rwm"
        );
        assert_eq!(
            rule(true, 'c', Some(136), None, "rw").v1_line(),
            "c 136:* rw"
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let error = rule(true, 'x', None, None, "rwm").check(2).unwrap_err();
        assert!(error
            .to_string()
            .contains("linux.resources.devices[2]: type 'x'"));
        assert!(rule(true, 'c', None, None, "rwx").check(0).is_err());
    }

    #[test]
    fn the_program_has_a_block_per_rule() {
        // Prologue 6; the last rule first, c 1:3 rwm (type, major, minor,
        // return: 5); then "deny all" (return: 2), after which nothing
        // can run: 13 instructions.
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ];
        assert_eq!(program(&rules).len(), 13 * 8);
    }
}
