//! VGG16 with batch normalisation as torchvision builds it, and a narrower version for small
//! inputs that keeps its defining element: stacks of 3×3 conv + BN + ReLU between max-pools.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};

use super::blocks::{conv_bn, linear, ConvSpec, WeightInit};

/// Convolution widths of VGG16, a 0 marking a 2×2 max-pool.
const VGG16: [i64; 18] =
    [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VggConfig {
    pub width_divisor: i64,
    /// Side of the adaptive average pool before the classifier (7 in torchvision).
    pub pool_side: i64,
    pub hidden: i64,
}

impl VggConfig {
    pub fn paper() -> Self {
        VggConfig { width_divisor: 1, pool_side: 7, hidden: 4096 }
    }

    pub fn scaled(divisor: i64) -> Self {
        VggConfig { width_divisor: divisor, pool_side: 1, hidden: 4096 / divisor }
    }
}

/// Parameter names follow torchvision's `vgg16_bn`: `features.<i>` counts every layer (conv,
/// BN, ReLU, pool), `classifier.{0,3,6}`.
pub fn vgg16_bn(path: &nn::Path, config: &VggConfig, classes: i64) -> impl ModuleT {
    let init = WeightInit::KaimingFanOut;
    let f = path / "features";
    let mut features = nn::seq_t();
    let mut index = 0;
    let mut c_in = 3;
    for width in VGG16 {
        if width == 0 {
            features = features.add_fn(|xs| xs.max_pool2d_default(2));
            index += 1;
            continue;
        }
        let c_out = width / config.width_divisor;
        let spec = ConvSpec::same(c_in, c_out, 3);
        features = features
            .add(conv_bn(&(&f / index), &(&f / (index + 1)), spec, init, 1e-5, 1.0))
            .add_fn(|xs| xs.relu());
        index += 3;
        c_in = c_out;
    }
    let c = path / "classifier";
    let side = config.pool_side;
    let fc1 = linear(&(&c / 0), c_in * side * side, config.hidden, init);
    let fc2 = linear(&(&c / 3), config.hidden, config.hidden, init);
    let fc3 = linear(&(&c / 6), config.hidden, classes, init);
    nn::func_t(move |xs, train| {
        xs.apply_t(&features, train)
            .adaptive_avg_pool2d([side, side])
            .flatten(1, -1)
            .apply(&fc1)
            .relu()
            .dropout(0.5, train)
            .apply(&fc2)
            .relu()
            .dropout(0.5, train)
            .apply(&fc3)
    })
}
