//! Inception v3 as torchvision builds it (BN eps 0.001, optional auxiliary classifier,
//! `transform_input`), and a narrower version for small inputs with the same inception modules
//! (parallel 1×1 / 3×3 / 5×5 or factorised 7×7 / pooling branches) behind a stride-1 stem.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::blocks::{conv_bn, linear, ConvSpec, WeightInit};

const BN_EPS: f64 = 0.001;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InceptionConfig {
    pub width_divisor: i64,
    /// torchvision's stem (299×299 → 35×35) or, for 32×32 inputs, one stride-2 conv and no pools.
    pub imagenet_stem: bool,
    /// Build the auxiliary classifier (`AuxLogits`); it only contributes to training losses.
    pub aux_logits: bool,
    /// Re-normalise ImageNet-normalised input to the (x - 0.5) / 0.5 the pretrained weights
    /// expect, as torchvision does for them.
    pub transform_input: bool,
}

impl InceptionConfig {
    pub fn paper() -> Self {
        InceptionConfig {
            width_divisor: 1,
            imagenet_stem: true,
            aux_logits: true,
            transform_input: true,
        }
    }

    pub fn scaled(divisor: i64) -> Self {
        InceptionConfig {
            width_divisor: divisor,
            imagenet_stem: false,
            aux_logits: false,
            transform_input: false,
        }
    }
}

/// Conv (no bias) + BN + ReLU stored as `<path>.conv` and `<path>.bn`.
fn basic(
    path: &nn::Path,
    c_in: i64,
    c_out: i64,
    kernel: [i64; 2],
    stride: i64,
    pad: [i64; 2],
) -> nn::SequentialT {
    let spec = ConvSpec { c_in, c_out, kernel, stride, padding: pad, bias: false };
    let init = WeightInit::KaimingFanOut;
    nn::seq_t()
        .add(conv_bn(&(path / "conv"), &(path / "bn"), spec, init, BN_EPS, 1.0))
        .add_fn(|xs| xs.relu())
}

fn square(
    path: &nn::Path,
    c_in: i64,
    c_out: i64,
    k: i64,
    stride: i64,
    pad: i64,
) -> nn::SequentialT {
    basic(path, c_in, c_out, [k, k], stride, [pad, pad])
}

fn avg_pool_3x3(xs: &Tensor) -> Tensor {
    xs.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None::<i64>)
}

fn max_pool_3x3_s2(xs: &Tensor) -> Tensor {
    xs.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

/// Channel widths divided by the config's divisor.
struct Widths(i64);

impl Widths {
    fn of(&self, channels: i64) -> i64 {
        channels / self.0
    }
}

fn inception_a(p: &nn::Path, channels: &mut i64, pool: i64, w: &Widths) -> nn::FuncT<'static> {
    let c_in = *channels;
    let b1 = square(&(p / "branch1x1"), c_in, w.of(64), 1, 1, 0);
    let b5 = nn::seq_t().add(square(&(p / "branch5x5_1"), c_in, w.of(48), 1, 1, 0)).add(square(
        &(p / "branch5x5_2"),
        w.of(48),
        w.of(64),
        5,
        1,
        2,
    ));
    let b3 = nn::seq_t()
        .add(square(&(p / "branch3x3dbl_1"), c_in, w.of(64), 1, 1, 0))
        .add(square(&(p / "branch3x3dbl_2"), w.of(64), w.of(96), 3, 1, 1))
        .add(square(&(p / "branch3x3dbl_3"), w.of(96), w.of(96), 3, 1, 1));
    let bp = square(&(p / "branch_pool"), c_in, w.of(pool), 1, 1, 0);
    let c_out = w.of(64) + w.of(64) + w.of(96) + w.of(pool);
    let module = nn::func_t(move |xs, t| {
        let pooled = avg_pool_3x3(xs).apply_t(&bp, t);
        Tensor::cat(&[xs.apply_t(&b1, t), xs.apply_t(&b5, t), xs.apply_t(&b3, t), pooled], 1)
    });
    *channels = c_out;
    module
}

fn inception_b(p: &nn::Path, channels: &mut i64, w: &Widths) -> nn::FuncT<'static> {
    let c_in = *channels;
    let b3 = square(&(p / "branch3x3"), c_in, w.of(384), 3, 2, 0);
    let bd = nn::seq_t()
        .add(square(&(p / "branch3x3dbl_1"), c_in, w.of(64), 1, 1, 0))
        .add(square(&(p / "branch3x3dbl_2"), w.of(64), w.of(96), 3, 1, 1))
        .add(square(&(p / "branch3x3dbl_3"), w.of(96), w.of(96), 3, 2, 0));
    let c_out = w.of(384) + w.of(96) + c_in;
    let module = nn::func_t(move |xs, t| {
        Tensor::cat(&[xs.apply_t(&b3, t), xs.apply_t(&bd, t), max_pool_3x3_s2(xs)], 1)
    });
    *channels = c_out;
    module
}

fn inception_c(p: &nn::Path, channels: &mut i64, c7: i64, w: &Widths) -> nn::FuncT<'static> {
    let c_in = *channels;
    let (c7, out) = (w.of(c7), w.of(192));
    let b1 = square(&(p / "branch1x1"), c_in, out, 1, 1, 0);
    let b7 = nn::seq_t()
        .add(square(&(p / "branch7x7_1"), c_in, c7, 1, 1, 0))
        .add(basic(&(p / "branch7x7_2"), c7, c7, [1, 7], 1, [0, 3]))
        .add(basic(&(p / "branch7x7_3"), c7, out, [7, 1], 1, [3, 0]));
    let bd = nn::seq_t()
        .add(square(&(p / "branch7x7dbl_1"), c_in, c7, 1, 1, 0))
        .add(basic(&(p / "branch7x7dbl_2"), c7, c7, [7, 1], 1, [3, 0]))
        .add(basic(&(p / "branch7x7dbl_3"), c7, c7, [1, 7], 1, [0, 3]))
        .add(basic(&(p / "branch7x7dbl_4"), c7, c7, [7, 1], 1, [3, 0]))
        .add(basic(&(p / "branch7x7dbl_5"), c7, out, [1, 7], 1, [0, 3]));
    let bp = square(&(p / "branch_pool"), c_in, out, 1, 1, 0);
    let module = nn::func_t(move |xs, t| {
        let pooled = avg_pool_3x3(xs).apply_t(&bp, t);
        Tensor::cat(&[xs.apply_t(&b1, t), xs.apply_t(&b7, t), xs.apply_t(&bd, t), pooled], 1)
    });
    *channels = 4 * out;
    module
}

fn inception_d(p: &nn::Path, channels: &mut i64, w: &Widths) -> nn::FuncT<'static> {
    let c_in = *channels;
    let b3 = nn::seq_t().add(square(&(p / "branch3x3_1"), c_in, w.of(192), 1, 1, 0)).add(square(
        &(p / "branch3x3_2"),
        w.of(192),
        w.of(320),
        3,
        2,
        0,
    ));
    let b7 = nn::seq_t()
        .add(square(&(p / "branch7x7x3_1"), c_in, w.of(192), 1, 1, 0))
        .add(basic(&(p / "branch7x7x3_2"), w.of(192), w.of(192), [1, 7], 1, [0, 3]))
        .add(basic(&(p / "branch7x7x3_3"), w.of(192), w.of(192), [7, 1], 1, [3, 0]))
        .add(square(&(p / "branch7x7x3_4"), w.of(192), w.of(192), 3, 2, 0));
    let c_out = w.of(320) + w.of(192) + c_in;
    let module = nn::func_t(move |xs, t| {
        Tensor::cat(&[xs.apply_t(&b3, t), xs.apply_t(&b7, t), max_pool_3x3_s2(xs)], 1)
    });
    *channels = c_out;
    module
}

fn inception_e(p: &nn::Path, channels: &mut i64, w: &Widths) -> nn::FuncT<'static> {
    let c_in = *channels;
    let (c384, c448) = (w.of(384), w.of(448));
    let b1 = square(&(p / "branch1x1"), c_in, w.of(320), 1, 1, 0);
    let b3_1 = square(&(p / "branch3x3_1"), c_in, c384, 1, 1, 0);
    let b3_2a = basic(&(p / "branch3x3_2a"), c384, c384, [1, 3], 1, [0, 1]);
    let b3_2b = basic(&(p / "branch3x3_2b"), c384, c384, [3, 1], 1, [1, 0]);
    let bd_1 = nn::seq_t().add(square(&(p / "branch3x3dbl_1"), c_in, c448, 1, 1, 0)).add(square(
        &(p / "branch3x3dbl_2"),
        c448,
        c384,
        3,
        1,
        1,
    ));
    let bd_3a = basic(&(p / "branch3x3dbl_3a"), c384, c384, [1, 3], 1, [0, 1]);
    let bd_3b = basic(&(p / "branch3x3dbl_3b"), c384, c384, [3, 1], 1, [1, 0]);
    let bp = square(&(p / "branch_pool"), c_in, w.of(192), 1, 1, 0);
    let c_out = w.of(320) + 4 * c384 + w.of(192);
    let module = nn::func_t(move |xs, t| {
        let b3 = xs.apply_t(&b3_1, t);
        let b3 = Tensor::cat(&[b3.apply_t(&b3_2a, t), b3.apply_t(&b3_2b, t)], 1);
        let bd = xs.apply_t(&bd_1, t);
        let bd = Tensor::cat(&[bd.apply_t(&bd_3a, t), bd.apply_t(&bd_3b, t)], 1);
        let pooled = avg_pool_3x3(xs).apply_t(&bp, t);
        Tensor::cat(&[xs.apply_t(&b1, t), b3, bd, pooled], 1)
    });
    *channels = c_out;
    module
}

/// The auxiliary head. It is built so that weight files with `AuxLogits.*` load, but its
/// logits are not returned: every use in dnlts (fine-tuning, evaluation) reads the main head.
fn aux_logits(p: &nn::Path, c_in: i64, classes: i64) {
    let _ = square(&(p / "conv0"), c_in, 128, 1, 1, 0);
    let _ = square(&(p / "conv1"), 128, 768, 5, 1, 0);
    let _ = linear(&(p / "fc"), 768, classes, WeightInit::PytorchDefault);
}

/// torchvision's `transform_input`: from ImageNet normalisation to (x - 0.5) / 0.5 per channel.
fn transform_input(xs: &Tensor) -> Tensor {
    let mean = [0.485, 0.456, 0.406];
    let std = [0.229, 0.224, 0.225];
    let channels: Vec<Tensor> = (0..3)
        .map(|c| xs.narrow(1, c, 1) * (std[c as usize] / 0.5) + (mean[c as usize] - 0.5) / 0.5)
        .collect();
    Tensor::cat(&channels, 1)
}

/// Parameter names follow torchvision: `Conv2d_1a_3x3`, …, `Mixed_5b`, …, `Mixed_7c`,
/// `AuxLogits`, `fc`.
pub fn inception_v3(path: &nn::Path, config: &InceptionConfig, classes: i64) -> impl ModuleT {
    let w = Widths(config.width_divisor);
    let mut net = nn::seq_t();
    if config.transform_input {
        net = net.add_fn(transform_input);
    }
    net = if config.imagenet_stem {
        net.add(square(&(path / "Conv2d_1a_3x3"), 3, w.of(32), 3, 2, 0))
            .add(square(&(path / "Conv2d_2a_3x3"), w.of(32), w.of(32), 3, 1, 0))
            .add(square(&(path / "Conv2d_2b_3x3"), w.of(32), w.of(64), 3, 1, 1))
            .add_fn(max_pool_3x3_s2)
            .add(square(&(path / "Conv2d_3b_1x1"), w.of(64), w.of(80), 1, 1, 0))
            .add(square(&(path / "Conv2d_4a_3x3"), w.of(80), w.of(192), 3, 1, 0))
            .add_fn(max_pool_3x3_s2)
    } else {
        // One stride-2 conv instead of the stem's 8× reduction: 32×32 inputs reach the
        // inception modules at 16×16.
        net.add(square(&(path / "Conv2d_1a_3x3"), 3, w.of(32), 3, 2, 1))
            .add(square(&(path / "Conv2d_2a_3x3"), w.of(32), w.of(32), 3, 1, 1))
            .add(square(&(path / "Conv2d_2b_3x3"), w.of(32), w.of(64), 3, 1, 1))
            .add(square(&(path / "Conv2d_3b_1x1"), w.of(64), w.of(80), 1, 1, 0))
            .add(square(&(path / "Conv2d_4a_3x3"), w.of(80), w.of(192), 3, 1, 1))
    };
    let mut c = w.of(192);
    net = net
        .add(inception_a(&(path / "Mixed_5b"), &mut c, 32, &w))
        .add(inception_a(&(path / "Mixed_5c"), &mut c, 64, &w))
        .add(inception_a(&(path / "Mixed_5d"), &mut c, 64, &w))
        .add(inception_b(&(path / "Mixed_6a"), &mut c, &w));
    for (name, c7) in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)] {
        net = net.add(inception_c(&(path / name), &mut c, c7, &w));
    }
    if config.aux_logits {
        aux_logits(&(path / "AuxLogits"), c, classes);
    }
    net = net
        .add(inception_d(&(path / "Mixed_7a"), &mut c, &w))
        .add(inception_e(&(path / "Mixed_7b"), &mut c, &w))
        .add(inception_e(&(path / "Mixed_7c"), &mut c, &w));
    let fc = linear(&(path / "fc"), c, classes, WeightInit::PytorchDefault);
    nn::func_t(move |xs, train| {
        xs.apply_t(&net, train)
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .dropout(0.5, train)
            .apply(&fc)
    })
}
