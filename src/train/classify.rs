//! Supervised classifier training, for profiles without pretrained weights (synthetic data,
//! Fashion-MNIST): cosine learning-rate decay over the run, batches drawn from a per-epoch
//! shuffle, and per family the optimizer and starting rate of [`ClassifyConfig::recipe`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::optim::{Optimizer, Rule};
use super::{
    accumulated_step, restore_with_optimizer, sorted_variables, with_optimizer, LossMeter, Task,
};
use crate::compute::Compute;
use crate::data::batch::epoch_order;
use crate::data::source::{ImageSource, Split};
use crate::eval::validation_accuracy;
use crate::models::classifier::Classifier;
use crate::models::{is_running_statistic, Family};

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
        let sgd = Rule::Sgd { momentum: 0.9, weight_decay: 5e-4 };
        // The measurements behind each choice: README, "Classifier recipes".
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyCheck {
    pub epoch: f64,
    pub train_loss: f64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClassifyState {
    pub loss: LossMeter,
    pub log: Vec<ClassifyCheck>,
}

pub struct TrainClassifier<'a> {
    classifier: &'a Classifier,
    source: &'a dyn ImageSource,
    config: ClassifyConfig,
    optimizer: Optimizer,
    state: ClassifyState,
}

fn named(classifier: &Classifier) -> Vec<(String, Tensor)> {
    sorted_variables(classifier.store().expect("only built-in classifiers are trained"))
}

impl<'a> TrainClassifier<'a> {
    pub fn new(
        classifier: &'a Classifier,
        source: &'a dyn ImageSource,
        config: ClassifyConfig,
    ) -> Self {
        let trainable: Vec<(String, Tensor)> =
            named(classifier).into_iter().filter(|(name, _)| !is_running_statistic(name)).collect();
        let optimizer = Optimizer::new(trainable, config.lr, config.rule);
        TrainClassifier { classifier, source, config, optimizer, state: ClassifyState::default() }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.source.len(Split::Train) / self.config.batch_size
    }

    pub fn steps(&self) -> u64 {
        self.config.epochs * self.steps_per_epoch()
    }

    pub fn log(&self) -> &[ClassifyCheck] {
        &self.state.log
    }

    fn scheduled_lr(&self, step: u64) -> f64 {
        let warmup = (self.config.warmup_epochs * self.steps_per_epoch() as f64).round() as u64;
        scheduled_lr(self.config.lr, warmup, self.steps(), step)
    }
}

/// The learning rate at `step` of `steps`: a linear rise to `peak` over the first `warmup`
/// steps (from `peak / warmup`, so no step is wasted at 0), then cosine decay to 0 over the rest.
fn scheduled_lr(peak: f64, warmup: u64, steps: u64, step: u64) -> f64 {
    let warmup = warmup.min(steps);
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
    0.5 * peak * (1.0 + (std::f64::consts::PI * progress).cos())
}

impl<'a> Task for TrainClassifier<'a> {
    type State = ClassifyState;
    type Loader = Box<dyn Fn(u64) -> Vec<Tensor> + Send + 'a>;

    fn name(&self) -> String {
        format!("train-{}", self.classifier.name)
    }

    fn state(&self) -> ClassifyState {
        self.state.clone()
    }

    fn tensors(&self) -> Vec<(String, Tensor)> {
        with_optimizer(named(self.classifier), &self.optimizer)
    }

    fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        state: ClassifyState,
    ) -> Result<(), String> {
        restore_with_optimizer(&named(self.classifier), &mut self.optimizer, tensors)?;
        self.state = state;
        Ok(())
    }

    /// Batch `step` is the next slice of its epoch's shuffle (epoch = step / steps per epoch).
    fn loader(&self) -> Self::Loader {
        let (source, seed) = (self.source, self.config.seed);
        let (batch, per_epoch) = (self.config.batch_size, self.steps_per_epoch());
        // The current epoch's order and which epoch it belongs to.
        let order = std::cell::RefCell::new((u64::MAX, Vec::new()));
        Box::new(move |step| {
            let (epoch, within) = (step / per_epoch, step % per_epoch);
            let mut order = order.borrow_mut();
            if order.0 != epoch {
                *order = (epoch, epoch_order(source.len(Split::Train), seed, epoch));
            }
            let indices = &order.1[(within * batch) as usize..((within + 1) * batch) as usize];
            let (images, labels) = source.labelled(Split::Train, indices);
            vec![images, labels]
        })
    }

    fn step(&mut self, step: u64, batch: Vec<Tensor>) -> f64 {
        let (classifier, compute) = (self.classifier, self.config.compute);
        let device = classifier.store().expect("built-in").device();
        let inputs = [compute.prepare(&batch[0].to_device(device)), batch[1].to_device(device)];
        self.optimizer.lr = self.scheduled_lr(step);
        let loss = accumulated_step(&mut self.optimizer, &compute, device, &inputs, &mut |part| {
            classifier.logits(&part[0], true).cross_entropy_for_logits(&part[1])
        });
        self.state.loss.add(loss);
        loss
    }

    fn check(&mut self, steps_done: u64) -> Option<f64> {
        let device = self.classifier.store().expect("built-in").device();
        let (images, batch) = (self.config.check_images, self.config.batch_size);
        let compute = &self.config.compute;
        let accuracy = validation_accuracy(self.source, images, batch, device, compute, &|x| {
            self.classifier.logits(x, false)
        });
        self.state.log.push(ClassifyCheck {
            epoch: steps_done as f64 / self.steps_per_epoch() as f64,
            train_loss: self.state.loss.take_mean(),
            accuracy,
        });
        Some(-accuracy)
    }

    fn learning_rate(&self) -> f64 {
        self.optimizer.lr
    }
}

#[cfg(test)]
mod tests {
    use super::scheduled_lr;

    #[test]
    fn warm_up_rises_linearly_then_the_cosine_decays_to_zero() {
        let lr = |step| scheduled_lr(0.1, 4, 20, step);
        let rise: Vec<f64> = (0..4).map(lr).collect();
        for (got, want) in rise.iter().zip([0.025, 0.05, 0.075, 0.1]) {
            assert!((got - want).abs() < 1e-12, "{rise:?}");
        }
        assert!((lr(4) - 0.1).abs() < 1e-12, "the decay starts at the peak");
        assert!((lr(12) - 0.05).abs() < 1e-12, "half-way through the decay: {}", lr(12));
        assert!(lr(19) > 0.0 && lr(19) < 0.002);
        assert!((1..20).all(|s| s <= 4 || lr(s) < lr(s - 1)), "decreasing after the warm-up");
    }

    #[test]
    fn no_warm_up_is_the_plain_cosine() {
        for step in 0..10 {
            let cosine = 0.05 * (1.0 + (std::f64::consts::PI * step as f64 / 10.0).cos());
            assert!((scheduled_lr(0.1, 0, 10, step) - cosine).abs() < 1e-12);
        }
    }
}
