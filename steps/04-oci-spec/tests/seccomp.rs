//! Rung 04's `linux.seccomp`, checked against the real kernel (as root)
//! and, where it is installed, against runc. The trials are in `rung04/`,
//! shared with the later rungs.

mod rung04;

fn main() {
    rung04::common::set_rung(env!("CARGO_BIN_EXE_step-04"));
    berth::testing::run(rung04::seccomp::trials())
}
