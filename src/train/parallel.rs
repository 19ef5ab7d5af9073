//! Data-parallel AE pre-training within one process: pre-training is the one stage that cannot
//! be split into independent stages, so its batch is split over replicas instead.
//!
//! Each replica (a copy of the AE on its own device) computes the loss of its slice of the
//! batch — the slices [`Compute::micro_batches`] makes, in order — and its gradients, weighted
//! by the slice's share of the batch. The gradients are summed onto the master (replica 0), the
//! optimizer steps there, and the master's tensors are copied back to every replica. The update
//! is the one `--accumulate K` makes on one device with K = the number of replicas: the same
//! slices, the same weighted sum of gradients, up to rounding.
//!
//! Batch norm: as in accumulation (and PyTorch's DataParallel without SyncBatchNorm), each
//! slice is normalised with its own statistics, so the update equals the one-device update of
//! the whole batch only for networks without batch norm in training mode. Running statistics:
//! each replica updates its own from its slice; the master then takes their mean, so every
//! slice counts once. (Accumulation updates them slice after slice instead, which weights the
//! last slice more; the two differ by O(momentum²).)

use tch::{Device, Reduction, Tensor};

use super::optim::Optimizer;
use super::pretrain::{normalized_mse, trainable_named};
use crate::compute::Compute;
use crate::models::is_running_statistic;
use crate::models::segnet::{AeMode, AutoEncoder};

/// Copies of a master AE on other devices.
pub struct Replicas {
    /// Replicas 1.. (replica 0 is the master itself).
    others: Vec<AutoEncoder>,
}

impl Replicas {
    /// Copies of `master` on `devices` (each device one more replica besides the master).
    pub fn new(master: &AutoEncoder, devices: &[Device]) -> Result<Self, tch::TchError> {
        let others = devices
            .iter()
            .map(|&device| {
                let mut copy = AutoEncoder::new(*master.net.config(), device);
                copy.encoder.copy(&master.encoder)?;
                copy.decoder.copy(&master.decoder)?;
                Ok(copy)
            })
            .collect::<Result<_, tch::TchError>>()?;
        Ok(Replicas { others })
    }

    /// The number of replicas, the master included.
    pub fn len(&self) -> usize {
        1 + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// One pre-training step of `master` (whose trainable tensors `optimizer` updates) on `images`,
    /// split over the master and the replicas; returns the batch's mean loss.
    pub fn pretrain_step(
        &mut self,
        master: &AutoEncoder,
        optimizer: &mut Optimizer,
        images: &Tensor,
    ) -> f64 {
        let n = images.size()[0];
        let slices = Compute { accumulation: self.len() as u64, ..Compute::default() };
        optimizer.zero_grad();
        let mut total = 0.0;
        let replicas = std::iter::once(master).chain(self.others.iter());
        for (ae, (start, end)) in replicas.zip(slices.micro_batches(n)) {
            zero_grads(ae);
            let part = images.narrow(0, start, end - start).to_device(ae.encoder.device());
            let loss =
                normalized_mse(ae, &ae.forward(&part, AeMode::Pretrain), &part, Reduction::Mean);
            let weight = (end - start) as f64 / n as f64;
            (&loss * weight).backward();
            total += loss.double_value(&[]) * weight;
        }
        self.gather_gradients(master);
        optimizer.step();
        self.average_running_statistics(master);
        self.broadcast(master);
        total
    }

    /// Adds every replica's gradients to the master's.
    fn gather_gradients(&self, master: &AutoEncoder) {
        let targets = trainable_named(master, AeMode::Pretrain);
        tch::no_grad(|| {
            for replica in &self.others {
                for ((_, target), (_, source)) in
                    targets.iter().zip(trainable_named(replica, AeMode::Pretrain))
                {
                    let mut grad = target.grad();
                    let _ = grad.g_add_(&source.grad().to_device(target.device()));
                }
            }
        });
    }

    /// The master's BN running statistics become the mean of all replicas'.
    fn average_running_statistics(&self, master: &AutoEncoder) {
        let replicas = self.len() as f64;
        tch::no_grad(|| {
            for (master_store, part) in [(&master.encoder, 0), (&master.decoder, 1)] {
                for (name, mut target) in master_store.variables() {
                    if !is_running_statistic(&name) {
                        continue;
                    }
                    for replica in &self.others {
                        let store = if part == 0 { &replica.encoder } else { &replica.decoder };
                        let _ = target.g_add_(&store.variables()[&name].to_device(target.device()));
                    }
                    let _ = target.g_div_scalar_(replicas);
                }
            }
        });
    }

    fn broadcast(&mut self, master: &AutoEncoder) {
        for replica in &mut self.others {
            // Same config, same names: copy cannot fail.
            replica.encoder.copy(&master.encoder).expect("replicas share the master's names");
            replica.decoder.copy(&master.decoder).expect("replicas share the master's names");
        }
    }
}

fn zero_grads(ae: &AutoEncoder) {
    for (_, tensor) in trainable_named(ae, AeMode::Pretrain) {
        let mut grad = tensor.grad();
        if grad.defined() {
            let _ = grad.detach_().zero_();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::segnet::SegNetConfig;
    use crate::train::{accumulated_step, Unlabelled};
    use tch::Kind;

    fn max_difference(a: &AutoEncoder, b: &AutoEncoder) -> f64 {
        trainable_named(a, AeMode::Pretrain)
            .iter()
            .zip(trainable_named(b, AeMode::Pretrain))
            .map(|((_, x), (_, y))| (x - y).abs().max().double_value(&[]))
            .fold(0.0, f64::max)
    }

    #[test]
    fn two_replicas_make_the_update_of_two_micro_batches_on_one_device() {
        tch::manual_seed(3);
        let one = AutoEncoder::new(SegNetConfig::scaled(16, 2), Device::Cpu);
        let two = one.duplicate().unwrap();
        let start = one.duplicate().unwrap();
        // An odd batch: the slices are 3 and 4 images, weighted 3/7 and 4/7.
        let images = Tensor::rand([7, 3, 16, 16], (Kind::Float, Device::Cpu));
        let optimizer = |ae: &AutoEncoder| {
            Optimizer::sgd(trainable_named(ae, AeMode::Pretrain), 0.01, 0.9, 0.0)
        };
        let (mut optimizer_one, mut optimizer_two) = (optimizer(&one), optimizer(&two));
        let accumulate = Compute { accumulation: 2, ..Compute::default() };
        let mut replicas = Replicas::new(&two, &[Device::Cpu]).unwrap();
        // Two steps, so that momentum and the copy back to the replica take part.
        for _ in 0..2 {
            let mut loss_of = |part: &Unlabelled| {
                normalized_mse(
                    &one,
                    &one.forward(&part.images, AeMode::Pretrain),
                    &part.images,
                    Reduction::Mean,
                )
            };
            let batch = Unlabelled { images: images.shallow_clone() };
            let expected = accumulated_step(
                &mut optimizer_one,
                &accumulate,
                Device::Cpu,
                &batch,
                &mut loss_of,
            );
            let loss = replicas.pretrain_step(&two, &mut optimizer_two, &images);
            assert!((loss - expected).abs() <= 1e-6 * expected.abs(), "{loss} vs {expected}");
        }
        let moved = max_difference(&one, &start);
        assert!(moved > 1e-4, "the steps changed the weights ({moved})");
        // Same sums of the same products, so equal up to float rounding.
        assert!(max_difference(&one, &two) <= 1e-6, "{}", max_difference(&one, &two));
        assert_eq!(
            max_difference(&two, &replicas.others[0]),
            0.0,
            "the replica holds the master's weights"
        );
    }
}
