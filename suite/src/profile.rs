//! Profiles: how big a reproduction is, from a CI smoke run to the paper's full scale.
//!
//! A profile is a plain serde struct with named presets; the one in force is written next to
//! every output it produced, so a result can always be traced back to its settings.

use dnlts::models::segnet::SegNetConfig;
use dnlts::train::pretrain::PretrainRecipe;
use serde::{Deserialize, Serialize};

/// Where the images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// The embedded synthetic world: generated on the fly, nothing to download.
    Synthetic,
    /// Fashion-MNIST from its IDX files (real images, 28×28 grey, upsampled).
    FashionMnist,
    /// The user's ImageNet (classification) and YFCC100m (AE pre-training) folders.
    ImagenetYfcc,
}

/// Which size the networks are built at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelScale {
    /// Each family's structure at reduced width and input size, trained from scratch.
    Scaled { width_divisor: u32 },
    /// torchvision-exact classifiers and the authors' full SegNet, with pretrained weights.
    Paper,
    /// The same networks and weights reading smaller crops (paper-smoke: the paper's code
    /// path on small images).
    PaperAt { crop: u32, inception_crop: u32 },
}

impl ModelScale {
    /// torchvision's networks with pretrained weights (paper, paper-smoke).
    pub fn is_paper(&self) -> bool {
        matches!(self, ModelScale::Paper | ModelScale::PaperAt { .. })
    }
}

/// The autoencoder a profile pre-trains and fine-tunes: the authors' SegNet, or a narrower,
/// shallower one for the CPU profiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderSpec {
    /// Every SegNet width is divided by this (1: the paper's).
    pub width_divisor: u32,
    /// VGG stages kept: the bottleneck is 1/2^stages of the image side (5: the paper's).
    pub stages: u32,
    pub pretrain: PretrainRecipe,
}

impl AutoencoderSpec {
    /// The authors' SegNet, pre-trained as in the paper.
    pub fn paper() -> Self {
        AutoencoderSpec { width_divisor: 1, stages: 5, pretrain: PretrainRecipe::Paper }
    }

    pub fn segnet(&self) -> SegNetConfig {
        SegNetConfig::scaled(self.width_divisor as i64, self.stages as usize)
    }
}

/// Where a scaled profile's built-in classifiers come from. The paper profiles load
/// torchvision's weights (and train LeNet-5, which torchvision lacks) whatever this says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Classifiers {
    /// Trained from scratch in the run with the quick recipes, `classifier_epochs` passes over
    /// `train_images` (tiny and ci, so that every stage stays tested; `--train-classifiers`).
    #[default]
    Quick,
    /// Trained from scratch with the long recipes, for as long as each family needs
    /// (`dnlts ship-classifiers`, which writes them out as a shipped set).
    Long,
    /// Loaded from a shipped set: `fixtures/classifiers/<name>` of this repository (or
    /// `--weights DIR`), each file checked against the set's sha256 manifest, as the paper
    /// gives its classifiers (`crate::shipped`).
    Shipped(String),
}

/// Everything that sets the size of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub summary: String,
    pub data: DataSource,
    pub models: ModelScale,
    pub autoencoder: AutoencoderSpec,
    /// Side of the square images the autoencoder sees.
    pub image_size: u32,
    pub classes: u32,
    /// Images streamed through AE pre-training, none of them seen twice.
    pub pretrain_images: u64,
    /// Images between two held-out loss checks in pre-training (1 M in the paper).
    pub check_every: u64,
    /// Labelled training images (synthetic: the first N of its training range).
    pub train_images: u64,
    /// Passes over them when training a classifier from scratch.
    pub classifier_epochs: u64,
    /// Trained in the run or given as files.
    #[serde(default)]
    pub classifiers: Classifiers,
    /// Images used to fine-tune each AE through its classifier.
    pub finetune_images: u64,
    /// Images of the evaluation split behind Tables 1–2 and Figures 4 and 9.
    pub eval_images: u64,
    /// The first N of them behind Figure 4's noise sweep: ten noisy passes cost five times the
    /// clean one, so a CPU profile sweeps fewer images than Tables 1 and 2 read.
    pub noise_images: u64,
    pub batch_size: u32,
    /// Images per evaluation batch (Tables 1–2, Figures 4 and 9). Nothing trains there, so a
    /// batch only costs memory, and on a CPU larger ones keep both cores busy
    /// (docs/performance.md, "Fewer evaluation passes").
    pub eval_batch_size: u32,
    /// Run the networks on channels-last tensors even without `--channels-last`: on 2 CPU
    /// cores oneDNN runs the scaled ResNet-50 and the evaluation about 1.5× faster that way
    /// (docs/performance.md).
    pub channels_last: bool,
    /// libtorch's intra-op threads for training: the order of every sum depends on it, so the
    /// profile fixes it (the CPU profiles: 2) and the same seed gives the same numbers on any
    /// machine; None: every core of the machine (paper, on a GPU, where the CPU threads only
    /// prepare data). `--threads` overrides it, keyed and noted.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Time this profile is meant to fit on its reference machine.
    pub budget: String,
}

/// The names of the presets, in the order `--help` shows them.
pub const PRESETS: [&str; 6] = ["tiny", "ci", "small", "fashion", "paper", "paper-smoke"];

/// The `small` profile's AE: half of SegNet's widths and one pooling stage, pre-trained with
/// Adam. With its classifiers shipped the profile spends its budget here: against the quarter
/// width it halves the held-out MSE and A_S's cost to the classifiers
/// (docs/experiments/small-profile.md, "The AE, with shipped classifiers").
const SMALL_AUTOENCODER: AutoencoderSpec =
    AutoencoderSpec { width_divisor: 2, stages: 1, pretrain: PretrainRecipe::Adam { lr: 0.01 } };

/// Fashion's AE, the `small` profile's before it shipped its classifiers: a quarter of
/// SegNet's widths and one pooling stage (fashion trains its classifiers in the run).
const FASHION_AUTOENCODER: AutoencoderSpec =
    AutoencoderSpec { width_divisor: 4, stages: 1, pretrain: PretrainRecipe::Adam { lr: 0.01 } };

/// The default profile of `dnlts reproduce` and `make reproduce`.
pub const DEFAULT: &str = "small";

impl Profile {
    /// The training threads: `requested` (`--threads`), else the profile's, else every core.
    pub fn training_threads(&self, requested: Option<usize>) -> usize {
        requested
            .or(self.threads)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// A one-line note when `requested` differs from the thread count the profile fixes.
    pub fn threads_note(&self, requested: Option<usize>) -> Option<String> {
        match (requested, self.threads) {
            (Some(asked), Some(fixed)) if asked != fixed => Some(format!(
                "note: --threads {asked}: profile '{}' trains with {fixed} thread(s); other \
                 counts sum in another order, so these numbers will not be the reference's \
                 (their stages are cached apart)",
                self.name
            )),
            _ => None,
        }
    }

    /// Whether the run trains classifier `family` (else it loads torchvision's weights: every
    /// family but LeNet-5 at paper scale, which torchvision does not have).
    pub fn trains_classifier(&self, family: dnlts::models::Family) -> bool {
        self.can_train_classifier(family) && !matches!(self.classifiers, Classifiers::Shipped(_))
    }

    /// Whether the run would train classifier `family` with `--train-classifiers`: every
    /// family at a scaled profile, only LeNet-5 at paper scale.
    pub fn can_train_classifier(&self, family: dnlts::models::Family) -> bool {
        !self.models.is_paper() || family == dnlts::models::Family::Lenet5
    }

    /// `--data DIR` means something only to a profile that reads a dataset: a synthetic
    /// profile would silently ignore it.
    pub fn check_data_option(&self, data: Option<&std::path::Path>) -> anyhow::Result<()> {
        match (data, &self.data) {
            (Some(dir), DataSource::Synthetic) => anyhow::bail!(
                "--data {}: profile '{}' makes its own synthetic images and reads no dataset; \
                 drop --data, or use it with --profile fashion",
                dir.display(),
                self.name
            ),
            _ => Ok(()),
        }
    }

    /// The preset called `name`, or an error listing the presets.
    pub fn preset(name: &str) -> anyhow::Result<Profile> {
        let scaled = ModelScale::Scaled { width_divisor: 8 };
        let profile = match name {
            "tiny" => Profile {
                name: "tiny".into(),
                summary: "a few hundred synthetic images: exercises every stage in seconds (tests)"
                    .into(),
                data: DataSource::Synthetic,
                models: ModelScale::Scaled { width_divisor: 16 },
                autoencoder: AutoencoderSpec {
                    width_divisor: 16,
                    stages: 2,
                    ..AutoencoderSpec::paper()
                },
                image_size: 32,
                classes: 10,
                pretrain_images: 512,
                check_every: 256,
                train_images: 256,
                classifier_epochs: 1,
                classifiers: Classifiers::Quick,
                finetune_images: 256,
                eval_images: 64,
                noise_images: 64,
                batch_size: 32,
                eval_batch_size: 32,
                channels_last: false,
                threads: Some(2),
                budget: "seconds".into(),
            },
            "ci" => Profile {
                name: "ci".into(),
                train_images: 3_072,
                classifier_epochs: 2,
                classifiers: Classifiers::Quick,
                summary: "embedded synthetic data, tiny models: a smoke run for CI".into(),
                data: DataSource::Synthetic,
                models: ModelScale::Scaled { width_divisor: 16 },
                autoencoder: AutoencoderSpec {
                    width_divisor: 16,
                    stages: 2,
                    ..AutoencoderSpec::paper()
                },
                image_size: 32,
                classes: 10,
                pretrain_images: 18_000,
                check_every: 4_500,
                finetune_images: 2_048,
                eval_images: 400,
                noise_images: 400,
                batch_size: 64,
                eval_batch_size: 64,
                channels_last: false,
                threads: Some(2),
                budget: "≤ 3 min on 2 CPU cores".into(),
            },
            "small" => Profile {
                name: "small".into(),
                train_images: 10_240,
                classifier_epochs: 4,
                classifiers: Classifiers::Shipped("small".into()),
                summary:
                    "embedded synthetic data, scaled-down models, shipped classifiers: the default"
                        .into(),
                data: DataSource::Synthetic,
                models: scaled,
                autoencoder: SMALL_AUTOENCODER,
                image_size: 32,
                classes: 10,
                pretrain_images: 180_000,
                check_every: 18_000,
                finetune_images: 25_600,
                eval_images: 2_000,
                noise_images: 500,
                batch_size: 64,
                eval_batch_size: 250,
                channels_last: true,
                threads: Some(2),
                budget: "≤ 15 min on 2 CPU cores".into(),
            },
            "fashion" => Profile {
                name: "fashion".into(),
                // Fashion-MNIST's training rows minus the last 1/12 (validation).
                train_images: 55_000,
                classifier_epochs: 2,
                classifiers: Classifiers::Quick,
                summary: "Fashion-MNIST (real images), scaled-down models".into(),
                data: DataSource::FashionMnist,
                models: scaled,
                autoencoder: FASHION_AUTOENCODER,
                image_size: 32,
                classes: 10,
                pretrain_images: 200_000,
                check_every: 20_000,
                finetune_images: 20_000,
                eval_images: 5_000,
                noise_images: 1_000,
                batch_size: 64,
                eval_batch_size: 250,
                channels_last: true,
                threads: Some(2),
                budget: "about 45 min on 2 CPU cores (estimated from the small profile's rates)"
                    .into(),
            },
            "paper" => Profile {
                name: "paper".into(),
                train_images: 1_281_167,
                // Only LeNet-5 trains (A, V, I, R are torchvision's): the recipe in docs/paper-scale.md.
                classifier_epochs: 10,
                classifiers: Classifiers::Quick,
                summary: "ImageNet + YFCC100m, torchvision-exact models: the paper's runs".into(),
                data: DataSource::ImagenetYfcc,
                models: ModelScale::Paper,
                autoencoder: AutoencoderSpec::paper(),
                image_size: 256,
                classes: 1000,
                pretrain_images: 92_100_000,
                check_every: 1_000_000,
                finetune_images: 1_281_167,
                eval_images: 50_000,
                noise_images: 50_000,
                batch_size: 32,
                eval_batch_size: 32,
                channels_last: false,
                threads: None,
                budget: "the paper's: days on a GPU workstation".into(),
            },
            // The paper's code path (torchvision's networks, pretrained-weight loading,
            // per-classifier crops, streaming evaluation) on a generated ImageNet-layout and
            // YFCC-layout tree of a few dozen JPEGs: small images and counts, not another path.
            "paper-smoke" => Profile {
                name: "paper-smoke".into(),
                summary: "the paper's path on a small generated ImageNet/YFCC tree (tests)".into(),
                data: DataSource::ImagenetYfcc,
                // SegNet's five poolings need a multiple of 32; Inception v3 needs 75 or more.
                models: ModelScale::PaperAt { crop: 64, inception_crop: 96 },
                autoencoder: AutoencoderSpec::paper(),
                image_size: 64,
                classes: 4,
                pretrain_images: 8,
                check_every: 4,
                train_images: 16,
                classifier_epochs: 1,
                classifiers: Classifiers::Quick,
                finetune_images: 4,
                // Every validation image of the tree: its size sets how many are evaluated.
                eval_images: 1 << 20,
                noise_images: 1 << 20,
                batch_size: 4,
                eval_batch_size: 4,
                channels_last: false,
                threads: Some(2),
                budget: "a few minutes on 2 CPU cores".into(),
            },
            other => anyhow::bail!(
                "unknown profile '{other}': choose one of {} (see `dnlts list --profiles`)",
                PRESETS.join(", ")
            ),
        };
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_exists_under_its_own_name() {
        for name in PRESETS {
            assert_eq!(Profile::preset(name).unwrap().name, name);
        }
        assert!(PRESETS.contains(&DEFAULT));
    }

    #[test]
    fn small_loads_its_shipped_set_while_tiny_and_ci_train_every_classifier() {
        use dnlts::models::Family;
        let small = Profile::preset("small").unwrap();
        assert_eq!(small.classifiers, Classifiers::Shipped("small".into()));
        assert!(Family::ALL.into_iter().all(|family| !small.trains_classifier(family)));
        for name in ["tiny", "ci"] {
            let profile = Profile::preset(name).unwrap();
            assert!(Family::ALL.into_iter().all(|family| profile.trains_classifier(family)));
        }
        // At paper scale only LeNet-5 trains, whatever the field says.
        let paper = Profile::preset("paper").unwrap();
        let trained: Vec<_> =
            Family::ALL.into_iter().filter(|&family| paper.trains_classifier(family)).collect();
        assert_eq!(trained, [Family::Lenet5]);
    }

    #[test]
    fn unknown_profile_error_lists_the_choices() {
        let message = Profile::preset("huge").unwrap_err().to_string();
        assert!(
            message.contains("'huge'")
                && message.contains("tiny, ci, small, fashion, paper, paper-smoke")
        );
    }

    #[test]
    fn presets_round_trip_through_json() {
        for name in PRESETS {
            let profile = Profile::preset(name).unwrap();
            let text = serde_json::to_string(&profile).unwrap();
            assert_eq!(serde_json::from_str::<Profile>(&text).unwrap(), profile);
        }
    }
}
