//! Training: AE pre-training on a never-repeating stream, decoder-only fine-tuning through a
//! frozen classifier, and classifier training for profiles without pretrained weights.
//!
//! Every loop is a [`Task`] run by one driver ([`drive`]) that owns what all loops share:
//! per-step seeding, progress, periodic checks, checkpoints, resuming, Ctrl-C and NaN handling.

pub mod checkpoint;
pub mod classify;
pub mod finetune;
pub mod optim;
pub mod parallel;
pub mod pretrain;
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
    #[error(
        "{task}: out of memory at step {step} with batch size {batch_size} ({detail}). \
         Try --batch-size {} or --accumulate {} (the same update in micro-batches of {})",
        (batch_size / 2).max(1), 2 * accumulation, batch_size / (2 * accumulation).max(1)
    )]
    OutOfMemory { task: String, step: u64, batch_size: u64, accumulation: u64, detail: String },
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
    /// Makes the data of a step from the step's number alone. It borrows the data source,
    /// never the model, so the driver makes the next batch on another thread while the
    /// current step computes.
    type Loader: Fn(u64) -> Vec<Tensor> + Send;
    fn loader(&self) -> Self::Loader;
    /// One optimisation step on `batch`, the loader's data for `step`; returns the loss.
    fn step(&mut self, step: u64, batch: Vec<Tensor>) -> f64;
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
    /// Micro-batches per step (for the out-of-memory advice).
    pub accumulation: u64,
    /// Batches made ahead on a loader thread while a step computes (0: on the training
    /// thread, between steps); memory holds at most this many beyond the one in use.
    pub prefetch: usize,
}

impl Schedule {
    /// `steps` batches of `batch_size`, checking every `check_images` images (at least every
    /// step) and at the end.
    pub fn new(
        steps: u64,
        batch_size: u64,
        check_images: u64,
        compute: &crate::compute::Compute,
    ) -> Self {
        Schedule {
            steps,
            check_every: (check_images / batch_size.max(1)).max(1),
            images_per_step: batch_size,
            accumulation: compute.accumulation,
            prefetch: 1,
        }
    }
}

/// One optimisation step over `inputs` (tensors sharing their first dimension, e.g. images
/// and labels), split into micro-batches as `compute` says; `loss_of` returns a micro-batch's
/// mean loss. Gradients of the parts add up to the whole batch's; the return value is the
/// batch's mean loss.
pub fn accumulated_step(
    optimizer: &mut optim::Optimizer,
    compute: &crate::compute::Compute,
    device: tch::Device,
    inputs: &[Tensor],
    loss_of: &mut dyn FnMut(&[Tensor]) -> Tensor,
) -> f64 {
    let n = inputs[0].size()[0];
    optimizer.zero_grad();
    let mut total = 0.0;
    for (start, end) in compute.micro_batches(n) {
        let part: Vec<Tensor> = inputs.iter().map(|t| t.narrow(0, start, end - start)).collect();
        let loss = compute.autocast(device, || loss_of(&part));
        let weight = (end - start) as f64 / n as f64;
        // Backward outside autocast, as libtorch recommends; no extra op for a single part.
        if end - start == n {
            loss.backward();
        } else {
            (&loss * weight).backward();
        }
        total += loss.double_value(&[]) * weight;
    }
    optimizer.step();
    total
}

/// Runs one step, turning libtorch's out-of-memory panic into advice on the batch size.
fn guarded_step<T: Task>(
    task: &mut T,
    step: u64,
    batch: Vec<Tensor>,
    schedule: &Schedule,
) -> Result<f64, TrainError> {
    quiet_caught_out_of_memory_panics();
    GUARDED.with(|guarded| guarded.set(true));
    let run = std::panic::AssertUnwindSafe(|| task.step(step, batch));
    let result = std::panic::catch_unwind(run);
    GUARDED.with(|guarded| guarded.set(false));
    result.map_err(|payload| {
        let message = panic_message(payload.as_ref());
        if !crate::compute::is_out_of_memory(message) {
            std::panic::resume_unwind(payload);
        }
        // tch wraps libtorch's message as `called `Result::unwrap()` on an `Err` value:
        // Torch("CUDA out of memory. …`: keep libtorch's words.
        let detail = message.split_once("Torch(\"").map_or(message, |(_, torch)| torch);
        TrainError::OutOfMemory {
            task: task.name(),
            step,
            batch_size: schedule.images_per_step,
            accumulation: schedule.accumulation.max(1),
            detail: detail.lines().next().unwrap_or("").chars().take(200).collect(),
        }
    })
}

thread_local! {
    /// Whether this thread is inside [`guarded_step`], which reports out-of-memory panics itself.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// The default panic hook prints every panic with its backtrace, also the out-of-memory panics
/// [`guarded_step`] turns into advice. Installs, once, a hook that keeps just those quiet and
/// hands every other panic to the hook that was there before.
fn quiet_caught_out_of_memory_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let caught = GUARDED.with(|guarded| guarded.get())
                && crate::compute::is_out_of_memory(panic_message(info.payload()));
            if !caught {
                previous(info);
            }
        }));
    });
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
pub fn with_optimizer(
    mut model: Vec<(String, Tensor)>,
    optimizer: &optim::Optimizer,
) -> Vec<(String, Tensor)> {
    model.extend(optimizer.state());
    model
}

/// Restores what [`with_optimizer`] saved into `model` and `optimizer`.
pub fn restore_with_optimizer(
    model: &[(String, Tensor)],
    optimizer: &mut optim::Optimizer,
    saved: &HashMap<String, Tensor>,
) -> Result<(), String> {
    copy_named(model, saved)?;
    optimizer.restore(saved);
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

/// How many step losses from the start of a loop [`drive`] returns: the training goldens
/// compare them tightly, before rounding differences between CPUs grow.
pub const FIRST_LOSSES: usize = 8;

/// What a checkpoint holds besides tensors: the task's state and the driver's record.
#[derive(Serialize, serde::Deserialize)]
struct Saved<S> {
    task: S,
    first_losses: Vec<f64>,
}

/// Runs `task` for its schedule and returns the losses of its first [`FIRST_LOSSES`] steps.
/// On CPU, a run resumed from any checkpoint ends with the same bytes as an uninterrupted
/// one: each step reseeds libtorch from (seed, task, step) and data is addressed by index.
pub fn drive<T: Task>(
    task: &mut T,
    schedule: Schedule,
    persistence: Option<&Persistence>,
    seed: u64,
) -> Result<Vec<f64>, TrainError> {
    let _running = stop::LoopRunning::start();
    let name = task.name();
    let mut start = 0;
    let mut first_losses = Vec::new();
    if let Some(p) = persistence.filter(|p| p.resume) {
        if let Some(loaded) = p.checkpoints.latest::<Saved<T::State>>()? {
            task.restore(&loaded.tensors, loaded.state.task)
                .map_err(|reason| TrainError::Restore { task: name.clone(), reason })?;
            start = loaded.step;
            first_losses = loaded.state.first_losses;
        }
    }
    let mut run = Run { schedule, persistence, seed, start, first_losses };
    let loader = task.loader();
    if schedule.prefetch == 0 {
        run.steps(task, &mut |step| Some(loader(step)))?;
        return Ok(run.first_losses);
    }
    std::thread::scope(|scope| {
        // `prefetch - 1` batches wait in the channel, one more in the loader's hands.
        let (sender, batches) = std::sync::mpsc::sync_channel(schedule.prefetch - 1);
        scope.spawn(move || {
            for step in start..schedule.steps {
                // The receiver is gone when the run stopped early.
                if sender.send(loader(step)).is_err() {
                    break;
                }
            }
        });
        // A closed channel means the loader panicked; the scope re-raises its panic.
        run.steps(task, &mut |_| batches.recv().ok())
    })?;
    Ok(run.first_losses)
}

/// One run of a loop: its schedule, where it checkpoints, and what the driver records.
struct Run<'a> {
    schedule: Schedule,
    persistence: Option<&'a Persistence>,
    seed: u64,
    start: u64,
    first_losses: Vec<f64>,
}

impl Run<'_> {
    fn save<T: Task>(&self, task: &T, step: u64, score: Option<f64>) -> Result<(), TrainError> {
        if let Some(p) = self.persistence {
            let saved = Saved { task: task.state(), first_losses: self.first_losses.clone() };
            p.checkpoints.save(step, &task.tensors(), &saved, score)?;
        }
        Ok(())
    }

    fn steps<T: Task>(
        &mut self,
        task: &mut T,
        next_batch: &mut dyn FnMut(u64) -> Option<Vec<Tensor>>,
    ) -> Result<(), TrainError> {
        let (name, schedule) = (task.name(), self.schedule);
        let mut progress =
            crate::progress::Progress::new(&name, schedule.steps * schedule.images_per_step);
        progress.set_position(self.start * schedule.images_per_step);
        for step in self.start..schedule.steps {
            if stop::requested() {
                if let Some(p) = self.persistence {
                    self.save(task, step, None)?;
                    return Err(TrainError::Interrupted { task: name, step, dir: p.dir.clone() });
                }
            }
            let Some(batch) = next_batch(step) else { break };
            tch::manual_seed(crate::seed::derive(self.seed, &name, &format!("step{step}")) as i64);
            let loss = guarded_step(task, step, batch, &schedule)?;
            if !loss.is_finite() {
                let last_good =
                    self.persistence.and_then(|p| p.checkpoints.steps().last().copied());
                return Err(TrainError::NonFinite { task: name, step, loss, last_good });
            }
            crate::failpoint::hit("step", || format!("{name}@{step}"));
            if (step as usize) < FIRST_LOSSES {
                self.first_losses.push(loss);
            }
            let done = step + 1;
            progress.update(done * schedule.images_per_step, loss, task.learning_rate());
            if done % schedule.check_every == 0 || done == schedule.steps {
                let score = task.check(done);
                self.save(task, done, score)?;
            }
        }
        progress.finish();
        Ok(())
    }
}
