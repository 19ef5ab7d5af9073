//! AE pre-training (paper §3.2): MSE reconstruction on a stream of images never seen twice,
//! SGD with momentum 0.9 from lr 0.01 (or Adam, [`PretrainRecipe`]); every `check_every` images the loss on a fixed held-out
//! set is measured and, after two consecutive checks without improvement, lr ← 0.2·lr.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::{Reduction, Tensor};

use super::optim::{Optimizer, Rule};
use super::{
    accumulated_step, restore_with_optimizer, sorted_variables, with_optimizer, LossMeter, Task,
};
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
    /// The paper's SGD with momentum 0.9, or Adam for the scaled AEs (README, "The small
    /// profile's AE").
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
    /// the paper's 92 M images (README, "The small profile's autoencoder").
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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PretrainState {
    pub lr: f64,
    pub best: Option<f64>,
    pub checks_without_improvement: u32,
    pub loss: LossMeter,
    pub log: Vec<CheckRecord>,
}

pub struct Pretrain<'a> {
    ae: &'a AutoEncoder,
    source: &'a dyn ImageSource,
    config: PretrainConfig,
    optimizer: Optimizer,
    state: PretrainState,
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
        let optimizer =
            Optimizer::new(trainable_named(ae, AeMode::Pretrain), config.lr, config.rule);
        let state = PretrainState { lr: config.lr, ..Default::default() };
        Pretrain { ae, source, config, optimizer, state }
    }

    pub fn steps(&self) -> u64 {
        self.config.images / self.config.batch_size
    }

    pub fn log(&self) -> &[CheckRecord] {
        &self.state.log
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

impl<'a> Task for Pretrain<'a> {
    type State = PretrainState;
    type Loader = Box<dyn Fn(u64) -> Vec<Tensor> + Send + 'a>;

    fn name(&self) -> String {
        "pretrain".into()
    }

    fn state(&self) -> PretrainState {
        self.state.clone()
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        with_optimizer(ae_tensors(self.ae), &self.optimizer)
    }

    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: PretrainState,
    ) -> Result<(), String> {
        restore_with_optimizer(&ae_tensors(self.ae), &mut self.optimizer, tensors)?;
        self.optimizer.lr = state.lr;
        self.state = state;
        Ok(())
    }

    fn loader(&self) -> Self::Loader {
        let (source, batch) = (self.source, self.config.batch_size);
        Box::new(move |step| vec![source.stream(step * batch..(step + 1) * batch)])
    }

    fn step(&mut self, _: u64, batch: Vec<Tensor>) -> f64 {
        let (compute, ae) = (self.config.compute, self.ae);
        let device = ae.encoder.device();
        let images = compute.prepare(&batch[0].to_device(device));
        let loss =
            accumulated_step(&mut self.optimizer, &compute, device, &[images], &mut |part| {
                normalized_mse(
                    ae,
                    &ae.forward(&part[0], AeMode::Pretrain),
                    &part[0],
                    Reduction::Mean,
                )
            });
        self.state.loss.add(loss);
        loss
    }

    fn check(&mut self, steps_done: u64) -> Option<f64> {
        let heldout = self.heldout_loss();
        let train_loss = self.state.loss.take_mean();
        self.state.log.push(CheckRecord {
            images: steps_done * self.config.batch_size,
            train_loss,
            heldout_loss: heldout,
            lr: self.state.lr,
        });
        match self.state.best {
            Some(best) if heldout >= best => {
                self.state.checks_without_improvement += 1;
                if self.state.checks_without_improvement >= self.config.patience {
                    self.state.lr *= self.config.decay;
                    self.optimizer.lr = self.state.lr;
                    self.state.checks_without_improvement = 0;
                }
            }
            _ => {
                self.state.best = Some(heldout);
                self.state.checks_without_improvement = 0;
            }
        }
        Some(heldout)
    }

    fn learning_rate(&self) -> f64 {
        self.state.lr
    }
}
