//! Generator study: how well each classifier family learns the embedded synthetic set, with all
//! cues on and with one cue switched off at a time. Trains every (family, ablation) pair from
//! scratch with the family's recipe (`ClassifyConfig::recipe`, what the pipeline uses): scaled
//! models (width / 8) on 32×32 images, the family's optimizer and learning rate, cosine decay,
//! batch 64, the same data and stage seeds; the score is the validation top-1 on 1,000 images
//! after the last epoch. Prints a markdown table.
//!
//! ```text
//! scripts/with-libtorch.sh cargo run --release --example generator_study -- \
//!     --families L,R --ablations full,no-texture --threads 1 [--train-images 10240] [--epochs 5] \
//!     [--seeds 3] [--device cuda] [--batch 64] [--width-divisor 8] [--warmup 0] \
//!     [--lr 0.05] [--adam | --weight-decay 5e-4] [--channels-last] \
//!     [--reliability 0.35,0.45,0.85,0.5] [--amplitude 0.55,0.6,0.35,0.35] [--nuisance 1,1,1,1,3,0.04]
//! ```
//!
//! `--seeds N` repeats every cell with master seeds 2018 … 2018+N-1 (`--first-seed S` starts
//! at S; data and training seeds both derive from it, as in the pipeline) and prints the mean
//! with the range: one seed is not enough to rank families at this budget. `--reliability` and
//! `--amplitude` override the cues' strengths (palette, shape, texture, opponent), `--nuisance`
//! the nuisances (position, scale, rotation, lighting, clutter parts, pixel noise),
//! `--width-divisor` the models' width, `--warmup E` adds E epochs of linear lr warm-up,
//! `--lr` replaces the recipe's rate, `--adam` its optimizer by Adam and `--weight-decay` by SGD
//! with momentum 0.9 and that decay, for trying a setting (`--channels-last` as the `small`
//! profile runs). `--device cuda` trains on a GPU (same loop; the numbers differ from the
//! CPU's in rounding, and at this budget that moves the deep families by several points).
//!
//! `--ceilings` instead prints the ideal-reader accuracy ceilings of the cue strengths
//! (the table on `CueStrengths::default()`), by Monte Carlo; it trains nothing.

use std::time::Instant;

use dnlts::compute::Compute;
use dnlts::data::source::SyntheticImages;
use dnlts::data::synthetic::{CueStrengths, CueSwitches, Nuisance, SyntheticConfig, DEFAULT_SEED};
use dnlts::models::classifier::Classifier;
use dnlts::models::{Family, Scale};
use dnlts::train::classify::{ClassifyConfig, TrainClassifier};
use dnlts::train::drive;
use dnlts::train::optim::Rule;

/// The `small` profile's numbers (suite/src/profile.rs) that the classifier stage reads.
const IMAGE_SIZE: u32 = 32;
const CLASSES: u32 = 10;
const EVAL_IMAGES: u64 = 2_000;
const CHECK_IMAGES: u64 = 1_000;

const ABLATIONS: [&str; 5] = CueSwitches::ABLATIONS;

struct Args {
    families: Vec<Family>,
    ablations: Vec<String>,
    threads: i32,
    train_images: u64,
    epochs: u64,
    ceilings: bool,
    seeds: u64,
    first_seed: u64,
    batch: u64,
    width_divisor: i64,
    warmup_epochs: Option<f64>,
    lr: Option<f64>,
    rule: Option<Rule>,
    compute: Compute,
    device: tch::Device,
    strengths: CueStrengths,
    nuisance: Nuisance,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        families: vec![Family::Lenet5, Family::Resnet50],
        ablations: vec!["full".into()],
        threads: 1,
        train_images: 10_240,
        epochs: 5,
        ceilings: false,
        seeds: 1,
        first_seed: DEFAULT_SEED,
        batch: 64,
        width_divisor: 8,
        warmup_epochs: None,
        lr: None,
        rule: None,
        compute: Compute::default(),
        device: tch::Device::Cpu,
        strengths: CueStrengths::default(),
        nuisance: Nuisance::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--ceilings" {
            args.ceilings = true;
            continue;
        }
        if flag == "--adam" {
            args.rule = Some(Rule::adam());
            continue;
        }
        if flag == "--channels-last" {
            args.compute.channels_last = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--families" => {
                args.families = value
                    .split(',')
                    .map(|f| Family::parse(f).ok_or(format!("unknown family {f}")))
                    .collect::<Result<_, _>>()?
            }
            "--ablations" => {
                args.ablations = value.split(',').map(str::to_string).collect();
                if let Some(bad) = args.ablations.iter().find(|a| !ABLATIONS.contains(&a.as_str()))
                {
                    return Err(format!("unknown ablation {bad}; use {}", ABLATIONS.join(",")));
                }
            }
            "--threads" => args.threads = number(&value)? as i32,
            "--train-images" => args.train_images = number(&value)?,
            "--epochs" => args.epochs = number(&value)?,
            "--warmup" => {
                args.warmup_epochs =
                    Some(value.parse().map_err(|e| format!("{flag} {value}: {e}"))?)
            }
            "--lr" => args.lr = Some(value.parse().map_err(|e| format!("{flag} {value}: {e}"))?),
            "--weight-decay" => {
                let weight_decay = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
                args.rule = Some(ClassifyConfig::sgd(weight_decay));
            }
            "--width-divisor" => args.width_divisor = number(&value)?.max(1) as i64,
            "--batch" => args.batch = number(&value)?.max(1),
            "--first-seed" => args.first_seed = number(&value)?,
            "--seeds" => args.seeds = number(&value)?.max(1),
            "--device" => {
                let choice: dnlts::device::DeviceChoice =
                    value.parse().map_err(|e| format!("{e}"))?;
                args.device = choice.resolve().map_err(|e| format!("{e}"))?;
            }
            "--reliability" | "--amplitude" => {
                let [p, s, t, o] = numbers(&flag, &value)?;
                let st = &mut args.strengths;
                let mut cues = [&mut st.palette, &mut st.shape, &mut st.texture, &mut st.opponent];
                for (cue, v) in cues.iter_mut().zip([p, s, t, o]) {
                    if flag == "--reliability" {
                        cue.reliability = v
                    } else {
                        cue.amplitude = v
                    }
                }
            }
            "--nuisance" => {
                let [position, scale, rotation, lighting, clutter, pixel_noise] =
                    numbers(&flag, &value)?;
                let clutter = clutter as u32;
                args.nuisance =
                    Nuisance { position, scale, rotation, lighting, clutter, pixel_noise };
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// `N` comma-separated numbers, as a flag's value.
fn numbers<const N: usize>(flag: &str, value: &str) -> Result<[f32; N], String> {
    let parsed: Vec<f32> = value
        .split(',')
        .map(|v| v.parse::<f32>().map_err(|e| format!("{flag} {v}: {e}")))
        .collect::<Result<_, _>>()?;
    parsed.try_into().map_err(|_| format!("{flag} needs {N} comma-separated numbers"))
}

/// Validation top-1 of `family` trained on the synthetic set with `cues`, and the per-epoch log.
fn train(family: Family, cues: CueSwitches, master_seed: u64, args: &Args) -> (f64, Vec<f64>) {
    // Same seeds as the pipeline at this master seed.
    let data_seed = dnlts::seed::derive(master_seed, "data", "synthetic");
    let stage_seed =
        dnlts::seed::derive(master_seed, "stage", &format!("classifier-{}", family.name()));
    let source = SyntheticImages {
        config: SyntheticConfig {
            seed: data_seed,
            size: IMAGE_SIZE,
            classes: CLASSES,
            cues,
            strengths: args.strengths,
            nuisance: args.nuisance,
        },
        train_images: args.train_images,
        eval_images: EVAL_IMAGES,
    };
    let recipe = ClassifyConfig::recipe(family, args.epochs, args.batch);
    let config = ClassifyConfig {
        lr: args.lr.unwrap_or(recipe.lr),
        rule: args.rule.unwrap_or(recipe.rule),
        warmup_epochs: args.warmup_epochs.unwrap_or(recipe.warmup_epochs),
        check_images: CHECK_IMAGES,
        seed: stage_seed,
        compute: args.compute,
        ..recipe
    };
    tch::manual_seed(stage_seed as i64);
    let scale = Scale::Scaled { width_divisor: args.width_divisor, image_size: IMAGE_SIZE as i64 };
    let classifier = Classifier::builtin(family, scale, CLASSES as i64, args.device);
    let task = TrainClassifier::new(&classifier, &source, config);
    let trained = drive(&task, task.schedule(), None, stage_seed).unwrap_or_else(|error| {
        eprintln!("generator_study: {error}");
        std::process::exit(1);
    });
    let log: Vec<f64> = trained.log.iter().map(|c| c.accuracy).collect();
    (*log.last().expect("at least one check"), log)
}

/// Ideal-reader ceilings: Bayes rule over the four cue classes (each shows the true class with
/// its reliability, else a uniform class), reading only the cues in `read`.
fn ceiling(strengths: &CueStrengths, read: [bool; 4], samples: u64) -> f64 {
    let r = [
        strengths.palette.reliability,
        strengths.shape.reliability,
        strengths.texture.reliability,
        strengths.opponent.reliability,
    ];
    let k = CLASSES as usize;
    let mut rng = 0x5EED_u64;
    let mut next = || {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut correct = 0.0;
    for _ in 0..samples {
        let class = (next() * k as f64) as usize;
        let mut log_post = vec![0.0f64; k];
        for cue in 0..4 {
            let shown = if next() < r[cue] as f64 { class } else { (next() * k as f64) as usize };
            if read[cue] {
                let hit = (r[cue] as f64 + (1.0 - r[cue] as f64) / k as f64).ln();
                let miss = ((1.0 - r[cue] as f64) / k as f64).ln();
                for (c, lp) in log_post.iter_mut().enumerate() {
                    *lp += if c == shown { hit } else { miss };
                }
            }
        }
        let best = log_post.iter().cloned().fold(f64::MIN, f64::max);
        let ties: Vec<usize> = (0..k).filter(|&c| log_post[c] > best - 1e-9).collect();
        if ties.contains(&class) {
            correct += 1.0 / ties.len() as f64; // ties broken uniformly at random
        }
    }
    correct / samples as f64
}

fn print_ceilings(s: &CueStrengths) {
    let names = ["palette", "shape", "texture", "opponent"];
    println!("| cues read | ceiling |\n|---|---|");
    for mask in 1u32..16 {
        let read = [0, 1, 2, 3].map(|i| mask & (1 << i) != 0);
        let label: Vec<&str> = (0..4).filter(|&i| read[i]).map(|i| names[i]).collect();
        println!("| {} | {:.2} |", label.join("+"), ceiling(s, read, 200_000));
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("generator_study: {message}");
            std::process::exit(2);
        }
    };
    if args.ceilings {
        print_ceilings(&args.strengths);
        return;
    }
    // One thread for libtorch and for image generation alike: results and timings stay
    // comparable whatever else runs on the machine.
    tch::set_num_threads(args.threads);
    rayon::ThreadPoolBuilder::new().num_threads(args.threads as usize).build_global().ok();
    let started = Instant::now();
    let mut rows = Vec::new();
    for family in &args.families {
        let mut row = Vec::new();
        for ablation in &args.ablations {
            let cues = CueSwitches::ablation(ablation).expect("validated");
            let mut scores = Vec::new();
            for master_seed in args.first_seed..args.first_seed + args.seeds {
                let t = Instant::now();
                let (accuracy, log) = train(*family, cues, master_seed, &args);
                let per_epoch: Vec<String> =
                    log.iter().map(|a| format!("{:.1}", 100.0 * a)).collect();
                eprintln!(
                    "{} {ablation} seed {master_seed}: {:.1} % (epochs: {}) in {:.0} s",
                    family.letter(),
                    100.0 * accuracy,
                    per_epoch.join(" "),
                    t.elapsed().as_secs_f64()
                );
                scores.push(100.0 * accuracy);
            }
            row.push(summary(&scores));
        }
        rows.push((family.letter(), row));
    }
    println!(
        "\nval top-1 (%), {} train images × {} epochs, {} seed(s) (mean, range), {:.0} s\n",
        args.train_images,
        args.epochs,
        args.seeds,
        started.elapsed().as_secs_f64()
    );
    println!("| family | {} |", args.ablations.join(" | "));
    println!("|---|{}", "---|".repeat(args.ablations.len()));
    for (letter, row) in rows {
        println!("| {letter} | {} |", row.join(" | "));
    }
}

/// `mean` for one score, `mean (min–max)` for several.
fn summary(scores: &[f64]) -> String {
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    if scores.len() == 1 {
        return format!("{mean:.1}");
    }
    let min = scores.iter().cloned().fold(f64::MAX, f64::min);
    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
    format!("{mean:.1} ({min:.1}–{max:.1})")
}
