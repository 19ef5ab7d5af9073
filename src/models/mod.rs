//! The networks of the paper: the SegNet autoencoder and five classifiers, each at the paper's
//! scale (torchvision-exact names and shapes) and scaled down for CPU profiles.
//!
//! Builders take an `nn::Path` and return `impl ModuleT`, with path names equal to PyTorch's
//! state-dict keys, so weights exported from PyTorch load as they are.

pub mod alexnet;
pub mod blocks;
pub mod inception;
pub mod lenet;
pub mod resnet;
pub mod segnet;
pub mod vgg;

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Per-channel normalisation (x - mean) / std of [0, 1] RGB images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

/// The ImageNet statistics torchvision's pretrained models expect.
pub const IMAGENET: Normalization =
    Normalization { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

impl Normalization {
    fn channel_tensor(values: [f64; 3], like: &Tensor) -> Tensor {
        Tensor::from_slice(&values.map(|v| v as f32)).view([1, 3, 1, 1]).to_device(like.device())
    }

    /// Normalises an N×3×H×W batch. Part of the graph, so gradients flow through it.
    pub fn apply(&self, images: &Tensor) -> Tensor {
        (images - Self::channel_tensor(self.mean, images)) / Self::channel_tensor(self.std, images)
    }

    /// The inverse of [`Normalization::apply`].
    pub fn undo(&self, normalized: &Tensor) -> Tensor {
        normalized * Self::channel_tensor(self.std, normalized)
            + Self::channel_tensor(self.mean, normalized)
    }
}
