//! Training: AE pre-training on a never-repeating stream, decoder-only fine-tuning through a
//! frozen classifier, and classifier training for profiles without pretrained weights.
//!
//! Every loop is a [`Task`] run by one driver ([`drive`]) that owns what all loops share:
//! per-step seeding, progress, periodic checks, checkpoints, resuming, Ctrl-C and NaN handling.

pub mod checkpoint;
pub mod classify;
pub mod finetune;
pub mod pretrain;
pub mod progress;
pub mod sgd;
pub mod stop;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::Tensor;

use checkpoint::{CheckpointError, Checkpoints};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "{task}: stopped at step {step} on request; checkpoint saved in {}. \
         Run the same command with --resume to continue",
        dir.display()
    )]
    Interrupted { task: String, step: u64, dir: PathBuf },
    #[error(
        "{task}: the loss became {loss} at step {step}; {}. Lower the learning rate or check the data",
        match last_good { Some(s) => format!("the last good checkpoint is step {s}"), None => "no checkpoint was written".to_string() }
    )]
    NonFinite { task: String, step: u64, loss: f64, last_good: Option<u64> },
    #[error("{task}: checkpoint does not fit: {reason}")]
    Restore { task: String, reason: String },
}

/// One training loop, as the driver sees it.
pub trait Task {
    /// Everything besides tensors that a checkpoint must hold.
    type State: Serialize + DeserializeOwned;
    /// Name used in messages and seeds.
    fn name(&self) -> String;
    fn state(&self) -> Self::State;
    /// Model and optimizer tensors, by unique name.
    fn tensors(&self) -> Vec<(String, Tensor)>;
    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: Self::State,
    ) -> Result<(), String>;
    /// One optimisation step on batch number `step`; returns the training loss.
    fn step(&mut self, step: u64) -> f64;
    /// Periodic evaluation after `steps_done` steps; the score (lower is better) ranks
    /// checkpoints.
    fn check(&mut self, steps_done: u64) -> Option<f64>;
    fn learning_rate(&self) -> f64;
}

/// How long a loop runs and how often it checks.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub steps: u64,
    pub check_every: u64,
    pub images_per_step: u64,
}

/// Where a loop keeps its checkpoints and whether it continues from them.
pub struct Persistence {
    pub checkpoints: Checkpoints,
    pub dir: PathBuf,
    pub resume: bool,
}

/// A store's tensors (weights and BN statistics) sorted by name: the order checkpoints and
/// optimizers use, so they never depend on hash-map order.
pub fn sorted_variables(store: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut variables: Vec<_> = store.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables
}

/// Running mean of the training loss between two checks; part of every loop's checkpoint.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct LossMeter {
    sum: f64,
    steps: u64,
}

impl LossMeter {
    pub fn add(&mut self, loss: f64) {
        self.sum += loss;
        self.steps += 1;
    }

    /// The mean since the last call, and a fresh start.
    pub fn take_mean(&mut self) -> f64 {
        let mean = self.sum / self.steps.max(1) as f64;
        *self = LossMeter::default();
        mean
    }
}

/// What every loop checkpoints: its model's tensors, then the optimizer's state.
pub fn with_optimizer(mut model: Vec<(String, Tensor)>, sgd: &sgd::Sgd) -> Vec<(String, Tensor)> {
    model.extend(sgd.state());
    model
}

/// Restores what [`with_optimizer`] saved into `model` and `sgd`.
pub fn restore_with_optimizer(
    model: &[(String, Tensor)],
    sgd: &mut sgd::Sgd,
    saved: &HashMap<String, Tensor>,
) -> Result<(), String> {
    copy_named(model, saved)?;
    sgd.restore(saved);
    Ok(())
}

/// Copies `source` into the tensors of `targets` by name, without recording gradients.
pub fn copy_named(
    targets: &[(String, Tensor)],
    source: &HashMap<String, Tensor>,
) -> Result<(), String> {
    tch::no_grad(|| {
        for (name, target) in targets {
            let found = source.get(name).ok_or_else(|| format!("no tensor {name}"))?;
            if found.size() != target.size() {
                return Err(format!(
                    "{name} has shape {:?}, expected {:?}",
                    found.size(),
                    target.size()
                ));
            }
            let mut target = target.shallow_clone();
            target.copy_(found);
        }
        Ok(())
    })
}

/// Runs `task` for its schedule. On CPU, a run resumed from any checkpoint ends with the same
/// bytes as an uninterrupted one: each step reseeds libtorch from (seed, task, step) and data
/// is addressed by index.
pub fn drive<T: Task>(
    task: &mut T,
    schedule: Schedule,
    persistence: Option<&Persistence>,
    seed: u64,
) -> Result<(), TrainError> {
    let name = task.name();
    let mut start = 0;
    if let Some(p) = persistence.filter(|p| p.resume) {
        if let Some(loaded) = p.checkpoints.latest::<T::State>()? {
            task.restore(&loaded.tensors, loaded.state)
                .map_err(|reason| TrainError::Restore { task: name.clone(), reason })?;
            start = loaded.step;
        }
    }
    let mut progress = progress::Progress::new(&name, schedule.steps * schedule.images_per_step);
    progress.set_position(start * schedule.images_per_step);
    for step in start..schedule.steps {
        if stop::requested() {
            if let Some(p) = persistence {
                p.checkpoints.save(step, &task.tensors(), &task.state(), None)?;
                return Err(TrainError::Interrupted { task: name, step, dir: p.dir.clone() });
            }
        }
        tch::manual_seed(crate::seed::derive(seed, &name, &format!("step{step}")) as i64);
        let loss = task.step(step);
        if !loss.is_finite() {
            let last_good = persistence.and_then(|p| p.checkpoints.steps().last().copied());
            return Err(TrainError::NonFinite { task: name, step, loss, last_good });
        }
        let done = step + 1;
        progress.update(done * schedule.images_per_step, loss, task.learning_rate());
        if done % schedule.check_every == 0 || done == schedule.steps {
            let score = task.check(done);
            if let Some(p) = persistence {
                p.checkpoints.save(done, &task.tensors(), &task.state(), score)?;
            }
        }
    }
    progress.finish();
    Ok(())
}
