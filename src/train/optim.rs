//! Stochastic gradient descent with momentum, PyTorch's semantics, with its state in the open
//! so that a checkpoint holds everything needed to resume bit for bit.

use tch::Tensor;

pub struct Sgd {
    /// The tensors it updates, by name (names key the momentum buffers in checkpoints).
    params: Vec<(String, Tensor)>,
    /// One buffer per parameter, undefined until that parameter's first gradient.
    buffers: Vec<Tensor>,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl Sgd {
    pub fn new(params: Vec<(String, Tensor)>, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        let buffers = params.iter().map(|_| Tensor::new()).collect();
        Sgd { params, buffers, lr, momentum, weight_decay }
    }

    pub fn zero_grad(&mut self) {
        for (_, param) in &mut self.params {
            let mut grad = param.grad();
            if grad.defined() {
                let _ = grad.detach_().zero_(); // the returned alias is the same tensor
            }
        }
    }

    /// d = g + wd·p; buf = d on the first step, else momentum·buf + d; p -= lr·buf.
    pub fn step(&mut self) {
        tch::no_grad(|| {
            for ((_, param), buffer) in self.params.iter_mut().zip(&mut self.buffers) {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let direction = if self.weight_decay != 0.0 {
                    &grad + &*param * self.weight_decay
                } else {
                    grad
                };
                if self.momentum == 0.0 {
                    let _ = param.g_sub_(&(direction * self.lr));
                    continue;
                }
                if buffer.defined() {
                    let _ = buffer.g_mul_scalar_(self.momentum).g_add_(&direction);
                } else {
                    *buffer = direction.copy();
                }
                let _ = param.g_sub_(&(&*buffer * self.lr));
            }
        });
    }

    pub fn backward_step(&mut self, loss: &Tensor) {
        self.zero_grad();
        loss.backward();
        self.step();
    }

    /// The momentum buffers that exist, named `momentum/<parameter name>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .zip(&self.buffers)
            .filter(|(_, buffer)| buffer.defined())
            .map(|((name, _), buffer)| (format!("momentum/{name}"), buffer.shallow_clone()))
            .collect()
    }

    /// Restores buffers saved by [`Sgd::state`]; parameters without a saved buffer start fresh.
    pub fn restore(&mut self, saved: &std::collections::HashMap<String, Tensor>) {
        for ((name, param), buffer) in self.params.iter().zip(&mut self.buffers) {
            *buffer = match saved.get(&format!("momentum/{name}")) {
                Some(tensor) => tensor.to_device(param.device()).copy(),
                None => Tensor::new(),
            };
        }
    }
}
