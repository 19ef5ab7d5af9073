//! The SegNet autoencoder of the paper, with the authors' layer names.
//!
//! Encoder: VGG16-BN's 13 conv3×3+BN+ReLU in stages of 2, 2, 3, 3, 3, each stage ending in a
//! 2×2 max-pool whose indices are kept. Decoder: the mirror image, each stage starting with a
//! max-unpool that puts values back where the encoder's maximum was, then conv+BN+ReLU, the
//! last conv of each stage stepping down to the previous stage's width (the first stage ends
//! 64→64), and a final 1×1 conv to RGB without activation. Names match the authors' PyTorch
//! model (`encoder.conv11`, `encoder.bn11`, …, `decoder.conv53d`, …, `decoder.conv_final`) so
//! their weights load as they are.
//!
//! The encoder and decoder live in two VarStores: fine-tuning builds its optimizer from the
//! decoder's store alone, so it cannot touch the encoder even by mistake.

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::Tensor;

use super::blocks::{conv2d, conv_bn_relu, ConvSpec, WeightInit};
use super::{Normalization, IMAGENET};

/// Convolutions per stage and channels per stage at full width (VGG16).
const STAGE_CONVS: [usize; 5] = [2, 2, 3, 3, 3];
const STAGE_WIDTHS: [i64; 5] = [64, 128, 256, 512, 512];
const BN_EPS: f64 = 1e-5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegNetConfig {
    /// Every width is divided by this (1 = the paper's SegNet, 29,480,259 parameters).
    pub width_divisor: i64,
    /// How many of the five VGG stages to keep (the bottleneck is 1/2^stages of the input).
    pub stages: usize,
    /// Normalisation applied to the [0, 1] input, undone on the output.
    pub normalization: Normalization,
}

impl SegNetConfig {
    /// The authors' SegNet.
    pub fn paper() -> Self {
        SegNetConfig { width_divisor: 1, stages: 5, normalization: IMAGENET }
    }

    /// A narrower SegNet for the CPU profiles.
    pub fn scaled(width_divisor: i64, stages: usize) -> Self {
        SegNetConfig { width_divisor, stages, ..Self::paper() }
    }

    /// A scaled SegNet that pools down to an 8×8 bottleneck (two stages at 32×32): what `dnlts
    /// bench` runs as its reduced stand-in for the paper's. (The CPU profiles name their AE
    /// in their profile; at 32×32 the `small` one keeps one stage, docs/experiments/small-profile.md.)
    pub fn for_image_size(width_divisor: i64, image_size: i64) -> Self {
        let mut stages = 0;
        while stages < STAGE_WIDTHS.len() && image_size >> (stages + 1) >= 8 {
            stages += 1;
        }
        Self::scaled(width_divisor, stages.max(1))
    }

    fn width(&self, stage: usize) -> i64 {
        (STAGE_WIDTHS[stage] / self.width_divisor).max(1)
    }
}

/// How the autoencoder is being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeMode {
    /// Everything trains (pre-training on the image stream).
    Pretrain,
    /// Fine-tuning through a classifier: `Part` trains (batch norm on batch statistics); the
    /// rest runs in eval mode (running statistics) and is never updated. The paper tried all
    /// three parts and kept the decoder.
    Finetune(Part),
    /// Nothing trains.
    Eval,
}

/// Which half of the autoencoder fine-tuning updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// The paper's choice: the encoder's code is kept, the decoder learns to render it.
    #[default]
    Decoder,
    Encoder,
    Both,
}

impl std::fmt::Display for Part {
    /// As `--finetune-part` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Decoder => "decoder",
            Part::Encoder => "encoder",
            Part::Both => "both",
        })
    }
}

impl std::str::FromStr for Part {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "decoder" => Ok(Part::Decoder),
            "encoder" => Ok(Part::Encoder),
            "both" => Ok(Part::Both),
            other => Err(format!("unknown part '{other}': use decoder, encoder or both")),
        }
    }
}

impl AeMode {
    /// (encoder trains, decoder trains).
    pub fn trains(self) -> (bool, bool) {
        match self {
            AeMode::Pretrain | AeMode::Finetune(Part::Both) => (true, true),
            AeMode::Finetune(Part::Decoder) => (false, true),
            AeMode::Finetune(Part::Encoder) => (true, false),
            AeMode::Eval => (false, false),
        }
    }
}

/// What the decoder needs from each encoder stage to undo its pooling.
struct PoolTrace {
    indices: Tensor,
    /// Height and width before pooling, so odd sizes unpool to the right size.
    size: [i64; 2],
}

pub struct SegNet {
    config: SegNetConfig,
    encoder_stages: Vec<Vec<Box<dyn nn::ModuleT>>>,
    decoder_stages: Vec<Vec<Box<dyn nn::ModuleT>>>,
    conv_final: Box<dyn nn::Module>,
}

impl SegNet {
    /// Builds the encoder under `encoder` (e.g. the root of a store, named `encoder`) and the
    /// decoder under `decoder`.
    pub fn new(encoder: &nn::Path, decoder: &nn::Path, config: SegNetConfig) -> Self {
        assert!((1..=5).contains(&config.stages), "SegNet has 1 to 5 stages");
        let init = WeightInit::PytorchDefault;
        let mut encoder_stages = Vec::new();
        let mut c_in = 3;
        for (stage, &convs) in STAGE_CONVS.iter().enumerate().take(config.stages) {
            let width = config.width(stage);
            let layers = (1..=convs)
                .map(|conv| {
                    let name = format!("{}{conv}", stage + 1);
                    let spec = ConvSpec::same(c_in, width, 3);
                    c_in = width;
                    boxed(conv_bn_relu(
                        &(encoder / format!("conv{name}")),
                        &(encoder / format!("bn{name}")),
                        spec,
                        BN_EPS,
                        init,
                    ))
                })
                .collect();
            encoder_stages.push(layers);
        }
        let mut decoder_stages = Vec::new();
        for stage in (0..config.stages).rev() {
            let width = config.width(stage);
            let below = config.width(stage.saturating_sub(1));
            let convs = STAGE_CONVS[stage];
            let layers = (1..=convs)
                .rev()
                .map(|conv| {
                    let name = format!("{}{conv}d", stage + 1);
                    let c_out = if conv == 1 { below } else { width };
                    boxed(conv_bn_relu(
                        &(decoder / format!("conv{name}")),
                        &(decoder / format!("bn{name}")),
                        ConvSpec::same(width, c_out, 3),
                        BN_EPS,
                        init,
                    ))
                })
                .collect();
            decoder_stages.push(layers);
        }
        let conv_final = Box::new(conv2d(
            &(decoder / "conv_final"),
            ConvSpec::same(config.width(0), 3, 1),
            init,
        ));
        SegNet { config, encoder_stages, decoder_stages, conv_final }
    }

    pub fn config(&self) -> &SegNetConfig {
        &self.config
    }

    /// Reconstructs a batch of [0, 1] RGB images (N×3×H×W); any H and W work.
    pub fn forward(&self, images: &Tensor, mode: AeMode) -> Tensor {
        let normalized = self.config.normalization.apply(images);
        let (encoder_trains, decoder_trains) = mode.trains();
        let (code, traces) = if encoder_trains {
            self.encode(&normalized, true)
        } else {
            // No graph through a fixed encoder: it is detached by construction.
            tch::no_grad(|| self.encode(&normalized, false))
        };
        let decoded = self.decode(code, &traces, decoder_trains);
        self.config.normalization.undo(&decoded)
    }

    fn encode(&self, xs: &Tensor, train: bool) -> (Tensor, Vec<PoolTrace>) {
        let mut xs = xs.shallow_clone();
        let mut traces = Vec::with_capacity(self.encoder_stages.len());
        for stage in &self.encoder_stages {
            for layer in stage {
                xs = layer.forward_t(&xs, train);
            }
            let size = [xs.size()[2], xs.size()[3]];
            let (pooled, indices) =
                xs.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
            traces.push(PoolTrace { indices, size });
            xs = pooled;
        }
        (xs, traces)
    }

    fn decode(&self, code: Tensor, traces: &[PoolTrace], train: bool) -> Tensor {
        let mut xs = code;
        for (stage, trace) in self.decoder_stages.iter().zip(traces.iter().rev()) {
            xs = xs.max_unpool2d(&trace.indices, trace.size);
            for layer in stage {
                xs = layer.forward_t(&xs, train);
            }
        }
        self.conv_final.forward(&xs)
    }
}

fn boxed(module: impl nn::ModuleT + 'static) -> Box<dyn nn::ModuleT> {
    Box::new(module)
}

/// A SegNet with its two stores: what pre-training, fine-tuning and evaluation hold on to.
pub struct AutoEncoder {
    pub encoder: nn::VarStore,
    pub decoder: nn::VarStore,
    pub net: SegNet,
}

impl AutoEncoder {
    pub fn new(config: SegNetConfig, device: tch::Device) -> Self {
        let encoder = nn::VarStore::new(device);
        let decoder = nn::VarStore::new(device);
        let net = SegNet::new(&(encoder.root() / "encoder"), &(decoder.root() / "decoder"), config);
        AutoEncoder { encoder, decoder, net }
    }

    /// Reconstructs [0, 1] RGB images; see [`SegNet::forward`].
    pub fn forward(&self, images: &Tensor, mode: AeMode) -> Tensor {
        self.net.forward(images, mode)
    }

    /// Stops gradients into the half that `mode` keeps fixed: a fixed decoder still passes
    /// gradients to a trained encoder, but needs none for its own weights.
    pub fn fix_untrained(&self, mode: AeMode) {
        let (encoder_trains, decoder_trains) = mode.trains();
        for (store, trains) in [(&self.encoder, encoder_trains), (&self.decoder, decoder_trains)] {
            if !trains {
                for variable in store.trainable_variables() {
                    let _ = variable.set_requires_grad(false);
                }
            }
        }
    }

    /// A deep copy (same config, same weights, own stores): one per classifier to fine-tune.
    pub fn duplicate(&self) -> Result<Self, tch::TchError> {
        self.duplicate_on(self.encoder.device())
    }

    /// A deep copy on `device`: a replica for data-parallel pre-training.
    pub fn duplicate_on(&self, device: tch::Device) -> Result<Self, tch::TchError> {
        let mut copy = AutoEncoder::new(*self.net.config(), device);
        copy.encoder.copy(&self.encoder)?;
        copy.decoder.copy(&self.decoder)?;
        Ok(copy)
    }

    pub fn save(&self, path: &std::path::Path) -> Result<(), super::weights::WeightsError> {
        super::weights::save(&[&self.encoder, &self.decoder], path)
    }

    pub fn load(
        &mut self,
        path: &std::path::Path,
        policy: super::weights::LoadPolicy,
    ) -> Result<super::weights::LoadReport, super::weights::WeightsError> {
        super::weights::load(&mut [&mut self.encoder, &mut self.decoder], path, policy)
    }
}

impl AutoEncoder {
    /// Initialises the encoder from a torchvision `vgg16_bn` weight file, as the authors'
    /// `transplant_vgg16` does: the 13 convolutions (and, with BN, their batch norms) of
    /// `features.*` in order become `encoder.conv11` … `encoder.conv53`. Paper scale only.
    pub fn transplant_vgg16_bn(
        &mut self,
        vgg_file: &std::path::Path,
    ) -> Result<usize, super::weights::WeightsError> {
        use super::weights::WeightsError;
        let format_error = |reason: String| WeightsError::Format { path: vgg_file.into(), reason };
        // Checks the whole structure first, so a damaged file is described in words.
        super::weights::read_layout(vgg_file)?;
        let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(vgg_file)
            .map_err(|error| format_error(super::classifier::first_line(&error.to_string())))?
            .into_iter()
            .collect();
        let ours = self.encoder.variables();
        let mut copied = 0;
        let mut feature = 0;
        tch::no_grad(|| {
            for (stage, &convs) in STAGE_CONVS.iter().enumerate().take(self.net.config.stages) {
                for conv in 1..=convs {
                    let pairs = [
                        ("conv", feature, ["weight", "bias"].as_slice()),
                        ("bn", feature + 1, &["weight", "bias", "running_mean", "running_var"]),
                    ];
                    for (kind, index, fields) in pairs {
                        for field in fields {
                            let source = format!("features.{index}.{field}");
                            let target = format!("encoder.{kind}{}{conv}.{field}", stage + 1);
                            let found = tensors.get(&source).ok_or_else(|| {
                                format_error(format!(
                                    "no tensor {source}: is this a torchvision vgg16_bn export?"
                                ))
                            })?;
                            let mut variable = ours[&target].shallow_clone();
                            if found.size() != variable.size() {
                                return Err(format_error(format!(
                                    "{source} has shape {:?}, {target} needs {:?}",
                                    found.size(),
                                    variable.size()
                                )));
                            }
                            variable.copy_(found);
                            copied += 1;
                        }
                    }
                    feature += 3;
                }
                feature += 1; // the max-pool
            }
            Ok(copied)
        })
    }
}
