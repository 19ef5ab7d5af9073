//! The networks of the paper: the SegNet autoencoder and five classifiers, each at the paper's
//! scale (torchvision-exact names and shapes) and scaled down for CPU profiles.
//!
//! Builders take an `nn::Path` and return `impl ModuleT`, with path names equal to PyTorch's
//! state-dict keys, so weights exported from PyTorch load as they are.

pub mod alexnet;
pub mod blocks;
pub mod classifier;
pub mod flops;
pub mod inception;
pub mod lenet;
pub mod resnet;
pub mod segnet;
pub mod vgg;
pub mod weights;

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

/// What a classifier expects of its input, applied between the AE and the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Side of the square image the classifier takes.
    pub size: i64,
    /// Short side the evaluation transform resizes to before the centre crop of `size`
    /// (256 for 224, 342 for Inception's 299, as torchvision evaluates them).
    pub resize: i64,
    pub normalization: Normalization,
}

/// The five classifiers of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Lenet5,
    Alexnet,
    Vgg16Bn,
    InceptionV3,
    Resnet50,
}

/// Which size to build a network at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// torchvision's network (and the authors' SegNet) at ImageNet input sizes.
    Paper,
    /// The same networks (layers, names, shapes) reading smaller centre crops: `crop` for all
    /// but Inception v3, which reads `inception_crop` (the paper-smoke profile's scale).
    PaperAt { crop: i64, inception_crop: i64 },
    /// Same structure, widths divided by `width_divisor`, for `image_size`² inputs.
    Scaled { width_divisor: i64, image_size: i64 },
}

impl Family {
    /// In the paper's order: L, A, V, I, R.
    pub const ALL: [Family; 5] =
        [Family::Lenet5, Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50];

    /// The letter the paper uses for it.
    pub fn letter(self) -> &'static str {
        match self {
            Family::Lenet5 => "L",
            Family::Alexnet => "A",
            Family::Vgg16Bn => "V",
            Family::InceptionV3 => "I",
            Family::Resnet50 => "R",
        }
    }

    /// The name used on the command line and in files (torchvision's, where it has one).
    pub fn name(self) -> &'static str {
        match self {
            Family::Lenet5 => "lenet5",
            Family::Alexnet => "alexnet",
            Family::Vgg16Bn => "vgg16_bn",
            Family::InceptionV3 => "inception_v3",
            Family::Resnet50 => "resnet50",
        }
    }

    /// The family called `name` (its name or its letter, any case).
    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|family| {
            name.eq_ignore_ascii_case(family.name()) || name.eq_ignore_ascii_case(family.letter())
        })
    }

    /// The input this family expects at `scale`.
    pub fn input_spec(self, scale: Scale) -> InputSpec {
        match (self, scale) {
            (Family::InceptionV3, Scale::Paper) => {
                InputSpec { size: 299, resize: 342, normalization: IMAGENET }
            }
            (_, Scale::Paper) => InputSpec { size: 224, resize: 256, normalization: IMAGENET },
            // torchvision's ratios of resize to crop: 342/299 and 256/224.
            (Family::InceptionV3, Scale::PaperAt { inception_crop, .. }) => InputSpec {
                size: inception_crop,
                resize: inception_crop * 342 / 299,
                normalization: IMAGENET,
            },
            (_, Scale::PaperAt { crop, .. }) => {
                InputSpec { size: crop, resize: crop * 256 / 224, normalization: IMAGENET }
            }
            (_, Scale::Scaled { image_size, .. }) => {
                InputSpec { size: image_size, resize: image_size, normalization: IMAGENET }
            }
        }
    }

    /// Builds the network under `path`.
    pub fn build(
        self,
        path: &tch::nn::Path,
        scale: Scale,
        classes: i64,
    ) -> Box<dyn tch::nn::ModuleT> {
        // Paper scale, or the scaled variant for this width divisor.
        let divisor = match scale {
            Scale::Paper | Scale::PaperAt { .. } => None,
            Scale::Scaled { width_divisor, .. } => Some(width_divisor),
        };
        match self {
            Family::Lenet5 => Box::new(lenet::lenet5(path, self.input_spec(scale).size, classes)),
            Family::Alexnet => {
                let config = divisor
                    .map_or_else(alexnet::AlexNetConfig::paper, alexnet::AlexNetConfig::scaled);
                Box::new(alexnet::alexnet(path, &config, classes))
            }
            Family::Vgg16Bn => {
                let config = divisor.map_or_else(vgg::VggConfig::paper, vgg::VggConfig::scaled);
                Box::new(vgg::vgg16_bn(path, &config, classes))
            }
            Family::InceptionV3 => {
                let config = divisor.map_or_else(
                    inception::InceptionConfig::paper,
                    inception::InceptionConfig::scaled,
                );
                Box::new(inception::inception_v3(path, &config, classes))
            }
            Family::Resnet50 => {
                let config =
                    divisor.map_or_else(resnet::ResNetConfig::paper, resnet::ResNetConfig::scaled);
                Box::new(resnet::resnet(path, &config, classes))
            }
        }
    }
}

/// Batch-norm running statistics: state a store holds that is neither trained nor counted as a
/// parameter.
pub fn is_running_statistic(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

/// Number of scalar parameters (trainable or not, running statistics excluded) in a store,
/// counted like PyTorch's `sum(p.numel() for p in model.parameters())`.
pub fn parameter_count(store: &tch::nn::VarStore) -> i64 {
    store
        .variables()
        .iter()
        .filter(|(name, _)| !is_running_statistic(name))
        .map(|(_, tensor)| tensor.numel() as i64)
        .sum()
}
