//! `dnlts`: reproduce Palacio et al., "What do Deep Networks Like to See?" (CVPR 2018), and
//! ask the same question of your own networks.

mod commands;
mod pipeline;
mod profile;
mod provenance;
mod runner;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use dnlts::device::DeviceChoice;

/// What do deep networks like to see?
///
/// dnlts fine-tunes an autoencoder through frozen classifiers (LeNet-5, AlexNet, VGG16-BN,
/// Inception v3, ResNet-50) and measures which part of the input signal each one uses,
/// reproducing every table and figure of Palacio et al. (CVPR 2018) as a deterministic target.
#[derive(Parser)]
#[command(name = "dnlts", version, propagate_version = true)]
#[command(after_help = "Start with `dnlts list`, then `dnlts reproduce` (profile `small`, \
    any CPU). Results go to results/<profile>/.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show versions, devices, thread count and the determinism settings in force
    Env {
        #[command(flatten)]
        machine: MachineArgs,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// List the targets (one per table or figure of the paper) and the profiles
    List {
        /// List the profiles with their settings instead of the targets
        #[arg(long)]
        profiles: bool,
    },
    /// Run targets of a profile and write their results under results/<profile>/
    Reproduce(ReproduceArgs),
    /// Stage: pre-train the SegNet on the unlabelled stream (A_S); cached in <out>/stages/
    Pretrain(StageArgs),
    /// Stage: train a classifier from scratch on the profile's labelled data
    TrainClassifier {
        /// L, A, V, I, R or lenet5, alexnet, vgg16_bn, inception_v3, resnet50
        #[arg(long)]
        classifier: String,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Stage: fine-tune a copy of A_S, decoder only, through a frozen classifier
    Finetune {
        /// L, A, V, I, R or lenet5, alexnet, vgg16_bn, inception_v3, resnet50
        #[arg(long)]
        classifier: String,
        #[command(flatten)]
        stage: StageArgs,
    },
    /// Stage: Table 1, Table 2, the noise sweep and nMI (targets table1, table2, fig4, fig9)
    Evaluate(StageArgs),
    /// List the built-in models (paper scale and scaled) with parameter counts and input specs
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
        table: PathBuf,
        /// RRC thresholds t of the lattices
        #[arg(long, value_delimiter = ',', default_values_t = dnlts::metrics::analysis::DEFAULT_THRESHOLDS)]
        thresholds: Vec<f64>,
        /// Write Figure 6 (SVG) and each lattice (SVG and Graphviz DOT) into this folder
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
    /// Normalized mutual information of two equally sized 8-bit images (PNG)
    Nmi {
        a: PathBuf,
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
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write a labelled picture grid of a profile's synthetic images (the same bytes whatever
    /// the thread count)
    Preview {
        /// tiny, ci or small (the synthetic profiles)
        #[arg(long, default_value = profile::DEFAULT)]
        profile: String,
        /// Number of images
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// Draw the images with one cue switched off: no-palette, no-shape, no-texture or
        /// no-opponent (what the generator's ablation switch does)
        #[arg(long, default_value = "full")]
        ablation: String,
        /// Master seed (the data seed derives from it, as in `reproduce`)
        #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a dataset folder against its sha256 manifest (MANIFEST.sha256), or write one
    Verify {
        dir: PathBuf,
        /// Write (or replace) the manifest instead of checking it
        #[arg(long)]
        write: bool,
    },
}

#[derive(Subcommand)]
enum WeightsCommand {
    /// List a file's tensors with shape and dtype, the value total and the file's sha256
    Inspect {
        file: PathBuf,
        /// Print one JSON document instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Load a file into a paper-scale model (strictly by default) and say whether it fits
    Check {
        file: PathBuf,
        /// segnet, lenet5, alexnet, vgg16_bn, inception_v3 or resnet50
        #[arg(long)]
        model: String,
        /// Load what matches and list the rest instead of failing on any difference
        #[arg(long)]
        allow_partial: bool,
    },
}

/// Where and how reproducibly to compute.
#[derive(Args)]
struct MachineArgs {
    /// libtorch intra-op threads; fixed for the whole run because results depend on it
    /// (default: all logical cores)
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// cpu, cuda, cuda:N or auto (the first GPU if there is one)
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Master seed; every target and stage derives its own seed from it
    #[arg(long, default_value_t = dnlts::seed::DEFAULT_MASTER_SEED)]
    seed: u64,
}

#[derive(Args)]
struct ReproduceArgs {
    /// Run only these targets (comma-separated; `fig*` matches a prefix)
    #[arg(long, value_delimiter = ',')]
    include: Vec<String>,
    /// Skip these targets (comma-separated; `fig*` matches a prefix)
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    #[command(flatten)]
    run: StageArgs,
}

/// How training and evaluation steps are computed. Stages made with other settings are not
/// reused (they are part of each stage's cache key).
#[derive(Args)]
struct TrainingArgs {
    /// Images per optimisation step and per evaluation batch (default: the profile's)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: Option<u32>,
    /// Split each batch into N micro-batches whose gradients add up: the same update with
    /// 1/N of the activation memory (batch-norm layers see micro-batch statistics)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    accumulate: u64,
    /// bf16 autocast for training and evaluation (for CUDA; slower on CPUs without bf16 units)
    #[arg(long)]
    amp: bool,
    /// Run the networks on channels-last (NHWC) tensors, which cuDNN and oneDNN prefer
    #[arg(long)]
    channels_last: bool,
    /// Which half of each AE fine-tuning updates: decoder (the paper's choice), encoder or both
    #[arg(long, default_value = "decoder", value_name = "decoder|encoder|both")]
    finetune_part: dnlts::models::segnet::Part,
    /// Training batches made ahead on a loader thread while a step computes (0: make each
    /// batch between steps); results do not depend on it
    #[arg(long, default_value_t = 1)]
    prefetch: usize,
    /// Dataset folder of a real-data profile: for fashion, the Fashion-MNIST IDX files
    /// (default /usr/share/datasets/fashion-mnist, where `make fashion-mnist` installs them)
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

impl TrainingArgs {
    /// The run options, and the profile with the batch size asked for.
    fn apply(&self, profile: &mut profile::Profile) -> anyhow::Result<pipeline::RunOptions> {
        if let Some(batch_size) = self.batch_size {
            profile.batch_size = batch_size;
        }
        anyhow::ensure!(
            self.accumulate <= profile.batch_size as u64,
            "--accumulate {} splits a batch of {} into empty micro-batches; use at most {}",
            self.accumulate,
            profile.batch_size,
            profile.batch_size
        );
        let compute = dnlts::compute::Compute {
            accumulation: self.accumulate,
            amp: self.amp,
            channels_last: self.channels_last,
        };
        Ok(pipeline::RunOptions {
            compute,
            finetune_part: self.finetune_part,
            data_dir: self.data.clone(),
            prefetch: self.prefetch,
        })
    }
}

/// Options shared by `reproduce` and the stage commands.
#[derive(Args)]
struct StageArgs {
    /// ci (≤ 3 min on 2 cores), small (default, ≤ 15 min), fashion (Fashion-MNIST), paper
    /// (ImageNet + YFCC100m on a GPU) or tiny (seconds, for tests)
    #[arg(long, default_value = profile::DEFAULT)]
    profile: String,
    /// Output folder (default: results/<profile>)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue training stages interrupted earlier (Ctrl-C, a crash) from their checkpoints
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    machine: MachineArgs,
    #[command(flatten)]
    training: TrainingArgs,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`dnlts analyze … | head`), as
    // command-line tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    install_stop_handler();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM: training finishes its step, checkpoints and exits with a message on how
/// to resume; a second Ctrl-C exits at once.
fn install_stop_handler() {
    let handler = || {
        if dnlts::train::stop::requested() {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)…");
        dnlts::train::stop::request();
    };
    if let Err(error) = ctrlc::set_handler(handler) {
        eprintln!(
            "warning: no Ctrl-C handler ({error}); an interrupted run resumes from its last check"
        );
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Env { machine, json } => commands::env::run(machine.threads, json),
        Command::List { profiles } => {
            list(profiles);
            Ok(())
        }
        Command::Reproduce(args) => reproduce(args),
        Command::Pretrain(stage) => run_stage(stage, |p| p.pretrained().map(|_| ())),
        Command::TrainClassifier { classifier, stage } => {
            let family = parse_family(&classifier)?;
            run_stage(stage, |p| p.classifier(family).map(|_| ()))
        }
        Command::Finetune { classifier, stage } => {
            let family = parse_family(&classifier)?;
            run_stage(stage, |p| p.finetuned(family).map(|_| ()))
        }
        Command::Evaluate(run) => reproduce(ReproduceArgs {
            include: ["table1", "table2", "fig4", "fig9"].map(String::from).to_vec(),
            exclude: Vec::new(),
            run,
        }),
        Command::Models { json, classifier } if classifier.is_empty() => {
            commands::models::list(json)
        }
        Command::Models { classifier, .. } => commands::models::check_scripted(&classifier),
        Command::Analyze { table, thresholds, out, json } => {
            commands::analyze::run(&table, &thresholds, out.as_deref(), json)
        }
        Command::Nmi { a, b, bins } => commands::analyze::nmi(&a, &b, bins),
        Command::Data(DataCommand::Preview { profile, n, seed, ablation, out }) => {
            let profile = profile::Profile::preset(&profile)?;
            anyhow::ensure!(
                profile.data == profile::DataSource::Synthetic,
                "profile '{}' has no synthetic data to preview; use tiny, ci or small",
                profile.name
            );
            let mut config = pipeline::synthetic_source(&profile, pipeline::data_seed(seed)).config;
            config.cues = dnlts::data::synthetic::CueSwitches::ablation(&ablation)?;
            let grid = dnlts::data::preview::grid(&config, n);
            dnlts::data::preview::save_png(&grid, &out)?;
            println!("wrote {} ({n} images of profile {})", out.display(), profile.name);
            Ok(())
        }
        Command::Data(DataCommand::Verify { dir, write }) => {
            if write {
                let files = dnlts::data::manifest::write(&dir)?;
                println!("wrote {}/MANIFEST.sha256 ({files} files)", dir.display());
                return Ok(());
            }
            let report = dnlts::data::manifest::verify(&dir)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            anyhow::ensure!(
                report.missing.is_empty() && report.changed.is_empty() && report.extra.is_empty(),
                "{} does not match its manifest: {} missing, {} changed, {} extra",
                dir.display(),
                report.missing.len(),
                report.changed.len(),
                report.extra.len()
            );
            Ok(())
        }
        Command::Weights(WeightsCommand::Inspect { file, json }) => {
            commands::models::inspect(&file, json)
        }
        Command::Weights(WeightsCommand::Check { file, model, allow_partial }) => {
            commands::models::check_file(&file, &model, allow_partial)
        }
    }
}

fn list(profiles: bool) {
    if profiles {
        for name in profile::PRESETS {
            let preset = profile::Profile::preset(name).expect("presets are valid");
            println!("{:<8} {} [target: {}]", preset.name, preset.summary, preset.budget);
        }
        return;
    }
    for target in targets::all() {
        println!("{:<9} {:<26} {}", target.name, target.artefact, target.summary);
    }
}

fn parse_family(name: &str) -> anyhow::Result<dnlts::models::Family> {
    dnlts::models::Family::parse(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown classifier '{name}': use L, A, V, I, R or lenet5, alexnet, vgg16_bn, inception_v3, resnet50"
        )
    })
}

/// Runs one stage of the pipeline (and what it depends on), caching it like `reproduce` does.
fn run_stage(
    args: StageArgs,
    stage: impl FnOnce(&pipeline::Pipeline) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let request = args.request(Vec::new())?;
    let seed = dnlts::seed::derive(request.master_seed, "stage-command", "");
    dnlts::seed::Determinism::new(seed, request.threads).apply();
    stage(&runner::pipeline(&request)?)?;
    println!("done; stages cached in {}", request.out_dir.join("stages").display());
    Ok(())
}

impl StageArgs {
    /// What to run: the profile with --batch-size applied, the run options, the device.
    fn request(self, targets: Vec<&'static targets::Target>) -> anyhow::Result<runner::RunRequest> {
        let mut profile = profile::Profile::preset(&self.profile)?;
        let options = self.training.apply(&mut profile)?;
        let device = self.machine.device.resolve()?;
        if options.compute.amp {
            dnlts::compute::check_amp().map_err(anyhow::Error::msg)?;
        }
        if options.compute.amp && device == tch::Device::Cpu {
            eprintln!(
                "warning: --amp on the CPU runs bf16 autocast there, which is slower than f32 \
                 unless the CPU has bf16 units (AVX512-BF16, AMX)"
            );
        }
        let out_dir = self.out.unwrap_or_else(|| PathBuf::from("results").join(&profile.name));
        Ok(runner::RunRequest {
            targets,
            profile,
            options,
            resume: self.resume,
            master_seed: self.machine.seed,
            threads: self.machine.threads,
            device,
            out_dir,
        })
    }
}

fn reproduce(args: ReproduceArgs) -> anyhow::Result<()> {
    let request = args.run.request(targets::select(&args.include, &args.exclude)?)?;
    println!(
        "dnlts reproduce: profile {}, seed {}, {} thread(s), device {:?}, output {}",
        request.profile.name,
        request.master_seed,
        request.threads,
        request.device,
        request.out_dir.display()
    );
    let summary = runner::run(&request)?;
    println!(
        "done: {} target(s) ran; report in {}",
        summary.ran.len(),
        request.out_dir.join("report.md").display()
    );
    Ok(())
}
