//! `dnlts models` and `dnlts weights inspect`.

use std::path::Path;

use serde::Serialize;
use tch::nn::VarStore;
use tch::Device;

use dnlts::models::flops;
use dnlts::models::segnet::{AeMode, AutoEncoder, SegNetConfig};
use dnlts::models::{parameter_count, Family, InputSpec, Scale};

use crate::output::thousands;
use crate::profile::Profile;
use crate::stages::scale_of;

/// One profile per scale: the paper's, width/16 (tiny, ci) and width/8 (small, fashion), with
/// the AE each of them pre-trains.
const LISTED: [&str; 3] = ["paper", "ci", "small"];

#[derive(Serialize)]
struct ModelRow {
    name: String,
    letter: String,
    scale: Scale,
    parameters: i64,
    input: Option<InputSpec>,
    /// Side of the square image the work below is counted for.
    counted_at: i64,
    /// Multiply-accumulates of one image's forward pass (convolutions and linear layers).
    forward_macs: u64,
    /// 2 × forward_macs.
    forward_gflops: f64,
    /// One image's training step: forward plus the backward products autograd computes
    /// (pre-training for the SegNet, training from scratch for a classifier).
    training_gflops: f64,
    /// The AE's widths and pooling stages (SegNet rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    segnet: Option<SegNetConfig>,
}

fn segnet_row(scale: Scale, config: SegNetConfig, size: i64) -> ModelRow {
    let ae = AutoEncoder::new(config, Device::Cpu);
    let forward = flops::autoencoder_pass(&ae, size, AeMode::Eval).forward;
    let training = flops::autoencoder_pass(&ae, size, AeMode::Pretrain).total();
    ModelRow {
        name: "segnet".into(),
        letter: "AE".into(),
        scale,
        parameters: parameter_count(&ae.encoder) + parameter_count(&ae.decoder),
        input: None,
        counted_at: size,
        forward_macs: forward,
        forward_gflops: flops::flops(forward) / 1e9,
        training_gflops: flops::flops(training) / 1e9,
        segnet: Some(config),
    }
}

fn classifier_row(family: Family, scale: Scale) -> ModelRow {
    let store = VarStore::new(Device::Cpu);
    let net = family.build(&store.root(), scale, if scale == Scale::Paper { 1000 } else { 10 });
    let spec = family.input_spec(scale);
    let forward = flops::classifier_pass(net.as_ref(), spec.size, false).forward;
    let training = flops::classifier_pass(net.as_ref(), spec.size, true).total();
    ModelRow {
        name: family.name().into(),
        letter: family.letter().into(),
        scale,
        parameters: parameter_count(&store),
        input: Some(spec),
        counted_at: spec.size,
        forward_macs: forward,
        forward_gflops: flops::flops(forward) / 1e9,
        training_gflops: flops::flops(training) / 1e9,
        segnet: None,
    }
}

fn rows() -> Vec<ModelRow> {
    let mut rows = Vec::new();
    for name in LISTED {
        let profile = Profile::preset(name).expect("a preset");
        let (scale, segnet) = scale_of(&profile);
        rows.push(segnet_row(scale, segnet, profile.image_size as i64));
        rows.extend(Family::ALL.map(|family| classifier_row(family, scale)));
    }
    rows
}

pub fn list(json: bool) -> anyhow::Result<()> {
    let rows = rows();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<13} {:<3} {:<22} {:>13} {:>10} {:>10}  input",
        "model", "", "scale", "parameters", "GFLOPs", "train"
    );
    for row in rows {
        let scale = match row.scale {
            Scale::Paper => "paper".to_string(),
            Scale::PaperAt { crop, inception_crop } => {
                format!("paper, crops {crop}/{inception_crop}")
            }
            Scale::Scaled { width_divisor, image_size } => {
                format!("width/{width_divisor}, {image_size}×{image_size}")
            }
        };
        let input = match row.input {
            Some(spec) if spec.resize != spec.size => {
                format!("resize {} → centre crop {}, ImageNet mean/std", spec.resize, spec.size)
            }
            Some(spec) => format!("{}×{}, ImageNet mean/std", spec.size, spec.size),
            None => format!(
                "{}any H×W, [0, 1] RGB (counted at {1}×{1})",
                match row.segnet {
                    Some(c) if c != SegNetConfig::paper() =>
                        format!("SegNet width/{}, {} pooling stage(s): ", c.width_divisor, c.stages),
                    _ => String::new(),
                },
                row.counted_at
            ),
        };
        println!(
            "{:<13} {:<3} {:<22} {:>13} {:>10} {:>10}  {input}",
            row.name,
            row.letter,
            scale,
            thousands(row.parameters.unsigned_abs()),
            gflops(row.forward_gflops),
            gflops(row.training_gflops),
        );
    }
    println!(
        "paper scale: torchvision's names and counts (LeNet-5 and the authors' SegNet: see docs/models.md); \
         scaled: the CPU profiles' variants"
    );
    println!(
        "GFLOPs: one image's forward pass, 2 × the multiply-accumulates of its convolutions and \
         linear layers, counted while the model runs (GMACs = GFLOPs / 2, torchvision's \
         \"GFLOPS\"); train: one image's training step, forward + backward as autograd computes \
         it (≈ 3× forward; SegNet: pre-training)"
    );
    Ok(())
}

/// GFLOPs to three significant digits, so the scaled models' millions still show.
fn gflops(value: f64) -> String {
    let magnitude = if value > 0.0 { value.log10().floor() as i64 } else { 0 };
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

pub fn inspect(file: &Path, json: bool) -> anyhow::Result<()> {
    let summary = dnlts::models::weights::inspect(file)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    // Names come from the file: escaped, so that one cannot forge or reorder lines.
    let printable = dnlts::files::printable;
    for tensor in &summary.tensors {
        println!("{:<50} {:<5} {:?}", printable(&tensor.name), tensor.dtype, tensor.shape);
    }
    println!(
        "{} tensors, {} values, sha256 {}",
        summary.tensors.len(),
        thousands(summary.parameters.unsigned_abs()),
        summary.sha256
    );
    let non_finite: Vec<String> = summary
        .tensors
        .iter()
        .filter(|t| t.non_finite > 0)
        .map(|t| format!("{} ({})", printable(&t.name), t.non_finite))
        .collect();
    if !non_finite.is_empty() {
        println!(
            "NaN or Inf values in {} tensor(s): {}; `dnlts weights check` refuses them unless \
             given --allow-non-finite",
            non_finite.len(),
            non_finite.join(", ")
        );
    }
    Ok(())
}

/// Loads each user classifier, runs a probe batch of two images of its input size forward and
/// back as `reproduce` does ([`dnlts::models::classifier::Classifier::probe`]), and reports
/// its output width. The class count is not checked here: it is the profile's.
pub fn check_scripted(specs: &[dnlts::models::classifier::ScriptedSpec]) -> anyhow::Result<()> {
    for spec in specs {
        let classifier = spec.load(Device::Cpu)?;
        let size = classifier.spec.size;
        let images = crate::stages::users::probe_images(size, Device::Cpu);
        let logits = classifier.probe(&images).map_err(|error| {
            anyhow::anyhow!(
                "--classifier {}: {} cannot be used: on a batch of two 3×{size}×{size} images \
                 (size={size}), {error}",
                spec.name,
                spec.file.display()
            )
        })?;
        println!(
            "{}: {} loads, takes 3×{size}×{size}, gives {} classes, passes gradients to its input",
            spec.name,
            spec.file.display(),
            logits.size()[1]
        );
    }
    Ok(())
}

/// Loads `file` into the paper-scale `model` and reports what was loaded, converted and ignored.
pub fn check_file(
    file: &Path,
    model: &str,
    options: crate::cli::CheckOptions,
) -> anyhow::Result<()> {
    use dnlts::models::weights::{load_with, LoadOptions, LoadPolicy};
    let policy = if options.allow_partial { LoadPolicy::AllowPartial } else { LoadPolicy::Strict };
    let load_options = LoadOptions { policy, allow_non_finite: options.allow_non_finite };
    let report = if model == "segnet" {
        let mut ae = AutoEncoder::new(SegNetConfig::paper(), Device::Cpu);
        load_with(&mut [&mut ae.encoder, &mut ae.decoder], file, load_options)?
    } else {
        let family = Family::parse(model).ok_or_else(|| {
            anyhow::anyhow!("--model '{model}' names no model: use segnet, lenet5, alexnet, vgg16_bn, inception_v3 or resnet50")
        })?;
        let mut store = VarStore::new(Device::Cpu);
        let _ = family.build(&store.root(), Scale::Paper, 1000);
        load_with(&mut [&mut store], file, load_options)?
    };
    println!("{}: {} tensors loaded into {model}", file.display(), report.loaded);
    if !report.ignored.is_empty() {
        println!(
            "ignored {} tensor(s) dnlts does not use (BN num_batches_tracked, Inception AuxLogits)",
            report.ignored.len()
        );
    }
    let m = &report.mismatch;
    for (label, names) in [("missing", &m.missing), ("unexpected", &m.unexpected)] {
        if !names.is_empty() {
            let names: Vec<_> = names.iter().map(|n| dnlts::files::printable(n)).collect();
            println!("{label}: {}", names.join(", "));
        }
    }
    for (name, ours, theirs) in &m.wrong_shape {
        println!("wrong shape: {name} (model {ours:?}, file {theirs:?})");
    }
    // Conversions, grouped by (from, to) in a stable order.
    let mut conversions: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    for c in &report.converted {
        conversions.entry((&c.from, &c.to)).or_default().push(&c.name);
    }
    for ((from, to), names) in conversions {
        println!(
            "converted {} tensor(s) from the file's {from} to the model's {to}: {}",
            names.len(),
            names.join(", ")
        );
    }
    for tensor in &report.non_finite {
        println!("loaded despite NaN/Inf (--allow-non-finite): {tensor}");
    }
    Ok(())
}
