//! AE study: how much of the classifiers' signal a pre-trained SegNet keeps, per AE shape and
//! pre-training recipe, on the `small` profile's synthetic world. Pre-trains one SegNet with the
//! given width, pooling stages, budget and learning rate on the unlabelled stream (exactly the
//! pipeline's `Pretrain` task), then reports the held-out MSE curve and, for every classifier
//! whose weights are in `--classifiers DIR` (a run's `stages/` folder, `classifier-<family>.
//! safetensors`), validation top-1 of C and of C∘A_S on the first 1,000 validation images.
//!
//! ```text
//! scripts/with-libtorch.sh cargo run --release --example ae_study -- \
//!     --classifiers results/small/stages [--width-divisor 8] [--stages 2] [--images 100000] \
//!     [--lr 0.01] [--batch 64] [--threads 1] [--seed 2018] [--channels-last]
//! ```

use std::time::Instant;

use dnlts::compute::Compute;
use dnlts::data::source::SyntheticImages;
use dnlts::data::synthetic::{SyntheticConfig, DEFAULT_SEED};
use dnlts::eval::validation_accuracy;
use dnlts::models::classifier::Classifier;
use dnlts::models::segnet::{AeMode, AutoEncoder, SegNetConfig};
use dnlts::models::weights::LoadPolicy;
use dnlts::models::{Family, Scale};
use dnlts::train::drive;
use dnlts::train::pretrain::{Pretrain, PretrainConfig, PretrainRecipe};

const IMAGE_SIZE: u32 = 32;
const CLASSES: u32 = 10;
const CHECK_IMAGES: u64 = 1_000;

struct Args {
    classifiers: Option<std::path::PathBuf>,
    width_divisor: i64,
    stages: usize,
    images: u64,
    lr: f64,
    batch: u64,
    threads: i32,
    seed: u64,
    channels_last: bool,
    classifier_divisor: i64,
    png: Option<std::path::PathBuf>,
    adam: bool,
    patience: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        classifiers: None,
        width_divisor: 8,
        stages: 2,
        images: 100_000,
        lr: 0.01,
        batch: 64,
        threads: 1,
        seed: DEFAULT_SEED,
        channels_last: false,
        classifier_divisor: 8,
        png: None,
        adam: false,
        patience: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--channels-last" || flag == "--adam" {
            args.channels_last |= flag == "--channels-last";
            args.adam |= flag == "--adam";
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--patience" => args.patience = number(&value)? as u32,
            "--png" => args.png = Some(value.into()),
            "--classifiers" => args.classifiers = Some(value.into()),
            "--width-divisor" => args.width_divisor = number(&value)?.max(1) as i64,
            "--classifier-divisor" => args.classifier_divisor = number(&value)?.max(1) as i64,
            "--stages" => args.stages = number(&value)?.clamp(1, 5) as usize,
            "--images" => args.images = number(&value)?,
            "--lr" => args.lr = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?,
            "--batch" => args.batch = number(&value)?.max(1),
            "--threads" => args.threads = number(&value)? as i32,
            "--seed" => args.seed = number(&value)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = parse_args().unwrap_or_else(|message| {
        eprintln!("ae_study: {message}");
        std::process::exit(2);
    });
    tch::set_num_threads(args.threads);
    rayon::ThreadPoolBuilder::new().num_threads(args.threads as usize).build_global().ok();
    let compute = Compute { channels_last: args.channels_last, ..Compute::default() };
    let source = SyntheticImages {
        config: SyntheticConfig {
            seed: dnlts::seed::derive(args.seed, "data", "synthetic"),
            size: IMAGE_SIZE,
            classes: CLASSES,
            ..SyntheticConfig::default()
        },
        train_images: 10_240,
        eval_images: 2_000,
    };
    let stage_seed = dnlts::seed::derive(args.seed, "stage", "pretrain");
    tch::manual_seed(stage_seed as i64);
    let segnet = SegNetConfig::scaled(args.width_divisor, args.stages);
    let ae = AutoEncoder::new(segnet, tch::Device::Cpu);
    let recipe =
        if args.adam { PretrainRecipe::Adam { lr: args.lr } } else { PretrainRecipe::Paper };
    let config = PretrainConfig {
        lr: args.lr,
        patience: args.patience,
        compute,
        ..PretrainConfig::new(recipe, args.images, args.batch, args.images / 10, 512)
    };
    let started = Instant::now();
    let task = Pretrain::new(&ae, &source, config);
    let trained = drive(&task, task.schedule(), None, stage_seed).unwrap_or_else(|error| {
        eprintln!("ae_study: {error}");
        std::process::exit(1);
    });
    let curve: Vec<String> = trained.log.iter().map(|c| format!("{:.3}", c.heldout_loss)).collect();
    println!(
        "AE /{} {} stages, {} images, lr {}{}: held-out MSE {} ({:.0} s)",
        args.width_divisor,
        args.stages,
        args.images,
        args.lr,
        if args.adam { " adam" } else { "" },
        curve.join(" "),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.png {
        save_reconstructions(&ae, &source, path);
    }
    let Some(dir) = &args.classifiers else { return };
    let scale =
        Scale::Scaled { width_divisor: args.classifier_divisor, image_size: IMAGE_SIZE as i64 };
    for family in Family::ALL {
        let path = dir.join(format!("classifier-{}.safetensors", family.name()));
        if !path.exists() {
            continue;
        }
        let mut classifier = Classifier::builtin(family, scale, CLASSES as i64, tch::Device::Cpu);
        let store = classifier.store_mut().expect("built-in");
        dnlts::models::weights::load(&mut [store], &path, LoadPolicy::Strict)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        classifier.freeze();
        let accuracy = |through_ae: bool| {
            validation_accuracy(
                &source,
                CHECK_IMAGES,
                args.batch,
                tch::Device::Cpu,
                &compute,
                &|x: &tch::Tensor| {
                    if through_ae {
                        classifier.logits(&ae.forward(x, AeMode::Eval), false)
                    } else {
                        classifier.logits(x, false)
                    }
                },
            )
        };
        println!(
            "  {}: C {:.1}  C∘A_S {:.1}",
            family.letter(),
            100.0 * accuracy(false),
            100.0 * accuracy(true)
        );
    }
}

/// The first 16 validation images over their reconstructions, 4× enlarged.
fn save_reconstructions(ae: &AutoEncoder, source: &SyntheticImages, path: &std::path::Path) {
    use dnlts::data::source::{tensor_to_images, ImageSource, Split};
    let indices: Vec<u64> = (0..16).collect();
    let (x, _) = source.labelled(Split::Validation, &indices);
    let y = tch::no_grad(|| ae.forward(&x, AeMode::Eval)).clamp(0.0, 1.0);
    let rows = vec![tensor_to_images(&x), tensor_to_images(&y)];
    dnlts::report::grid::image_grid(&rows, 4, 2).save(path).expect("png written");
}
