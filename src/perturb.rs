//! Deliberate small changes to one training task, for the tests that show the training goldens
//! catch them (`tests/golden.rs`): the kind of slip a contributor could make without noticing.
//!
//! `DNLTS_PERTURB=KIND:TASK` changes the task named `TASK` (`pretrain`, `train-L`,
//! `finetune-A`, …: the classifier by its letter) as `KIND` says:
//! - `one-step-fewer`: its schedule ends one step early;
//! - `lr-times-1.01`: its learning rate is 1 % higher;
//! - `other-seed`: its per-step random draws (dropout, augmentation) come from another seed.
//!
//! A perturbed run says so on stderr and its stages are keyed apart (`armed`), so an ordinary
//! run never reuses them. Unset, nothing changes.

use std::sync::OnceLock;

use crate::train::Schedule;

/// The environment variable that arms a perturbation.
pub const VARIABLE: &str = "DNLTS_PERTURB";

/// The kinds `DNLTS_PERTURB` knows.
pub const KINDS: [&str; 3] = ["one-step-fewer", "lr-times-1.01", "other-seed"];

/// The armed perturbation, as `(kind, task)`; None when unset. An unknown kind is refused
/// loudly (a test that thinks it perturbs but does not would pass for the wrong reason).
pub fn armed() -> Option<&'static (String, String)> {
    static ARMED: OnceLock<Option<(String, String)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(VARIABLE).ok()?;
            let parsed = parse(&spec).unwrap_or_else(|error| panic!("{VARIABLE}={spec}: {error}"));
            eprintln!("warning: {VARIABLE}={spec}: this run is deliberately perturbed (tests)");
            Some(parsed)
        })
        .as_ref()
}

fn parse(spec: &str) -> Result<(String, String), String> {
    let (kind, task) = spec.split_once(':').ok_or("expected KIND:TASK")?;
    if !KINDS.contains(&kind) {
        return Err(format!("unknown kind '{kind}'; one of {}", KINDS.join(", ")));
    }
    if task.is_empty() {
        return Err("no task named after the colon".into());
    }
    Ok((kind.to_string(), task.to_string()))
}

/// `schedule` and `seed` of task `task`, perturbed if it is the armed one.
pub fn apply(task: &str, schedule: Schedule, seed: u64) -> (Schedule, u64) {
    match armed() {
        Some((kind, armed_task)) if armed_task == task => perturbed(kind, schedule, seed),
        _ => (schedule, seed),
    }
}

fn perturbed(kind: &str, mut schedule: Schedule, seed: u64) -> (Schedule, u64) {
    match kind {
        "one-step-fewer" => schedule.steps = schedule.steps.saturating_sub(1),
        "lr-times-1.01" => schedule.optimisation.lr *= 1.01,
        "other-seed" => return (schedule, seed.wrapping_add(1)),
        _ => unreachable!("parse admits only KINDS"),
    }
    (schedule, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_kinds_and_refuses_others() {
        assert_eq!(parse("lr-times-1.01:train-L").unwrap().1, "train-L");
        assert!(parse("lr-times-2:pretrain").unwrap_err().contains("one-step-fewer"));
        assert!(parse("one-step-fewer").is_err());
        assert!(parse("other-seed:").is_err());
    }
}
