//! Rung 04's promises, kept by rung 05: every runc verb and config.json
//! field rung 04's tests check, run against rung 05's binary — which is
//! rung 04's command line plus the image verbs, from the same library code.

#[path = "../../04-oci-spec/tests/rung04/mod.rs"]
mod rung04;

fn main() {
    rung04::common::set_rung(env!("CARGO_BIN_EXE_step-05"));
    let mut trials = rung04::oci::trials();
    trials.extend(rung04::seccomp::trials());
    berth::testing::run(trials)
}
