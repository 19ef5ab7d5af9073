//! Layers shared by every model, with PyTorch's parameter names and initialisations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tch::nn::{self, Init, ModuleT};
use tch::{Kind, Tensor};

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightInit {
    /// PyTorch's default for Conv2d/Linear: U(-1/√fan_in, 1/√fan_in) for weight and bias.
    PytorchDefault,
    /// Kaiming normal over fan-out for ReLU, bias 0: torchvision's init for VGG and ResNet.
    KaimingFanOut,
}

fn weight_and_bias_init(init: WeightInit, fan_in: i64) -> (Init, Init) {
    match init {
        WeightInit::PytorchDefault => {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let uniform = Init::Uniform { lo: -bound, up: bound };
            (uniform, uniform)
        }
        WeightInit::KaimingFanOut => (
            Init::Kaiming {
                dist: nn::init::NormalOrUniform::Normal,
                fan: nn::init::FanInOut::FanOut,
                non_linearity: nn::init::NonLinearity::ReLU,
            },
            Init::Const(0.0),
        ),
    }
}

/// The shape of one 2-D convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub c_in: i64,
    pub c_out: i64,
    /// Kernel height and width.
    pub kernel: [i64; 2],
    pub stride: i64,
    /// Padding along height and width.
    pub padding: [i64; 2],
    pub bias: bool,
}

impl ConvSpec {
    /// A square `k`×`k` convolution with bias, stride 1 and "same" padding.
    pub fn same(c_in: i64, c_out: i64, k: i64) -> Self {
        ConvSpec { c_in, c_out, kernel: [k, k], stride: 1, padding: [k / 2, k / 2], bias: true }
    }

    pub fn stride(self, stride: i64) -> Self {
        ConvSpec { stride, ..self }
    }

    pub fn padding(self, padding: i64) -> Self {
        ConvSpec { padding: [padding, padding], ..self }
    }

    pub fn no_bias(self) -> Self {
        ConvSpec { bias: false, ..self }
    }
}

/// A 2-D convolution stored as `<path>.weight` (and `<path>.bias`).
#[derive(Debug)]
pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    stride: i64,
    padding: [i64; 2],
}

impl Conv2d {
    /// This convolution's shape with other weights (those of a folded batch norm).
    fn apply_with(&self, xs: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        let ys = xs.conv2d(weight, bias, [self.stride, self.stride], self.padding, [1, 1], 1);
        super::flops::record(xs, &ys, weight);
        ys
    }
}

impl nn::Module for Conv2d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.apply_with(xs, &self.weight, self.bias.as_ref())
    }
}

pub fn conv2d(path: &nn::Path, spec: ConvSpec, init: WeightInit) -> Conv2d {
    let fan_in = spec.c_in * spec.kernel[0] * spec.kernel[1];
    let (ws_init, bs_init) = weight_and_bias_init(init, fan_in);
    let weight =
        path.var("weight", &[spec.c_out, spec.c_in, spec.kernel[0], spec.kernel[1]], ws_init);
    let bias = spec.bias.then(|| path.var("bias", &[spec.c_out], bs_init));
    Conv2d { weight, bias, stride: spec.stride, padding: spec.padding }
}

/// Batch normalisation with PyTorch's state (`weight`, `bias`, `running_mean`, `running_var`)
/// and initialisation (bias 0, weight `gamma`, 1 in PyTorch; tch's own default weight init is
/// uniform).
pub fn batch_norm(path: &nn::Path, channels: i64, eps: f64, gamma: f64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        eps,
        momentum: 0.1,
        ws_init: Init::Const(gamma),
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(path, channels, config)
}

/// A fully connected layer with PyTorch's default initialisation, or `Randn(0, 0.01)` weights
/// and zero bias with `KaimingFanOut` (torchvision's VGG classifier init).
pub fn linear(path: &nn::Path, c_in: i64, c_out: i64, init: WeightInit) -> impl nn::Module {
    let (ws_init, bs_init) = match init {
        WeightInit::PytorchDefault => weight_and_bias_init(init, c_in),
        WeightInit::KaimingFanOut => (Init::Randn { mean: 0.0, stdev: 0.01 }, Init::Const(0.0)),
    };
    let config = nn::LinearConfig { ws_init, bs_init: Some(bs_init), bias: true };
    let layer = nn::linear(path, c_in, c_out, config);
    nn::func(move |xs| {
        let ys = xs.apply(&layer);
        super::flops::record(xs, &ys, &layer.ws);
        ys
    })
}

/// A convolution and the batch norm after it, stored as `<conv_path>.*` and `<bn_path>.*`:
/// the unit of VGG-BN, SegNet, Inception and ResNet, with the norm's scale (γ) starting at
/// `gamma`.
///
/// When the unit does not train (eval mode, every weight frozen: a frozen classifier, the
/// encoder during fine-tuning) batch norm is a fixed per-channel affine map, so it runs folded
/// into the convolution: one op forward and backward instead of two, equal up to rounding
/// (tests/models.rs and tests/fold.rs measure how close), unless folding is switched off
/// ([`set_batch_norm_folding`], `--no-fold-bn`). The folded weights are derived from the stored ones
/// and kept until any of those changes; the store itself, and so every saved file, holds the
/// unfolded weights.
pub fn conv_bn(
    conv_path: &nn::Path,
    bn_path: &nn::Path,
    spec: ConvSpec,
    init: WeightInit,
    bn_eps: f64,
    gamma: f64,
) -> ConvBn {
    let conv = conv2d(conv_path, spec, init);
    let bn = batch_norm(bn_path, spec.c_out, bn_eps, gamma);
    ConvBn { conv, bn, eps: bn_eps, folded: Mutex::new(None) }
}

/// See [`conv_bn`].
#[derive(Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: nn::BatchNorm,
    eps: f64,
    folded: Mutex<Option<Folded>>,
}

/// A convolution's weight and bias with its batch norm folded in, and the identity (address
/// and version) of every tensor they were computed from.
#[derive(Debug)]
struct Folded {
    weight: Tensor,
    bias: Tensor,
    sources: Vec<(usize, i64)>,
}

impl ConvBn {
    /// The stored tensors the unit computes with: conv weight and bias, γ, β, running mean
    /// and variance.
    fn sources(&self) -> impl Iterator<Item = &Tensor> {
        let bn = &self.bn;
        [Some(&self.conv.weight), self.conv.bias.as_ref(), bn.ws.as_ref(), bn.bs.as_ref()]
            .into_iter()
            .chain([Some(&bn.running_mean), Some(&bn.running_var)])
            .flatten()
    }

    /// What identifies the current values of the sources: an in-place update (an optimizer
    /// step, a weight load) bumps the version, a move or `set_data` changes the address.
    fn source_ids(&self) -> Vec<(usize, i64)> {
        self.sources().map(|t| (t.data_ptr() as usize, t.internal_version())).collect()
    }

    /// W·s and (b − μ)·s + β with s = γ / √(σ² + ε), computed in f64 and stored in the
    /// weight's kind.
    fn fold(&self) -> Folded {
        let sources = self.source_ids();
        tch::no_grad(|| {
            let f64_of = |t: &Tensor| t.to_kind(Kind::Double);
            let bn = &self.bn;
            let mut scale = (f64_of(&bn.running_var) + self.eps).rsqrt();
            if let Some(gamma) = &bn.ws {
                scale *= f64_of(gamma);
            }
            let mut bias = -f64_of(&bn.running_mean);
            if let Some(conv_bias) = &self.conv.bias {
                bias += f64_of(conv_bias);
            }
            bias *= &scale;
            if let Some(beta) = &bn.bs {
                bias += f64_of(beta);
            }
            let kind = self.conv.weight.kind();
            let weight = f64_of(&self.conv.weight) * scale.view([-1, 1, 1, 1]);
            Folded { weight: weight.to_kind(kind), bias: bias.to_kind(kind), sources }
        })
    }

    /// The folded convolution, computing the folded weights if the stored ones changed.
    fn forward_folded(&self, xs: &Tensor) -> Tensor {
        let mut folded = self.folded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if folded.as_ref().is_none_or(|f| f.sources != self.source_ids()) {
            *folded = Some(self.fold());
        }
        let Folded { weight, bias, .. } = folded.as_ref().expect("just folded");
        self.conv.apply_with(xs, weight, Some(bias))
    }
}

impl ModuleT for ConvBn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train || !batch_norm_folding() || self.sources().any(Tensor::requires_grad) {
            xs.apply(&self.conv).apply_t(&self.bn, train)
        } else {
            self.forward_folded(xs)
        }
    }
}

/// Whether units that do not train run with batch norm folded (see [`conv_bn`]).
static FOLD_BATCH_NORM: AtomicBool = AtomicBool::new(true);

/// Turns folding on (the default) or off for the whole process: `--no-fold-bn` (set from
/// [`crate::compute::Compute::fold_batch_norm`] when a run or a bench starts). A process-wide
/// setting because the units are built deep inside every model, and a run computes one way.
/// Off, frozen units run convolution and batch norm as two ops, as they train: the reference
/// the folded path is measured against.
pub fn set_batch_norm_folding(on: bool) {
    FOLD_BATCH_NORM.store(on, Ordering::Relaxed);
}

/// Whether units that do not train fold their batch norm; see [`set_batch_norm_folding`].
pub fn batch_norm_folding() -> bool {
    FOLD_BATCH_NORM.load(Ordering::Relaxed)
}

/// Convolution, batch norm, ReLU: the unit of SegNet.
pub fn conv_bn_relu(
    conv_path: &nn::Path,
    bn_path: &nn::Path,
    spec: ConvSpec,
    bn_eps: f64,
    init: WeightInit,
) -> impl nn::ModuleT {
    let unit = conv_bn(conv_path, bn_path, spec, init, bn_eps, 1.0);
    nn::func_t(move |xs, train| unit.forward_t(xs, train).relu())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    fn unit(store: &VarStore) -> ConvBn {
        let root = store.root();
        let spec = ConvSpec::same(3, 4, 3);
        conv_bn(&(&root / "conv"), &(&root / "bn"), spec, WeightInit::PytorchDefault, 1e-5, 0.5)
    }

    fn max_difference(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn a_frozen_unit_runs_folded_and_follows_changes_to_its_weights() {
        let mut store = VarStore::new(Device::Cpu);
        let unit = unit(&store);
        store.freeze();
        let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let mut outputs = Vec::new();
        for mean in [0.0, 0.5] {
            // In place, as a weight load writes: the fold made before must not be reused.
            let _ = tch::no_grad(|| unit.bn.running_mean.shallow_clone().fill_(mean));
            let y = unit.forward_t(&x, false);
            assert!(unit.folded.lock().unwrap().is_some(), "frozen, eval mode: folded");
            let unfolded = x.apply(&unit.conv).apply_t(&unit.bn, false);
            assert!(max_difference(&y, &unfolded) < 1e-5, "running mean {mean}");
            outputs.push(y);
        }
        assert!(max_difference(&outputs[0], &outputs[1]) > 0.1, "the new statistics count");
    }

    #[test]
    fn a_unit_that_trains_runs_batch_norm_unfolded() {
        let store = VarStore::new(Device::Cpu);
        let unit = unit(&store);
        let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        for train in [false, true] {
            let _ = unit.forward_t(&x, train);
            assert!(unit.folded.lock().unwrap().is_none(), "train = {train}");
        }
        let moved = unit.bn.running_mean.abs().max().double_value(&[]);
        assert!(moved > 0.0, "training mode updated the running statistics");
    }
}
