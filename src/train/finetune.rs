//! Decoder-only fine-tuning (paper §3.3): reconstruction → the classifier's normalisation →
//! frozen classifier (eval mode) → cross-entropy. Gradients flow through the classifier into
//! the decoder; the encoder runs in eval mode without a graph; only the decoder is updated.
//! The paper also tried the encoder alone and both halves: `FinetuneConfig::part`.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::optim::{LrSchedule, Rule};
use super::pretrain::{ae_tensors, trainable_named};
use super::{CheckAt, Labelled, Optimisation, Schedule, Task};
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

impl FinetuneConfig {
    /// The one fine-tuning recipe, the pre-training's optimiser: SGD with momentum 0.9 from
    /// lr 0.01, constant, training the decoder; over `images` in batches of `batch_size`,
    /// checking accuracy on `check_images` validation images every `check_every` images. The
    /// caller sets what belongs to a run: `part`, `compute`.
    pub fn recipe(images: u64, batch_size: u64, check_every: u64, check_images: u64) -> Self {
        FinetuneConfig {
            images,
            batch_size,
            check_every,
            check_images,
            lr: 0.01,
            momentum: 0.9,
            part: Part::Decoder,
            compute: Compute::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneCheck {
    pub images: u64,
    pub train_loss: f64,
    /// Top-1 of classifier∘AE on the check images.
    pub accuracy: f64,
}

pub struct Finetune<'a> {
    ae: &'a AutoEncoder,
    classifier: &'a Classifier,
    source: &'a dyn ImageSource,
    config: FinetuneConfig,
}

impl<'a> Finetune<'a> {
    /// `classifier` must be frozen; `ae` is this classifier's own copy of the pre-trained AE.
    pub fn new(
        ae: &'a AutoEncoder,
        classifier: &'a Classifier,
        source: &'a dyn ImageSource,
        config: FinetuneConfig,
    ) -> Self {
        ae.fix_untrained(AeMode::Finetune(config.part));
        Finetune { ae, classifier, source, config }
    }

    pub fn steps(&self) -> u64 {
        self.config.images / self.config.batch_size
    }

    /// The configured budget with SGD at a constant rate.
    pub fn schedule(&self) -> Schedule {
        let c = &self.config;
        let rule = Rule::Sgd { momentum: c.momentum, weight_decay: 0.0 };
        let optimisation = Optimisation { rule, lr: c.lr, lr_schedule: LrSchedule::Constant };
        Schedule::new(optimisation, self.steps(), c.batch_size, c.check_every, c.compute)
    }

    fn mode(&self) -> AeMode {
        AeMode::Finetune(self.config.part)
    }
}

impl Task for Finetune<'_> {
    type Batch = Labelled;
    type Record = FinetuneCheck;

    fn name(&self) -> String {
        format!("finetune-{}", self.classifier.name)
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        ae_tensors(self.ae)
    }

    fn trainable(&self) -> Vec<(String, Tensor)> {
        trainable_named(self.ae, self.mode())
    }

    /// Batch `step` is training images `step·B .. (step+1)·B`, wrapping around the split.
    fn loader(&self) -> Box<dyn FnMut(u64) -> Labelled + Send + '_> {
        let (source, batch) = (self.source, self.config.batch_size);
        Box::new(move |step| {
            let train = source.len(Split::Train);
            let indices: Vec<u64> = (step * batch..(step + 1) * batch).map(|i| i % train).collect();
            let (images, labels) = source.labelled(Split::Train, &indices);
            Labelled { images, labels }
        })
    }

    fn loss(&self, batch: &Labelled) -> Tensor {
        let reconstruction = self.ae.forward(&batch.images, self.mode());
        self.classifier.logits(&reconstruction, false).cross_entropy_for_logits(&batch.labels)
    }

    fn check(&self, at: &CheckAt) -> (f64, FinetuneCheck) {
        let device = self.ae.encoder.device();
        let (images, batch) = (self.config.check_images, self.config.batch_size);
        let compute = &self.config.compute;
        let accuracy = validation_accuracy(self.source, images, batch, device, compute, &|x| {
            self.classifier.logits(&self.ae.forward(x, AeMode::Eval), false)
        });
        let images = at.steps_done * self.config.batch_size;
        (-accuracy, FinetuneCheck { images, train_loss: at.train_loss, accuracy })
    }
}
