//! Decoder-only fine-tuning (paper §3.3): reconstruction → the classifier's normalisation →
//! frozen classifier (eval mode) → cross-entropy. Gradients flow through the classifier into
//! the decoder; the encoder runs in eval mode without a graph; only the decoder is updated.
//! The paper also tried the encoder alone and both halves: `FinetuneConfig::part`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::optim::Optimizer;
use super::pretrain::{ae_tensors, trainable_named};
use super::{accumulated_step, restore_with_optimizer, with_optimizer, LossMeter, Task};
use crate::compute::Compute;
use crate::data::source::{ImageSource, Split};
use crate::eval::validation_accuracy;
use crate::models::classifier::Classifier;
use crate::models::segnet::{AeMode, AutoEncoder, Part};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneConfig {
    pub images: u64,
    pub batch_size: u64,
    pub check_every: u64,
    /// Validation images for the periodic accuracy check.
    pub check_images: u64,
    pub lr: f64,
    pub momentum: f64,
    /// Which half of the AE learns (the paper: the decoder).
    #[serde(default)]
    pub part: Part,
    #[serde(default)]
    pub compute: Compute,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneCheck {
    pub images: u64,
    pub train_loss: f64,
    /// Top-1 of classifier∘AE on the check images.
    pub accuracy: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FinetuneState {
    pub loss: LossMeter,
    pub log: Vec<FinetuneCheck>,
}

pub struct Finetune<'a> {
    ae: &'a AutoEncoder,
    classifier: &'a Classifier,
    source: &'a dyn ImageSource,
    config: FinetuneConfig,
    optimizer: Optimizer,
    state: FinetuneState,
}

impl<'a> Finetune<'a> {
    /// `classifier` must be frozen; `ae` is this classifier's own copy of the pre-trained AE.
    pub fn new(
        ae: &'a AutoEncoder,
        classifier: &'a Classifier,
        source: &'a dyn ImageSource,
        config: FinetuneConfig,
    ) -> Self {
        let mode = AeMode::Finetune(config.part);
        ae.fix_untrained(mode);
        let optimizer = Optimizer::sgd(trainable_named(ae, mode), config.lr, config.momentum, 0.0);
        Finetune { ae, classifier, source, config, optimizer, state: FinetuneState::default() }
    }

    pub fn steps(&self) -> u64 {
        self.config.images / self.config.batch_size
    }

    pub fn log(&self) -> &[FinetuneCheck] {
        &self.state.log
    }
}

impl<'a> Task for Finetune<'a> {
    type State = FinetuneState;
    type Loader = Box<dyn Fn(u64) -> Vec<Tensor> + Send + 'a>;

    fn name(&self) -> String {
        format!("finetune-{}", self.classifier.name)
    }

    fn state(&self) -> FinetuneState {
        self.state.clone()
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        with_optimizer(ae_tensors(self.ae), &self.optimizer)
    }

    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: FinetuneState,
    ) -> Result<(), String> {
        restore_with_optimizer(&ae_tensors(self.ae), &mut self.optimizer, tensors)?;
        self.state = state;
        Ok(())
    }

    /// Batch `step` is training images `step·B .. (step+1)·B`, wrapping around the split.
    fn loader(&self) -> Self::Loader {
        let (source, batch) = (self.source, self.config.batch_size);
        Box::new(move |step| {
            let train = source.len(Split::Train);
            let indices: Vec<u64> = (step * batch..(step + 1) * batch).map(|i| i % train).collect();
            let (images, labels) = source.labelled(Split::Train, &indices);
            vec![images, labels]
        })
    }

    fn step(&mut self, _: u64, batch: Vec<Tensor>) -> f64 {
        let (ae, classifier, compute) = (self.ae, self.classifier, self.config.compute);
        let device = ae.encoder.device();
        let inputs = [compute.prepare(&batch[0].to_device(device)), batch[1].to_device(device)];
        let mode = AeMode::Finetune(self.config.part);
        let loss = accumulated_step(&mut self.optimizer, &compute, device, &inputs, &mut |part| {
            classifier.logits(&ae.forward(&part[0], mode), false).cross_entropy_for_logits(&part[1])
        });
        self.state.loss.add(loss);
        loss
    }

    fn check(&mut self, steps_done: u64) -> Option<f64> {
        let device = self.ae.encoder.device();
        let (images, batch) = (self.config.check_images, self.config.batch_size);
        let compute = &self.config.compute;
        let accuracy = validation_accuracy(self.source, images, batch, device, compute, &|x| {
            self.classifier.logits(&self.ae.forward(x, AeMode::Eval), false)
        });
        self.state.log.push(FinetuneCheck {
            images: steps_done * self.config.batch_size,
            train_loss: self.state.loss.take_mean(),
            accuracy,
        });
        Some(-accuracy)
    }

    fn learning_rate(&self) -> f64 {
        self.optimizer.lr
    }
}
