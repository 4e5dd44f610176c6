//! Rung 02's tests: its promises (in `rung02/`, shared with later rungs)
//! and rung 01's, run against rung 02's binary. `just test` runs the
//! cgroup promises again in the cgroup-v2 micro-VM.

#[path = "../../01-namespaces/tests/rung01/mod.rs"]
mod rung01;
mod rung02;

use berth::testing::Rung;

fn main() {
    let rung = Rung::new(env!("CARGO_BIN_EXE_step-02"));
    let mut trials = rung02::trials(&rung);
    trials.extend(rung01::trials(&rung));
    berth::testing::run(trials)
}
