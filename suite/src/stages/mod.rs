//! The stages behind the targets — AE pre-training, classifier training, fine-tuning, the
//! evaluation pass — each computed once per run and cached on disk under
//! `<out>/stages/`, keyed by everything that determines it (profile, seed, settings, dnlts
//! commit, the dataset, and the keys or weight digests of what it starts from).
//! A target asks for what it needs; whatever was already made is loaded, the rest is trained.
//! The measures several targets share (the cross table, its analysis, nMI) are in
//! [`measures`], computed once per run too. Users' classifiers (`--classifier`) stand beside
//! the five built-ins under their own names ([`users`]).

pub mod measures;
pub mod uncertainty;
pub mod users;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use anyhow::Context as _;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tch::Device;

use dnlts::compute::Compute;
use dnlts::data::fashion;
use dnlts::data::imagenet::ImageNet;
use dnlts::data::resize::EvalTransform;
use dnlts::data::source::{
    failures_in_sample, DecodedSplit, EpochStream, FashionImages, ImageSource, Split,
    StreamHeldOut, SyntheticImages, WithStream,
};
use dnlts::data::synthetic::SyntheticConfig;
use dnlts::data::yfcc::Yfcc;
use dnlts::device::DeviceChoice;
use dnlts::eval::{evaluate, AccuracyTable, EvalPlan, Seen, View};
use dnlts::kernels::Kernels;
use dnlts::models::classifier::{Classifier, ScriptedSpec};
use dnlts::models::segnet::{AeMode, AutoEncoder, Part, SegNetConfig};
use dnlts::models::weights::LoadPolicy;
use dnlts::models::{Family, InputSpec, Scale};
use dnlts::train::checkpoint::Checkpoints;
use dnlts::train::classify::{ClassifyConfig, TrainClassifier};
use dnlts::train::finetune::{Finetune, FinetuneCheck, FinetuneConfig};
use dnlts::train::pretrain::{CheckRecord, Pretrain, PretrainConfig};
use dnlts::train::{drive, Persistence, Schedule, Task, Trained};

use crate::profile::{Classifiers, DataSource, ModelScale, Profile};

/// The most memory the decoded evaluation images may take (8-bit RGB): the synthetic and
/// Fashion-MNIST test sets take a few MB; ImageNet's 50,000 validation images at 224×224
/// (7.5 GB) stream instead.
const EVAL_CACHE_BYTES: u64 = 2 << 30;

/// Record written beside each stage's weights.
#[derive(Serialize, Deserialize)]
struct StageRecord<L> {
    key: String,
    seconds: f64,
    /// Losses of the first steps (what the training goldens compare tightly).
    #[serde(default)]
    first_losses: Vec<f64>,
    /// sha256 of the weights file: a cached stage whose file no longer matches is retrained.
    #[serde(default)]
    weights_sha256: String,
    log: L,
}

/// How the stages run (not what they compute); part of each stage's cache key, since bf16
/// and micro-batches change the rounding and the fine-tuned part changes the result.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunOptions {
    pub compute: Compute,
    pub finetune_part: Part,
    /// The dataset folder of a real-data profile (fashion: the IDX files).
    pub data_dir: Option<PathBuf>,
    /// Training batches made ahead on a loader thread (0: between steps).
    pub prefetch: usize,
    /// A folder of finished stages (weights and records, listed in its sha256 manifest) to
    /// use as they are: nothing is trained. The evaluation goldens run on such a folder.
    pub fixed_stages: Option<PathBuf>,
    /// Where the paper profiles' data and weights are.
    #[serde(default)]
    pub inputs: PaperInputs,
    /// Figure 2's second regime: epochs of an AE pre-trained on ImageNet (0: not drawn).
    #[serde(default)]
    pub fig2_imagenet_epochs: u64,
    /// The devices pre-training splits its batches over (`--pretrain-devices`; empty: the
    /// run's device alone).
    #[serde(default)]
    pub pretrain_devices: Vec<DeviceChoice>,
    /// `--fast`: cuDNN autotuning and non-deterministic kernels on a GPU.
    #[serde(default)]
    pub fast: bool,
    /// The CPU kernels in force (pinned to AVX2 unless `--native-kernels`): another CPU's
    /// native kernels sum in another order, so a stage made with them is not reused.
    #[serde(default)]
    pub kernels: dnlts::kernels::Kernels,
    /// Bootstrap resamples of the test images behind every interval and verdict share
    /// (`--resamples`; None: `dnlts::metrics::bootstrap::DEFAULT_RESAMPLES`).
    #[serde(default)]
    pub resamples: Option<usize>,
}

/// The inputs of a profile that reads ImageNet and YFCC100m (`--imagenet`, `--yfcc`,
/// `--weights`, `--segnet`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PaperInputs {
    pub imagenet: Option<PathBuf>,
    pub yfcc: Option<PathBuf>,
    /// The folder of `<torchvision name>.safetensors` files (scripts/export_weights.py).
    pub weights: Option<PathBuf>,
    /// A pre-trained SegNet to use as A_S instead of pre-training one.
    pub segnet: Option<PathBuf>,
}

impl PaperInputs {
    /// The option of the first input given, if any.
    pub fn first_given(&self) -> Option<&'static str> {
        let given = [
            ("--imagenet", &self.imagenet),
            ("--yfcc", &self.yfcc),
            ("--weights", &self.weights),
            ("--segnet", &self.segnet),
        ];
        given.into_iter().find(|(_, value)| value.is_some()).map(|(option, _)| option)
    }
}

/// The images a run reads: one source for the AE's size, and ImageNet itself when the
/// profile reads it, so that each classifier gets its own crop.
struct Data {
    main: Rc<dyn ImageSource>,
    imagenet: Option<ImageNet>,
    /// YFCC100m's index, whose skip log the pipeline checks.
    yfcc: Option<Arc<Yfcc>>,
}

pub struct Pipeline {
    pub profile: Profile,
    pub options: RunOptions,
    pub master_seed: u64,
    pub device: Device,
    pub resume: bool,
    stages: PathBuf,
    /// The profile's data, or why it cannot be read (reported when first needed, so targets
    /// that need no training, like `published`, run on any profile).
    data: Result<Data, String>,
    /// Users' classifiers, in the order given; each is in `classifiers` from the start.
    users: Vec<users::UserClassifier>,
    pretrained: RefCell<Option<Rc<AutoEncoder>>>,
    /// Frozen classifiers by name: a built-in's letter or a user's name.
    classifiers: RefCell<BTreeMap<String, Rc<Classifier>>>,
    /// Fine-tuned AEs by the name of their classifier.
    finetuned: RefCell<BTreeMap<String, Rc<AutoEncoder>>>,
    evaluations: RefCell<BTreeMap<String, AccuracyTable>>,
    measures: measures::Cache,
    /// The decoded test images as 8-bit RGB, made by the first evaluation when they fit.
    test_images: RefCell<Option<Rc<DecodedSplit>>>,
    /// sha256 of the weight files given on the command line, by path.
    given_digests: RefCell<BTreeMap<PathBuf, String>>,
}

pub fn synthetic_source(profile: &Profile, seed: u64) -> SyntheticImages {
    let config = SyntheticConfig {
        seed,
        size: profile.image_size,
        classes: profile.classes,
        ..SyntheticConfig::default()
    };
    SyntheticImages { config, train_images: profile.train_images, eval_images: profile.eval_images }
}

/// The images of `profile` as the pipeline reads them (`dnlts data export` writes them out).
pub fn profile_source(
    profile: &Profile,
    options: &RunOptions,
    master_seed: u64,
) -> anyhow::Result<Rc<dyn ImageSource>> {
    open_data(profile, options, master_seed).map(|data| data.main).map_err(anyhow::Error::msg)
}

/// The profile's images, or why they cannot be read (reported when first needed, so targets
/// that need no training, like `published`, run anyway).
fn open_data(profile: &Profile, options: &RunOptions, master_seed: u64) -> Result<Data, String> {
    let main: Rc<dyn ImageSource> = match profile.data {
        DataSource::Synthetic => Rc::new(synthetic_source(profile, data_seed(master_seed))),
        DataSource::FashionMnist => {
            let dir = fashion_dir(options);
            let seed = dnlts::seed::derive(master_seed, "data", "fashion-augment");
            let source = FashionImages::load(&dir, profile.train_images, profile.eval_images, seed)
                .map_err(|error| {
                    format!(
                        "profile 'fashion' needs Fashion-MNIST: {error}. On Debian/Ubuntu run \
                         `make fashion-mnist` (installs the package dataset-fashion-mnist into \
                         {}); elsewhere download train-images-idx3-ubyte.gz, \
                         train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and \
                         t10k-labels-idx1-ubyte.gz from \
                         https://github.com/zalandoresearch/fashion-mnist and pass --data DIR",
                        fashion::DEBIAN_DIR
                    )
                })?;
            Rc::new(source)
        }
        DataSource::ImagenetYfcc => {
            return open_imagenet_yfcc(profile, &options.inputs, master_seed)
        }
    };
    Ok(Data { main, imagenet: None, yfcc: None })
}

/// Files of each split decoded when ImageNet and YFCC100m are opened, before anything trains
/// (all of a smaller split): a dataset far past the failure budget stops the run there,
/// instead of training on the images that replace the damaged ones.
const SAMPLE_BEFORE_TRAINING: u64 = 1_000;

/// ImageNet's labelled splits beside YFCC100m's stream, both at the AE's size (short side
/// resized to it, centre crop): the pre-training source. Classifiers read ImageNet at their
/// own crop ([`Pipeline::source_for`]).
fn open_imagenet_yfcc(
    profile: &Profile,
    inputs: &PaperInputs,
    master_seed: u64,
) -> Result<Data, String> {
    let missing = |option: &str| {
        format!(
            "profile '{}' reads ImageNet and YFCC100m: pass {option} DIR; `dnlts doctor \
             --profile {}` lists every input it needs and how to get it",
            profile.name, profile.name
        )
    };
    let imagenet_dir = inputs.imagenet.as_ref().ok_or_else(|| missing("--imagenet"))?;
    let yfcc_dir = inputs.yfcc.as_ref().ok_or_else(|| missing("--yfcc"))?;
    let size = profile.image_size;
    let order_seed = dnlts::seed::derive(master_seed, "data", "imagenet-order");
    let imagenet =
        ImageNet::open(imagenet_dir, EvalTransform { resize: size, crop: size }, order_seed)
            .map_err(|error| format!("--imagenet {}: {error}", imagenet_dir.display()))?;
    let augment_seed = dnlts::seed::derive(master_seed, "data", "yfcc-augment");
    let yfcc = Yfcc::open(yfcc_dir, size, augment_seed)
        .map_err(|error| format!("--yfcc {}: {error}", yfcc_dir.display()))?;
    let budget = dnlts::data::FailureBudget::default();
    let splits = [
        (&imagenet as &dyn ImageSource, Split::Train, "--imagenet", imagenet_dir),
        (&imagenet, Split::Validation, "--imagenet", imagenet_dir),
        (&yfcc, Split::Stream, "--yfcc", yfcc_dir),
    ];
    for (source, split, option, dir) in splits {
        let (tried, failed) = failures_in_sample(source, split, SAMPLE_BEFORE_TRAINING);
        budget
            .check_sample(tried, source.len(split), &failed)
            .map_err(|error| format!("{option} {}: {error}", dir.display()))?;
    }
    let yfcc = Arc::new(yfcc);
    let main = Rc::new(WithStream { labelled: imagenet.clone(), stream: yfcc.clone() });
    Ok(Data { main, imagenet: Some(imagenet), yfcc: Some(yfcc) })
}

/// Fixed stages are trusted only as their manifest lists them.
fn check_fixed_stages(dir: &std::path::Path) -> anyhow::Result<()> {
    let report = dnlts::data::manifest::verify(dir)
        .with_context(|| format!("cannot use {} as fixed stages", dir.display()))?;
    anyhow::ensure!(
        report.is_ok(),
        "the fixed stages in {} do not match their manifest: missing {:?}, changed {:?}, \
         extra {:?}; restore the files (git checkout) or, if the change is intended, rewrite \
         it with `dnlts data verify {} --write`",
        dir.display(),
        report.missing,
        report.changed,
        report.extra,
        dir.display()
    );
    Ok(())
}

/// A training stage that takes no step would leave its network untrained and every target
/// computed from it meaningless: refuse batch sizes that leave a stage without a step.
fn check_every_stage_trains(profile: &Profile) -> anyhow::Result<()> {
    let batch = profile.batch_size as u64;
    let stages = [
        ("AE pre-training", profile.pretrain_images, 1),
        ("classifier training", profile.train_images, profile.classifier_epochs),
        ("AE fine-tuning", profile.finetune_images, 1),
    ];
    for (stage, images, epochs) in stages {
        anyhow::ensure!(
            epochs == 0 || images >= batch,
            "batch size {batch} is larger than the {images} images of {stage} in profile '{}': \
             the stage would take no step and every target would come from an untrained \
             network; use --batch-size {images} or less",
            profile.name
        );
    }
    Ok(())
}

/// Figure 2's second regime: the checks of a SegNet pre-trained on ImageNet for `epochs`
/// epochs of `train_images` (each check's `second_heldout_loss` is on YFCC100m).
#[derive(Debug, Serialize)]
pub struct ImagenetRegime {
    pub epochs: u64,
    pub train_images: u64,
    pub checks: Vec<CheckRecord>,
}

/// What a stage key records of the dataset ([`Pipeline::data_identity`]).
#[derive(Serialize)]
struct DataIdentity {
    folders: Vec<PathBuf>,
    /// Images per split in [`SPLITS`]' order; empty when the data cannot be read.
    images: Vec<u64>,
}

const SPLITS: [Split; 4] = [Split::Train, Split::Validation, Split::Test, Split::Stream];

/// Fashion-MNIST's folder: `--data`, else where Debian's package installs it.
fn fashion_dir(options: &RunOptions) -> PathBuf {
    options.data_dir.clone().unwrap_or_else(|| PathBuf::from(fashion::DEBIAN_DIR))
}

/// The folders `open_data` reads for `profile`, made absolute where they exist.
fn dataset_folders(profile: &Profile, options: &RunOptions) -> Vec<PathBuf> {
    let folders = match profile.data {
        DataSource::Synthetic => Vec::new(),
        DataSource::FashionMnist => vec![fashion_dir(options)],
        DataSource::ImagenetYfcc => [&options.inputs.imagenet, &options.inputs.yfcc]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    };
    folders.into_iter().map(|dir| dir.canonicalize().unwrap_or(dir)).collect()
}

fn file_sha256(path: &std::path::Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(dnlts::digest::sha256_of(&mut file)?)
}

/// The networks' scale and the SegNet of `profile`.
pub fn scale_of(profile: &Profile) -> (Scale, SegNetConfig) {
    let scale = match profile.models {
        ModelScale::Scaled { width_divisor } => Scale::Scaled {
            width_divisor: width_divisor as i64,
            image_size: profile.image_size as i64,
        },
        ModelScale::Paper => Scale::Paper,
        ModelScale::PaperAt { crop, inception_crop } => {
            Scale::PaperAt { crop: crop as i64, inception_crop: inception_crop as i64 }
        }
    };
    (scale, profile.autoencoder.segnet())
}

/// Checks `--pretrain-devices` before anything runs: every device of the run device's kind
/// (the CPU and a GPU round differently). Whether they are there is checked where pre-training
/// trains ([`resolve_pretrain_devices`]): every stage command of a split run is given the list
/// (the number of copies is in pre-training's key), also those that run on one GPU.
pub fn check_pretrain_devices(chosen: &[DeviceChoice], run_device: Device) -> anyhow::Result<()> {
    for choice in chosen {
        anyhow::ensure!(
            matches!(choice, DeviceChoice::Cuda(_)) == run_device.is_cuda(),
            "--pretrain-devices {}: {choice} is not of the run device's kind ({}); split \
             pre-training over GPUs with --device cuda:N, or over the CPU alone",
            DeviceChoice::list(chosen),
            crate::provenance::device_name(run_device)
        );
    }
    Ok(())
}

/// The devices of `--pretrain-devices`, each resolved (there, or an error naming it).
fn resolve_pretrain_devices(chosen: &[DeviceChoice]) -> anyhow::Result<Vec<Device>> {
    let resolve = |choice: &DeviceChoice| {
        choice.resolve().with_context(|| format!("--pretrain-devices {choice}"))
    };
    chosen.iter().map(resolve).collect()
}

/// Profile fields that only some kinds of stage read (by the start of the stage's name), and
/// which: the others' keys leave them out, so that a new pre-training budget, say, keeps the
/// classifiers. Every field not listed here is in every key; so is every field of a stage
/// whose name starts with none of these (a user's classifier).
const READ_ONLY_BY: [(&str, &[&str]); 10] = [
    // Words, and the evaluation's settings: no stage reads them.
    ("summary", &[]),
    ("budget", &[]),
    ("noise_images", &[]),
    ("eval_batch_size", &[]),
    // A fine-tuning reads these through its upstream stages' keys.
    ("pretrain_images", &["pretrain"]),
    ("check_every", &["pretrain"]),
    ("autoencoder", &["pretrain", "finetune"]),
    ("classifier_epochs", &["classifier"]),
    ("classifiers", &["classifier"]),
    ("finetune_images", &["finetune"]),
];

/// The fields of `profile` that stage `stage` reads, for its key.
fn profile_read_by(profile: &Profile, stage: &str) -> serde_json::Value {
    let mut fields = serde_json::to_value(profile).expect("a profile serialises");
    let kinds = ["pretrain", "classifier", "finetune"];
    if kinds.iter().any(|kind| stage.starts_with(kind)) {
        let object = fields.as_object_mut().expect("a profile is a struct");
        for (field, readers) in READ_ONLY_BY {
            if !readers.iter().any(|kind| stage.starts_with(kind)) {
                object.remove(field).expect("READ_ONLY_BY names profile fields");
            }
        }
    }
    fields
}

/// The synthetic world's seed for a master seed.
pub fn data_seed(master_seed: u64) -> u64 {
    dnlts::seed::derive(master_seed, "data", "synthetic")
}

/// Where a stage's files are kept.
pub struct Place<'a> {
    pub out_dir: &'a std::path::Path,
    pub resume: bool,
}

impl Pipeline {
    /// The stages of a run; users' classifiers (`user_specs`) are loaded and checked here,
    /// before anything trains.
    pub fn new(
        profile: Profile,
        options: RunOptions,
        master_seed: u64,
        device: Device,
        place: Place,
        user_specs: &[ScriptedSpec],
    ) -> anyhow::Result<Self> {
        let data = open_data(&profile, &options, master_seed);
        match &options.fixed_stages {
            Some(dir) => check_fixed_stages(dir)?,
            None => check_every_stage_trains(&profile)?,
        }
        let (scale, _) = scale_of(&profile);
        let mut users = Vec::new();
        let mut classifiers = BTreeMap::new();
        for (user, mut classifier) in users::load(user_specs, &profile, scale, device)? {
            classifier.freeze();
            classifiers.insert(user.spec.name.clone(), Rc::new(classifier));
            users.push(user);
        }
        let pipeline = Pipeline {
            profile,
            options,
            master_seed,
            device,
            resume: place.resume,
            stages: place.out_dir.join("stages"),
            data,
            users,
            pretrained: RefCell::new(None),
            classifiers: RefCell::new(classifiers),
            finetuned: RefCell::new(BTreeMap::new()),
            evaluations: RefCell::new(BTreeMap::new()),
            measures: measures::Cache::default(),
            test_images: RefCell::new(None),
            given_digests: RefCell::new(BTreeMap::new()),
        };
        // A damaged or incomplete shipped set is reported now, not after pre-training.
        let ships = matches!(pipeline.profile.classifiers, Classifiers::Shipped(_));
        if ships && pipeline.options.fixed_stages.is_none() {
            for family in Family::ALL {
                pipeline.pretrained_file(family)?;
            }
        }
        Ok(pipeline)
    }

    /// The images at the AE's size (pre-training, nMI, reconstructions).
    pub fn source(&self) -> anyhow::Result<&dyn ImageSource> {
        self.data().map(|data| data.main.as_ref())
    }

    fn data(&self) -> anyhow::Result<&Data> {
        self.data.as_ref().map_err(|reason| anyhow::anyhow!("{reason}"))
    }

    /// The labelled images as a classifier of input `spec` reads them: ImageNet at the
    /// classifier's own resize and centre crop (the paper's protocol); every other dataset is
    /// made at the profile's one size, which every classifier of its scale takes.
    pub fn source_for(&self, spec: &InputSpec) -> anyhow::Result<Rc<dyn ImageSource>> {
        let data = self.data()?;
        Ok(match &data.imagenet {
            Some(imagenet) => {
                let transform =
                    EvalTransform { resize: spec.resize as u32, crop: spec.size as u32 };
                Rc::new(imagenet.at(transform))
            }
            None => data.main.clone(),
        })
    }

    fn scale(&self) -> (Scale, SegNetConfig) {
        scale_of(&self.profile)
    }

    /// Users' classifiers, in the order given on the command line.
    pub fn users(&self) -> &[users::UserClassifier] {
        &self.users
    }

    fn seed(&self, stage: &str) -> u64 {
        dnlts::seed::derive(self.master_seed, "stage", stage)
    }

    /// The seed of the evaluation noise U(-s, s): Figures 4 and 5 draw the same noise.
    pub fn noise_seed(&self) -> u64 {
        self.seed("noise")
    }

    /// A stage's cache key: what determines its result. `config` holds the stage's own
    /// settings and the keys (or file digests) of what it starts from, so a changed upstream
    /// stage makes a new key downstream; the dataset's identity is in every key.
    fn key(&self, stage: &str, config: &impl Serialize) -> String {
        let text = serde_json::to_string(&(
            stage,
            profile_read_by(&self.profile, stage),
            self.master_seed,
            config,
            self.data_identity(),
            self.arithmetic(),
            // A deliberately perturbed run (tests) never shares its stages.
            dnlts::perturb::armed(),
            env!("CARGO_PKG_VERSION"),
            // Stages made by other code are not reused: the commit is part of the key.
            env!("DNLTS_GIT_COMMIT"),
        ))
        .expect("serialisable");
        dnlts::digest::sha256_hex(text.as_bytes())
    }

    /// Where the sums run, as far as it changes their rounding: the kind of device and, on a
    /// CPU, the thread count (`--threads 1` and 2 train the tiny profile's pre-training and
    /// Inception to other weights), and whether the run was `--fast` (cuDNN's autotuned,
    /// non-deterministic kernels: a stage made so is no deterministic run's; on the CPU it
    /// computes the same, but is kept apart all the same, as its provenance says `fast`). A
    /// stage made otherwise is trained again, not reused. So are the CPU kernels
    /// (`dnlts::kernels`): pinned ones and a CPU's native ones round differently. The GPU's index is left out:
    /// `--devices cuda:0,cuda:1` trains stages on one GPU that the run then reads on another.
    fn arithmetic(&self) -> (&'static str, Option<i32>, bool, Option<Kernels>) {
        let (kind, threads, kernels) = match self.device {
            Device::Cpu => ("cpu", Some(tch::get_num_threads()), Some(self.options.kernels)),
            Device::Cuda(_) => ("cuda", None, None),
            _ => ("other", Some(tch::get_num_threads()), Some(self.options.kernels)),
        };
        (kind, threads, self.options.fast, kernels)
    }

    /// The dataset every stage reads, as far as a key can name it cheaply: its folders
    /// (absolute) and how many images each split holds there. Another folder, or one that
    /// gained or lost images, makes new keys; an image edited in place does not (hashing
    /// ImageNet's 1.3 M files at every start would cost more than the stages it protects).
    fn data_identity(&self) -> DataIdentity {
        let images = match self.source() {
            Ok(source) => SPLITS.map(|split| source.len(split)).to_vec(),
            Err(_) => Vec::new(),
        };
        DataIdentity { folders: dataset_folders(&self.profile, &self.options), images }
    }

    /// The sha256 of a given weights file (`--segnet`, `--weights`), read once per run.
    fn given_sha256(&self, file: &Path) -> anyhow::Result<String> {
        if let Some(digest) = self.given_digests.borrow().get(file) {
            return Ok(digest.clone());
        }
        let digest = file_sha256(file)?;
        self.given_digests.borrow_mut().insert(file.to_path_buf(), digest.clone());
        Ok(digest)
    }

    /// A finished stage's record and weights file.
    pub fn stage_files(&self, stage: &str) -> (PathBuf, PathBuf) {
        (self.record_path(stage), self.weights_path(stage))
    }

    fn record_path(&self, stage: &str) -> PathBuf {
        self.stages.join(format!("{stage}.json"))
    }

    fn checkpoints_dir(&self, stage: &str) -> PathBuf {
        self.stages.join(format!("{stage}.checkpoints"))
    }

    fn weights_path(&self, stage: &str) -> PathBuf {
        self.stages.join(format!("{stage}.safetensors"))
    }

    /// The stage's record if it is cached under `key`, or, with fixed stages, the fixed one
    /// (an error if the folder lacks it: fixed stages never train).
    fn cached<L: DeserializeOwned>(
        &self,
        stage: &str,
        key: &str,
    ) -> anyhow::Result<Option<(StageRecord<L>, PathBuf)>> {
        if let Some(dir) = &self.options.fixed_stages {
            let (record, weights) =
                (dir.join(format!("{stage}.json")), dir.join(format!("{stage}.safetensors")));
            anyhow::ensure!(
                record.is_file() && weights.is_file(),
                "the fixed stages in {} lack stage '{stage}' ({} and {}); fixed stages are \
                 used as they are, never trained: copy the stage from a run's stages/ folder \
                 and rewrite the manifest with `dnlts data verify {} --write`",
                dir.display(),
                record.display(),
                weights.display(),
                dir.display()
            );
            let text = std::fs::read(&record)?;
            let parsed: StageRecord<L> = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not a stage record", record.display()))?;
            // The manifest can be rewritten to match any files (its error message says how);
            // the record says which weights the stage made, so two stages' weights swapped
            // are caught here.
            anyhow::ensure!(
                !parsed.weights_sha256.is_empty(),
                "{} has no weights_sha256 (written by an older dnlts), and fixed stages are \
                 trusted only against it: copy the stage from a newer run, or, if you trust \
                 {}, add its sha256 (`sha256sum`) to the record as \"weights_sha256\"",
                record.display(),
                weights.display()
            );
            anyhow::ensure!(
                file_sha256(&weights)? == parsed.weights_sha256,
                "{} is not the weights its record {} names (its sha256 differs from the \
                 record's weights_sha256): the file was replaced, or swapped with another \
                 stage's; copy the stage's .safetensors and .json together from the run that \
                 made them",
                weights.display(),
                record.display()
            );
            return Ok(Some((parsed, weights)));
        }
        let Ok(text) = std::fs::read(self.record_path(stage)) else { return Ok(None) };
        let Ok(record) = serde_json::from_slice::<StageRecord<L>>(&text) else { return Ok(None) };
        let weights = self.weights_path(stage);
        if record.key != key || !weights.is_file() {
            return Ok(None);
        }
        if file_sha256(&weights)? != record.weights_sha256 {
            eprintln!(
                "warning: {} does not match the sha256 in {} (damaged or replaced); \
                 retraining stage '{stage}'",
                weights.display(),
                self.record_path(stage).display()
            );
            return Ok(None);
        }
        // A run killed between writing the record and removing the checkpoints left them.
        let _ = std::fs::remove_dir_all(self.checkpoints_dir(stage));
        Ok(Some((record, weights)))
    }

    /// Trains stage `stage` with `task` on `schedule` (resuming from its checkpoints when
    /// asked), then saves its weights with `save` and its record (key, time, log) beside them.
    fn train_stage<T: Task>(
        &self,
        stage: &str,
        key: String,
        task: &T,
        schedule: Schedule,
        save: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let dir = self.checkpoints_dir(stage);
        self.claim_checkpoints(stage, &dir, &key)?;
        let persistence = Persistence {
            checkpoints: Checkpoints::new(&dir, 2),
            dir: dir.clone(),
            resume: self.resume,
        };
        let schedule = Schedule { prefetch: self.options.prefetch, ..schedule };
        let trained = drive(task, schedule, Some(&persistence), self.seed(stage));
        self.check_skipped()?;
        let Trained { first_losses, log } = trained?;
        let weights = self.weights_path(stage);
        save(&weights)?;
        dnlts::failpoint::hit("stage-weights", || stage.to_string());
        let seconds = started.elapsed().as_secs_f64();
        let weights_sha256 = file_sha256(&weights)?;
        let record = StageRecord { key, seconds, first_losses, weights_sha256, log };
        crate::output::write_json(&self.record_path(stage), &record)?;
        dnlts::failpoint::hit("stage-record", || stage.to_string());
        let _ = std::fs::remove_dir_all(dir);
        // A stop asked for during the last step: the stage is saved, the run goes no further.
        anyhow::ensure!(
            !dnlts::train::stop::requested(),
            "stopped on request after stage '{stage}' finished (saved in {}); run the same \
             command again to continue",
            self.stages.display()
        );
        Ok(())
    }

    /// Marks `dir` as holding checkpoints of the stage keyed `key`. Checkpoints of another key
    /// (other settings, another dnlts commit, or a dnlts from before keys were recorded) would
    /// resume a different training run, so they are removed and the stage starts afresh.
    fn claim_checkpoints(&self, stage: &str, dir: &Path, key: &str) -> anyhow::Result<()> {
        let key_file = dir.join("KEY");
        let recorded = std::fs::read_to_string(&key_file).ok();
        if dir.exists() && recorded.as_deref() != Some(key) {
            if self.resume {
                eprintln!(
                    "note: the checkpoints in {} were made with other settings or another \
                     dnlts version; stage '{stage}' starts afresh",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove the old checkpoints {}", dir.display()))?;
        }
        dnlts::atomic::write_atomic(&key_file, key.as_bytes())
            .with_context(|| format!("cannot write {}", key_file.display()))
    }

    /// The torchvision weights file of `family` when the profile uses pretrained classifiers
    /// (paper scale: every family but LeNet-5, which torchvision does not have).
    fn pretrained_file(&self, family: Family) -> anyhow::Result<Option<PathBuf>> {
        if self.profile.trains_classifier(family) {
            return Ok(None);
        }
        if let Classifiers::Shipped(set) = &self.profile.classifiers {
            let dir = self.options.inputs.weights.clone();
            let dir = dir.unwrap_or_else(|| crate::shipped::repository_dir(set));
            let digest = |file: &Path| self.given_sha256(file);
            return crate::shipped::checked_file(&dir, &self.profile.name, family, digest)
                .map(Some);
        }
        let dir = self.options.inputs.weights.as_ref().with_context(|| {
            format!(
                "profile '{}' uses torchvision's pretrained {}: pass --weights DIR holding \
                 {}.safetensors (python3 scripts/export_weights.py torchvision {} --out DIR)",
                self.profile.name,
                family.name(),
                family.name(),
                family.name()
            )
        })?;
        Ok(Some(dir.join(format!("{}.safetensors", family.name()))))
    }

    /// The record of a stage whose weights were given rather than trained: their file and
    /// sha256, so a result names the exact weights it came from.
    fn record_given<L: Serialize>(
        &self,
        stage: &str,
        key: String,
        file: &Path,
        log: L,
    ) -> anyhow::Result<()> {
        #[derive(Serialize)]
        struct Given<L> {
            #[serde(flatten)]
            record: StageRecord<L>,
            given: PathBuf,
        }
        let weights_sha256 = file_sha256(file)?;
        let record =
            StageRecord { key, seconds: 0.0, first_losses: Vec::new(), weights_sha256, log };
        std::fs::create_dir_all(&self.stages)
            .with_context(|| format!("cannot create {}", self.stages.display()))?;
        crate::output::write_json(&self.record_path(stage), &Given { record, given: file.into() })
    }

    fn pretrain_config(&self) -> PretrainConfig {
        let p = &self.profile;
        PretrainConfig {
            compute: self.options.compute.with_every_network_training(),
            ..PretrainConfig::new(
                p.autoencoder.pretrain,
                p.pretrain_images,
                p.batch_size as u64,
                p.check_every,
                self.validation_images().min(512),
            )
        }
    }

    /// The profile's evaluation images, or fewer when the dataset holds fewer (a held-out
    /// set larger than the split would read its images again).
    fn validation_images(&self) -> u64 {
        let available = self.source().map_or(u64::MAX, |s| s.len(Split::Validation));
        self.profile.eval_images.min(available)
    }

    /// A_S: the AE pre-trained on the unlabelled stream.
    pub fn pretrained(&self) -> anyhow::Result<Rc<AutoEncoder>> {
        if let Some(ae) = self.pretrained.borrow().as_ref() {
            return Ok(ae.clone());
        }
        let (_, segnet) = self.scale();
        let config = self.pretrain_config();
        let key = self.pretrain_key()?;
        tch::manual_seed(self.seed("pretrain") as i64);
        let mut ae = AutoEncoder::new(segnet, self.device);
        if let Some(file) = &self.options.inputs.segnet {
            // A pre-trained SegNet stands in for the 92 M-image stage; its record says which.
            ae.load(file, LoadPolicy::Strict)
                .with_context(|| format!("--segnet {}", file.display()))?;
            self.record_given("pretrain", key, file, Vec::<CheckRecord>::new())?;
        } else if let Some((_, weights)) = self.cached::<Vec<CheckRecord>>("pretrain", &key)? {
            ae.load(&weights, LoadPolicy::Strict)?;
        } else {
            self.train_ae("pretrain", key, &ae, Pretrain::new(&ae, self.source()?, config))?;
        }
        let ae = Rc::new(ae);
        *self.pretrained.borrow_mut() = Some(ae.clone());
        Ok(ae)
    }

    /// A_S's key: its settings, or the digest of the SegNet given in its place.
    fn pretrain_key(&self) -> anyhow::Result<String> {
        let given = match &self.options.inputs.segnet {
            Some(file) => Some(self.given_sha256(file).with_context(|| "--segnet")?),
            None => None,
        };
        Ok(self.key("pretrain", &(self.pretrain_config(), given, self.pretrain_copies())))
    }

    /// How many copies of the AE pre-training splits each batch over (`--pretrain-devices`):
    /// like micro-batches, they change the batch-norm statistics, so they are in its key.
    fn pretrain_copies(&self) -> usize {
        self.options.pretrain_devices.len().max(1)
    }

    /// Trains `ae` with `task` as stage `stage`: on the run's device, or data-parallel over
    /// `--pretrain-devices`.
    fn train_ae(
        &self,
        stage: &str,
        key: String,
        ae: &AutoEncoder,
        task: Pretrain,
    ) -> anyhow::Result<()> {
        let task = task
            .data_parallel(&self.pretrain_replicas()?)
            .with_context(|| format!("stage '{stage}': cannot copy the AE to its devices"))?;
        self.train_stage(stage, key, &task, task.schedule(), |path| Ok(ae.save(path)?))
    }

    /// The devices of the AE's copies besides the run's device, from `--pretrain-devices`,
    /// whose first device is the run's: the AE trains there and is read there afterwards.
    fn pretrain_replicas(&self) -> anyhow::Result<Vec<Device>> {
        let chosen = &self.options.pretrain_devices;
        let mut devices = resolve_pretrain_devices(chosen)?;
        let Some(&first) = devices.first() else { return Ok(devices) };
        anyhow::ensure!(
            first == self.device,
            "--pretrain-devices {}: its first device holds the AE's master copy and must be \
             the run's device ({}); add --device {}",
            DeviceChoice::list(chosen),
            crate::provenance::device_name(self.device),
            chosen[0]
        );
        Ok(devices.split_off(1))
    }

    /// The pre-training log: Figure 2's data.
    pub fn pretrain_log(&self) -> anyhow::Result<Vec<CheckRecord>> {
        self.pretrained()?;
        if self.options.inputs.segnet.is_some() {
            // A given SegNet was not pre-trained here: there is no curve to draw.
            return Ok(Vec::new());
        }
        let key = self.pretrain_key()?;
        Ok(self
            .cached::<Vec<CheckRecord>>("pretrain", &key)?
            .context("pre-training record missing")?
            .0
            .log)
    }

    /// Figure 2's second regime (`--fig2-imagenet-epochs N`, the paper's N = 72): a SegNet
    /// pre-trained on ImageNet's training images for N epochs, each in its own order, instead
    /// of on the never-repeating stream; checked once per epoch on ImageNet val and on the
    /// first YFCC100m images (held out: this AE never trains on them), as many of each as the
    /// profile evaluates. `None` when not asked for. Nothing else uses this AE.
    pub fn imagenet_pretrain_log(&self) -> anyhow::Result<Option<ImagenetRegime>> {
        let epochs = self.options.fig2_imagenet_epochs;
        if epochs == 0 {
            return Ok(None);
        }
        let data = self.data()?;
        let (Some(imagenet), Some(yfcc)) = (&data.imagenet, &data.yfcc) else {
            anyhow::bail!(
                "--fig2-imagenet-epochs {epochs}: profile '{}' reads no ImageNet and YFCC100m; \
                 Figure 2's second regime runs with --profile paper or paper-smoke",
                self.profile.name
            );
        };
        let stage = "pretrain-imagenet";
        let train_images = imagenet.len(Split::Train);
        let heldout = self.validation_images();
        let config = PretrainConfig {
            compute: self.options.compute.with_every_network_training(),
            ..PretrainConfig::new(
                self.profile.autoencoder.pretrain,
                epochs * train_images,
                self.profile.batch_size as u64,
                train_images,
                heldout,
            )
        };
        let key = self.key(stage, &(&config, self.pretrain_copies()));
        if self.cached::<Vec<CheckRecord>>(stage, &key)?.is_none() {
            let seed = self.seed(stage);
            tch::manual_seed(seed as i64);
            let ae = AutoEncoder::new(self.scale().1, self.device);
            let source = EpochStream::new(imagenet.clone(), seed);
            let yfcc_heldout = StreamHeldOut { stream: yfcc.unaugmented(), images: heldout };
            let task = Pretrain::new(&ae, &source, config).with_second_heldout(&yfcc_heldout);
            self.train_ae(stage, key.clone(), &ae, task)?;
        }
        let (record, _) = self
            .cached::<Vec<CheckRecord>>(stage, &key)?
            .context("the record of stage 'pretrain-imagenet' is missing")?;
        let log = record.log;
        Ok(Some(ImagenetRegime { epochs, train_images, checks: log }))
    }

    /// Classifier `family`, trained from scratch on the profile's data, frozen.
    pub fn classifier(&self, family: Family) -> anyhow::Result<Rc<Classifier>> {
        if let Some(c) = self.classifiers.borrow().get(family.letter()) {
            return Ok(c.clone());
        }
        let (scale, _) = self.scale();
        let stage = format!("classifier-{}", family.name());
        let config = self.classifier_config(family);
        let key = self.classifier_key(family)?;
        let p = &self.profile;
        tch::manual_seed(config.seed as i64);
        let mut classifier = Classifier::builtin(family, scale, p.classes as i64, self.device);
        if let Some(file) = self.pretrained_file(family)? {
            let store = classifier.store_mut().expect("built-in");
            dnlts::models::weights::load(&mut [store], &file, LoadPolicy::Strict)
                .with_context(|| format!("the pretrained weights of {}", family.name()))?;
            self.record_given(&stage, key, &file, serde_json::Value::Null)?;
        } else if let Some((_, weights)) = self.cached::<serde_json::Value>(&stage, &key)? {
            let store = classifier.store_mut().expect("built-in");
            dnlts::models::weights::load(&mut [store], &weights, LoadPolicy::Strict)?;
        } else {
            let source = self.source_for(&classifier.spec)?;
            let task = TrainClassifier::new(&classifier, source.as_ref(), config);
            self.train_stage(&stage, key, &task, task.schedule(), |path| {
                Ok(dnlts::models::weights::save(&[classifier.store().expect("built-in")], path)?)
            })?;
        }
        classifier.freeze();
        let classifier = Rc::new(classifier);
        self.classifiers.borrow_mut().insert(family.letter().to_string(), classifier.clone());
        Ok(classifier)
    }

    /// How built-in classifier `family` trains in this run.
    pub fn classifier_config(&self, family: Family) -> ClassifyConfig {
        let p = &self.profile;
        ClassifyConfig {
            check_images: p.eval_images.min(1000),
            seed: self.seed(&format!("classifier-{}", family.name())),
            compute: self.options.compute.with_every_network_training(),
            ..match p.classifiers {
                Classifiers::Long => ClassifyConfig::long_recipe(family, p.batch_size as u64),
                _ => ClassifyConfig::recipe(family, p.classifier_epochs, p.batch_size as u64),
            }
        }
    }

    /// A built-in classifier's key: its training settings, or the digest of its given weights.
    fn classifier_key(&self, family: Family) -> anyhow::Result<String> {
        let given = match self.pretrained_file(family)? {
            Some(file) => Some(
                self.given_sha256(&file)
                    .with_context(|| format!("the pretrained weights of {}", family.name()))?,
            ),
            None => None,
        };
        let stage = format!("classifier-{}", family.name());
        Ok(self.key(&stage, &(self.classifier_config(family), given)))
    }

    /// The frozen classifier called `name`: a built-in's letter (trained on first use) or a
    /// user's name.
    pub fn classifier_named(&self, name: &str) -> anyhow::Result<Rc<Classifier>> {
        if let Some(c) = self.classifiers.borrow().get(name) {
            return Ok(c.clone());
        }
        let family = Family::parse(name)
            .with_context(|| format!("no classifier is called '{name}' in this run"))?;
        self.classifier(family)
    }

    fn finetune_config(&self) -> FinetuneConfig {
        let p = &self.profile;
        let batch_size = p.batch_size as u64;
        let check_every = (p.finetune_images / 4).max(batch_size);
        FinetuneConfig {
            part: self.options.finetune_part,
            compute: self.options.compute,
            ..FinetuneConfig::recipe(
                p.finetune_images,
                batch_size,
                check_every,
                p.eval_images.min(1000),
            )
        }
    }

    /// A_family: a copy of A_S with its decoder (or the part `--finetune-part` names)
    /// fine-tuned through the frozen classifier.
    pub fn finetuned(&self, family: Family) -> anyhow::Result<Rc<AutoEncoder>> {
        self.finetuned_named(family.letter())
    }

    /// A_name for a built-in's letter or a user's name (stage `finetune-user-NAME`).
    pub fn finetuned_named(&self, name: &str) -> anyhow::Result<Rc<AutoEncoder>> {
        if let Some(ae) = self.finetuned.borrow().get(name) {
            return Ok(ae.clone());
        }
        let config = self.finetune_config();
        let (stage, key) = self.finetune_key(name)?;
        // A_S first, then the classifier: the order stages have always trained in.
        let pretrained = self.pretrained()?;
        let classifier = self.classifier_named(name)?;
        let ae = self.finetune_stage(&stage, key, (&pretrained, &classifier), config)?;
        self.finetuned.borrow_mut().insert(name.to_string(), ae.clone());
        Ok(ae)
    }

    /// The stage name and key of A_name: its settings and what it starts from, A_S and the
    /// frozen classifier (a user's by its file's sha256).
    fn finetune_key(&self, name: &str) -> anyhow::Result<(String, String)> {
        let (stage, classifier_key) = match self.users.iter().find(|u| u.spec.name == name) {
            Some(user) => (format!("finetune-user-{name}"), self.key(name, &user.identity())),
            None => {
                let family = Family::parse(name)
                    .with_context(|| format!("no classifier is called '{name}' in this run"))?;
                (format!("finetune-{}", family.name()), self.classifier_key(family)?)
            }
        };
        let upstream = (self.finetune_config(), self.pretrain_key()?, classifier_key);
        let key = self.key(&stage, &upstream);
        Ok((stage, key))
    }

    /// A copy of `pretrained` (A_S) fine-tuned through `classifier` as stage `stage`, or loaded if cached.
    fn finetune_stage(
        &self,
        stage: &str,
        key: String,
        (pretrained, classifier): (&AutoEncoder, &Classifier),
        config: FinetuneConfig,
    ) -> anyhow::Result<Rc<AutoEncoder>> {
        let mut ae = pretrained.duplicate()?;
        if let Some((_, weights)) = self.cached::<Vec<FinetuneCheck>>(stage, &key)? {
            ae.load(&weights, LoadPolicy::Strict)?;
        } else {
            let source = self.source_for(&classifier.spec)?;
            let task = Finetune::new(&ae, classifier, source.as_ref(), config.clone());
            self.train_stage(stage, key, &task, task.schedule(), |path| Ok(ae.save(path)?))?;
        }
        // The same trainable flags whether fine-tuned here or loaded: the fixed half then runs
        // with batch norm folded (models/blocks.rs) either way, so no number depends on which
        // stages this process trained (a `dnlts plan` run equals `dnlts reproduce`).
        ae.fix_untrained(AeMode::Finetune(config.part));
        Ok(Rc::new(ae))
    }

    /// The evaluation images, decoded once for all noise levels and tables if they fit in
    /// [`EVAL_CACHE_BYTES`] as 8-bit RGB. ImageNet is never cached: its 50,000 validation
    /// images stream, and a smoke run of the paper's path streams as the paper's run does.
    fn decoded_test_images(&self) -> anyhow::Result<Option<Rc<DecodedSplit>>> {
        if let Some(decoded) = self.test_images.borrow().as_ref() {
            return Ok(Some(decoded.clone()));
        }
        let source = self.source()?;
        let images = self.profile.eval_images.min(source.len(Split::Test));
        let bytes = images * 3 * (source.image_size() as u64).pow(2);
        if bytes > EVAL_CACHE_BYTES || self.data()?.imagenet.is_some() {
            return Ok(None);
        }
        let decoded = Rc::new(DecodedSplit::new(
            source,
            Split::Test,
            images,
            self.profile.eval_batch_size as u64,
        ));
        *self.test_images.borrow_mut() = Some(decoded.clone());
        Ok(Some(decoded))
    }

    /// Every classifier on the original test images, on A_S's reconstructions and on every
    /// fine-tuned AE's, without noise: the one pass behind Tables 1 and 2 (every pair).
    pub fn evaluation(&self) -> anyhow::Result<AccuracyTable> {
        self.pass(0.0, self.profile.eval_images)
    }

    /// Figure 4's noise sweep over its first `noise_images` test images: at every strength,
    /// C on x, on A_S and on its own A_C.
    pub fn noise_sweep(&self) -> anyhow::Result<Vec<AccuracyTable>> {
        let images = self.profile.noise_images.min(self.profile.eval_images);
        measures::noise_strengths().into_iter().map(|s| self.pass(s, images)).collect()
    }

    /// Classifiers on views of the first `images` test images under noise of strength `noise`.
    /// Views are named as [`Seen`] says. The Tables' pass (no noise, every evaluation image)
    /// computes every pair, Table 2 reading them all; a noise sweep's passes only what Figure
    /// 4 reads (C on x, on A_S, on its own A_C), and reuse the Tables' pass where they are the
    /// same images without noise. Classifiers that take the same input (size, resize) are
    /// evaluated together on that crop, each AE reconstructing the crop (it is fully
    /// convolutional): j∘A_i(x) = j(A_i(crop_j(x))).
    fn pass(&self, noise: f64, images: u64) -> anyhow::Result<AccuracyTable> {
        let full = noise == 0.0 && images == self.profile.eval_images;
        let cache_key = format!("{noise:.3}-{images}");
        if let Some(table) = self.evaluations.borrow().get(&cache_key) {
            return Ok(table.clone());
        }
        let names = self.classifier_names();
        let classifiers: Vec<Rc<Classifier>> =
            names.iter().map(|n| self.classifier_named(n)).collect::<Result<_, _>>()?;
        let pretrained = self.pretrained()?;
        let finetuned: Vec<Rc<AutoEncoder>> =
            names.iter().map(|n| self.finetuned_named(n)).collect::<Result<_, _>>()?;
        let view = |seen: Seen, ae| View { name: seen.view_name(), ae };
        let mut views =
            vec![view(Seen::Original, None), view(Seen::Pretrained, Some(pretrained.as_ref()))];
        for (classifier, ae) in classifiers.iter().zip(&finetuned) {
            views.push(view(Seen::FinetunedFor(&classifier.name), Some(ae.as_ref())));
        }
        let own: Vec<String> =
            classifiers.iter().map(|c| Seen::FinetunedFor(&c.name).view_name()).collect();
        let generic = [Seen::Original.view_name(), Seen::Pretrained.view_name()];
        let wanted = |v: usize, c: usize| {
            full || generic.contains(&views[v].name) || views[v].name == own[c]
        };
        let plan = EvalPlan {
            split: Split::Test,
            images,
            batch_size: self.profile.eval_batch_size as u64,
            noise,
            noise_seed: self.noise_seed(),
            compute: self.options.compute,
            progress: None,
        };
        let mut specs: Vec<InputSpec> = Vec::new();
        for classifier in &classifiers {
            if !specs.contains(&classifier.spec) {
                specs.push(classifier.spec);
            }
        }
        let mut parts = Vec::new();
        let label = format!("evaluate s={noise:.1}");
        let several = specs.len() > 1;
        for spec in specs {
            let label =
                if several { format!("{label} at {} px", spec.size) } else { label.clone() };
            let plan = EvalPlan { progress: Some(label), ..plan.clone() };
            let members: Vec<usize> =
                (0..classifiers.len()).filter(|&c| classifiers[c].spec == spec).collect();
            let refs: Vec<&Classifier> = members.iter().map(|&c| classifiers[c].as_ref()).collect();
            let wanted_here = |v: usize, k: usize| wanted(v, members[k]);
            let source = self.source_for(&spec)?;
            let part = match self.decoded_test_images()? {
                Some(decoded) if Rc::ptr_eq(&source, &self.data()?.main) => {
                    evaluate(&decoded.over(source.as_ref()), &plan, &views, &refs, &wanted_here)
                }
                _ => evaluate(source.as_ref(), &plan, &views, &refs, &wanted_here),
            };
            self.check_skipped()?;
            parts.push(part);
        }
        let table = AccuracyTable::columns_of(&parts, &names);
        self.evaluations.borrow_mut().insert(cache_key, table.clone());
        Ok(table)
    }

    /// Files the readers could not use so far: a warning with examples, and an error past the
    /// failure budget (1 % of the files of ImageNet and YFCC100m; each file counts once).
    pub fn check_skipped(&self) -> anyhow::Result<()> {
        let data = self.data()?;
        let Some(imagenet) = &data.imagenet else { return Ok(()) };
        let yfcc = data.yfcc.as_ref().map_or(0, |y| y.len(Split::Stream));
        let images = imagenet.len(Split::Train) + imagenet.len(Split::Validation) + yfcc;
        let logs = [imagenet.skip_log(), data.yfcc.as_ref().and_then(|y| y.skip_log())];
        let skipped: Vec<dnlts::data::Skipped> =
            logs.into_iter().flatten().flat_map(|log| log.snapshot()).collect();
        if skipped.is_empty() {
            return Ok(());
        }
        let budget = dnlts::data::FailureBudget::default();
        budget.check(images, &skipped).context("the ImageNet/YFCC100m files read so far")?;
        eprintln!(
            "note: {} files were skipped and replaced by the next image (e.g. {} ({:?}))",
            skipped.len(),
            skipped[0].name,
            skipped[0].reason
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where paper-smoke's inputs would be; the folders are empty (the data cannot be read,
    /// which keys allow), the weight files hold bytes that stand for weights.
    struct Inputs {
        dir: PathBuf,
    }

    impl Inputs {
        fn new(name: &str) -> Inputs {
            let dir =
                std::env::temp_dir().join(format!("dnlts-keys-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for folder in ["imagenet-a", "imagenet-b", "yfcc", "weights"] {
                std::fs::create_dir_all(dir.join(folder)).unwrap();
            }
            for family in [Family::Alexnet, Family::Vgg16Bn, Family::InceptionV3, Family::Resnet50]
            {
                self::write(
                    &dir.join(format!("weights/{}.safetensors", family.name())),
                    family.name(),
                );
            }
            self::write(&dir.join("segnet.safetensors"), "segnet");
            Inputs { dir }
        }

        /// The keys of A_S, classifier L, classifier R, A_R and A_A reading `imagenet`.
        fn keys(&self, imagenet: &str) -> [String; 5] {
            self.keys_run(imagenet, RunOptions::default())
        }

        /// [`Inputs::keys`] of a run with `options` (their inputs replaced).
        fn keys_run(&self, imagenet: &str, options: RunOptions) -> [String; 5] {
            let inputs = PaperInputs {
                imagenet: Some(self.dir.join(imagenet)),
                yfcc: Some(self.dir.join("yfcc")),
                weights: Some(self.dir.join("weights")),
                segnet: Some(self.dir.join("segnet.safetensors")),
            };
            let options = RunOptions { inputs, ..options };
            let profile = Profile::preset("paper-smoke").unwrap();
            let place = Place { out_dir: &self.dir.join("out"), resume: false };
            let pipeline = Pipeline::new(profile, options, 2018, Device::Cpu, place, &[]).unwrap();
            [
                pipeline.pretrain_key().unwrap(),
                pipeline.classifier_key(Family::Lenet5).unwrap(),
                pipeline.classifier_key(Family::Resnet50).unwrap(),
                pipeline.finetune_key("R").unwrap().1,
                pipeline.finetune_key("A").unwrap().1,
            ]
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    /// A stage is reused only for the inputs it was made from: another dataset folder, other
    /// given weights, another A_S, another thread count or `--fast` makes new keys for the
    /// stage and everything made from it.
    #[test]
    fn stage_keys_follow_the_data_the_given_weights_and_the_upstream_stages() {
        let inputs = Inputs::new("follow");
        let before = inputs.keys("imagenet-a");
        assert_eq!(inputs.keys("imagenet-a"), before, "the same inputs, the same keys");

        let other_data = inputs.keys("imagenet-b");
        for (stage, (a, b)) in before.iter().zip(&other_data).enumerate() {
            assert_ne!(a, b, "stage {stage} must not be reused on another dataset");
        }

        write(&inputs.dir.join("weights/resnet50.safetensors"), "other resnet50");
        let [pretrain, lenet, resnet, a_r, a_a] = inputs.keys("imagenet-a");
        assert_eq!((&pretrain, &lenet, &a_a), (&before[0], &before[1], &before[4]));
        assert_ne!(resnet, before[2], "classifier R keyed by its weights' digest");
        assert_ne!(a_r, before[3], "A_R keyed by the classifier it was tuned through");

        write(&inputs.dir.join("segnet.safetensors"), "another segnet");
        let [pretrain_2, lenet_2, resnet_2, a_r_2, a_a_2] = inputs.keys("imagenet-a");
        assert_ne!(pretrain_2, pretrain, "A_S keyed by the given SegNet's digest");
        assert_eq!((&lenet_2, &resnet_2), (&lenet, &resnet));
        assert_ne!(a_r_2, a_r, "A_R keyed by the A_S it starts from");
        assert_ne!(a_a_2, a_a, "A_A keyed by the A_S it starts from");

        // Another CPU thread count trains other weights: nothing is reused across it.
        let threads = tch::get_num_threads();
        tch::set_num_threads(threads % 2 + 1);
        let other_threads = inputs.keys("imagenet-a");
        tch::set_num_threads(threads);
        let same_threads = inputs.keys("imagenet-a");
        for (stage, (a, b)) in same_threads.iter().zip(&other_threads).enumerate() {
            assert_ne!(a, b, "stage {stage} must not be reused with another thread count");
        }

        // A --fast run's stages (autotuned, non-deterministic kernels) are no deterministic
        // run's, and the other way round.
        let fast =
            inputs.keys_run("imagenet-a", RunOptions { fast: true, ..RunOptions::default() });
        for (stage, (a, b)) in same_threads.iter().zip(&fast).enumerate() {
            assert_ne!(a, b, "stage {stage} must not be reused across --fast");
        }
        assert_eq!(
            inputs.keys_run("imagenet-a", RunOptions { fast: true, ..RunOptions::default() }),
            fast,
            "--fast keys are stable"
        );
        std::fs::remove_dir_all(&inputs.dir).unwrap();
    }

    /// The keys of A_S, classifier L and A_L for the tiny profile changed by `change`.
    fn tiny_keys(change: impl FnOnce(&mut Profile)) -> [String; 3] {
        let mut profile = Profile::preset("tiny").unwrap();
        change(&mut profile);
        let dir = std::env::temp_dir().join(format!("dnlts-keys-tiny-{}", std::process::id()));
        let place = Place { out_dir: &dir, resume: false };
        let options = RunOptions::default();
        let pipeline = Pipeline::new(profile, options, 2018, Device::Cpu, place, &[]).unwrap();
        [
            pipeline.pretrain_key().unwrap(),
            pipeline.classifier_key(Family::Lenet5).unwrap(),
            pipeline.finetune_key("L").unwrap().1,
        ]
    }

    /// A profile field changes the keys of the stages that read it and of those made from
    /// them, and no other: a new pre-training budget keeps the classifiers.
    #[test]
    fn a_profile_field_retrains_only_the_stages_that_read_it() {
        let [pretrain, classifier, finetune] = tiny_keys(|_| ());
        let changed = |change: fn(&mut Profile)| -> [bool; 3] {
            let keys = tiny_keys(change);
            [keys[0] != pretrain, keys[1] != classifier, keys[2] != finetune]
        };
        assert_eq!(changed(|p| p.pretrain_images *= 2), [true, false, true]);
        assert_eq!(changed(|p| p.check_every /= 2), [true, false, true]);
        assert_eq!(changed(|p| p.autoencoder.width_divisor *= 2), [true, false, true]);
        assert_eq!(changed(|p| p.classifier_epochs += 1), [false, true, true]);
        assert_eq!(changed(|p| p.finetune_images *= 2), [false, false, true]);
        assert_eq!(changed(|p| p.noise_images /= 2), [false, false, false]);
        assert_eq!(changed(|p| p.eval_batch_size /= 2), [false, false, false]);
        assert_eq!(changed(|p| p.budget.push('!')), [false, false, false]);
        // What every stage reads.
        assert_eq!(changed(|p| p.batch_size /= 2), [true, true, true]);
        assert_eq!(changed(|p| p.eval_images /= 2), [true, true, true]);
        assert_eq!(changed(|p| p.image_size *= 2), [true, true, true]);
        assert_eq!(changed(|p| p.threads = Some(3)), [true, true, true]);
    }

    /// `--native-kernels` (or a pin that did not take) trains other weights: no stage is
    /// reused across it (`--threads N`: in the test above, the profile's threads in
    /// `a_profile_field_retrains_only_the_stages_that_read_it`).
    #[test]
    fn kernels_and_threads_are_in_every_stage_key() {
        let inputs = Inputs::new("kernels");
        let pinned = inputs.keys("imagenet-a");
        for kernels in [Kernels::Native, Kernels::Unpinnable] {
            let other =
                inputs.keys_run("imagenet-a", RunOptions { kernels, ..RunOptions::default() });
            for (stage, (a, b)) in pinned.iter().zip(&other).enumerate() {
                assert_ne!(a, b, "stage {stage} must not be reused with {kernels:?} kernels");
            }
        }
        std::fs::remove_dir_all(&inputs.dir).unwrap();
    }

    /// `--no-fold-bn` changes the rounding of what runs frozen: the fine-tunings (a frozen
    /// classifier, a fixed encoder) are trained again, A_S and the classifiers, where every
    /// network trains, are reused.
    #[test]
    fn only_fine_tuned_stages_are_keyed_by_batch_norm_folding() {
        let inputs = Inputs::new("fold");
        let folded = inputs.keys("imagenet-a");
        let unfolded = Compute { fold_batch_norm: false, ..Compute::default() };
        let [pretrain, lenet, resnet, a_r, a_a] = inputs
            .keys_run("imagenet-a", RunOptions { compute: unfolded, ..RunOptions::default() });
        assert_eq!([&pretrain, &lenet, &resnet], [&folded[0], &folded[1], &folded[2]]);
        assert_ne!(a_r, folded[3], "A_R fine-tuned through R folded is not reused unfolded");
        assert_ne!(a_a, folded[4], "A_A: its fixed encoder folds too");
        std::fs::remove_dir_all(&inputs.dir).unwrap();
    }
}
