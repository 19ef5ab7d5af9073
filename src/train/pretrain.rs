//! AE pre-training (paper §3.2): MSE reconstruction on a stream of images never seen twice,
//! SGD with momentum 0.9 from lr 0.01 (or Adam, [`PretrainRecipe`]); every `check_every` images
//! the loss on a fixed held-out set is measured and, after two consecutive checks without
//! improvement, lr ← 0.2·lr.

use serde::{Deserialize, Serialize};
use tch::{Device, Reduction, Tensor};

use super::optim::{LrSchedule, Rule};
use super::parallel::Replica;
use super::{sorted_variables, CheckAt, Optimisation, Schedule, Task, Unlabelled};
use crate::compute::Compute;
use crate::data::source::{ImageSource, Split};
use crate::models::is_running_statistic;
use crate::models::segnet::{AeMode, AutoEncoder};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainConfig {
    pub images: u64,
    pub batch_size: u64,
    pub check_every: u64,
    /// Images of the validation split used as the fixed held-out set.
    pub heldout_images: u64,
    pub lr: f64,
    /// The paper's SGD with momentum 0.9, or Adam for the scaled AEs
    /// (docs/experiments/small-profile.md).
    pub rule: Rule,
    /// Factor applied to lr after `patience` checks without improvement.
    pub decay: f64,
    pub patience: u32,
    #[serde(default)]
    pub compute: Compute,
}

/// How the AE is optimised during pre-training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "optimizer")]
pub enum PretrainRecipe {
    /// The paper's: SGD with momentum 0.9 from lr 0.01.
    Paper,
    /// Adam from `lr`: the scaled AEs of the CPU profiles, whose budgets are a thousandth of
    /// the paper's 92 M images (docs/experiments/small-profile.md).
    Adam { lr: f64 },
}

impl PretrainConfig {
    /// `recipe`'s optimiser with the paper's schedule (lr × 0.2 after two checks without
    /// improvement) for a given budget.
    pub fn new(
        recipe: PretrainRecipe,
        images: u64,
        batch_size: u64,
        check_every: u64,
        heldout_images: u64,
    ) -> Self {
        let (lr, rule) = match recipe {
            PretrainRecipe::Paper => (0.01, Rule::Sgd { momentum: 0.9, weight_decay: 0.0 }),
            PretrainRecipe::Adam { lr } => (lr, Rule::adam()),
        };
        PretrainConfig {
            images,
            batch_size,
            check_every,
            heldout_images,
            lr,
            rule,
            decay: 0.2,
            patience: 2,
            compute: Compute::default(),
        }
    }

    /// The paper's optimiser and schedule for a given budget.
    pub fn paper_recipe(
        images: u64,
        batch_size: u64,
        check_every: u64,
        heldout_images: u64,
    ) -> Self {
        Self::new(PretrainRecipe::Paper, images, batch_size, check_every, heldout_images)
    }
}

/// One held-out check: the data of Figure 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub images: u64,
    /// Mean training MSE since the previous check (an unbiased estimate: no image repeats).
    pub train_loss: f64,
    pub heldout_loss: f64,
    pub lr: f64,
    /// The held-out MSE on a second set, when the run has one (Figure 2's second regime:
    /// YFCC100m images for an AE trained on ImageNet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_heldout_loss: Option<f64>,
}

pub struct Pretrain<'a> {
    ae: &'a AutoEncoder,
    source: &'a dyn ImageSource,
    config: PretrainConfig,
    /// A second held-out set (its validation split), checked beside the source's own.
    second_heldout: Option<&'a dyn ImageSource>,
    /// Copies of the AE on other devices sharing each batch ([`Pretrain::data_parallel`]).
    replicas: Vec<Box<dyn Replica<Unlabelled>>>,
}

/// A copy of the pre-trained AE on another device.
struct AeReplica(AutoEncoder);

impl Replica<Unlabelled> for AeReplica {
    fn device(&self) -> Device {
        self.0.encoder.device()
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        ae_tensors(&self.0)
    }

    fn trainable(&self) -> Vec<(String, Tensor)> {
        trainable_named(&self.0, AeMode::Pretrain)
    }

    fn loss(&self, batch: &Unlabelled) -> Tensor {
        reconstruction_loss(&self.0, &batch.images)
    }
}

/// The pre-training loss of `ae` on `images`: the mean MSE of their reconstruction.
fn reconstruction_loss(ae: &AutoEncoder, images: &Tensor) -> Tensor {
    normalized_mse(ae, &ae.forward(images, AeMode::Pretrain), images, Reduction::Mean)
}

/// Every tensor of the AE (weights and BN statistics), sorted by name.
pub fn ae_tensors(ae: &AutoEncoder) -> Vec<(String, Tensor)> {
    let mut all = sorted_variables(&ae.encoder);
    all.extend(sorted_variables(&ae.decoder));
    all
}

/// The AE's trainable tensors for `mode`, by name, sorted: those of the parts `mode` trains
/// (see [`AeMode::trains`]), without BN statistics.
pub fn trainable_named(ae: &AutoEncoder, mode: AeMode) -> Vec<(String, Tensor)> {
    let (encoder_trains, decoder_trains) = mode.trains();
    let trains = |name: &str| {
        (encoder_trains && name.starts_with("encoder."))
            || (decoder_trains && name.starts_with("decoder."))
    };
    ae_tensors(ae)
        .into_iter()
        .filter(|(name, _)| trains(name) && !is_running_statistic(name))
        .collect()
}

impl<'a> Pretrain<'a> {
    pub fn new(ae: &'a AutoEncoder, source: &'a dyn ImageSource, config: PretrainConfig) -> Self {
        Pretrain { ae, source, config, second_heldout: None, replicas: Vec::new() }
    }

    /// Also trains copies of the AE on `devices`, one each, data-parallel with the AE itself
    /// (see [`crate::train::parallel`]): each step's batch is split over them all.
    pub fn data_parallel(self, devices: &[Device]) -> Result<Self, tch::TchError> {
        let mut replicas: Vec<Box<dyn Replica<Unlabelled>>> = Vec::new();
        for &device in devices {
            replicas.push(Box::new(AeReplica(self.ae.duplicate_on(device)?)));
        }
        Ok(Pretrain { replicas, ..self })
    }

    /// Also checks the first `heldout_images` validation images of `heldout` (the score that
    /// drives the schedule stays the source's own held-out loss).
    pub fn with_second_heldout(self, heldout: &'a dyn ImageSource) -> Self {
        Pretrain { second_heldout: Some(heldout), ..self }
    }

    pub fn steps(&self) -> u64 {
        self.config.images / self.config.batch_size
    }

    /// The configured budget and optimizer, the rate lowered on a plateau of the held-out loss.
    pub fn schedule(&self) -> Schedule {
        let c = &self.config;
        let lr_schedule = LrSchedule::Plateau { factor: c.decay, patience: c.patience };
        let optimisation = Optimisation { rule: c.rule, lr: c.lr, lr_schedule };
        Schedule::new(optimisation, self.steps(), c.batch_size, c.check_every, c.compute)
    }

    /// Mean MSE over the held-out images, in evaluation mode.
    pub fn heldout_loss(&self) -> f64 {
        heldout_mse(self.ae, self.source, self.config.heldout_images, self.config.batch_size)
    }
}

/// MSE between reconstruction and input in the AE's normalised space (ImageNet mean/std), as
/// the authors train it: in [0, 1] RGB the same loss is ~20× smaller and so are its gradients,
/// which the paper's learning rate of 0.01 is not meant for.
pub fn normalized_mse(
    ae: &AutoEncoder,
    reconstruction: &Tensor,
    images: &Tensor,
    reduction: Reduction,
) -> Tensor {
    let normalization = ae.net.config().normalization;
    normalization.apply(reconstruction).mse_loss(&normalization.apply(images), reduction)
}

/// Mean reconstruction MSE (normalised space) of `ae` over the first `images` validation
/// images.
pub fn heldout_mse(ae: &AutoEncoder, source: &dyn ImageSource, images: u64, batch: u64) -> f64 {
    let mut total = 0.0;
    let mut start = 0;
    while start < images {
        let end = (start + batch).min(images);
        let (x, _) = source.labelled(Split::Validation, &crate::data::source::range(start, end));
        let x = x.to_device(ae.encoder.device());
        let loss =
            tch::no_grad(|| normalized_mse(ae, &ae.forward(&x, AeMode::Eval), &x, Reduction::Sum));
        total += loss.double_value(&[]);
        start = end;
    }
    let per_image = (3 * source.image_size() * source.image_size()) as f64;
    total / (images as f64 * per_image)
}

impl Task for Pretrain<'_> {
    type Batch = Unlabelled;
    type Record = CheckRecord;

    fn name(&self) -> String {
        "pretrain".into()
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        ae_tensors(self.ae)
    }

    fn trainable(&self) -> Vec<(String, Tensor)> {
        trainable_named(self.ae, AeMode::Pretrain)
    }

    fn loader(&self) -> Box<dyn FnMut(u64) -> Unlabelled + Send + '_> {
        let (source, batch) = (self.source, self.config.batch_size);
        Box::new(move |step| Unlabelled { images: source.stream(step * batch..(step + 1) * batch) })
    }

    fn loss(&self, batch: &Unlabelled) -> Tensor {
        reconstruction_loss(self.ae, &batch.images)
    }

    fn replicas(&self) -> &[Box<dyn Replica<Unlabelled>>] {
        &self.replicas
    }

    fn check(&self, at: &CheckAt) -> (f64, CheckRecord) {
        let heldout = self.heldout_loss();
        let record = CheckRecord {
            images: at.steps_done * self.config.batch_size,
            train_loss: at.train_loss,
            heldout_loss: heldout,
            lr: at.lr,
            second_heldout_loss: self.second_heldout.and_then(|source| {
                let images = self.config.heldout_images.min(source.len(Split::Validation));
                (images > 0).then(|| heldout_mse(self.ae, source, images, self.config.batch_size))
            }),
        };
        (heldout, record)
    }
}
