//! LeNet-5 (LeCun et al. 1998): conv5×5-6, pool, conv5×5-16, pool, FC 120-84-N.
//!
//! The paper used a LeNet-5 "modified to take 224×224 input" without saying how. We keep every
//! layer and let the first fully connected layer take whatever the second pool leaves: 5×5 at
//! 32×32 (the 1998 network), 53×53 at 224×224. ReLU and max-pooling replace the 1998 squashing
//! and trainable subsampling, as in common re-implementations.

use tch::nn::{self, ModuleT};

use super::blocks::{conv2d, linear, ConvSpec, WeightInit};

/// Side of the feature map after the two conv/pool stages for an `input`×`input` image.
pub fn feature_side(input: i64) -> i64 {
    ((input - 4) / 2 - 4) / 2
}

pub fn lenet5(path: &nn::Path, input: i64, classes: i64) -> impl ModuleT {
    let init = WeightInit::PytorchDefault;
    let side = feature_side(input);
    let conv1 = conv2d(&(path / "conv1"), ConvSpec::same(3, 6, 5).padding(0), init);
    let conv2 = conv2d(&(path / "conv2"), ConvSpec::same(6, 16, 5).padding(0), init);
    let fc1 = linear(&(path / "fc1"), 16 * side * side, 120, init);
    let fc2 = linear(&(path / "fc2"), 120, 84, init);
    let fc3 = linear(&(path / "fc3"), 84, classes, init);
    nn::func_t(move |xs, _train| {
        xs.apply(&conv1)
            .relu()
            .max_pool2d_default(2)
            .apply(&conv2)
            .relu()
            .max_pool2d_default(2)
            .flatten(1, -1)
            .apply(&fc1)
            .relu()
            .apply(&fc2)
            .relu()
            .apply(&fc3)
    })
}
