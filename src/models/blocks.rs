//! Layers shared by every model, with PyTorch's parameter names and initialisations.

use tch::nn::{self, Init};

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
pub fn conv2d(path: &nn::Path, spec: ConvSpec, init: WeightInit) -> impl nn::Module {
    let fan_in = spec.c_in * spec.kernel[0] * spec.kernel[1];
    let (ws_init, bs_init) = weight_and_bias_init(init, fan_in);
    let weight =
        path.var("weight", &[spec.c_out, spec.c_in, spec.kernel[0], spec.kernel[1]], ws_init);
    let bias = spec.bias.then(|| path.var("bias", &[spec.c_out], bs_init));
    nn::func(move |xs| {
        let ys =
            xs.conv2d(&weight, bias.as_ref(), [spec.stride, spec.stride], spec.padding, [1, 1], 1);
        super::flops::record(xs, &ys, &weight);
        ys
    })
}

/// Batch normalisation with PyTorch's state (`weight`, `bias`, `running_mean`, `running_var`)
/// and initialisation (weight 1, bias 0; tch's own default weight init is uniform).
pub fn batch_norm(path: &nn::Path, channels: i64, eps: f64) -> nn::BatchNorm {
    batch_norm_with_scale(path, channels, eps, 1.0)
}

/// [`batch_norm`] with its scale (γ) starting at `gamma` instead of 1.
pub fn batch_norm_with_scale(
    path: &nn::Path,
    channels: i64,
    eps: f64,
    gamma: f64,
) -> nn::BatchNorm {
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

/// Convolution, batch norm, ReLU: the unit of VGG-BN, SegNet and Inception.
pub fn conv_bn_relu(
    conv_path: &nn::Path,
    bn_path: &nn::Path,
    spec: ConvSpec,
    bn_eps: f64,
    init: WeightInit,
) -> impl nn::ModuleT {
    let conv = conv2d(conv_path, spec, init);
    let bn = batch_norm(bn_path, spec.c_out, bn_eps);
    nn::func_t(move |xs, train| xs.apply(&conv).apply_t(&bn, train).relu())
}
