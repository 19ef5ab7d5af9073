//! The data side of `dnlts bench`: how many images per second one CPU core turns from JPEG
//! bytes into the paper's inputs — decode, resize, crop and, for pre-training, augment, with
//! the pipeline's own functions — and so how many cores keep one GPU's step fed.
//!
//! Each transform runs on this thread alone (the JPEG decoder and the transforms are
//! single-threaded) and is timed in this thread's CPU time, so the rate is one core's even on
//! a machine other work shares; the wall-clock rate is given beside it. Reading the files is
//! not timed (the photos are in memory): on a local disk, the page cache or a fast network
//! file system it is small beside decoding, on a slow one it is its own question.

use std::time::Instant;

use serde::Serialize;

use dnlts::data::imagenet::eval_image;
use dnlts::data::resize::EvalTransform;
use dnlts::data::yfcc::PretrainTransform;
use dnlts::data::SkipReason;

use super::StageResult;

/// The full-size photos of fixtures/photos/ (400×267 JPEGs; ImageNet's average photo has
/// about 1.7× their pixels), built in so that the bench runs from any folder.
const PHOTOS: [(&str, &[u8]); 2] = [
    ("fixtures/photos/china.jpg", include_bytes!("../../../../fixtures/photos/china.jpg")),
    ("fixtures/photos/flower.jpg", include_bytes!("../../../../fixtures/photos/flower.jpg")),
];

/// What a stage's loaders make from each JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    /// YFCC100m's stream: filter, resize, crop, augment, to this side.
    Stream(u32),
    /// ImageNet at one centre crop.
    Crop(u32),
}

/// What the pipeline does to a file before a step reads it.
#[derive(Clone, Copy)]
enum Transform {
    /// YFCC100m for AE pre-training: filter, resize, crop, augment.
    Pretrain(PretrainTransform),
    /// ImageNet for a classifier: resize, centre crop (LeNet-5's training, the fine-tunings
    /// and the evaluation all read ImageNet this way).
    Eval(EvalTransform),
}

impl Transform {
    /// The paper's three: pre-training at 256 with augmentation, and the evaluation crops
    /// of L, A, V, R (256 → 224) and of Inception v3 (342 → 299).
    fn paper() -> [Transform; 3] {
        [
            Transform::Pretrain(PretrainTransform::paper()),
            Transform::Eval(EvalTransform::STANDARD),
            Transform::Eval(EvalTransform::INCEPTION),
        ]
    }

    fn describe(&self) -> String {
        match self {
            Transform::Pretrain(t) => {
                format!("pretrain: decode+filter, resize {0}, crop {0}, augment", t.size)
            }
            Transform::Eval(t) => format!("eval: decode, resize {}, crop {}", t.resize, t.crop),
        }
    }

    fn reads(&self) -> Reads {
        match self {
            Transform::Pretrain(t) => Reads::Stream(t.size),
            Transform::Eval(t) => Reads::Crop(t.crop),
        }
    }

    fn output_size(&self) -> u32 {
        match self {
            Transform::Pretrain(t) => t.size,
            Transform::Eval(t) => t.crop,
        }
    }

    fn apply(&self, bytes: &[u8], name: &str, index: u64) -> Result<(), SkipReason> {
        match self {
            Transform::Pretrain(t) => t.apply(bytes, name, 0, index).map(drop),
            Transform::Eval(t) => eval_image(bytes, t, name).map(drop),
        }
    }

    /// Whether bench stage `stage` reads images made by this transform: pre-training reads
    /// the stream, the classifier stages read ImageNet at their input size. The evaluation
    /// reads every crop once per pass and is left out.
    fn feeds(&self, stage: &StageResult) -> bool {
        match self {
            Transform::Pretrain(_) => stage.stage == "pretrain",
            Transform::Eval(t) => {
                stage.stage != "pretrain"
                    && stage.stage != "evaluate"
                    && stage.image_size == t.crop as i64
            }
        }
    }
}

/// One transform's rates, and the cores it takes to feed a GPU.
#[derive(Serialize)]
pub(crate) struct LoadingResult {
    pub transform: String,
    pub reads: Reads,
    pub output_size: u32,
    /// Images per second of this thread's CPU time: one core's rate.
    pub images_per_core_second: f64,
    /// Images per second of wall-clock time (lower when other work shares the core).
    pub images_per_wall_second: f64,
    /// The GPU rate to feed and where it comes from (`--gpu-rate`, or a measured stage).
    pub gpu_images_per_second: Option<f64>,
    pub gpu_rate_source: Option<String>,
    pub cores_per_gpu: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct LoadingReport {
    pub photos: Vec<&'static str>,
    /// Width and height of each photo.
    pub photo_sizes: Vec<(u32, u32)>,
    pub timed_passes: u64,
    pub transforms: Vec<LoadingResult>,
    /// The most cores any transform needs to feed one GPU.
    pub cores_per_gpu: Option<f64>,
}

/// The GPU rate a transform must keep up with, if known.
pub(crate) enum GpuRate<'a> {
    /// `--gpu-rate`: the same for every transform.
    Given(f64),
    /// The stages measured on a GPU at paper scale: each transform feeds the fastest stage
    /// that reads it.
    Measured(&'a [StageResult]),
    Unknown,
}

impl GpuRate<'_> {
    fn for_transform(&self, transform: &Transform) -> Option<(f64, String)> {
        match self {
            GpuRate::Given(rate) => Some((*rate, "--gpu-rate".into())),
            GpuRate::Measured(stages) => stages
                .iter()
                .filter(|stage| transform.feeds(stage))
                .max_by(|a, b| a.images_per_second.total_cmp(&b.images_per_second))
                .map(|stage| (stage.images_per_second, format!("measured: {}", stage.stage))),
            GpuRate::Unknown => None,
        }
    }
}

/// Times each of the paper's transforms: `warmup` untimed passes over the photos, then
/// `passes` timed ones; the median pass gives the rates.
pub(crate) fn measure(warmup: u64, passes: u64, gpu: &GpuRate) -> anyhow::Result<LoadingReport> {
    let mut transforms = Vec::new();
    for transform in Transform::paper() {
        let (cpu, wall) = time_passes(&transform, warmup, passes)?;
        let per_core = PHOTOS.len() as f64 / cpu;
        let feed = gpu.for_transform(&transform);
        transforms.push(LoadingResult {
            transform: transform.describe(),
            reads: transform.reads(),
            output_size: transform.output_size(),
            images_per_core_second: per_core,
            images_per_wall_second: PHOTOS.len() as f64 / wall,
            cores_per_gpu: feed.as_ref().map(|(rate, _)| rate / per_core),
            gpu_images_per_second: feed.as_ref().map(|(rate, _)| *rate),
            gpu_rate_source: feed.map(|(_, source)| source),
        });
    }
    let mut photo_sizes = Vec::new();
    for (name, bytes) in PHOTOS {
        let photo = dnlts::data::decode_rgb(bytes).map_err(|reason| unreadable(name, reason))?;
        photo_sizes.push(photo.dimensions());
    }
    let mut report = LoadingReport {
        photos: PHOTOS.iter().map(|(name, _)| *name).collect(),
        photo_sizes,
        timed_passes: passes,
        transforms,
        cores_per_gpu: None,
    };
    report.cores_per_gpu = report.most_demanding().map(|(_, cores, _)| cores);
    Ok(report)
}

impl LoadingReport {
    /// The transform that needs the most cores to feed its GPU rate, with the cores and rate.
    fn most_demanding(&self) -> Option<(&LoadingResult, f64, f64)> {
        let known = self
            .transforms
            .iter()
            .filter_map(|row| Some((row, row.cores_per_gpu?, row.gpu_images_per_second?)));
        known.max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Median CPU and wall seconds of one pass over the photos.
fn time_passes(transform: &Transform, warmup: u64, passes: u64) -> anyhow::Result<(f64, f64)> {
    let mut index = 0;
    let mut pass = || -> anyhow::Result<(f64, f64)> {
        let (cpu, wall) = (thread_cpu_seconds(), Instant::now());
        for (name, bytes) in PHOTOS {
            transform.apply(bytes, name, index).map_err(|reason| unreadable(name, reason))?;
            index += 1;
        }
        Ok((thread_cpu_seconds() - cpu, wall.elapsed().as_secs_f64()))
    };
    for _ in 0..warmup {
        pass()?;
    }
    let timed: Vec<(f64, f64)> = (0..passes).map(|_| pass()).collect::<anyhow::Result<_>>()?;
    Ok((median(timed.iter().map(|t| t.0)), median(timed.iter().map(|t| t.1))))
}

/// A built-in photo the pipeline refused: a broken build, not a user's mistake.
fn unreadable(name: &str, reason: SkipReason) -> anyhow::Error {
    anyhow::anyhow!("the photo {name} built into dnlts was refused by the pipeline ({reason:?})")
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID): not the time other processes
/// held the core.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// The section of the bench's table.
pub(super) fn print(report: &LoadingReport) {
    let sizes: Vec<String> = report.photo_sizes.iter().map(|(w, h)| format!("{w}×{h}")).collect();
    println!(
        "\ndata loading on one core: the pipeline's decode, resize, crop and augment of {} \
         (JPEGs, {}), median of {} pass(es), in images per second of this thread's CPU time \
         (per core) and of wall time",
        report.photos.join(", "),
        sizes.join(", "),
        report.timed_passes
    );
    println!(
        "{:<54} {:>5} {:>11} {:>8} {:>10} {:>10} {:>10}",
        "transform", "size", "img/s/core", "ms/img", "img/s wall", "GPU img/s", "cores/GPU"
    );
    for row in &report.transforms {
        let gpu = row.gpu_images_per_second.map_or("n/a".into(), |rate| format!("{rate:.0}"));
        let cores = row.cores_per_gpu.map_or("n/a".into(), |cores| format!("{cores:.1}"));
        println!(
            "{:<54} {:>5} {:>11.1} {:>8.2} {:>10.1} {:>10} {:>10}",
            row.transform,
            row.output_size,
            row.images_per_core_second,
            1e3 / row.images_per_core_second,
            row.images_per_wall_second,
            gpu,
            cores
        );
    }
    match report.most_demanding() {
        Some((row, cores, rate)) => println!(
            "one GPU needs {} core(s) of this CPU for data loading, beside the cores of its \
             training process: {cores:.1} for {} at {rate:.0} img/s ({})",
            cores.ceil(),
            row.transform,
            row.gpu_rate_source.as_deref().unwrap_or("")
        ),
        None => println!(
            "cores per GPU: n/a (no GPU rate: give --gpu-rate IMG/S, e.g. a stage's img/s from \
             `dnlts bench --profile paper --device cuda`, or bench on a GPU at paper scale)"
        ),
    }
}
