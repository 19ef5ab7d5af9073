//! Supervised classifier training, for profiles without pretrained weights (synthetic data,
//! Fashion-MNIST): cosine learning-rate decay over the run, batches drawn from a per-epoch
//! shuffle, and per family the optimizer and starting rate of [`ClassifyConfig::recipe`].

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::optim::{LrSchedule, Rule};
use super::{sorted_variables, CheckAt, Labelled, Optimisation, Schedule, Task};
use crate::compute::Compute;
use crate::data::batch::epoch_order;
use crate::data::source::{ImageSource, Split};
use crate::eval::validation_accuracy;
use crate::models::classifier::Classifier;
use crate::models::{is_running_statistic, Family};

/// How many times a profile's labelled images the long recipes train on, where the data has
/// as many as asked (the synthetic world): 4 × the `small` profile's 10,240 keeps the long
/// runs from over-fitting them.
pub const LONG_TRAIN_FACTOR: u64 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifyConfig {
    pub epochs: u64,
    pub batch_size: u64,
    pub lr: f64,
    pub rule: Rule,
    pub check_images: u64,
    pub seed: u64,
    #[serde(default)]
    pub compute: Compute,
    /// Epochs over which the learning rate rises linearly from 0 before the cosine decay.
    #[serde(default)]
    pub warmup_epochs: f64,
}

impl ClassifyConfig {
    /// How `family` trains from scratch: the one recipe per family that the pipeline, the
    /// bench, the examples and the tests use, for `epochs` passes in batches of `batch_size`.
    /// The caller sets what belongs to a run: `check_images`, `seed`, `compute`.
    pub fn recipe(family: Family, epochs: u64, batch_size: u64) -> Self {
        let sgd = Self::sgd(5e-4);
        // The measurements behind each choice: docs/experiments/small-profile.md, "Classifier recipes".
        let (lr, rule) = match family {
            // Batch-normalised: they take the larger rate.
            Family::Vgg16Bn | Family::InceptionV3 => (0.1, sgd),
            // Without batch norm AlexNet barely moves for two epochs under SGD (and diverges
            // at 0.1); Adam gets it going from the first.
            Family::Alexnet => (1e-3, Rule::adam()),
            Family::Lenet5 | Family::Resnet50 => (0.05, sgd),
        };
        ClassifyConfig {
            epochs,
            batch_size,
            lr,
            rule,
            check_images: 0,
            seed: 0,
            compute: Compute::default(),
            warmup_epochs: 0.0,
        }
    }

    /// How `family` trains for a shipped set (`dnlts ship-classifiers`): once, for as long as
    /// it needs, on [`LONG_TRAIN_FACTOR`] times the profile's labelled images. The quick recipe's optimizer and
    /// rate, with the epochs and warm-up measured per family
    /// (docs/experiments/shipped-classifiers.md).
    pub fn long_recipe(family: Family, batch_size: u64) -> Self {
        let (epochs, warmup_epochs, lr) = match family {
            Family::Lenet5 => (6, 0.0, 0.05),
            // Without batch norm, and with dropout, AlexNet learns slowly: a lower rate for
            // many more epochs (1e-3 stalls at 44 % validation top-1).
            Family::Alexnet => (30, 0.0, 3e-4),
            Family::Vgg16Bn | Family::Resnet50 => (6, 1.0, 0.05),
            Family::InceptionV3 => (6, 1.0, 0.1),
        };
        ClassifyConfig { warmup_epochs, lr, ..Self::recipe(family, epochs, batch_size) }
    }

    /// SGD as the recipes use it: momentum 0.9, with `weight_decay` (the recipes': 5e-4).
    pub fn sgd(weight_decay: f64) -> Rule {
        Rule::Sgd { momentum: 0.9, weight_decay }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyCheck {
    pub epoch: f64,
    pub train_loss: f64,
    pub accuracy: f64,
}

pub struct TrainClassifier<'a> {
    classifier: &'a Classifier,
    source: &'a dyn ImageSource,
    config: ClassifyConfig,
}

/// Only built-in classifiers are trained: they have a store.
fn store(classifier: &Classifier) -> &tch::nn::VarStore {
    classifier.store().expect("only built-in classifiers are trained")
}

impl<'a> TrainClassifier<'a> {
    pub fn new(
        classifier: &'a Classifier,
        source: &'a dyn ImageSource,
        config: ClassifyConfig,
    ) -> Self {
        TrainClassifier { classifier, source, config }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.source.len(Split::Train) / self.config.batch_size
    }

    pub fn steps(&self) -> u64 {
        self.config.epochs * self.steps_per_epoch()
    }

    /// The configured epochs and optimizer with warm-up and cosine decay, checking every epoch.
    pub fn schedule(&self) -> Schedule {
        let c = &self.config;
        let warmup = (c.warmup_epochs * self.steps_per_epoch() as f64).round() as u64;
        let lr_schedule = LrSchedule::WarmupCosine { warmup, steps: self.steps() };
        let optimisation = Optimisation { rule: c.rule, lr: c.lr, lr_schedule };
        Schedule {
            check_every: self.steps_per_epoch().max(1),
            ..Schedule::new(optimisation, self.steps(), c.batch_size, 0, c.compute)
        }
    }
}

impl Task for TrainClassifier<'_> {
    type Batch = Labelled;
    type Record = ClassifyCheck;

    fn name(&self) -> String {
        format!("train-{}", self.classifier.name)
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        sorted_variables(store(self.classifier))
    }

    fn trainable(&self) -> Vec<(String, Tensor)> {
        self.tensors().into_iter().filter(|(name, _)| !is_running_statistic(name)).collect()
    }

    /// Batch `step` is the next slice of its epoch's shuffle (epoch = step / steps per epoch).
    fn loader(&self) -> Box<dyn FnMut(u64) -> Labelled + Send + '_> {
        let (source, seed) = (self.source, self.config.seed);
        let (batch, per_epoch) = (self.config.batch_size, self.steps_per_epoch());
        // The current epoch's order and which epoch it belongs to.
        let mut order = (u64::MAX, Vec::new());
        Box::new(move |step| {
            let (epoch, within) = (step / per_epoch, step % per_epoch);
            if order.0 != epoch {
                order = (epoch, epoch_order(source.len(Split::Train), seed, epoch));
            }
            let indices = &order.1[(within * batch) as usize..((within + 1) * batch) as usize];
            let (images, labels) = source.labelled(Split::Train, indices);
            Labelled { images, labels }
        })
    }

    fn loss(&self, batch: &Labelled) -> Tensor {
        self.classifier.logits(&batch.images, true).cross_entropy_for_logits(&batch.labels)
    }

    fn check(&self, at: &CheckAt) -> (f64, ClassifyCheck) {
        let device = store(self.classifier).device();
        let (images, batch) = (self.config.check_images, self.config.batch_size);
        let compute = &self.config.compute;
        let accuracy = validation_accuracy(self.source, images, batch, device, compute, &|x| {
            self.classifier.logits(x, false)
        });
        let epoch = at.steps_done as f64 / self.steps_per_epoch() as f64;
        (-accuracy, ClassifyCheck { epoch, train_loss: at.train_loss, accuracy })
    }
}
