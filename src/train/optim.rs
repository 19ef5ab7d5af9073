//! The optimizers, PyTorch's semantics, with their state in the open so that a checkpoint
//! holds everything needed to resume bit for bit: SGD with momentum (the paper's, and every
//! classifier's) and Adam (the scaled AE's pre-training, see `PretrainConfig`); and the
//! learning-rate schedules the training driver moves their rate with.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// How the update is made from the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// d = g + wd·p; buf = d on the first step, else momentum·buf + d; p -= lr·buf.
    Sgd { momentum: f64, weight_decay: f64 },
    /// m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p -= lr·m̂ / (√v̂ + ε), with m̂, v̂ the
    /// bias-corrected averages after t steps of that parameter.
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

impl Rule {
    /// PyTorch's default Adam.
    pub fn adam() -> Self {
        Rule::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// How the learning rate moves during a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The starting rate throughout (fine-tuning).
    Constant,
    /// A linear rise to the starting rate over the first `warmup` steps, then cosine decay to
    /// 0 at step `steps` (the classifiers). `steps` is the whole run's, so a run driven for
    /// fewer steps sees the rates of the full run's first steps.
    WarmupCosine { warmup: u64, steps: u64 },
    /// The rate × `factor` after `patience` checks in a row without a better score (the paper's
    /// pre-training).
    Plateau { factor: f64, patience: u32 },
}

impl LrSchedule {
    /// The rate of step `step` for a schedule that sets it by step number (None: the rate
    /// stays as it is).
    pub fn at_step(&self, start: f64, step: u64) -> Option<f64> {
        match *self {
            LrSchedule::WarmupCosine { warmup, steps } => {
                Some(warmup_cosine(start, warmup, steps, step))
            }
            LrSchedule::Constant | LrSchedule::Plateau { .. } => None,
        }
    }
}

/// The learning rate at `step` of `steps`: a linear rise to `peak` over the first `warmup`
/// steps (from `peak / warmup`, so no step is wasted at 0), then cosine decay to 0 over the rest.
fn warmup_cosine(peak: f64, warmup: u64, steps: u64, step: u64) -> f64 {
    let warmup = warmup.min(steps);
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
    0.5 * peak * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// What a plateau schedule remembers between checks; part of every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plateau {
    best: Option<f64>,
    checks_without_improvement: u32,
}

impl Plateau {
    /// Takes a check's `score` (lower is better); true when it makes `patience` checks in a
    /// row without improvement, the moment to lower the rate (the count then starts afresh).
    pub fn stalled(&mut self, score: f64, patience: u32) -> bool {
        match self.best {
            Some(best) if score >= best => {
                self.checks_without_improvement += 1;
                let stalled = self.checks_without_improvement >= patience;
                if stalled {
                    self.checks_without_improvement = 0;
                }
                stalled
            }
            _ => {
                self.best = Some(score);
                self.checks_without_improvement = 0;
                false
            }
        }
    }
}

pub struct Optimizer {
    /// The tensors it updates, by name (names key the buffers in checkpoints).
    params: Vec<(String, Tensor)>,
    /// Per parameter: the momentum buffer (SGD) or first moment (Adam), undefined until that
    /// parameter's first gradient.
    first: Vec<Tensor>,
    /// Per parameter, Adam only: the second moment.
    second: Vec<Tensor>,
    /// Per parameter, Adam only: updates made so far (for the bias correction).
    steps: Vec<u64>,
    pub lr: f64,
    pub rule: Rule,
}

impl Optimizer {
    pub fn new(params: Vec<(String, Tensor)>, lr: f64, rule: Rule) -> Self {
        let undefined = || params.iter().map(|_| Tensor::new()).collect::<Vec<_>>();
        let (first, second, steps) = (undefined(), undefined(), vec![0; params.len()]);
        Optimizer { params, first, second, steps, lr, rule }
    }

    /// SGD with momentum and weight decay.
    pub fn sgd(params: Vec<(String, Tensor)>, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Self::new(params, lr, Rule::Sgd { momentum, weight_decay })
    }

    pub fn zero_grad(&mut self) {
        zero_grads(&self.params);
    }

    pub fn step(&mut self) {
        tch::no_grad(|| {
            for i in 0..self.params.len() {
                let grad = self.params[i].1.grad();
                if !grad.defined() {
                    continue;
                }
                match self.rule {
                    Rule::Sgd { momentum, weight_decay } => {
                        self.sgd_update(i, grad, momentum, weight_decay)
                    }
                    Rule::Adam { beta1, beta2, eps } => {
                        self.adam_update(i, grad, beta1, beta2, eps)
                    }
                }
            }
        });
    }

    fn sgd_update(&mut self, i: usize, grad: Tensor, momentum: f64, weight_decay: f64) {
        let (param, buffer) = (&mut self.params[i].1, &mut self.first[i]);
        let direction = if weight_decay != 0.0 { &grad + &*param * weight_decay } else { grad };
        if momentum == 0.0 {
            let _ = param.g_sub_(&(direction * self.lr));
            return;
        }
        if buffer.defined() {
            let _ = buffer.g_mul_scalar_(momentum).g_add_(&direction);
        } else {
            *buffer = direction.copy();
        }
        let _ = param.g_sub_(&(&*buffer * self.lr));
    }

    fn adam_update(&mut self, i: usize, grad: Tensor, beta1: f64, beta2: f64, eps: f64) {
        if !self.first[i].defined() {
            self.first[i] = grad.zeros_like();
            self.second[i] = grad.zeros_like();
        }
        self.steps[i] += 1;
        let t = self.steps[i] as i32;
        let _ = self.first[i].g_mul_scalar_(beta1).g_add_(&(&grad * (1.0 - beta1)));
        let _ = self.second[i].g_mul_scalar_(beta2).g_add_(&(&grad * &grad * (1.0 - beta2)));
        let (correction1, correction2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        let denominator = (&self.second[i] / correction2).sqrt() + eps;
        let update = &self.first[i] / denominator * (self.lr / correction1);
        let _ = self.params[i].1.g_sub_(&update);
    }

    pub fn backward_step(&mut self, loss: &Tensor) {
        self.zero_grad();
        loss.backward();
        self.step();
    }

    /// The buffers that exist: `momentum/<parameter name>` (SGD's buffer, Adam's first
    /// moment), and for Adam `second-moment/<name>` and `adam-steps/<name>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut state = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            if !self.first[i].defined() {
                continue;
            }
            state.push((format!("momentum/{name}"), self.first[i].shallow_clone()));
            if let Rule::Adam { .. } = self.rule {
                state.push((format!("second-moment/{name}"), self.second[i].shallow_clone()));
                let steps = Tensor::from_slice(&[self.steps[i] as i64]);
                state.push((format!("adam-steps/{name}"), steps));
            }
        }
        state
    }

    /// Restores buffers saved by [`Optimizer::state`]; parameters without a saved buffer start
    /// fresh.
    pub fn restore(&mut self, saved: &HashMap<String, Tensor>) {
        for (i, (name, param)) in self.params.iter().enumerate() {
            let load = |prefix: &str| match saved.get(&format!("{prefix}/{name}")) {
                Some(tensor) => tensor.to_device(param.device()).copy(),
                None => Tensor::new(),
            };
            self.first[i] = load("momentum");
            self.second[i] = load("second-moment");
            let steps = load("adam-steps");
            self.steps[i] = if steps.defined() { steps.int64_value(&[0]) as u64 } else { 0 };
        }
    }
}

/// Zeroes the gradients of `tensors` that have one.
pub(crate) fn zero_grads(tensors: &[(String, Tensor)]) {
    for (_, tensor) in tensors {
        let mut grad = tensor.grad();
        if grad.defined() {
            let _ = grad.detach_().zero_(); // the returned alias is the same tensor
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{warmup_cosine, Plateau};

    #[test]
    fn warm_up_rises_linearly_then_the_cosine_decays_to_zero() {
        let lr = |step| warmup_cosine(0.1, 4, 20, step);
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
            assert!((warmup_cosine(0.1, 0, 10, step) - cosine).abs() < 1e-12);
        }
    }

    #[test]
    fn a_plateau_stalls_after_patience_checks_without_improvement() {
        let mut plateau = Plateau::default();
        let stalls: Vec<bool> =
            [3.0, 2.0, 2.0, 2.5, 1.0, 1.0, 1.0].iter().map(|&s| plateau.stalled(s, 2)).collect();
        assert_eq!(stalls, [false, false, false, true, false, false, true]);
    }
}
