//! The command line's types: every subcommand and option, with the help text users read.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use dnlts::device::DeviceChoice;

use crate::profile;

/// What do deep networks like to see?
///
/// dnlts fine-tunes an autoencoder through frozen classifiers (LeNet-5, AlexNet, VGG16-BN,
/// Inception v3, ResNet-50) and measures which part of the input signal each one uses,
/// reproducing each table and figure with data of Palacio et al. (CVPR 2018) as a deterministic
/// target (Figures 1 and 8 are diagrams).
#[derive(Parser)]
#[command(name = "dnlts", version, propagate_version = true)]
#[command(after_help = "Start with `dnlts list`, then `dnlts reproduce` (profile `small`, \
    any CPU). Results go to results/<profile>/. Every page of help: `dnlts help COMMAND`.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show versions, devices, thread count and the determinism settings in force
    Env {
        #[command(flatten)]
        machine: MachineArgs,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// List the targets (one per table or figure of the paper with data; Figures 1 and 8 are
    /// diagrams) or the profiles
    List {
        /// List the profiles with their settings instead of the targets
        #[arg(long)]
        profiles: bool,
    },
    /// Run targets of a profile and write their results under results/<profile>/
    Reproduce(ReproduceArgs),
    /// Pre-train the SegNet on the unlabelled stream (A_S); cached in <out>/stages/
    Pretrain(StageArgs),
    /// Train a classifier from scratch on the profile's labelled data
    TrainClassifier {
        /// Which built-in classifier: L, A, V, I, R or lenet5, alexnet, vgg16_bn, inception_v3,
        /// resnet50 (a classifier of yours is given to `reproduce --classifier NAME=FILE`)
        #[arg(long, value_name = "FAMILY")]
        family: String,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Train the built-in classifiers once with the long recipes and write them as a shipped
    /// set (weights, sha256 manifest, test top-1): how fixtures/classifiers/small was made.
    /// The stages train in --out (resumable), each classifier joins the set when it is done
    ShipClassifiers {
        /// Which, comma-separated: L, A, V, I, R or their names
        #[arg(long, value_delimiter = ',', value_name = "F,F,…", default_value = "L,A,V,I,R")]
        families: Vec<String>,
        /// The set's folder: <family name>.safetensors and manifest.json are written there
        /// (with --check: read; default the profile's shipped set)
        #[arg(long, value_name = "DIR", required_unless_present = "check")]
        set: Option<PathBuf>,
        /// Train nothing: load each classifier of the set, measure it on the test split again
        /// and fail unless every number equals its manifest's (the measurement is exact)
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Figure 2's second regime, a SegNet pre-trained on ImageNet's training images for N epochs
    /// (profiles paper and paper-smoke): what `reproduce --fig2-imagenet-epochs N` trains
    PretrainImagenet {
        /// Epochs over ImageNet's training images (the paper: 72)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        epochs: u64,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Fine-tune a copy of A_S through a frozen classifier (the decoder, unless --finetune-part)
    Finetune {
        /// Through which built-in classifier: L, A, V, I, R or lenet5, alexnet, vgg16_bn,
        /// inception_v3, resnet50
        #[arg(long, value_name = "FAMILY")]
        family: String,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Evaluate: Table 1, Table 2, the noise sweep and nMI (targets table1, table2, fig4, fig9).
    /// A stage it reads that is not yet in <out>/stages is trained first, which is why the
    /// training options are accepted: they name the stages to read, or make them
    Evaluate(StageArgs),
    /// List the built-in models (paper scale and scaled): parameters, input spec, GFLOPs per image
    Models {
        /// Print one JSON document instead of a table
        #[arg(long)]
        json: bool,
        /// Check that a TorchScript classifier of yours loads and runs:
        /// NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B]
        #[arg(long, value_name = "NAME=FILE")]
        classifier: Vec<dnlts::models::classifier::ScriptedSpec>,
    },
    /// RRC (Figure 6), concept lattices and stable thresholds (Figure 7) of any cross-accuracy
    /// table: rows = AEs, columns = classifiers (JSON or CSV, see fixtures/README.md)
    Analyze {
        /// The cross-accuracy table: JSON ({"classifiers": [...], "rows": {...}}) or CSV, e.g.
        /// fixtures/paper/table2.json or a run's table2.json
        #[arg(value_name = "TABLE")]
        table: PathBuf,
        #[command(flatten)]
        options: AnalyzeOptions,
        /// Write Figure 6 (SVG) and each lattice (SVG and Graphviz DOT) into this folder
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Normalized mutual information of two equally sized 8-bit images (PNG)
    Nmi {
        /// The first image (PNG, 8-bit RGB or grey)
        #[arg(value_name = "A")]
        a: PathBuf,
        /// The second image, of the same size as A
        #[arg(value_name = "B")]
        b: PathBuf,
        /// Equal-width bins over the 256 sub-pixel values
        #[arg(long, default_value_t = 256)]
        bins: usize,
    },
    /// Look at and check datasets
    #[command(subcommand)]
    Data(DataCommand),
    /// Work with weight files (safetensors)
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Print a profile's stage graph as a Makefile or a Slurm script: one `dnlts` stage
    /// command per node, all writing into one shared output folder
    Plan(PlanArgs),
    /// Time each stage's step on generated inputs: img/s, TFLOP/s, MFU, peak memory, and the
    /// projected wall time of the whole profile
    Bench(BenchArgs),
    /// Check everything a profile needs before any training (data folders and image counts,
    /// pretrained weight files, GPU, free disk) and list every missing piece at once
    Doctor(DoctorArgs),
    /// Runs of one profile under different master seeds, side by side: Tables 1 and 2 as mean
    /// ± sd across seeds with each run's 95 % interval, every claim's verdict per seed, the
    /// verdict counts, seconds per stage (markdown)
    Summarize {
        /// Run folders written by `dnlts reproduce --seed N --out DIR` (targets table1, table2,
        /// claims), one per seed
        #[arg(value_name = "DIR", required = true, num_args = 1..)]
        runs: Vec<PathBuf>,
        /// Write the summary to this file instead of printing it
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// One JSON document (every run's numbers) instead of markdown
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum DataCommand {
    /// Write a labelled picture grid of a profile's synthetic images (the same bytes whatever
    /// the thread count)
    Preview {
        /// tiny, ci or small (the synthetic profiles)
        #[arg(long, default_value = profile::DEFAULT)]
        profile: String,
        /// Number of images, at least 1; a grid over 1 GiB of memory (about 90,000 images of
        /// the synthetic profiles) is refused with the largest count that fits
        #[arg(long, default_value_t = 64, value_parser = |s: &str| match s.parse::<usize>() {
            Ok(0) => Err("a grid needs at least 1 image".to_string()),
            other => other.map_err(|e| e.to_string()),
        })]
        n: usize,
        /// Draw the images with one cue switched off: no-palette, no-shape, no-texture or
        /// no-opponent (what the generator's ablation switch does)
        #[arg(long, default_value = "full")]
        ablation: String,
        /// Master seed (the data seed derives from it, as in `reproduce`)
        #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
        seed: u64,
        /// The PNG file to write (its folder must exist)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write one split of a profile's images as an ImageFolder tree (DIR/<class>/<index>.png
    /// and DIR/MANIFEST.sha256): exactly the pixels the pipeline reads, to train a classifier
    /// of yours elsewhere and plug it in with `dnlts reproduce --classifier`
    Export {
        /// tiny, ci, small (embedded synthetic data) or fashion (needs --data or the Debian
        /// package's folder)
        #[arg(long, default_value = profile::DEFAULT)]
        profile: String,
        /// train (what classifiers and fine-tuning train on), val or test (what Tables 1–2 and
        /// the figures evaluate)
        #[arg(long, value_parser = ["train", "val", "test"])]
        split: String,
        /// An empty or new folder
        #[arg(long)]
        out: PathBuf,
        /// Master seed (the synthetic data's seed derives from it, as in `reproduce`)
        #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
        seed: u64,
        /// Dataset folder of a real-data profile (fashion: the IDX files)
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Check a dataset folder against its sha256 manifest (MANIFEST.sha256), or write one
    Verify {
        /// The dataset folder; its manifest is DIR/MANIFEST.sha256
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Write (or replace) the manifest instead of checking it
        #[arg(long)]
        write: bool,
    },
}

#[derive(Subcommand)]
pub enum WeightsCommand {
    /// Validate a file's whole structure, then list its tensors with shape and dtype, the value
    /// total, NaN/Inf counts and the file's sha256
    Inspect {
        /// The safetensors file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print one JSON document instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Load a file into a paper-scale model (strictly by default, refusing NaN/Inf values) and
    /// say whether it fits and which tensors changed dtype
    Check {
        /// The safetensors file, e.g. one scripts/export_weights.py wrote
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// segnet, lenet5, alexnet, vgg16_bn, inception_v3 or resnet50
        #[arg(long)]
        model: String,
        #[command(flatten)]
        options: CheckOptions,
    },
}

/// Where and how reproducibly to compute.
#[derive(Args)]
pub struct MachineArgs {
    /// libtorch intra-op threads of training, 1 to 1024 (default: the profile's, 2 on the CPU
    /// profiles). Results depend on it: another count is kept apart in the stage cache and
    /// does not give the reference numbers. More cores run independent stages at once instead
    #[arg(long, value_parser = threads_parser())]
    pub threads: Option<usize>,
    /// Run the CPU kernels this CPU and your ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA /
    /// MKL_ENABLE_INSTRUCTIONS select, instead of the AVX2 kernels every x86-64 machine can
    /// run (then the numbers are this kind of CPU's; kept apart in the stage cache)
    #[arg(long)]
    pub native_kernels: bool,
    /// cpu, cuda, cuda:N or auto (the first GPU if there is one). The CPU by default, for
    /// every profile: run the paper profile with --device cuda (`make reproduce TORCH=cuda`
    /// adds it)
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Master seed; every target and stage derives its own seed from it
    #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
    pub seed: u64,
}

#[derive(Args)]
pub struct ReproduceArgs {
    /// Run only these targets (comma-separated; `fig*` matches a prefix)
    #[arg(long, value_delimiter = ',')]
    pub include: Vec<String>,
    /// Skip these targets (comma-separated; `fig*` matches a prefix)
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Add your own classifier beside L, A, V, I, R (repeatable): a TorchScript model
    /// NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B], or weights of a built-in
    /// family at the profile's scale NAME=FILE.safetensors,family=resnet50[,…]. It takes [0, 1]
    /// RGB images of side size (default 224; 32 on every CPU profile, so say size=32),
    /// normalised by mean/std (default ImageNet's), and gives one logit per class of the
    /// profile. resize=N (default 256) is the short side ImageNet photos are scaled to before
    /// the centre crop of size (the paper profiles only). It gets its own fine-tuned AE and a
    /// row and column in every table and figure; `dnlts data export` writes the data to train
    /// it on
    #[arg(long, value_name = "NAME=FILE")]
    pub classifier: Vec<dnlts::models::classifier::ScriptedSpec>,
    /// Figure 2's second regime: also pre-train a SegNet on ImageNet for N epochs (the
    /// paper: 72) and draw its held-out MSE on ImageNet val and on YFCC100m images
    /// (profiles paper and paper-smoke; 0: not drawn)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fig2_imagenet_epochs: u64,
    /// Train the stages on these devices at once, comma-separated (cpu, cuda:N; a device
    /// named twice runs two stages at a time): each stage is a child `dnlts` stage command,
    /// the one `dnlts plan` writes, with this run's options and --threads, so the numbers
    /// equal a one-device run's; the targets then run here on the first device. With N ≥ 2
    /// GPUs, pre-training runs alone on all of them, data-parallel (--pretrain-devices): its
    /// update is --accumulate N's on one GPU, up to rounding. Logs go to <out>/logs/
    #[arg(long, value_delimiter = ',', value_name = "D,D,…", conflicts_with = "device",
          value_parser = parse_device_slot)]
    pub devices: Vec<DeviceChoice>,
    #[command(flatten)]
    pub run: StageArgs,
}

/// One device of `--devices`: a device by name; `auto` names none in particular.
fn parse_device_slot(text: &str) -> Result<DeviceChoice, String> {
    let fix = "name each device, comma-separated: cpu, cuda or cuda:N (e.g. --devices \
               cuda:0,cuda:1; cpu,cpu runs two CPU stages at a time)";
    match text.parse::<DeviceChoice>() {
        _ if text.trim().is_empty() => Err(format!("an empty device name; {fix}")),
        Ok(DeviceChoice::Auto) => Err(format!("'{text}' names no single device; {fix}")),
        Ok(device) => Ok(device),
        Err(_) => Err(format!("'{text}' is not a device; {fix}")),
    }
}

/// How training and evaluation steps are computed. Stages made with other settings are not
/// reused (they are part of each stage's cache key).
#[derive(Args)]
pub struct TrainingArgs {
    /// Images per optimisation step and per evaluation batch (default: the profile's)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Split each batch into N micro-batches whose gradients add up: the same update with
    /// 1/N of the activation memory (batch-norm layers see micro-batch statistics)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub accumulate: u64,
    /// bf16 autocast for training and evaluation (for CUDA; slower on CPUs without bf16 units)
    #[arg(long)]
    pub amp: bool,
    /// Run the networks on channels-last (NHWC) tensors, which cuDNN and oneDNN prefer (the
    /// small and fashion profiles always do)
    #[arg(long)]
    pub channels_last: bool,
    /// Speed over reproducibility on a GPU: cuDNN autotuning (benchmark mode) and its
    /// non-deterministic kernels, so two runs differ in rounding. Recorded in every output's
    /// provenance; its stages are never reused by a deterministic run, nor the other way
    /// round. On the CPU it changes nothing in the computation (the stages are still kept apart)
    #[arg(long)]
    pub fast: bool,
    /// Run batch norm as such in frozen classifiers and the fixed encoder of a fine-tuning,
    /// instead of folded into the convolution before it (the default: the same up to rounding,
    /// one op instead of two); fine-tuned stages made the other way are trained again
    #[arg(long)]
    pub no_fold_bn: bool,
    /// Which half of each AE fine-tuning updates: decoder (the paper's choice), encoder or both
    #[arg(long, default_value = "decoder", value_name = "decoder|encoder|both")]
    pub finetune_part: dnlts::models::segnet::Part,
    /// Pre-train the AE data-parallel over these devices, comma-separated (the first, which
    /// must be --device, holds the master copy): each batch is split over copies of the AE,
    /// their gradients summed; the update equals --accumulate N on one device (N devices) up to
    /// rounding. Worth it on distinct GPUs only; `reproduce --devices` with two or more GPUs
    /// sets it to them
    #[arg(long, value_delimiter = ',', value_name = "D,D,…", value_parser = parse_device_slot)]
    pub pretrain_devices: Vec<DeviceChoice>,
    /// Training batches made ahead on a loader thread while a step computes (0: make each
    /// batch between steps), at most 16: each one waiting holds a whole batch in memory, and a
    /// loader that keeps up needs one or two; results do not depend on it
    #[arg(long, default_value_t = 1,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=16))]
    pub prefetch: usize,
    /// Train the built-in classifiers from scratch in the run (the quick recipes, the profile's
    /// classifier epochs) instead of loading the profile's shipped set (small: the classifiers
    /// in fixtures/classifiers/small, trained once with `dnlts ship-classifiers`)
    #[arg(long)]
    pub train_classifiers: bool,
    /// Dataset folder of a real-data profile: for fashion, the Fashion-MNIST IDX files
    /// (default /usr/share/datasets/fashion-mnist, where `make fashion-mnist` installs them)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub inputs: PaperArgs,
    /// Use the finished stages in DIR (weights and records of pretrain, classifier-*,
    /// finetune-*, checked against DIR/MANIFEST.sha256) as they are and train nothing; the
    /// evaluation goldens run on golden/stages/ci this way
    #[arg(long, value_name = "DIR")]
    pub fixed_stages: Option<PathBuf>,
    /// Bootstrap resamples of the test images behind every interval and every claim's share
    /// (default 1000; at least 100, as the 2.5 % tails need a few resamples each)
    #[arg(long, value_name = "B",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(100..=100_000))]
    pub resamples: Option<usize>,
}

/// Options shared by `reproduce` and the stage commands.
#[derive(Args)]
pub struct StageArgs {
    /// tiny (seconds, for tests), ci (a smoke run of every target, minutes), small (the default:
    /// the CPU reproduction, about 12 min on 2 cores), fashion (Fashion-MNIST, about 45 min),
    /// paper (ImageNet + YFCC100m on a GPU) or paper-smoke (the paper's code on a generated
    /// tree of JPEGs); `dnlts list --profiles` lists them
    #[arg(long, default_value = profile::DEFAULT)]
    pub profile: String,
    /// Output folder (default: results/<profile>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue training stages interrupted earlier (Ctrl-C, a crash) from their checkpoints
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub machine: MachineArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
}

/// More threads than this only adds contention (and a huge count makes libtorch try to start
/// them all).
pub const MAX_THREADS: usize = 1024;

fn threads_parser() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS as u64)
}

/// `dnlts analyze` options: the thresholds and the bound on the lattices.
#[derive(clap::Args, Debug, Clone)]
pub struct AnalyzeOptions {
    /// RRC thresholds t of the lattices, comma-separated; each a finite number above 0
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "T,T,…",
        default_value = DEFAULT_THRESHOLDS,
        value_parser = crate::commands::analyze::parse_threshold
    )]
    pub thresholds: Vec<f64>,
    /// Stop with an error when one concept lattice (at a threshold or in the sweep over t) has
    /// more than N concepts: an n-classifier table can have up to 2^n
    #[arg(long, value_name = "N", default_value_t = dnlts::metrics::analysis::DEFAULT_MAX_CONCEPTS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_concepts: u64,
}

/// The paper's thresholds (`dnlts::metrics::analysis::DEFAULT_THRESHOLDS`) as --thresholds
/// takes them, so that the default shown in the help is a value the option accepts.
pub const DEFAULT_THRESHOLDS: &str = "0.1,0.2,0.8,0.9";

/// `dnlts weights check` options beyond FILE and --model.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Load what matches and list the rest instead of failing on any difference
    #[arg(long)]
    pub allow_partial: bool,
    /// Load tensors holding NaN or Inf values (and list them) instead of refusing the file
    #[arg(long)]
    pub allow_non_finite: bool,
}

/// `dnlts plan` options.
#[derive(Args)]
pub struct PlanArgs {
    /// The profile whose stages to plan (see `dnlts list --profiles`)
    #[arg(long, default_value = profile::DEFAULT)]
    pub profile: String,
    /// make (a Makefile, for `make -f FILE -jN`) or slurm (a bash script of sbatch calls)
    #[arg(long, value_enum, default_value_t = Emit::Make)]
    pub emit: Emit,
    /// The shared output folder every stage writes to (default results/<profile>), made
    /// absolute in the plan
    #[arg(long, alias = "out-dir")]
    pub out: Option<PathBuf>,
    /// Master seed, passed to every stage
    #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
    pub seed: u64,
    /// libtorch threads of every stage, 1 to 1024 (default: the profile's; results depend on
    /// it; Slurm: each job's --cpus-per-task, or more for a paper profile's GPU stage that
    /// needs more JPEG decoders)
    #[arg(long, value_parser = threads_parser())]
    pub threads: Option<usize>,
    /// Every stage runs this CPU's own kernels, not the pinned AVX2 ones
    #[arg(long)]
    pub native_kernels: bool,
    /// Device of every stage: cpu, cuda, cuda:N or auto (default: cuda for the paper profile,
    /// the CPU for the others)
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Slurm: GPUs per job (--gres=gpu:N; default 1 with a CUDA --device, else none)
    #[arg(long)]
    pub gpus_per_job: Option<u32>,
    /// GPUs of the pre-training jobs (pretrain, pretrain-imagenet), which split their batches
    /// over them, data-parallel (--pretrain-devices cuda:D,…, D from --device); with Slurm
    /// their own --gres=gpu:N, --time and loader cores. Needs a CUDA --device
    #[arg(long, default_value_t = 1, value_name = "N", conflicts_with = "pretrain_devices",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub pretrain_gpus: u32,
    /// Slurm: the partition of every job
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: the time limit of every job (sbatch --time, e.g. 2-00:00:00; default for paper
    /// and paper-smoke: twice each stage's estimated hours, at least one)
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm: the host memory of every job (sbatch --mem, e.g. 64G; default for paper and
    /// paper-smoke on a GPU: twice what a stage's process is measured or assumed to hold, plus
    /// the CUDA runtime; the script's header says how)
    #[arg(long, value_parser = crate::commands::plan::parse_mem)]
    pub mem: Option<String>,
    /// Figure 2's second regime, as `reproduce --fig2-imagenet-epochs N`: a `pretrain-imagenet`
    /// stage of N epochs, which the report waits for (paper and paper-smoke; 0: none)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fig2_imagenet_epochs: u64,
    /// How every stage computes (`reproduce`'s options) and the data and weights of paper and
    /// paper-smoke, passed to every stage (paths made absolute)
    #[command(flatten)]
    pub training: TrainingArgs,
}

impl PlanArgs {
    /// `--device`, or the profile's ([`profile_device`]).
    pub fn device(&self) -> DeviceChoice {
        self.device.unwrap_or_else(|| profile_device(&self.profile))
    }
}

impl DoctorArgs {
    /// `--device`, or the profile's ([`profile_device`]).
    pub fn device(&self) -> DeviceChoice {
        self.device.unwrap_or_else(|| profile_device(&self.profile))
    }
}

/// The device `plan` and `doctor` assume when --device is not given: a GPU for the paper
/// profile, which is meant for one (a plan's GPU jobs must not run `--device cpu`), the CPU
/// for every other profile (paper-smoke included: it runs in `make test`).
pub fn profile_device(profile: &str) -> DeviceChoice {
    if profile == "paper" {
        DeviceChoice::Cuda(0)
    } else {
        DeviceChoice::Cpu
    }
}

/// What `dnlts plan` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    Make,
    Slurm,
}

/// The inputs of the profiles that read ImageNet and YFCC100m (paper, paper-smoke).
#[derive(Args)]
pub struct PaperArgs {
    /// ImageNet (ILSVRC2012) folder: train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, or a flat val/
    /// with val_labels.txt beside it
    #[arg(long, value_name = "DIR")]
    pub imagenet: Option<PathBuf>,
    /// YFCC100m folder: images and zip shards of images, in any sub-folders
    #[arg(long, value_name = "DIR")]
    pub yfcc: Option<PathBuf>,
    /// Folder of the torchvision weights scripts/export_weights.py writes (alexnet, vgg16_bn,
    /// inception_v3, resnet50 .safetensors), loaded strictly as A, V, I, R; for a profile that
    /// ships its classifiers (small), a set `dnlts ship-classifiers` made, used instead
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// A pre-trained SegNet (safetensors, the authors' layer names) to use as A_S instead of
    /// pre-training one (the 92 M-image stage)
    #[arg(long, value_name = "FILE")]
    pub segnet: Option<PathBuf>,
}

/// `dnlts doctor` options.
#[derive(Args)]
pub struct DoctorArgs {
    /// The profile to check (paper: the one that needs ImageNet, YFCC100m and weights)
    #[arg(long, default_value = "paper")]
    pub profile: String,
    #[command(flatten)]
    pub inputs: PaperArgs,
    /// The device training would use: cpu, cuda, cuda:N or auto (default: cuda for the paper
    /// profile, the CPU for the others)
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Images per step (default: the profile's)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Output folder whose disk is checked for room (default: results/<profile>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON document instead of the checklist
    #[arg(long)]
    pub json: bool,
}

/// `dnlts bench` options.
#[derive(Args)]
pub struct BenchArgs {
    /// The profile whose stages to time, at its image sizes and batch size
    #[arg(long, default_value = profile::DEFAULT)]
    pub profile: String,
    /// cpu, cuda, cuda:N or auto
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// bf16 autocast (MFU then against the bf16 peak)
    #[arg(long)]
    pub amp: bool,
    /// Run the networks on channels-last (NHWC) tensors (the small and fashion profiles
    /// always do)
    #[arg(long)]
    pub channels_last: bool,
    /// Run the networks on NCHW tensors even where the profile runs channels-last: to time
    /// what the layout is worth
    #[arg(long, conflicts_with = "channels_last")]
    pub nchw: bool,
    /// cuDNN autotuning and non-deterministic kernels, as `reproduce --fast` (GPU; on the CPU
    /// it changes nothing)
    #[arg(long)]
    pub fast: bool,
    /// Run batch norm as such in frozen networks instead of folded into their convolutions
    #[arg(long)]
    pub no_fold_bn: bool,
    /// Images per step (default: the profile's)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Timed steps per stage (and timed passes over the photos of the data-loading rows); the
    /// median is reported
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
    /// Untimed steps per stage before the timed ones (the first also counts the FLOPs)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub warmup: u64,
    /// The device's peak in TFLOP/s for MFU (default: a table of known GPUs; none for CPUs)
    #[arg(long, value_parser = parse_peak)]
    pub peak_tflops: Option<f64>,
    /// Images per second one GPU's step takes, to size the data loaders: the cores of this
    /// CPU that decode and transform that many JPEGs (default: the stages' measured rates
    /// when benching paper scale on CUDA)
    #[arg(long, value_name = "IMG/S", value_parser = parse_gpu_rate)]
    pub gpu_rate: Option<f64>,
    /// Paper profile on a CPU: bench the paper-scale networks at their full sizes (slow)
    /// instead of the reduced stand-in
    #[arg(long)]
    pub full_size: bool,
    /// libtorch intra-op threads, 1 to 1024 (default: the profile's)
    #[arg(long, value_parser = threads_parser())]
    pub threads: Option<usize>,
    /// This CPU's own kernels instead of the pinned AVX2 ones (see `reproduce --help`)
    #[arg(long)]
    pub native_kernels: bool,
    /// Master seed (the random weights and inputs derive from it)
    #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
    pub seed: u64,
    /// Print one JSON document instead of a table
    #[arg(long)]
    pub json: bool,
}

fn parse_peak(text: &str) -> Result<f64, String> {
    positive(text, "a peak: give the device's TFLOP/s")
}

fn parse_gpu_rate(text: &str) -> Result<f64, String> {
    positive(text, "a rate: give the images per second of one GPU's step")
}

/// A finite number above 0, or an error saying what `text` is not.
fn positive(text: &str, what: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("'{text}' is not {what} as a number above 0")),
    }
}

#[cfg(test)]
mod tests {
    /// The default shown in `analyze --help` is the paper's thresholds in a form the option
    /// accepts.
    #[test]
    fn the_default_thresholds_shown_are_the_papers_and_parse() {
        let parsed: Vec<f64> = super::DEFAULT_THRESHOLDS
            .split(',')
            .map(|text| crate::commands::analyze::parse_threshold(text).unwrap())
            .collect();
        assert_eq!(parsed, dnlts::metrics::analysis::DEFAULT_THRESHOLDS);
    }
}
