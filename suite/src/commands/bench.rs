//! `dnlts bench`: how fast each stage's step runs on this device, on generated inputs (no
//! dataset needed), and what that means for the whole profile.
//!
//! Each stage runs its real training step (the library's `Trainer::step`) or the real evaluation
//! pass (`eval::evaluate`): what is timed is what `dnlts reproduce` runs, minus data loading,
//! which is measured elsewhere (the batch is made once, before the clock starts). The work of
//! a step is counted while its first warm-up step runs ([`dnlts::models::flops`]), so TFLOP/s
//! and MFU follow the models as they are. The data side — JPEG decoding and the transforms
//! per core, and the cores that keep one GPU fed — is measured in [`loading`].

pub(crate) mod loading;
mod scaling;

use std::ops::Range;
use std::time::Instant;

use serde::Serialize;
use tch::{Device, Kind, Tensor};

use dnlts::compute::Compute;
use dnlts::data::source::{tensor_to_images, ImageSource, Sample, Split};
use dnlts::data::SkipReason;
use dnlts::eval::{evaluate, EvalPlan, View};
use dnlts::models::classifier::Classifier;
use dnlts::models::flops::{count_macs, flops, Macs};
use dnlts::models::segnet::{AutoEncoder, SegNetConfig};
use dnlts::models::{Family, Scale};
use dnlts::train::classify::{ClassifyConfig, TrainClassifier};
use dnlts::train::finetune::{Finetune, FinetuneConfig};
use dnlts::train::pretrain::{Pretrain, PretrainConfig};
use dnlts::train::{Labelled, Trainer, Unlabelled};

use crate::cli::BenchArgs;
use crate::profile::{ModelScale, Profile};

/// Random [0, 1] images and labels of one size: the benchmark's data, made on the spot.
struct GeneratedImages {
    size: i64,
    classes: i64,
}

/// More images than any step asks for, so schedules that divide by a split's size work.
const GENERATED_IMAGES: u64 = 1 << 30;

impl ImageSource for GeneratedImages {
    fn image_size(&self) -> i64 {
        self.size
    }

    fn classes(&self) -> i64 {
        self.classes
    }

    fn len(&self, _: Split) -> u64 {
        GENERATED_IMAGES
    }

    fn load(&self, _: Split, index: u64) -> Result<Sample, SkipReason> {
        let image = tensor_to_images(&self.images(1)).remove(0);
        Ok(Sample { image, label: index as i64 % self.classes })
    }

    fn labelled(&self, _: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let labels: Vec<i64> = indices.iter().map(|&i| i as i64 % self.classes).collect();
        (self.images(indices.len() as i64), Tensor::from_slice(&labels))
    }

    fn stream(&self, indices: Range<u64>) -> Tensor {
        self.images((indices.end - indices.start) as i64)
    }
}

impl GeneratedImages {
    fn images(&self, n: i64) -> Tensor {
        Tensor::rand([n, 3, self.size, self.size], (Kind::Float, Device::Cpu))
    }
}

/// The first `n` training images of `source` with their labels: one step's batch.
fn labelled_batch(source: &GeneratedImages, n: u64) -> Labelled {
    let (images, labels) = source.labelled(Split::Train, &dnlts::data::source::range(0, n));
    Labelled { images, labels }
}

/// The networks and sizes a bench runs at.
struct Setup {
    scale: Scale,
    segnet: SegNetConfig,
    /// Side of the pre-training images.
    ae_size: i64,
    /// Why and how the profile's sizes were reduced, if they were.
    reduced: Option<String>,
}

/// The reduced stand-in for paper scale on a CPU: the width/16 networks of the tiny profile
/// on 64×64 images (the SegNet pools three times, Inception's grid reductions all apply), in
/// batches of 8, so that `make test` runs every stage of it in seconds.
const REDUCED: (i64, i64, u32) = (16, 64, 8);

fn setup(profile: &Profile, device: Device, full_size: bool) -> Setup {
    let scaled = |divisor: i64, size: i64| Setup {
        scale: Scale::Scaled { width_divisor: divisor, image_size: size },
        segnet: SegNetConfig::for_image_size(divisor, size),
        ae_size: size,
        reduced: None,
    };
    match profile.models {
        ModelScale::Scaled { width_divisor } => Setup {
            segnet: profile.autoencoder.segnet(),
            ..scaled(width_divisor as i64, profile.image_size as i64)
        },
        ModelScale::Paper if device.is_cuda() || full_size => Setup {
            scale: Scale::Paper,
            segnet: SegNetConfig::paper(),
            ae_size: profile.image_size as i64,
            reduced: None,
        },
        ModelScale::PaperAt { crop, inception_crop } => Setup {
            scale: Scale::PaperAt { crop: crop as i64, inception_crop: inception_crop as i64 },
            segnet: SegNetConfig::paper(),
            ae_size: profile.image_size as i64,
            reduced: None,
        },
        ModelScale::Paper => {
            let (divisor, size, batch) = REDUCED;
            Setup {
                reduced: Some(format!(
                    "paper profile on the CPU: benched at a reduced size, width/{divisor} \
                     networks on {size}×{size} images in batches of {batch} (unless \
                     --batch-size), so that it runs in seconds; the projection below is for \
                     these sizes, not the paper's (use --full-size, or --device cuda)"
                )),
                ..scaled(divisor, size)
            }
        }
    }
}

/// One stage's measurement.
#[derive(Serialize)]
pub(crate) struct StageResult {
    stage: String,
    /// The node of `dnlts plan`'s graph this stage is (the evaluation: the report's).
    node: String,
    /// Side of the images the step reads.
    image_size: i64,
    batch_size: u64,
    /// Median over the timed steps.
    step_seconds: f64,
    images_per_second: f64,
    /// Counted work of one image's step (forward, and backward for training stages).
    gflop_per_image: f64,
    achieved_tflops: f64,
    /// Achieved over the device's peak; None without a known peak.
    mfu: Option<f64>,
    /// Peak memory while the stage was built and ran (see [`memory`]); None where not measurable.
    peak_memory_bytes: Option<u64>,
    /// Images this stage processes in the whole profile.
    profile_images: u64,
    projected_seconds: f64,
}

#[derive(Serialize)]
struct BenchReport {
    profile: String,
    device: String,
    precision: &'static str,
    channels_last: bool,
    fold_batch_norm: bool,
    threads: usize,
    /// The CPU kernels in force (`dnlts::kernels`): pinned AVX2 unless `--native-kernels`.
    kernels: dnlts::kernels::Kernels,
    reduced: Option<String>,
    peak_tflops: Option<f64>,
    peak_source: Option<String>,
    warmup_steps: u64,
    timed_steps: u64,
    stages: Vec<StageResult>,
    projected_seconds: f64,
    /// The profile on 1, 2, 4, 8 such devices ([`scaling`]'s model).
    projected_on_devices: Vec<scaling::Projection>,
    /// `--fast`: cuDNN autotuning and non-deterministic kernels.
    fast: bool,
    data_loading: loading::LoadingReport,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let mut profile = Profile::preset(&args.profile)?;
    let device = args.device.resolve()?;
    let setup = setup(&profile, device, args.full_size);
    if setup.reduced.is_some() {
        (profile.batch_size, profile.eval_batch_size) = (REDUCED.2, REDUCED.2);
    }
    if let Some(batch_size) = args.batch_size {
        (profile.batch_size, profile.eval_batch_size) = (batch_size, batch_size);
    }
    if args.amp {
        dnlts::compute::check_amp().map_err(anyhow::Error::msg)?;
    }
    let seed = dnlts::seed::derive(args.seed, "bench", &profile.name);
    let threads = profile.training_threads(args.threads);
    dnlts::seed::Determinism::new(seed, threads).fast(args.fast).apply();
    dnlts::models::blocks::set_batch_norm_folding(!args.no_fold_bn);
    let peak = peak::find(args.peak_tflops, device, args.amp);
    let bench = Bench { args, profile: &profile, setup: &setup, device, peak: peak.as_ref() };
    quiet_out_of_memory_panics();
    let stages = bench.all_stages()?;
    let gpu = match args.gpu_rate {
        Some(rate) => loading::GpuRate::Given(rate),
        None if device.is_cuda() && setup.scale == Scale::Paper => {
            loading::GpuRate::Measured(&stages)
        }
        None => loading::GpuRate::Unknown,
    };
    let data_loading = loading::measure(args.warmup, args.steps, &gpu)?;
    let projected_on_devices = scaling::project(&jobs(&profile, &stages));
    let report = BenchReport {
        profile: profile.name.clone(),
        device: memory::device_name(device),
        precision: if args.amp { "bf16 autocast" } else { "f32" },
        channels_last: bench.channels_last(),
        fold_batch_norm: !args.no_fold_bn,
        threads,
        kernels: dnlts::kernels::in_force(),
        reduced: setup.reduced.clone(),
        peak_tflops: peak.as_ref().map(|p| p.tflops),
        peak_source: peak.as_ref().map(|p| p.source.clone()),
        warmup_steps: args.warmup,
        timed_steps: args.steps,
        projected_seconds: stages.iter().map(|s| s.projected_seconds).sum(),
        projected_on_devices,
        fast: args.fast,
        stages,
        data_loading,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// The benched stages as the plan's graph orders and links them, for the projection on
/// several devices; pre-training is the one spread over them all.
fn jobs(profile: &Profile, stages: &[StageResult]) -> Vec<scaling::Job> {
    let graph = crate::commands::plan::graph(profile, 0);
    let benched = |node: &str| stages.iter().find(|stage| stage.node == node);
    graph
        .into_iter()
        .filter_map(|node| {
            let seconds = benched(&node.name)?.projected_seconds;
            let data_parallel = crate::commands::plan::is_pretraining(&node);
            Some(scaling::Job { name: node.name, seconds, needs: node.needs, data_parallel })
        })
        .collect()
}

/// What every stage's measurement shares.
struct Bench<'a> {
    args: &'a BenchArgs,
    profile: &'a Profile,
    setup: &'a Setup,
    device: Device,
    peak: Option<&'a peak::Peak>,
}

impl Bench<'_> {
    fn compute(&self) -> Compute {
        Compute {
            accumulation: 1,
            amp: self.args.amp,
            channels_last: self.channels_last(),
            fold_batch_norm: !self.args.no_fold_bn,
        }
    }

    /// `--channels-last` or `--nchw` where given, else the profile's own layout.
    fn channels_last(&self) -> bool {
        !self.args.nchw && (self.args.channels_last || self.profile.channels_last)
    }

    fn batch(&self) -> u64 {
        self.profile.batch_size as u64
    }

    fn eval_batch(&self) -> u64 {
        self.profile.eval_batch_size as u64
    }

    fn classes(&self) -> i64 {
        self.profile.classes as i64
    }

    fn all_stages(&self) -> anyhow::Result<Vec<StageResult>> {
        let mut results = vec![self.guarded("pretrain", || self.pretrain())?];
        if self.profile.classifier_epochs > 0 {
            // A profile that loads a shipped set trains nothing here, but `--train-classifiers`
            // does: its steps are timed all the same, with no images in the profile's run.
            for family in Family::ALL.into_iter().filter(|f| self.profile.can_train_classifier(*f))
            {
                results
                    .push(self.guarded("classifier training", || self.train_classifier(family))?);
            }
        }
        for family in Family::ALL {
            results.push(self.guarded("fine-tuning", || self.finetune(family))?);
        }
        results.push(self.guarded("evaluation", || self.evaluation())?);
        Ok(results)
    }

    /// Runs one stage's measurement, turning libtorch's out-of-memory panic (a batch too big
    /// for the device) into advice on the batch size; other panics go on.
    fn guarded(
        &self,
        stage: &str,
        measure: impl FnOnce() -> StageResult,
    ) -> anyhow::Result<StageResult> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(measure)).map_err(|payload| {
            if !is_out_of_memory(payload.as_ref()) {
                std::panic::resume_unwind(payload);
            }
            anyhow::anyhow!(
                "bench {stage}: out of memory with batch size {} on this device; try \
                 --batch-size {}",
                self.batch(),
                (self.batch() / 2).max(1)
            )
        })
    }

    /// Times `step` (warm-up steps first, the first of them counted) and makes the result.
    fn measure(
        &self,
        (stage, node): (String, String),
        image_size: i64,
        profile_images: u64,
        batch: u64,
        step: &mut dyn FnMut(u64),
    ) -> StageResult {
        let (_, macs) = count_macs(|| step(0));
        for i in 1..self.args.warmup {
            step(i);
        }
        memory::synchronize(self.device);
        let mut seconds: Vec<f64> = (0..self.args.steps)
            .map(|i| {
                let started = Instant::now();
                step(self.args.warmup + i);
                memory::synchronize(self.device);
                started.elapsed().as_secs_f64()
            })
            .collect();
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        self.result((stage, node), image_size, profile_images, batch, macs, median)
    }

    fn result(
        &self,
        (stage, node): (String, String),
        image_size: i64,
        profile_images: u64,
        batch: u64,
        macs: Macs,
        step_seconds: f64,
    ) -> StageResult {
        let images_per_second = batch as f64 / step_seconds;
        let achieved_tflops = flops(macs.total()) / step_seconds / 1e12;
        StageResult {
            stage,
            node,
            image_size,
            batch_size: batch,
            step_seconds,
            images_per_second,
            gflop_per_image: flops(macs.per_image(batch).total()) / 1e9,
            achieved_tflops,
            mfu: self.peak.map(|peak| achieved_tflops / peak.tflops),
            peak_memory_bytes: memory::peak(self.device),
            profile_images,
            projected_seconds: profile_images as f64 / images_per_second,
        }
    }

    fn pretrain(&self) -> StageResult {
        memory::reset_peak(self.device);
        let size = self.setup.ae_size;
        let source = GeneratedImages { size, classes: self.classes() };
        let ae = AutoEncoder::new(self.setup.segnet, self.device);
        let config = PretrainConfig {
            compute: self.compute(),
            ..PretrainConfig::new(
                self.profile.autoencoder.pretrain,
                GENERATED_IMAGES,
                self.batch(),
                GENERATED_IMAGES,
                0,
            )
        };
        let task = Pretrain::new(&ae, &source, config);
        let mut trainer = Trainer::new(&task, task.schedule());
        let batch = Unlabelled { images: source.stream(0..self.batch()) };
        let mut step = |i| {
            trainer.step(i, &batch);
        };
        let names = ("pretrain".into(), "pretrain".into());
        self.measure(names, size, self.profile.pretrain_images, self.batch(), &mut step)
    }

    fn train_classifier(&self, family: Family) -> StageResult {
        memory::reset_peak(self.device);
        let classifier = Classifier::builtin(family, self.setup.scale, self.classes(), self.device);
        let size = classifier.spec.size;
        let source = GeneratedImages { size, classes: self.classes() };
        let config = ClassifyConfig {
            compute: self.compute(),
            ..ClassifyConfig::recipe(family, 1, self.batch())
        };
        let task = TrainClassifier::new(&classifier, &source, config);
        let mut trainer = Trainer::new(&task, task.schedule());
        let batch = labelled_batch(&source, self.batch());
        let mut step = |i| {
            trainer.step(i, &batch);
        };
        let images_in_profile = if self.profile.trains_classifier(family) {
            self.profile.train_images * self.profile.classifier_epochs
        } else {
            0
        };
        let stage = format!("train-classifier {}", family.letter());
        let node = format!("classifier-{}", family.name());
        self.measure((stage, node), size, images_in_profile, self.batch(), &mut step)
    }

    fn finetune(&self, family: Family) -> StageResult {
        memory::reset_peak(self.device);
        let mut classifier =
            Classifier::builtin(family, self.setup.scale, self.classes(), self.device);
        classifier.freeze();
        let size = classifier.spec.size;
        let source = GeneratedImages { size, classes: self.classes() };
        let ae = AutoEncoder::new(self.setup.segnet, self.device);
        let config = FinetuneConfig {
            compute: self.compute(),
            ..FinetuneConfig::recipe(GENERATED_IMAGES, self.batch(), GENERATED_IMAGES, 0)
        };
        let task = Finetune::new(&ae, &classifier, &source, config);
        let mut trainer = Trainer::new(&task, task.schedule());
        let batch = labelled_batch(&source, self.batch());
        let mut step = |i| {
            trainer.step(i, &batch);
        };
        let stage = format!("finetune {}", family.letter());
        let node = format!("finetune-{}", family.name());
        self.measure((stage, node), size, self.profile.finetune_images, self.batch(), &mut step)
    }

    /// The full evaluation pass (Table 2's): 7 views (x, A_S, five A_C) × 5 classifiers. Each
    /// classifier reads images of its own input size, so the AEs reconstruct once per size
    /// (paper: 224 for L, A, V, R; 299 for I). One AE stands in for all six: same cost.
    fn evaluation(&self) -> StageResult {
        memory::reset_peak(self.device);
        let classifiers: Vec<Classifier> = Family::ALL
            .iter()
            .map(|&family| {
                let mut c =
                    Classifier::builtin(family, self.setup.scale, self.classes(), self.device);
                c.freeze();
                c
            })
            .collect();
        let ae = AutoEncoder::new(self.setup.segnet, self.device);
        let mut sizes: Vec<i64> = classifiers.iter().map(|c| c.spec.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let views: Vec<View> = std::iter::once(View { name: "x".into(), ae: None })
            .chain((0..6).map(|i| View { name: format!("ae{i}"), ae: Some(&ae) }))
            .collect();
        let plan = EvalPlan {
            split: Split::Test,
            images: self.eval_batch(),
            batch_size: self.eval_batch(),
            noise: 0.0,
            noise_seed: 0,
            compute: self.compute(),
            progress: None,
        };
        let mut step = |_| {
            for &size in &sizes {
                let source = GeneratedImages { size, classes: self.classes() };
                let group: Vec<&Classifier> =
                    classifiers.iter().filter(|c| c.spec.size == size).collect();
                let _ = evaluate(&source, &plan, &views, &group, &|_, _| true);
            }
        };
        let size = *sizes.last().unwrap_or(&self.setup.ae_size);
        self.measure(
            ("evaluate".into(), "report".into()),
            size,
            self.profile.eval_images,
            self.eval_batch(),
            &mut step,
        )
    }
}

fn is_out_of_memory(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    dnlts::compute::is_out_of_memory(message)
}

/// Out-of-memory panics become advice ([`Bench::guarded`]): keep libtorch's page-long
/// message and backtrace off the terminal for them; every other panic is printed as before.
fn quiet_out_of_memory_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_out_of_memory(info.payload()) {
            previous(info);
        }
    }));
}

fn print_report(report: &BenchReport) {
    println!(
        "dnlts bench: profile {}, {}, {}{}{}{}, {} thread(s), CPU kernels {}; median of {} \
         step(s) after {} warm-up",
        report.profile,
        report.device,
        report.precision,
        if report.channels_last { ", channels-last" } else { "" },
        if report.fast { ", --fast (cuDNN autotuning)" } else { "" },
        if report.fold_batch_norm { "" } else { ", batch norm not folded" },
        report.threads,
        report.kernels.name(),
        report.timed_steps,
        report.warmup_steps
    );
    if let Some(reduced) = &report.reduced {
        println!("{reduced}");
    }
    match (&report.peak_tflops, &report.peak_source) {
        (Some(tflops), Some(source)) => println!("MFU against {tflops} TFLOP/s: {source}"),
        _ => println!("MFU: n/a (no known peak for this device; give --peak-tflops X)"),
    }
    println!(
        "{:<20} {:>5} {:>6} {:>10} {:>10} {:>9} {:>9} {:>7} {:>10} {:>12} {:>11}",
        "stage",
        "size",
        "batch",
        "step ms",
        "img/s",
        "GFLOP/img",
        "TFLOP/s",
        "MFU",
        "peak mem",
        "images",
        "projected"
    );
    for stage in &report.stages {
        println!(
            "{:<20} {:>5} {:>6} {:>10.1} {:>10.1} {:>9.3} {:>9.4} {:>7} {:>10} {:>12} {:>11}",
            stage.stage,
            stage.image_size,
            stage.batch_size,
            stage.step_seconds * 1e3,
            stage.images_per_second,
            stage.gflop_per_image,
            stage.achieved_tflops,
            stage.mfu.map_or("n/a".into(), |m| format!("{:.1} %", 100.0 * m)),
            stage
                .peak_memory_bytes
                .map_or("n/a".into(), |b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)),
            stage.profile_images,
            duration(stage.projected_seconds)
        );
    }
    if report.stages.iter().any(|stage| stage.profile_images == 0) {
        println!(
            "(0 images: profile {} loads these classifiers from its shipped set; the steps are \
             what --train-classifiers would run)",
            report.profile
        );
    }
    println!(
        "projected wall time of profile {}: {} (stages in sequence, compute only, one pass of \
         the evaluation: Figure 4's noise sweep adds partial passes)",
        report.profile,
        duration(report.projected_seconds)
    );
    println!(
        "projected on N such devices: pre-training data-parallel over all N at an ideal N× \
         speed-up (an upper bound: no gradient all-reduce, broadcast or input pipelines \
         counted), every other stage on one device, in the plan's dependency order"
    );
    println!("  {:>7} {:>11} {:>9}", "devices", "projected", "speed-up");
    for projection in &report.projected_on_devices {
        println!(
            "  {:>7} {:>11} {:>8.2}×",
            projection.devices,
            duration(projection.projected_seconds),
            projection.speedup
        );
    }
    println!(
        "GFLOP/img counts forward and the backward products autograd computes (training ≈ 3× \
         forward; fine-tuning less: the encoder has no graph, the classifier no weight \
         gradients). peak mem: CPU, the process's peak resident memory during the stage; CUDA, \
         device memory in use after it (libtorch's caching allocator keeps its peak reservation)"
    );
    loading::print(&report.data_loading);
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

/// The device's peak throughput, for MFU (and the plan's estimate after the preflight).
pub mod peak {
    use tch::Device;

    pub struct Peak {
        pub tflops: f64,
        pub source: String,
    }

    /// Dense (no sparsity) tensor-core peaks in TFLOP/s: (name contains, bf16, tf32), from
    /// NVIDIA's datasheets: H200 SXM (BF16 1,979 / TF32 989 with sparsity, halved), H100 PCIe
    /// (1,513 / 756 sparse, halved), H100 SXM (1,979 / 989 sparse, halved), A100 (312 / 156
    /// dense), L40S (362.05 / 183 dense). In f32, libtorch runs convolutions, nearly all of
    /// the work here, on TF32 tensor cores by default (cuDNN allow_tf32), so TF32 is the peak
    /// f32 runs are held against. Order matters: the first match wins.
    const KNOWN: [(&[&str], f64, f64, &str); 5] = [
        (&["H200"], 989.5, 494.7, "H200 SXM"),
        (&["H100", "PCIe"], 756.5, 378.0, "H100 PCIe"),
        (&["H100"], 989.5, 494.7, "H100 SXM"),
        (&["A100"], 312.0, 156.0, "A100"),
        (&["L40S"], 362.05, 183.0, "L40S"),
    ];

    /// The H200's peak: what a plan is estimated against on a device without a known peak.
    pub fn reference(amp: bool) -> Peak {
        let (_, bf16, tf32, model) = KNOWN[0];
        let (tflops, precision) = if amp { (bf16, "bf16") } else { (tf32, "TF32") };
        Peak {
            tflops,
            source: format!("{model} dense {precision} tensor-core peak (NVIDIA datasheet)"),
        }
    }

    pub fn find(given: Option<f64>, device: Device, amp: bool) -> Option<Peak> {
        if let Some(tflops) = given {
            return Some(Peak { tflops, source: "--peak-tflops".into() });
        }
        let name = super::memory::gpu_name(device)?;
        let (_, bf16, tf32, model) =
            KNOWN.iter().find(|(parts, ..)| parts.iter().all(|part| name.contains(part)))?;
        let (tflops, precision) = if amp { (*bf16, "bf16") } else { (*tf32, "TF32") };
        Some(Peak {
            tflops,
            source: format!(
                "{name}: {model} dense {precision} tensor-core peak (NVIDIA datasheet)"
            ),
        })
    }
}

/// Peak memory and device facts: CPU from /proc, CUDA from the CUDA runtime libtorch loaded.
mod memory {
    use tch::Device;

    /// Starts a new peak: on Linux, writing 5 to /proc/self/clear_refs resets VmHWM.
    pub fn reset_peak(device: Device) {
        if !device.is_cuda() {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
        }
    }

    /// CPU: the peak resident memory since [`reset_peak`] (VmHWM). CUDA: device memory in use
    /// now (cudaMemGetInfo), which holds the caching allocator's peak reservation.
    pub fn peak(device: Device) -> Option<u64> {
        if device.is_cuda() {
            return cuda_used(device);
        }
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    pub fn synchronize(device: Device) {
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
    }

    /// Device memory in use (total − free) as the CUDA runtime reports it; None where the
    /// runtime cannot be reached.
    fn cuda_used(device: Device) -> Option<u64> {
        let Device::Cuda(index) = device else { return None };
        synchronize(device);
        dnlts::device::cuda_memory(index).map(|(free, total)| total - free)
    }

    /// The GPU's marketing name from nvidia-smi, e.g. "NVIDIA H200".
    pub fn gpu_name(device: Device) -> Option<String> {
        let Device::Cuda(index) = device else { return None };
        let output = std::process::Command::new("nvidia-smi")
            .args(["--query-gpu=name", "--format=csv,noheader", &format!("--id={index}")])
            .output()
            .ok()?;
        let name = String::from_utf8(output.stdout).ok()?.trim().to_string();
        (output.status.success() && !name.is_empty()).then_some(name)
    }

    pub fn device_name(device: Device) -> String {
        match device {
            Device::Cuda(index) => gpu_name(device)
                .map_or(format!("cuda:{index}"), |name| format!("cuda:{index} ({name})")),
            _ => "cpu".into(),
        }
    }
}
