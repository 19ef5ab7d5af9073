//! `dnlts reproduce`, `dnlts evaluate` and the stage commands (`pretrain`,
//! `train-classifier`, `finetune`): options to a run request, then the runner or one stage.

mod devices;

use std::path::PathBuf;

use anyhow::Context as _;

use dnlts::device::DeviceChoice;

use crate::cli::{PaperArgs, ReproduceArgs, StageArgs, TrainingArgs};
use crate::commands::plan;
use crate::{profile, runner, stages, targets};

impl PaperArgs {
    pub fn inputs(&self) -> stages::PaperInputs {
        stages::PaperInputs {
            imagenet: self.imagenet.clone(),
            yfcc: self.yfcc.clone(),
            weights: self.weights.clone(),
            segnet: self.segnet.clone(),
        }
    }
}

impl TrainingArgs {
    /// The run options, and the profile with the batch size asked for.
    pub fn apply(&self, profile: &mut profile::Profile) -> anyhow::Result<stages::RunOptions> {
        profile.check_data_option(self.data.as_deref())?;
        let inputs = self.inputs.inputs();
        if self.train_classifiers {
            anyhow::ensure!(
                !profile.models.is_paper(),
                "--train-classifiers: profile '{}' loads torchvision's classifiers (the paper's \
                 protocol) and trains LeNet-5 anyway; drop --train-classifiers",
                profile.name
            );
            profile.classifiers = profile::Classifiers::Quick;
        }
        // A profile that ships its classifiers reads --weights as another set of them.
        let mut unread = inputs.clone();
        if matches!(profile.classifiers, profile::Classifiers::Shipped(_)) {
            unread.weights = None;
        }
        if let (Some(option), false) =
            (unread.first_given(), profile.data == profile::DataSource::ImagenetYfcc)
        {
            anyhow::bail!(
                "{option}: profile '{}' reads no ImageNet, YFCC100m or pretrained weights, so it \
                 would ignore it; drop {option}, or use it with --profile paper or paper-smoke",
                profile.name
            );
        }
        if let Some(batch_size) = self.batch_size {
            profile.batch_size = batch_size;
            profile.eval_batch_size = batch_size;
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
            channels_last: self.channels_last || profile.channels_last,
            fold_batch_norm: !self.no_fold_bn,
        };
        Ok(stages::RunOptions {
            compute,
            finetune_part: self.finetune_part,
            data_dir: self.data.clone(),
            prefetch: self.prefetch,
            fixed_stages: self.fixed_stages.clone(),
            inputs,
            fig2_imagenet_epochs: 0,
            pretrain_devices: self.pretrain_devices.clone(),
            fast: self.fast,
            // What libtorch of this process runs (main.rs pinned it before libtorch loaded).
            kernels: dnlts::kernels::in_force(),
            resamples: self.resamples,
        })
    }

    /// These options as command-line words, for the child stage commands of `--devices` and
    /// the plan's (the paper inputs are in [`plan::run_words`]). Every field is named, so that a new
    /// option cannot be left out of the children by mistake.
    pub fn words(&self) -> anyhow::Result<Vec<String>> {
        let TrainingArgs {
            batch_size,
            accumulate,
            amp,
            channels_last,
            no_fold_bn,
            finetune_part,
            pretrain_devices,
            prefetch,
            data,
            inputs: _,
            fixed_stages,
            fast,
            resamples,
            train_classifiers,
        } = self;
        let mut words = vec![
            "--accumulate".to_string(),
            accumulate.to_string(),
            "--prefetch".into(),
            prefetch.to_string(),
            "--finetune-part".into(),
            finetune_part.to_string(),
        ];
        if let Some(batch_size) = batch_size {
            words.extend(["--batch-size".into(), batch_size.to_string()]);
        }
        if let Some(resamples) = resamples {
            words.extend(["--resamples".into(), resamples.to_string()]);
        }
        if !pretrain_devices.is_empty() {
            let list = dnlts::device::DeviceChoice::list(pretrain_devices);
            words.extend(["--pretrain-devices".into(), list]);
        }
        let flags = [
            ("--amp", amp),
            ("--channels-last", channels_last),
            ("--fast", fast),
            ("--no-fold-bn", no_fold_bn),
            ("--train-classifiers", train_classifiers),
        ];
        for (option, on) in flags {
            if *on {
                words.push(option.into());
            }
        }
        for (option, path) in [("--data", data), ("--fixed-stages", fixed_stages)] {
            if let Some(path) = path {
                words.push(option.into());
                words.push(plan::absolute(path.clone())?.display().to_string());
            }
        }
        Ok(words)
    }
}

pub fn parse_family(name: &str) -> anyhow::Result<dnlts::models::Family> {
    dnlts::models::Family::parse(name).ok_or_else(|| {
        anyhow::anyhow!(
            "--family '{name}' names no built-in classifier: use L, A, V, I, R or lenet5, \
             alexnet, vgg16_bn, inception_v3, resnet50"
        )
    })
}

/// Runs one stage of the pipeline (and what it depends on), caching it like `reproduce` does.
pub fn run_stage(
    args: StageArgs,
    stage: impl FnOnce(&stages::Pipeline) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    runner::run_request(args.request(Vec::new(), 0)?, stage)
}

/// `dnlts pretrain-imagenet --epochs N`: the stage `reproduce --fig2-imagenet-epochs N` trains
/// for Figure 2, made alone (a node of `dnlts plan`'s graph).
pub fn pretrain_imagenet(args: StageArgs, epochs: u64) -> anyhow::Result<()> {
    let request = args.request(Vec::new(), epochs)?;
    runner::run_request(request, |p| p.imagenet_pretrain_log().map(|_| ()))
}

/// Refuses `--fig2-imagenet-epochs N` (N above 0) for a profile without ImageNet and YFCC100m.
pub fn check_fig2_epochs(epochs: u64, profile: &profile::Profile) -> anyhow::Result<()> {
    anyhow::ensure!(
        epochs == 0 || profile.data == profile::DataSource::ImagenetYfcc,
        "--fig2-imagenet-epochs {epochs}: profile '{}' reads no ImageNet and YFCC100m; Figure \
         2's second regime runs with --profile paper (the paper's 72 epochs) or paper-smoke",
        profile.name
    );
    Ok(())
}

impl StageArgs {
    /// The output folder: `--out`, or results/<profile>.
    fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&self.profile))
    }

    /// This run as the words of a child stage command, but its `--device`: the same profile,
    /// output folder, seed, thread count and options, so that a stage computed by a child is
    /// the one this process would compute (and finds in the cache).
    fn child_words(&self) -> anyhow::Result<Vec<String>> {
        let (machine, training) = (&self.machine, &self.training);
        let kernels =
            plan::KernelWords { threads: machine.threads, native: machine.native_kernels };
        let mut words = plan::run_words(
            &self.profile,
            &self.out_dir(),
            machine.seed,
            kernels,
            &training.inputs,
        )?;
        words.extend(training.words()?);
        if self.resume {
            words.push("--resume".into());
        }
        Ok(words)
    }

    /// What to run: the profile with --batch-size applied, the run options (with Figure 2's
    /// ImageNet epochs, 0: none), the device.
    pub fn request(
        self,
        targets: Vec<&'static targets::Target>,
        fig2_imagenet_epochs: u64,
    ) -> anyhow::Result<runner::RunRequest> {
        self.request_adjusted(targets, fig2_imagenet_epochs, |_| Ok(()))
    }

    /// [`Self::request`] for the profile as `adjust` changes it (after the options' changes).
    pub fn request_adjusted(
        self,
        targets: Vec<&'static targets::Target>,
        fig2_imagenet_epochs: u64,
        adjust: impl FnOnce(&mut profile::Profile) -> anyhow::Result<()>,
    ) -> anyhow::Result<runner::RunRequest> {
        let mut profile = profile::Profile::preset(&self.profile)?;
        let mut options = self.training.apply(&mut profile)?;
        adjust(&mut profile)?;
        if let Some(note) = profile.threads_note(self.machine.threads) {
            eprintln!("{note}");
        }
        check_fig2_epochs(fig2_imagenet_epochs, &profile)?;
        options.fig2_imagenet_epochs = fig2_imagenet_epochs;
        let device = self.machine.device.resolve()?;
        stages::check_pretrain_devices(&options.pretrain_devices, device)?;
        if options.compute.amp {
            dnlts::compute::check_amp().map_err(anyhow::Error::msg)?;
        }
        if options.compute.amp && device == tch::Device::Cpu {
            eprintln!(
                "warning: --amp on the CPU runs bf16 autocast there, which is slower than f32 \
                 unless the CPU has bf16 units (AVX512-BF16, AMX)"
            );
        }
        let out_dir = self.out_dir();
        // A stage command (no targets) or a target that reads data needs every input: the
        // preflight names each missing one at once, before anything trains.
        let reads_data = targets.is_empty() || targets.iter().any(|target| target.reads_data);
        if profile.data == profile::DataSource::ImagenetYfcc
            && options.fixed_stages.is_none()
            && reads_data
        {
            let machine = (self.machine.device, profile.batch_size);
            let found =
                super::doctor::preflight(&profile, &options.inputs, machine, &out_dir, false)?;
            // What the run will do, before it does it: stages, images, estimated hours.
            if !targets.is_empty() {
                let part = options.finetune_part;
                let segnet = options.inputs.segnet.is_some();
                let epochs = options.fig2_imagenet_epochs;
                let rows = super::plan::estimate(&profile, part, segnet, epochs, found);
                let (tflops, source) = super::plan::assumed_throughput(device, options.compute.amp);
                println!("\n{}", super::plan::format_estimate(&rows, tflops, &source));
            }
        }
        prepare_output(&out_dir)?;
        let threads = profile.training_threads(self.machine.threads);
        let settings = lock_settings(&profile, &options, self.machine.seed, threads, device)?;
        let who = format!("profile {}, seed {}", profile.name, self.machine.seed);
        let out_lock = crate::out_lock::OutLock::acquire(&out_dir, &settings, &who)?;
        // What a stop outside training (during the evaluation, say) tells the user; training
        // says the same with its checkpoint.
        dnlts::train::stop::set_advice(match &options.fixed_stages {
            Some(fixed) => format!(
                "nothing was training (the stages are the fixed ones in {}): run the same \
                 command again",
                fixed.display()
            ),
            None => format!(
                "the stages finished so far are kept in {}: run the same command with --resume \
                 to continue",
                out_dir.join("stages").display()
            ),
        });
        Ok(runner::RunRequest {
            _out_lock: out_lock,
            targets,
            profile,
            options,
            resume: self.resume,
            master_seed: self.machine.seed,
            threads,
            device,
            out_dir,
            classifiers: Vec::new(),
        })
    }
}

pub fn reproduce(mut args: ReproduceArgs) -> anyhow::Result<()> {
    let mut devices = std::mem::take(&mut args.devices);
    if devices.is_empty() {
        devices = default_cpu_devices(&args)?;
    }
    let child_words = if devices.is_empty() {
        None
    } else {
        devices::check(&devices)?;
        // The targets run here, on the first device.
        args.run.machine.device = devices[0];
        let pretrain_devices = &mut args.run.training.pretrain_devices;
        if pretrain_devices.is_empty() {
            *pretrain_devices = devices::pretrain_devices(&devices);
        }
        Some(args.run.child_words()?)
    };
    let selected = targets::select(&args.include, &args.exclude)?;
    let trains = selected.iter().any(|target| target.reads_data);
    let mut request = args.run.request(selected, args.fig2_imagenet_epochs)?;
    request.classifiers = args.classifier;
    if let (Some(words), true) = (child_words, trains) {
        // Users' classifiers and the data are checked before any child starts.
        let pipeline = runner::pipeline(&request)?;
        pipeline.source()?;
        drop(pipeline);
        let dnlts = plan::this_binary()?;
        let data_parallel = request.options.pretrain_devices.len() > 1;
        let out = &request.out_dir;
        let (profile, epochs) = (&request.profile, request.options.fig2_imagenet_epochs);
        devices::run_stages(profile, epochs, &devices, data_parallel, &dnlts, &words, out)?;
    }
    run_targets(request)
}

/// On a CPU with at least twice the profile's threads, with neither `--devices` nor
/// `--threads` given: independent stages run at once, each on the profile's threads (so the
/// numbers stay the reference's), instead of one stage on more threads (which would change
/// them). A run on fixed stages trains nothing.
fn default_cpu_devices(args: &ReproduceArgs) -> anyhow::Result<Vec<DeviceChoice>> {
    let slots = side_by_side_slots(args)?;
    if slots < 2 {
        return Ok(Vec::new());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "note: {cores} cores: training up to {slots} stages at once on the profile's threads \
         each (--devices cpu runs one at a time)"
    );
    Ok(vec![DeviceChoice::Cpu; slots])
}

/// How many stages [`default_cpu_devices`] runs at once on this machine (below 2: none side
/// by side); also what the OpenMP wait policy counts threads by (`main.rs`).
pub fn side_by_side_slots(args: &ReproduceArgs) -> anyhow::Result<usize> {
    let run = &args.run;
    if run.machine.threads.is_some()
        || run.machine.device != DeviceChoice::Cpu
        || run.training.fixed_stages.is_some()
    {
        return Ok(1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(cpu_slots(cores, profile::Profile::preset(&run.profile)?.threads))
}

/// Stages that fit at once on `cores` at the profile's `threads` each (None: one stage takes
/// every core).
fn cpu_slots(cores: usize, threads: Option<usize>) -> usize {
    threads.map_or(1, |threads| (cores / threads.max(1)).max(1))
}

fn run_targets(request: runner::RunRequest) -> anyhow::Result<()> {
    println!(
        "dnlts reproduce: profile {}, seed {}, {} thread(s), CPU kernels {}, device {}, output {}",
        request.profile.name,
        request.master_seed,
        request.threads,
        dnlts::kernels::in_force().name(),
        crate::provenance::device_name(request.device),
        request.out_dir.display()
    );
    let summary = runner::run(&request)?;
    println!(
        "done: {} target(s) ran; report in {}",
        summary.ran.len(),
        request.out_dir.join("report.md").display()
    );
    if let Some(fingerprint) = &summary.fingerprint {
        // Last, so that two runs are compared by their last line.
        println!(
            "fingerprint {} (profile {}, seed {}, {} target(s); the same line means the same \
             numbers)",
            fingerprint.run,
            request.profile.name,
            request.master_seed,
            fingerprint.targets.len()
        );
    }
    Ok(())
}

/// `dnlts evaluate`: the targets the evaluation pass feeds.
pub fn evaluate(stage: StageArgs) -> anyhow::Result<()> {
    run_targets(stage.request(targets::evaluation(), 0)?)
}

/// The digest of the settings a run's stages depend on ([`crate::out_lock`]): runs with the
/// same one share an output folder. Figure 2's ImageNet epochs are left out (a child stage
/// command of `--devices` gets them only where it makes that stage), paths are made
/// canonical (children get absolute ones), and the device counts by its kind, as in stage
/// keys.
fn lock_settings(
    profile: &profile::Profile,
    options: &stages::RunOptions,
    seed: u64,
    threads: usize,
    device: tch::Device,
) -> anyhow::Result<String> {
    use crate::out_lock::canonical;
    let mut options = options.clone();
    options.fig2_imagenet_epochs = 0;
    let inputs = &mut options.inputs;
    let paths = [
        &mut options.data_dir,
        &mut options.fixed_stages,
        &mut inputs.imagenet,
        &mut inputs.yfcc,
        &mut inputs.weights,
        &mut inputs.segnet,
    ];
    for path in paths.into_iter().flatten() {
        *path = canonical(path);
    }
    crate::out_lock::settings_digest(&(profile, &options, seed, threads, device.is_cuda()))
}

/// Makes sure results can be written to `out` before any work starts, and removes the
/// temporary files an earlier run killed mid-write left there.
fn prepare_output(out: &std::path::Path) -> anyhow::Result<()> {
    dnlts::files::check_output(out, dnlts::files::Output::Folder).context("--out")?;
    std::fs::create_dir_all(out).map_err(|error| {
        anyhow::anyhow!(
            "cannot create the output folder {}: {}",
            out.display(),
            dnlts::files::describe_io(&error)
        )
    })?;
    let probe = out.join(format!(".dnlts-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|error| {
        anyhow::anyhow!(
            "cannot write into the output folder {}: {}",
            out.display(),
            dnlts::files::describe_io(&error)
        )
    })?;
    let _ = std::fs::remove_file(probe);
    for stale in dnlts::atomic::remove_stale_temporaries(out) {
        eprintln!("removed {}, left by a run that was killed while writing it", stale.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(words: impl IntoIterator<Item = String>) -> Command {
        Cli::parse_from(std::iter::once("dnlts".to_string()).chain(words)).command
    }

    /// What a run computes with: run options, profile, seed, threads, resumption.
    fn computes_with(stage: &StageArgs) -> String {
        let mut profile = profile::Profile::preset(&stage.profile).unwrap();
        let options = stage.training.apply(&mut profile).unwrap();
        let (seed, threads) = (stage.machine.seed, stage.machine.threads);
        let native = stage.machine.native_kernels;
        serde_json::to_string(&(options, profile, seed, threads, native, stage.resume)).unwrap()
    }

    #[test]
    fn extra_cores_run_stages_side_by_side_not_one_stage_wider() {
        assert_eq!(cpu_slots(2, Some(2)), 1, "this project's 2-core machines: as before");
        assert_eq!(cpu_slots(3, Some(2)), 1);
        assert_eq!(cpu_slots(4, Some(2)), 2);
        assert_eq!(cpu_slots(16, Some(2)), 8);
        assert_eq!(cpu_slots(1, Some(2)), 1);
        assert_eq!(cpu_slots(64, None), 1, "paper: one stage on every core");
    }

    #[test]
    fn a_child_stage_command_of_devices_computes_with_the_parents_options() {
        let given = "reproduce --profile tiny --batch-size 8 --accumulate 2 --amp --channels-last \
                     --fast --no-fold-bn --finetune-part both --prefetch 3 --seed 7 --threads 3 \
                     --native-kernels --resume --out o --devices cpu,cpu";
        let Command::Reproduce(parent) = parse(given.split(' ').map(String::from)) else {
            panic!("not a reproduce command")
        };
        let words = parent.run.child_words().unwrap();
        let stage = ["finetune", "--family", "L"].map(String::from);
        let device = ["--device", "cpu"].map(String::from);
        let Command::Finetune { stage: child, .. } =
            parse(stage.into_iter().chain(words).chain(device))
        else {
            panic!("not a finetune command")
        };
        assert_eq!(computes_with(&child), computes_with(&parent.run));
        assert_eq!(child.out, Some(plan::absolute("o".into()).unwrap()), "the same folder");
        assert_eq!(lock_settings_of(&child), lock_settings_of(&parent.run));
    }

    fn lock_settings_of(stage: &StageArgs) -> String {
        let mut profile = profile::Profile::preset(&stage.profile).unwrap();
        let options = stage.training.apply(&mut profile).unwrap();
        let threads = profile.training_threads(stage.machine.threads);
        lock_settings(&profile, &options, stage.machine.seed, threads, tch::Device::Cpu).unwrap()
    }

    /// The children of `--devices` share their parent's lock of the output folder (they would
    /// wait on it forever, or be refused): the same settings digest, though they get absolute
    /// paths and Figure 2's epochs only in the stage that uses them; another seed differs.
    #[test]
    fn a_child_stage_command_has_its_parents_lock_settings() {
        let given = "reproduce --profile tiny --fixed-stages relative/stages --seed 3 --out o \
                     --fig2-imagenet-epochs 0 --devices cpu,cpu";
        let Command::Reproduce(parent) = parse(given.split_whitespace().map(String::from)) else {
            panic!("not a reproduce command")
        };
        let words = parent.run.child_words().unwrap();
        let stage = ["pretrain"].map(String::from);
        let Command::Pretrain(child) = parse(stage.into_iter().chain(words)) else {
            panic!("not a pretrain command")
        };
        assert_ne!(child.training.fixed_stages, parent.run.training.fixed_stages, "absolute");
        assert_eq!(lock_settings_of(&child), lock_settings_of(&parent.run));
        let other = given.replace("--seed 3", "--seed 4");
        let Command::Reproduce(other) = parse(other.split_whitespace().map(String::from)) else {
            panic!("not a reproduce command")
        };
        assert_ne!(lock_settings_of(&other.run), lock_settings_of(&parent.run));
    }
}
