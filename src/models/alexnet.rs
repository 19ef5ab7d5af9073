//! AlexNet as torchvision builds it (the "one weird trick" variant), and a scaled version that
//! keeps its defining elements: a large first kernel with a large stride, overlapping 3×3/2
//! max-pools, no batch norm, dropout in the classifier.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};

use super::blocks::{conv2d, linear, ConvSpec, WeightInit};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlexNetConfig {
    pub widths: [i64; 5],
    pub first_kernel: i64,
    pub first_stride: i64,
    /// Side of the adaptive average pool before the classifier.
    pub pool_side: i64,
    pub hidden: i64,
}

impl AlexNetConfig {
    pub fn paper() -> Self {
        AlexNetConfig {
            widths: [64, 192, 384, 256, 256],
            first_kernel: 11,
            first_stride: 4,
            pool_side: 6,
            hidden: 4096,
        }
    }

    /// For 32×32 inputs: a 5×5/2 first conv, every width divided by `divisor`.
    pub fn scaled(divisor: i64) -> Self {
        let paper = Self::paper();
        AlexNetConfig {
            widths: paper.widths.map(|w| w / divisor),
            first_kernel: 5,
            first_stride: 2,
            pool_side: 1,
            hidden: paper.hidden / divisor,
        }
    }
}

/// Parameter names follow torchvision: `features.{0,3,6,8,10}`, `classifier.{1,4,6}`.
pub fn alexnet(path: &nn::Path, config: &AlexNetConfig, classes: i64) -> impl ModuleT {
    let init = WeightInit::PytorchDefault;
    let f = path / "features";
    let [w1, w2, w3, w4, w5] = config.widths;
    let k = config.first_kernel;
    let conv0 = ConvSpec::same(3, w1, k).stride(config.first_stride).padding(2);
    let features = nn::seq_t()
        .add(conv2d(&(&f / 0), conv0, init))
        .add_fn(|xs| xs.relu().max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false))
        .add(conv2d(&(&f / 3), ConvSpec::same(w1, w2, 5), init))
        .add_fn(|xs| xs.relu().max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false))
        .add(conv2d(&(&f / 6), ConvSpec::same(w2, w3, 3), init))
        .add_fn(|xs| xs.relu())
        .add(conv2d(&(&f / 8), ConvSpec::same(w3, w4, 3), init))
        .add_fn(|xs| xs.relu())
        .add(conv2d(&(&f / 10), ConvSpec::same(w4, w5, 3), init))
        .add_fn(|xs| xs.relu().max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false));
    let c = path / "classifier";
    let side = config.pool_side;
    let fc1 = linear(&(&c / 1), w5 * side * side, config.hidden, init);
    let fc2 = linear(&(&c / 4), config.hidden, config.hidden, init);
    let fc3 = linear(&(&c / 6), config.hidden, classes, init);
    nn::func_t(move |xs, train| {
        xs.apply_t(&features, train)
            .adaptive_avg_pool2d([side, side])
            .flatten(1, -1)
            .dropout(0.5, train)
            .apply(&fc1)
            .relu()
            .dropout(0.5, train)
            .apply(&fc2)
            .relu()
            .apply(&fc3)
    })
}
