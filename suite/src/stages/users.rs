//! Users' own classifiers in a run (`reproduce --classifier`): loaded, then checked on a probe
//! batch before anything trains, and identified in the stage keys by their file's sha256, so
//! a changed file retrains only its own fine-tuned AE.

use anyhow::Context as _;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use dnlts::models::classifier::{Classifier, ProbeError, ScriptedSpec};
use dnlts::models::{Family, InputSpec, Scale};

use crate::profile::Profile;

/// A user's classifier as the run uses it.
pub struct UserClassifier {
    pub spec: ScriptedSpec,
    /// sha256 of the file: part of the key of its fine-tuning stage.
    pub sha256: String,
}

/// What of a user's classifier determines its fine-tuned AE (its stage key's part).
#[derive(Serialize)]
pub struct Identity<'a> {
    sha256: &'a str,
    family: Option<Family>,
    input: InputSpec,
}

impl UserClassifier {
    pub fn identity(&self) -> Identity<'_> {
        Identity { sha256: &self.sha256, family: self.spec.family, input: self.spec.input }
    }
}

/// Loads and checks every user classifier for `profile`; the first problem is an error
/// naming the file and the fix. Nothing has trained when this runs.
pub fn load(
    specs: &[ScriptedSpec],
    profile: &Profile,
    scale: Scale,
    device: Device,
) -> anyhow::Result<Vec<(UserClassifier, Classifier)>> {
    let mut loaded: Vec<(UserClassifier, Classifier)> = Vec::new();
    for spec in specs {
        anyhow::ensure!(
            !loaded.iter().any(|(user, _)| user.spec.name == spec.name),
            "--classifier {}: the name is given twice; give each classifier its own name",
            spec.name
        );
        loaded.push(load_one(spec, profile, scale, device)?);
    }
    Ok(loaded)
}

fn load_one(
    spec: &ScriptedSpec,
    profile: &Profile,
    scale: Scale,
    device: Device,
) -> anyhow::Result<(UserClassifier, Classifier)> {
    let file = spec.file.display();
    let size = profile.image_size as i64;
    // ImageNet is read at each classifier's own crop; every other dataset at one size.
    let one_size = profile.data != crate::profile::DataSource::ImagenetYfcc;
    anyhow::ensure!(
        !one_size || spec.input.size == size,
        "--classifier {}: {file} is declared to take {s}×{s} images (size={s}{default}), but \
         profile '{}' feeds every classifier {size}×{size} images (the AE's output); train it \
         on {size}×{size} images (`dnlts data export --profile {}` writes them) and pass \
         size={size}",
        spec.name,
        profile.name,
        profile.name,
        s = spec.input.size,
        default = if spec.input.size == 224 { ", the default" } else { "" },
    );
    let what = match (spec.family, scale) {
        (None, _) => String::new(),
        (Some(family), Scale::Paper | Scale::PaperAt { .. }) => {
            format!(" as a paper-scale {}", family.name())
        }
        (Some(family), Scale::Scaled { width_divisor, image_size }) => format!(
            " as a {} of profile '{}' (widths / {width_divisor}, {image_size}×{image_size} \
             input, {} classes; `dnlts train-classifier --profile {} --family {}` writes \
             one)",
            family.name(),
            profile.name,
            profile.classes,
            profile.name,
            family.name()
        ),
    };
    let classifier = spec
        .load_at(scale, profile.classes as i64, device)
        .with_context(|| format!("--classifier {}: cannot load {file}{what}", spec.name))?;
    check_outputs(spec, &classifier, profile, device)?;
    let sha256 = std::fs::File::open(&spec.file)
        .and_then(|mut f| dnlts::digest::sha256_of(&mut f))
        .with_context(|| format!("--classifier {}: cannot read {file}", spec.name))?;
    Ok((UserClassifier { spec: spec.clone(), sha256 }, classifier))
}

/// A fixed [0, 1] pattern of two images (no random numbers are drawn, so the run's seeded
/// streams are untouched).
pub fn probe_images(size: i64, device: Device) -> Tensor {
    let values = 2 * 3 * size * size;
    (Tensor::arange(values, (Kind::Float, device)).remainder(251.0) / 250.0)
        .view([2, 3, size, size])
}

/// Runs the probe batch forward and back ([`Classifier::probe`]) and checks the shape of
/// the logits against the profile: [2, classes].
fn check_outputs(
    spec: &ScriptedSpec,
    classifier: &Classifier,
    profile: &Profile,
    device: Device,
) -> anyhow::Result<()> {
    let (name, file) = (&spec.name, spec.file.display());
    let (size, classes) = (classifier.spec.size, profile.classes as i64);
    let train_on = format!(
        "the model must take [N, 3, {size}, {size}] inputs: train it on `dnlts data export \
         --profile {}` images and export it again",
        profile.name
    );
    let logits = classifier.probe(&probe_images(size, device)).map_err(|error| match error {
        ProbeError::Forward(reason) => anyhow::anyhow!(
            "--classifier {name}: {file} fails on a batch of two 3×{size}×{size} images of \
             profile '{}' ({reason}); {train_on}",
            profile.name
        ),
        ProbeError::NotOneRowPerImage(shape) => anyhow::anyhow!(
            "--classifier {name}: {file} gives outputs of shape {shape:?} for a batch of 2 \
             images of 3×{size}×{size}, not one row per image: it reshapes for another input \
             size; {train_on}"
        ),
        ProbeError::NonFinite => anyhow::anyhow!(
            "--classifier {name}: {file} gives NaN or Inf logits on a batch of plain images; \
             its weights or its export are broken (a diverged training, a division by zero): \
             retrain it or export it again, and check that `model(torch.rand(2, 3, {size}, \
             {size}))` is finite in PyTorch"
        ),
        other => anyhow::anyhow!(
            "--classifier {name}: {file} cannot be used: on a batch of two 3×{size}×{size} \
             images, {other}"
        ),
    })?;
    anyhow::ensure!(
        logits.size() == [2, classes],
        "--classifier {name}: {file} gives outputs of shape {:?} for a batch of 2 images; \
         profile '{}' has {classes} classes, so the model must give logits of shape \
         [2, {classes}]: give it a last layer with {classes} outputs (in the order of the \
         class folders of `dnlts data export`) and train it again",
        logits.size(),
        profile.name
    );
    Ok(())
}
