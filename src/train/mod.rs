//! Training: AE pre-training on a never-repeating stream, decoder-only fine-tuning through a
//! frozen classifier, and classifier training for profiles without pretrained weights.
//!
//! Every loop is a [`Task`], which says only what is its own: its model's tensors, its loss on
//! a typed [`Batch`] and its periodic check. One driver ([`drive`]) owns what all loops share:
//! the optimizer, its learning-rate schedule and gradient accumulation ([`Trainer`]), per-step
//! seeding, progress, checkpoints, resuming, Ctrl-C and NaN handling.

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
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::compute::Compute;
use checkpoint::{CheckpointError, Checkpoints};
use optim::{LrSchedule, Optimizer, Plateau, Rule};
use parallel::{data_parallel_step, Replica};

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

/// One training loop: what is its own. The driver does the rest.
pub trait Task {
    /// The data of one step.
    type Batch: Batch;
    /// What one check adds to the run's log.
    type Record: Serialize + DeserializeOwned;
    /// Name used in messages and seeds.
    fn name(&self) -> String;
    /// Every tensor of the model (weights and BN statistics) by unique name: what a checkpoint
    /// holds besides the optimizer's state.
    fn tensors(&self) -> Vec<(String, Tensor)>;
    /// The tensors the optimizer updates, by name, always in the same order.
    fn trainable(&self) -> Vec<(String, Tensor)>;
    /// Makes the batch of a step from the step's number alone. It borrows the data source,
    /// never the model, so the driver makes the next batch on another thread while the
    /// current step computes.
    fn loader(&self) -> Box<dyn FnMut(u64) -> Self::Batch + Send + '_>;
    /// The mean loss of `batch`, a micro-batch on the model's device.
    fn loss(&self, batch: &Self::Batch) -> Tensor;
    /// The periodic evaluation: its score (lower is better; it ranks checkpoints and drives a
    /// plateau schedule) and what it adds to the log.
    fn check(&self, at: &CheckAt) -> (f64, Self::Record);
    /// Copies of the model on other devices that share each step's batch with it (data
    /// parallelism, [`parallel`]); none by default.
    fn replicas(&self) -> &[Box<dyn Replica<Self::Batch>>] {
        &[]
    }
}

/// Where a run stands when the driver asks its task for a check.
#[derive(Debug, Clone, Copy)]
pub struct CheckAt {
    pub steps_done: u64,
    /// Mean training loss of the steps since the previous check.
    pub train_loss: f64,
    /// The learning rate of the latest step.
    pub lr: f64,
}

/// A step's data as the driver handles it, whatever it holds: moved to the model and cut into
/// micro-batches.
pub trait Batch: Send + Sized {
    /// Examples in the batch: the first dimension of its tensors.
    fn examples(&self) -> i64;
    /// Examples `start .. start + length`, as views.
    fn narrow(&self, start: i64, length: i64) -> Self;
    /// The batch on `device`, its images laid out as `compute` asks.
    fn to_model(&self, device: Device, compute: &Compute) -> Self;
}

/// Images without labels: pre-training's stream.
pub struct Unlabelled {
    pub images: Tensor,
}

impl Batch for Unlabelled {
    fn examples(&self) -> i64 {
        self.images.size()[0]
    }

    fn narrow(&self, start: i64, length: i64) -> Self {
        Unlabelled { images: self.images.narrow(0, start, length) }
    }

    fn to_model(&self, device: Device, compute: &Compute) -> Self {
        Unlabelled { images: compute.prepare(&self.images.to_device(device)) }
    }
}

/// Images with their class labels.
pub struct Labelled {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Batch for Labelled {
    fn examples(&self) -> i64 {
        self.images.size()[0]
    }

    fn narrow(&self, start: i64, length: i64) -> Self {
        Labelled {
            images: self.images.narrow(0, start, length),
            labels: self.labels.narrow(0, start, length),
        }
    }

    fn to_model(&self, device: Device, compute: &Compute) -> Self {
        Labelled {
            images: compute.prepare(&self.images.to_device(device)),
            labels: self.labels.to_device(device),
        }
    }
}

/// How the driver optimises: the update rule, the learning rate it starts from and how the
/// rate moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optimisation {
    pub rule: Rule,
    pub lr: f64,
    pub lr_schedule: LrSchedule,
}

/// How the driver runs a task: how it optimises, for how long and how often it checks.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub optimisation: Optimisation,
    pub steps: u64,
    pub check_every: u64,
    pub images_per_step: u64,
    /// Micro-batches per step, memory layout and autocast.
    pub compute: Compute,
    /// Batches made ahead on a loader thread while a step computes (0: on the training
    /// thread, between steps); memory holds at most this many beyond the one in use.
    pub prefetch: usize,
}

impl Schedule {
    /// `steps` batches of `batch_size` optimised as `optimisation` says, checking every
    /// `check_images` images (at least every step) and at the end.
    pub fn new(
        optimisation: Optimisation,
        steps: u64,
        batch_size: u64,
        check_images: u64,
        compute: Compute,
    ) -> Self {
        Schedule {
            optimisation,
            steps,
            check_every: (check_images / batch_size.max(1)).max(1),
            images_per_step: batch_size,
            compute,
            prefetch: 1,
        }
    }
}

/// The optimisation of one run: an optimizer over the task's trainable tensors whose learning
/// rate the schedule sets, stepping on each batch in the micro-batches the schedule asks for.
pub struct Trainer<'t, T: Task> {
    task: &'t T,
    schedule: Schedule,
    optimizer: Optimizer,
    /// Where batches go: where the weights are.
    device: Device,
}

impl<'t, T: Task> Trainer<'t, T> {
    pub fn new(task: &'t T, schedule: Schedule) -> Self {
        let trainable = task.trainable();
        let device = trainable.first().map_or(Device::Cpu, |(_, tensor)| tensor.device());
        let Optimisation { rule, lr, .. } = schedule.optimisation;
        Trainer { task, schedule, optimizer: Optimizer::new(trainable, lr, rule), device }
    }

    /// The learning rate of the latest step.
    pub fn lr(&self) -> f64 {
        self.optimizer.lr
    }

    /// One optimisation step on `batch`, the data of step `step`; returns the batch's mean loss.
    pub fn step(&mut self, step: u64, batch: &T::Batch) -> f64 {
        let Optimisation { lr, lr_schedule, .. } = self.schedule.optimisation;
        if let Some(lr) = lr_schedule.at_step(lr, step) {
            self.optimizer.lr = lr;
        }
        let compute = self.schedule.compute;
        let task = self.task;
        if !task.replicas().is_empty() {
            // Each replica moves its own slices from the host.
            return data_parallel_step(task, &mut self.optimizer, &compute, self.device, batch);
        }
        let batch = batch.to_model(self.device, &compute);
        accumulated_step(&mut self.optimizer, &compute, self.device, &batch, &mut |part| {
            task.loss(part)
        })
    }

    /// What a checkpoint holds of the tensors: the model's, then the optimizer's state.
    fn tensors(&self) -> Vec<(String, Tensor)> {
        let mut tensors = self.task.tensors();
        tensors.extend(self.optimizer.state());
        tensors
    }

    /// Restores what [`Trainer::tensors`] saved, and the learning rate.
    fn restore(&mut self, saved: &HashMap<String, Tensor>, lr: f64) -> Result<(), String> {
        copy_named(&self.task.tensors(), saved)?;
        self.optimizer.restore(saved);
        self.optimizer.lr = lr;
        Ok(())
    }
}

/// One optimisation step on `batch`, split into micro-batches as `compute` says; `loss_of`
/// returns a micro-batch's mean loss. Gradients of the parts add up to the whole batch's; the
/// return value is the batch's mean loss.
pub(crate) fn accumulated_step<B: Batch>(
    optimizer: &mut Optimizer,
    compute: &Compute,
    device: Device,
    batch: &B,
    loss_of: &mut dyn FnMut(&B) -> Tensor,
) -> f64 {
    optimizer.zero_grad();
    let parts = compute.micro_batches(batch.examples());
    let losses =
        backward_parts(batch, parts, &mut |_, part| compute.autocast(device, || loss_of(part)));
    optimizer.step();
    mean_loss(&losses)
}

/// Back-propagates the loss of each part of `batch` (`parts`: its bounds, in order), weighted
/// by the part's share of the batch, so that the gradients add up to the whole batch's;
/// `loss_of(index, part)` gives part `index`'s mean loss. Returns each part's loss, unread,
/// and weight: [`mean_loss`] reads them once the step is launched.
fn backward_parts<B: Batch>(
    batch: &B,
    parts: Vec<(i64, i64)>,
    loss_of: &mut dyn FnMut(usize, &B) -> Tensor,
) -> Vec<(Tensor, f64)> {
    let n = batch.examples();
    let mut losses = Vec::new();
    for (index, (start, end)) in parts.into_iter().enumerate() {
        let loss = loss_of(index, &batch.narrow(start, end - start));
        let weight = (end - start) as f64 / n as f64;
        // Backward outside autocast, as libtorch recommends; no extra op for a single part.
        if end - start == n {
            loss.backward();
        } else {
            (&loss * weight).backward();
        }
        losses.push((loss.detach(), weight));
    }
    losses
}

/// The batch's mean loss from [`backward_parts`]' losses. Read only after the step is
/// launched: a GPU is not waited for between the parts.
fn mean_loss(losses: &[(Tensor, f64)]) -> f64 {
    losses.iter().map(|(loss, weight)| loss.double_value(&[]) * weight).sum()
}

/// Runs one step, turning libtorch's out-of-memory panic into advice on the batch size.
fn guarded_step<T: Task>(
    trainer: &mut Trainer<T>,
    step: u64,
    batch: &T::Batch,
) -> Result<f64, TrainError> {
    quiet_caught_out_of_memory_panics();
    GUARDED.with(|guarded| guarded.set(true));
    let run = std::panic::AssertUnwindSafe(|| trainer.step(step, batch));
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
            task: trainer.task.name(),
            step,
            batch_size: trainer.schedule.images_per_step,
            accumulation: trainer.schedule.compute.accumulation.max(1),
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// What a run hands back besides its trained model.
#[derive(Debug)]
pub struct Trained<R> {
    /// The losses of the first [`FIRST_LOSSES`] steps.
    pub first_losses: Vec<f64>,
    /// Every check's record, in order.
    pub log: Vec<R>,
}

/// What the driver records over a run; part of every checkpoint.
#[derive(Serialize, Deserialize)]
struct History<R> {
    first_losses: Vec<f64>,
    /// The training loss since the latest check.
    loss: LossMeter,
    plateau: Plateau,
    log: Vec<R>,
}

/// What a checkpoint holds besides tensors.
#[derive(Serialize, Deserialize)]
struct Saved<H> {
    /// The optimizer's learning rate.
    lr: f64,
    history: H,
}

/// Runs `task` for its schedule and returns the losses of its first [`FIRST_LOSSES`] steps
/// and its checks' log. On CPU, a run resumed from any checkpoint ends with the same bytes as
/// an uninterrupted one: each step reseeds libtorch from (seed, task, step) and data is
/// addressed by index.
pub fn drive<T: Task>(
    task: &T,
    schedule: Schedule,
    persistence: Option<&Persistence>,
    seed: u64,
) -> Result<Trained<T::Record>, TrainError> {
    let _running = stop::LoopRunning::start();
    let (schedule, seed) = crate::perturb::apply(&task.name(), schedule, seed);
    let history = History {
        first_losses: Vec::new(),
        loss: LossMeter::default(),
        plateau: Plateau::default(),
        log: Vec::new(),
    };
    let trainer = Trainer::new(task, schedule);
    let mut run = Run { trainer, persistence, seed, start: 0, history };
    if persistence.is_some_and(|p| p.resume) {
        run.resume()?;
    }
    let start = run.start;
    let mut loader = task.loader();
    if schedule.prefetch == 0 {
        run.steps(&mut |step| Some(loader(step)))?;
    } else {
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
            run.steps(&mut |_| batches.recv().ok())
        })?;
    }
    Ok(Trained { first_losses: run.history.first_losses, log: run.history.log })
}

/// One run of a loop: its optimisation, where it checkpoints, and what the driver records.
struct Run<'t, 'p, T: Task> {
    trainer: Trainer<'t, T>,
    persistence: Option<&'p Persistence>,
    seed: u64,
    start: u64,
    history: History<T::Record>,
}

impl<T: Task> Run<'_, '_, T> {
    /// Continues from the newest checkpoint, if there is one.
    fn resume(&mut self) -> Result<(), TrainError> {
        let Some(p) = self.persistence else { return Ok(()) };
        let Some(loaded) = p.checkpoints.latest::<Saved<History<T::Record>>>()? else {
            return Ok(());
        };
        self.trainer
            .restore(&loaded.tensors, loaded.state.lr)
            .map_err(|reason| TrainError::Restore { task: self.trainer.task.name(), reason })?;
        self.start = loaded.step;
        self.history = loaded.state.history;
        Ok(())
    }

    fn save(&self, step: u64, score: Option<f64>) -> Result<(), TrainError> {
        if let Some(p) = self.persistence {
            let saved = Saved { lr: self.trainer.lr(), history: &self.history };
            p.checkpoints.save(step, &self.trainer.tensors(), &saved, score)?;
        }
        Ok(())
    }

    /// The task's check after `steps_done` steps, logged; a plateau schedule then lowers the
    /// rate if the score stopped improving. Returns the score.
    fn check(&mut self, steps_done: u64) -> f64 {
        let train_loss = self.history.loss.take_mean();
        let at = CheckAt { steps_done, train_loss, lr: self.trainer.lr() };
        let (score, record) = self.trainer.task.check(&at);
        self.history.log.push(record);
        let lr_schedule = self.trainer.schedule.optimisation.lr_schedule;
        if let LrSchedule::Plateau { factor, patience } = lr_schedule {
            if self.history.plateau.stalled(score, patience) {
                self.trainer.optimizer.lr *= factor;
            }
        }
        score
    }

    fn steps(
        &mut self,
        next_batch: &mut dyn FnMut(u64) -> Option<T::Batch>,
    ) -> Result<(), TrainError> {
        let (name, schedule) = (self.trainer.task.name(), self.trainer.schedule);
        let mut progress =
            crate::progress::Progress::new(&name, schedule.steps * schedule.images_per_step);
        progress.set_position(self.start * schedule.images_per_step);
        for step in self.start..schedule.steps {
            if stop::requested() {
                if let Some(p) = self.persistence {
                    self.save(step, None)?;
                    return Err(TrainError::Interrupted { task: name, step, dir: p.dir.clone() });
                }
            }
            let Some(batch) = next_batch(step) else { break };
            tch::manual_seed(crate::seed::derive(self.seed, &name, &format!("step{step}")) as i64);
            let loss = guarded_step(&mut self.trainer, step, &batch)?;
            if !loss.is_finite() {
                let last_good =
                    self.persistence.and_then(|p| p.checkpoints.steps().last().copied());
                return Err(TrainError::NonFinite { task: name, step, loss, last_good });
            }
            crate::failpoint::hit("step", || format!("{name}@{step}"));
            self.history.loss.add(loss);
            if (step as usize) < FIRST_LOSSES {
                self.history.first_losses.push(loss);
            }
            let done = step + 1;
            progress.update(done * schedule.images_per_step, loss, self.trainer.lr());
            if done % schedule.check_every == 0 || done == schedule.steps {
                let score = self.check(done);
                self.save(done, Some(score))?;
            }
        }
        progress.finish();
        Ok(())
    }
}
