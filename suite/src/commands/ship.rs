//! `dnlts ship-classifiers`: trains a scaled profile's built-in classifiers once with the long
//! recipes and writes them out as a shipped set (`crate::shipped`), measured on the test split:
//! how `fixtures/classifiers/small` was made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use dnlts::data::source::{ImageSource, Split};
use dnlts::data::synthetic::CueSwitches;
use dnlts::eval::Reading;
use dnlts::models::classifier::Classifier;
use dnlts::models::Family;
use dnlts::train::classify::LONG_TRAIN_FACTOR;

use crate::cli::StageArgs;
use crate::profile::{Classifiers, DataSource, Profile};
use crate::shipped::{self, Entry};
use crate::stages::{self, Pipeline};

/// Trains `families` (their stages cached in the run's output folder, so `--resume` and a
/// second call continue) and writes each to the set in `set` as soon as it is done.
pub fn run(stage: StageArgs, families: &[Family], set: &Path) -> anyhow::Result<()> {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let command = format!("dnlts {}", words.join(" "));
    let request = stage.request_adjusted(Vec::new(), 0, |profile| {
        anyhow::ensure!(
            !profile.models.is_paper(),
            "profile '{}' is given torchvision's classifiers; ship-classifiers makes sets for \
             the scaled profiles (small, fashion, ci, tiny)",
            profile.name
        );
        profile.classifiers = Classifiers::Long;
        profile.train_images = long_train_images(profile);
        Ok(())
    })?;
    let threads = request.threads;
    let name = request.profile.name.clone();
    std::fs::create_dir_all(set).with_context(|| format!("cannot create {}", set.display()))?;
    crate::runner::run_request(request, |pipeline| {
        for &family in families {
            let entry = ship_one(pipeline, family, set, &command, threads)?;
            println!(
                "{}: test top-1 {:.1} % ({} of {}), {:.0} s; without a cue: {}",
                family.name(),
                100.0 * entry.test_top1,
                entry.test_correct,
                entry.test_images,
                entry.seconds,
                entry
                    .test_top1_without
                    .iter()
                    .map(|(cue, top1)| format!("{cue} {:.1} %", 100.0 * top1))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            shipped::record(set, &name, family, entry)?;
        }
        println!("the set is in {}", set.display());
        Ok(())
    })
}

/// `--check`: measures each classifier of the set in `set` (default: the profile's shipped
/// set) on the test split again, and fails unless every number equals its manifest's.
pub fn check(stage: StageArgs, families: &[Family], set: Option<PathBuf>) -> anyhow::Result<()> {
    let seed = stage.machine.seed;
    let mut request =
        stage.request_adjusted(Vec::new(), 0, |profile| match &profile.classifiers {
            Classifiers::Shipped(_) => Ok(()),
            _ => anyhow::bail!(
                "profile '{}' trains its classifiers in the run and ships none to check; check a \
             set with --profile small (or the profile it was made for) and --set DIR",
                profile.name
            ),
        })?;
    let dir = match (&set, &request.profile.classifiers) {
        (Some(dir), _) => dir.clone(),
        (None, Classifiers::Shipped(name)) => shipped::repository_dir(name),
        (None, _) => unreachable!("checked above"),
    };
    request.options.inputs.weights = Some(dir.clone());
    let manifest = shipped::read(&dir)?;
    crate::runner::run_request(request, |pipeline| {
        let mut differ = Vec::new();
        for &family in families {
            let entry = manifest.classifiers.get(family.name()).with_context(|| {
                format!("the set in {} has no {}", dir.display(), family.name())
            })?;
            anyhow::ensure!(
                entry.seed == seed,
                "{} was measured on the test images of seed {}: check it with --seed {}",
                family.name(),
                entry.seed,
                entry.seed
            );
            let classifier = pipeline.classifier(family)?;
            let measured = measure(pipeline, &classifier)?;
            let same = (measured.correct, measured.images)
                == (entry.test_correct, entry.test_images)
                && measured.without == entry.test_top1_without;
            println!(
                "{}: test top-1 {:.1} % ({} of {}), manifest {} of {}: {}",
                family.name(),
                100.0 * measured.top1(),
                measured.correct,
                measured.images,
                entry.test_correct,
                entry.test_images,
                if same { "same" } else { "DIFFERENT" }
            );
            if !same {
                differ.push(family.name());
            }
        }
        anyhow::ensure!(
            differ.is_empty(),
            "{} of the set in {} no longer score(s) what the manifest records: the weights, the \
             test images or the evaluation changed; find out which before making the set again",
            differ.join(", "),
            dir.display()
        );
        Ok(())
    })
}

/// The labelled images the long recipes train on: the synthetic world makes as many as
/// asked; a dataset has the ones it has.
fn long_train_images(profile: &Profile) -> u64 {
    match profile.data {
        DataSource::Synthetic => LONG_TRAIN_FACTOR * profile.train_images,
        _ => profile.train_images,
    }
}

fn ship_one(
    pipeline: &Pipeline,
    family: Family,
    set: &Path,
    command: &str,
    threads: usize,
) -> anyhow::Result<Entry> {
    let classifier = pipeline.classifier(family)?;
    let stage = format!("classifier-{}", family.name());
    let (record_path, weights_path) = pipeline.stage_files(&stage);
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&record_path)
            .with_context(|| format!("cannot read {}", record_path.display()))?,
    )
    .with_context(|| format!("{} is not a stage record", record_path.display()))?;
    let file = format!("{}.safetensors", family.name());
    let bytes = std::fs::read(&weights_path)
        .with_context(|| format!("cannot read {}", weights_path.display()))?;
    dnlts::atomic::write_atomic(&set.join(&file), &bytes)
        .with_context(|| format!("cannot write {}", set.join(&file).display()))?;

    let measured = measure(pipeline, &classifier)?;
    Ok(Entry {
        file,
        sha256: dnlts::digest::sha256_hex(&bytes),
        seed: pipeline.master_seed,
        test_correct: measured.correct,
        test_images: measured.images,
        test_top1: measured.top1(),
        test_top1_without: measured.without,
        measured_threads: MEASURE_THREADS,
        recipe: serde_json::to_value(pipeline.classifier_config(family))?,
        train_images: pipeline.profile.train_images,
        seconds: record["seconds"]
            .as_f64()
            .with_context(|| format!("{} has no seconds", record_path.display()))?,
        log: record["log"].clone(),
        threads,
        kernels: format!("{:?}", pipeline.options.kernels),
        command: command.to_string(),
        dnlts_commit: env!("DNLTS_GIT_COMMIT").to_string(),
    })
}

/// The threads the test top-1 is measured on, in making a set and in checking it: the same
/// count, so the check repeats the measurement's every sum.
const MEASURE_THREADS: usize = 2;

/// What a classifier scores on the run's test split.
struct Measured {
    correct: u64,
    images: u64,
    /// Top-1 with one cue switched off, by cue (synthetic profiles).
    without: BTreeMap<String, f64>,
}

impl Measured {
    fn top1(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }
}

fn measure(pipeline: &Pipeline, classifier: &Classifier) -> anyhow::Result<Measured> {
    let profile = &pipeline.profile;
    let compute = pipeline.options.compute;
    let logits = |x: &tch::Tensor| classifier.logits(x, false);
    let top1 = |source: &dyn ImageSource| {
        let read = Reading {
            source,
            split: Split::Test,
            images: profile.eval_images,
            batch_size: profile.eval_batch_size as u64,
            device: pipeline.device,
            compute: &compute,
        };
        read.top1_correct(&logits)
    };
    let measured = || -> anyhow::Result<Measured> {
        let (correct, images) = top1(pipeline.source()?);
        let mut without = BTreeMap::new();
        if profile.data == DataSource::Synthetic {
            let seed = stages::data_seed(pipeline.master_seed);
            for ablation in &CueSwitches::ABLATIONS[1..] {
                let mut source = stages::synthetic_source(profile, seed);
                source.config.cues = CueSwitches::ablation(ablation)?;
                let (correct, n) = top1(&source);
                let cue = ablation.trim_start_matches("no-").to_string();
                without.insert(cue, correct as f64 / n.max(1) as f64);
            }
        }
        Ok(Measured { correct, images, without })
    };
    // The run's training threads come back whether or not the measurement succeeds.
    let threads = tch::get_num_threads();
    tch::set_num_threads(MEASURE_THREADS as i32);
    let result = measured();
    tch::set_num_threads(threads);
    result
}
