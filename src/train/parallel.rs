//! Data-parallel training within one process: AE pre-training is the one stage that cannot be
//! split into independent stages, so its batch is split over copies of the model on several
//! devices instead.
//!
//! Each step, the master's tensors are copied to every replica; the batch is cut into the
//! micro-batches [`Compute::micro_batches`] makes for `accumulation × replicas` parts, in order,
//! each replica taking `accumulation` consecutive ones; every part's loss, weighted by its share
//! of the batch, is back-propagated on its replica's device. The gradients are summed onto the
//! master, the optimizer steps there. The update is the one `--accumulate K×N` makes on one
//! device (N replicas): the same parts, the same weighted sum of gradients, up to rounding.
//!
//! Every part is launched from this thread and nothing waits for a device until the step's
//! losses are read at its end, so on GPUs the replicas' kernels overlap.
//!
//! Batch norm: as in accumulation (and PyTorch's DataParallel without SyncBatchNorm), each part
//! is normalised with its own statistics, so the update equals the one-device update of the
//! whole batch only for networks without batch norm in training mode. Running statistics:
//! each replica updates its own from its parts; the master then takes their mean, so every
//! replica counts once. (Accumulation updates them part after part instead, which weights the
//! last part more; the two differ by O(momentum²).)

use std::collections::HashMap;

use tch::{Device, Tensor};

use super::optim::{zero_grads, Optimizer};
use super::{backward_parts, copy_named, mean_loss, Batch, Task};
use crate::compute::Compute;
use crate::models::is_running_statistic;

/// A copy of a task's model on another device: what a data-parallel step needs of it.
pub trait Replica<B> {
    /// Where the copy computes.
    fn device(&self) -> Device;
    /// Every tensor of the copy (weights and BN statistics), named as the task names its own.
    fn tensors(&self) -> Vec<(String, Tensor)>;
    /// The copies of the tensors the task's optimizer updates, in the task's order.
    fn trainable(&self) -> Vec<(String, Tensor)>;
    /// The mean loss of `batch`, a micro-batch on the copy's device.
    fn loss(&self, batch: &B) -> Tensor;
}

/// One optimisation step of `task` (whose trainable tensors `optimizer` updates, on `device`)
/// on `batch`, split over the task's model and its [`Task::replicas`]; returns the batch's
/// mean loss.
pub(crate) fn data_parallel_step<T: Task>(
    task: &T,
    optimizer: &mut Optimizer,
    compute: &Compute,
    device: Device,
    batch: &T::Batch,
) -> f64 {
    let replicas = task.replicas();
    let master = task.tensors();
    broadcast(&master, replicas);
    let per_replica = compute.accumulation.max(1) as usize;
    let parts = Compute { accumulation: (per_replica * (1 + replicas.len())) as u64, ..*compute };
    optimizer.zero_grad();
    for replica in replicas {
        zero_grads(&replica.trainable());
    }
    let parts = parts.micro_batches(batch.examples());
    let losses = backward_parts(batch, parts, &mut |index, part| {
        let on = match index / per_replica {
            0 => None,
            r => Some(&replicas[r - 1]),
        };
        let part_device = on.map_or(device, |replica| replica.device());
        let part = part.to_model(part_device, compute);
        compute.autocast(part_device, || match on {
            None => task.loss(&part),
            Some(replica) => replica.loss(&part),
        })
    });
    gather_gradients(&task.trainable(), replicas);
    optimizer.step();
    average_running_statistics(&master, replicas);
    mean_loss(&losses)
}

/// Every replica gets the master's tensors (`master`).
fn broadcast<B>(master: &[(String, Tensor)], replicas: &[Box<dyn Replica<B>>]) {
    if replicas.is_empty() {
        return;
    }
    let source: HashMap<String, Tensor> =
        master.iter().map(|(name, tensor)| (name.clone(), tensor.shallow_clone())).collect();
    for replica in replicas {
        // Same model, same names and shapes: the copy cannot miss a tensor.
        copy_named(&replica.tensors(), &source).expect("a replica has the master's tensors");
    }
}

/// Adds every replica's gradients to the master's (`master`: the task's trainable tensors).
fn gather_gradients<B>(master: &[(String, Tensor)], replicas: &[Box<dyn Replica<B>>]) {
    tch::no_grad(|| {
        for replica in replicas {
            for ((_, target), (_, source)) in master.iter().zip(replica.trainable()) {
                let mut grad = target.grad();
                let _ = grad.g_add_(&source.grad().to_device(target.device()));
            }
        }
    });
}

/// The master's BN running statistics (among `master`, all its tensors) become the mean of
/// all replicas'.
fn average_running_statistics<B>(master: &[(String, Tensor)], replicas: &[Box<dyn Replica<B>>]) {
    if replicas.is_empty() {
        return;
    }
    let copies: Vec<HashMap<String, Tensor>> =
        replicas.iter().map(|replica| replica.tensors().into_iter().collect()).collect();
    tch::no_grad(|| {
        for (name, target) in master.iter().filter(|(name, _)| is_running_statistic(name)) {
            let mut target = target.shallow_clone();
            for copy in &copies {
                let _ = target.g_add_(&copy[name].to_device(target.device()));
            }
            let _ = target.g_div_scalar_((1 + replicas.len()) as f64);
        }
    });
}
