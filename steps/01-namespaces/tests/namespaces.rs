//! Rung 01's tests: its promises (in `rung01/`, shared with later rungs),
//! run against rung 01's binary.

mod rung01;

use berth::testing::{check, test, Needs, Outcome, Rung};

fn main() {
    let rung = Rung::new(env!("CARGO_BIN_EXE_step-01"));
    let mut trials = rung01::trials(&rung);
    trials.push(test(
        "step-01::the_demo_leaves_the_host_unchanged",
        Needs::Root,
        move || the_demo_leaves_the_host_unchanged(&rung),
    ));
    berth::testing::run(trials)
}

fn the_demo_leaves_the_host_unchanged(rung: &Rung) -> Outcome {
    let run = rung.run(Vec::<&str>::new());
    run.success()?;
    check(
        run.stdout.contains("hostname      ") && run.stdout.contains("(unchanged)"),
        || run.stdout.clone(),
    )?;
    check(run.stdout.contains("mount table   unchanged"), || {
        run.stdout.clone()
    })?;
    check(!run.stdout.contains("shared"), || {
        format!("every namespace should be new:\n{}", run.stdout)
    })
}
