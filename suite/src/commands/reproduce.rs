//! `dnlts reproduce`, `dnlts evaluate` and the stage commands (`pretrain`,
//! `train-classifier`, `finetune`): options to a run request, then the runner or one stage.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{PaperArgs, ReproduceArgs, StageArgs, TrainingArgs};
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
        if let (Some(option), false) =
            (inputs.first_given(), profile.data == profile::DataSource::ImagenetYfcc)
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
        };
        Ok(stages::RunOptions {
            compute,
            finetune_part: self.finetune_part,
            data_dir: self.data.clone(),
            prefetch: self.prefetch,
            fixed_stages: self.fixed_stages.clone(),
            inputs,
            fig2_imagenet_epochs: 0,
        })
    }
}

pub fn parse_family(name: &str) -> anyhow::Result<dnlts::models::Family> {
    dnlts::models::Family::parse(name).ok_or_else(|| {
        anyhow::anyhow!(
            "--classifier '{name}' names no classifier: use L, A, V, I, R or lenet5, alexnet, \
             vgg16_bn, inception_v3, resnet50"
        )
    })
}

/// Runs one stage of the pipeline (and what it depends on), caching it like `reproduce` does.
pub fn run_stage(
    args: StageArgs,
    stage: impl FnOnce(&stages::Pipeline) -> anyhow::Result<()>,
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
    pub fn request(
        self,
        targets: Vec<&'static targets::Target>,
    ) -> anyhow::Result<runner::RunRequest> {
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
                let rows = super::plan::estimate(&profile, part, segnet, found);
                let (tflops, source) = super::plan::assumed_throughput(device, options.compute.amp);
                println!("\n{}", super::plan::format_estimate(&rows, tflops, &source));
            }
        }
        prepare_output(&out_dir)?;
        Ok(runner::RunRequest {
            targets,
            profile,
            options,
            resume: self.resume,
            master_seed: self.machine.seed,
            threads: self.machine.threads,
            device,
            out_dir,
            classifiers: Vec::new(),
        })
    }
}

pub fn reproduce(args: ReproduceArgs) -> anyhow::Result<()> {
    let mut request = args.run.request(targets::select(&args.include, &args.exclude)?)?;
    request.classifiers = args.classifier;
    let epochs = args.fig2_imagenet_epochs;
    anyhow::ensure!(
        epochs == 0 || request.profile.data == profile::DataSource::ImagenetYfcc,
        "--fig2-imagenet-epochs {epochs}: profile '{}' reads no ImageNet and YFCC100m; Figure \
         2's second regime runs with --profile paper (the paper's 72 epochs) or paper-smoke",
        request.profile.name
    );
    request.options.fig2_imagenet_epochs = epochs;
    run_targets(request)
}

fn run_targets(request: runner::RunRequest) -> anyhow::Result<()> {
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

/// `dnlts evaluate`: the targets the evaluation pass feeds.
pub fn evaluate(stage: StageArgs) -> anyhow::Result<()> {
    run_targets(stage.request(targets::evaluation())?)
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
