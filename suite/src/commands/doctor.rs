//! `dnlts doctor`: the preflight of the paper profile. It checks every input the profile needs
//! (ImageNet, YFCC100m, torchvision's weights), the device and the free disk, and lists every
//! missing piece at once, with its path and how to fix it, before any training starts.
//!
//! It reuses the readers the pipeline uses (`dnlts::data::imagenet::open`,
//! `dnlts::data::yfcc::open`) and reads only the header of each weight file
//! (`dnlts::models::weights::read_layout`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tch::nn::VarStore;
use tch::Device;

use dnlts::data::imagenet::{self, ImageNetSplit};
use dnlts::data::resize::EvalTransform;
use dnlts::data::{yfcc, FailureBudget};
use dnlts::device::DeviceChoice;
use dnlts::models::segnet::{AutoEncoder, SegNetConfig};
use dnlts::models::weights::{is_ignorable, read_layout};
use dnlts::models::Family;

use crate::cli::DoctorArgs;
use crate::output::thousands;
use crate::profile::{DataSource, ModelScale, Profile};
use crate::stages::PaperInputs;

/// Copies of each stage's weights the disk must hold: the stage's file and its checkpoints.
const CHECKPOINT_COPIES: u64 = 3;
/// Names listed per kind of weight mismatch before "… and N more".
const LIST_AT_MOST: usize = 8;
const EXPORT: &str = "python3 scripts/export_weights.py torchvision";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Warning,
    Missing,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warning => "!",
            Status::Missing => "✗",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Serialize)]
struct Item {
    section: &'static str,
    name: String,
    status: Status,
    path: Option<PathBuf>,
    detail: String,
    fix: Option<String>,
}

#[derive(Serialize)]
struct Report {
    profile: String,
    missing: usize,
    warnings: usize,
    items: Vec<Item>,
}

struct Checklist {
    items: Vec<Item>,
}

impl Checklist {
    fn add(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        status: Status,
        path: Option<&Path>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.items.push(Item {
            section,
            name: name.into(),
            status,
            path: path.map(Path::to_path_buf),
            detail: detail.into(),
            fix,
        });
    }
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    let profile = Profile::preset(&args.profile)?;
    let inputs = args.inputs.inputs();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&profile.name));
    let batch_size = args.batch_size.unwrap_or(profile.batch_size);
    preflight(&profile, &inputs, (args.device(), batch_size), &out, args.json).map(|_| ())
}

/// Checks every input of a profile that reads ImageNet and YFCC100m, prints the checklist
/// (or JSON) and fails if a piece is missing: `dnlts doctor`, and the first thing
/// `dnlts reproduce` does for such a profile.
pub fn preflight(
    profile: &Profile,
    inputs: &PaperInputs,
    (device, batch_size): (DeviceChoice, u32),
    out: &Path,
    json: bool,
) -> anyhow::Result<Found> {
    if profile.data != DataSource::ImagenetYfcc {
        anyhow::bail!(
            "profile '{}' reads no external data or weights and needs no preflight; `dnlts doctor` \
             checks --profile paper (or paper-smoke)",
            profile.name
        );
    }
    let mut list = Checklist { items: Vec::new() };
    let found = check_imagenet(&mut list, inputs.imagenet.as_deref(), profile);
    check_yfcc(&mut list, inputs.yfcc.as_deref(), profile);
    let sizes = ModelSizes::build(profile);
    check_weights(&mut list, inputs.weights.as_deref(), &sizes);
    if let Some(file) = &inputs.segnet {
        check_segnet(&mut list, file);
    }
    check_device(&mut list, device, batch_size, profile);
    check_disk(&mut list, out, &sizes, profile);
    list.add(
        "pipeline",
        "ImageNet/YFCC100m in training",
        Status::Ok,
        None,
        "`dnlts reproduce` reads them: ImageNet for the classifiers (each at its own crop), \
         YFCC100m for AE pre-training",
        None,
    );
    let report = Report {
        profile: profile.name.clone(),
        missing: list.items.iter().filter(|i| i.status == Status::Missing).count(),
        warnings: list.items.iter().filter(|i| i.status == Status::Warning).count(),
        items: list.items,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_checklist(&report);
    }
    if report.missing > 0 {
        anyhow::bail!(
            "preflight of profile '{}': {} missing piece(s), {} warning(s); fix the ✗ items above \
             and run `dnlts doctor` again",
            report.profile,
            report.missing,
            report.warnings
        );
    }
    Ok(found)
}

/// What the preflight counted, for the plan printed after it (`super::plan::estimate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Found {
    /// ImageNet's training images, if that split could be read.
    pub train_images: Option<u64>,
    /// ImageNet's validation images, likewise.
    pub val_images: Option<u64>,
}

fn print_checklist(report: &Report) {
    println!("dnlts doctor: preflight of profile '{}'", report.profile);
    let mut section = "";
    for item in &report.items {
        if item.section != section {
            section = item.section;
            println!("\n{section}");
        }
        println!("  {} {}: {}", item.status.mark(), item.name, item.detail);
        if let Some(path) = &item.path {
            println!("      path: {}", path.display());
        }
        if let (Some(fix), false) = (&item.fix, item.status == Status::Ok) {
            println!("      fix:  {fix}");
        }
    }
    println!(
        "\n{} missing (✗), {} warning(s) (!), {} ok (✓)",
        report.missing,
        report.warnings,
        report.items.len() - report.missing - report.warnings
    );
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

const IMAGENET_LAYOUT: &str = "DIR/train/<wnid>/*.JPEG and DIR/val/<wnid>/*.JPEG (or a flat \
     DIR/val/*.JPEG with DIR/val_labels.txt, one `<file> <wnid>` per line) from ILSVRC2012 \
     (https://image-net.org/download)";

fn check_imagenet(list: &mut Checklist, root: Option<&Path>, profile: &Profile) -> Found {
    let Some(root) = root else {
        list.add(
            "ImageNet",
            "folder",
            Status::Missing,
            None,
            "not given",
            Some(format!(
                "pass --imagenet DIR (make: IMAGENET=DIR), DIR holding {IMAGENET_LAYOUT}"
            )),
        );
        return Found::default();
    };
    let mut found_images = Found::default();
    let mut classes = None;
    for (split, expected) in
        [(ImageNetSplit::Train, profile.train_images), (ImageNetSplit::Val, profile.eval_images)]
    {
        let name = match split {
            ImageNetSplit::Train => "train",
            ImageNetSplit::Val => "val",
        };
        let path = root.join(name);
        match imagenet::open(root, split, EvalTransform::STANDARD) {
            Err(error) => list.add(
                "ImageNet",
                name,
                Status::Missing,
                Some(&path),
                error.to_string(),
                Some(format!("put ImageNet's {name} split there: {IMAGENET_LAYOUT}")),
            ),
            Ok(folder) => {
                let found = folder.items.len() as u64;
                match split {
                    ImageNetSplit::Train => found_images.train_images = Some(found),
                    ImageNetSplit::Val => found_images.val_images = Some(found),
                }
                classes.get_or_insert((folder.classes.len() as u64, path.clone()));
                let detail = match reference(profile) {
                    None => format!(
                        "{} images found, ILSVRC2012 has {}",
                        thousands(found),
                        thousands(expected)
                    ),
                    Some(this) if expected >= found => {
                        format!("{} images found, {this} reads all of them", thousands(found))
                    }
                    Some(this) => format!(
                        "{} images found, {this} reads {} of them",
                        thousands(found),
                        thousands(expected)
                    ),
                };
                if reference(profile).is_some() {
                    list.add("ImageNet", name, Status::Ok, Some(&path), detail, None);
                } else if found < expected {
                    list.add(
                        "ImageNet",
                        name,
                        Status::Warning,
                        Some(&path),
                        format!("{detail}: a subset runs, but its numbers are not the paper's"),
                        Some(format!("complete the {name} split to compare with the paper")),
                    );
                } else {
                    list.add("ImageNet", name, Status::Ok, Some(&path), detail, None);
                }
            }
        }
    }
    if let Some((found, path)) = classes {
        let expected = u64::from(profile.classes);
        let detail = match reference(profile) {
            None => format!("{found} classes found, ILSVRC2012 has {expected}"),
            Some(this) => format!("{found} classes found, {this} has {expected}"),
        };
        if found == expected {
            list.add("ImageNet", "classes", Status::Ok, Some(&path), detail, None);
        } else if let Some(this) = reference(profile) {
            list.add(
                "ImageNet",
                "classes",
                Status::Warning,
                Some(&path),
                format!("{detail}: its classifiers predict {expected} classes"),
                Some(format!("give the tree {expected} class folders, as {this} expects")),
            );
        } else {
            list.add(
                "ImageNet",
                "classes",
                Status::Warning,
                Some(&path),
                format!(
                    "{detail}: torchvision's classifiers predict {expected} classes, so accuracies \
                     on another class list are not the paper's"
                ),
                Some("use all 1,000 ILSVRC2012 classes (one folder per wnid)".into()),
            );
        }
    }
    found_images
}

fn check_yfcc(list: &mut Checklist, root: Option<&Path>, profile: &Profile) {
    let fix_layout = "a folder of YFCC100m images (*.jpg, *.png) and/or zip shards of them, in \
                      any sub-folders (https://multimediacommons.wordpress.com/yfcc100m-core-dataset/)";
    let Some(root) = root else {
        list.add(
            "YFCC100m",
            "folder",
            Status::Missing,
            None,
            "not given",
            Some(format!("pass --yfcc DIR (make: YFCC=DIR): {fix_layout}")),
        );
        return;
    };
    match yfcc::open(root, FailureBudget::default()) {
        Err(error) => list.add(
            "YFCC100m",
            "folder",
            Status::Missing,
            Some(root),
            error.to_string(),
            Some(fix_layout.to_string()),
        ),
        Ok(stream) if stream.is_empty() => list.add(
            "YFCC100m",
            "folder",
            Status::Missing,
            Some(root),
            "no images (*.jpg, *.jpeg, *.png) or zip shards of them found",
            Some(fix_layout.to_string()),
        ),
        Ok(stream) => {
            let found = stream.len() as u64;
            let expected = profile.pretrain_images;
            let found_text = format!(
                "{} images found (loose files and zip members, before the authors' filter)",
                thousands(found)
            );
            let Some(this) = reference(profile) else {
                let detail =
                    format!("{found_text}, the paper pre-trains on {:.1} M", expected as f64 / 1e6);
                return paper_yfcc_count(list, root, found, expected, detail);
            };
            let detail = format!("{found_text}, {this} pre-trains on {}", thousands(expected));
            let status = if found < expected { Status::Warning } else { Status::Ok };
            let detail = if found < expected {
                format!("{detail}: pre-training reads them again to make up the count")
            } else {
                detail
            };
            list.add("YFCC100m", "images", status, Some(root), detail, None);
        }
    }
}

/// How `doctor` names the numbers it compares with: None for the paper's profile, whose
/// numbers are ILSVRC2012's and the paper's; "profile 'NAME'" for a profile of other sizes
/// (paper-smoke reads the paper's path on a few images), whose numbers are its own.
fn reference(profile: &Profile) -> Option<String> {
    (profile.models != ModelScale::Paper).then(|| format!("profile '{}'", profile.name))
}

/// The paper profile's YFCC100m count: fewer images than the paper's is a warning.
fn paper_yfcc_count(list: &mut Checklist, root: &Path, found: u64, expected: u64, detail: String) {
    if found < expected {
        list.add(
            "YFCC100m",
            "images",
            Status::Warning,
            Some(root),
            format!(
                "{detail}: a smaller set is a warning, not an error; pre-training then sees \
                 fewer distinct images than the paper's"
            ),
            Some("add YFCC100m images or shards to match the paper's scale".into()),
        );
    } else {
        list.add("YFCC100m", "images", Status::Ok, Some(root), detail, None);
    }
}

/// The paper-scale models, built once on the CPU: their tensor names and shapes (for the weight
/// files) and their sizes (for the disk estimate).
struct ModelSizes {
    /// Family → (name → shape) of every tensor its store holds.
    classifiers: Vec<(Family, HashMap<String, Vec<i64>>)>,
    /// Values (parameters and BN statistics) of the SegNet, encoder and decoder.
    autoencoder: u64,
}

impl ModelSizes {
    /// The networks of `profile` (torchvision's, at its scale and class count).
    fn build(profile: &Profile) -> Self {
        let _guard = tch::no_grad_guard();
        let (scale, _) = crate::stages::scale_of(profile);
        let classifiers = Family::ALL
            .map(|family| {
                let store = VarStore::new(Device::Cpu);
                let _ = family.build(&store.root(), scale, i64::from(profile.classes));
                let shapes = store.variables().into_iter().map(|(n, t)| (n, t.size())).collect();
                (family, shapes)
            })
            .to_vec();
        let ae = AutoEncoder::new(SegNetConfig::paper(), Device::Cpu);
        let autoencoder = values(&ae.encoder) + values(&ae.decoder);
        Self { classifiers, autoencoder }
    }

    /// Bytes of f32 weights the stages write: the pre-trained AE, the classifiers `profile`
    /// trains (given weights are read where they are, not copied), 5 fine-tuned AEs, each kept
    /// [`CHECKPOINT_COPIES`] times.
    fn stage_bytes(&self, profile: &Profile) -> u64 {
        let classifiers: u64 = self
            .classifiers
            .iter()
            .filter(|(family, _)| profile.trains_classifier(*family))
            .map(|(_, shapes)| {
                shapes.values().map(|s| s.iter().product::<i64>().max(0) as u64).sum::<u64>()
            })
            .sum();
        let ae_copies = 1 + self.classifiers.len() as u64;
        (ae_copies * self.autoencoder + classifiers) * 4 * CHECKPOINT_COPIES
    }
}

fn values(store: &VarStore) -> u64 {
    store.variables().values().map(|t| t.numel() as u64).sum()
}

fn listed(names: &[String]) -> String {
    let mut text = names.iter().take(LIST_AT_MOST).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > LIST_AT_MOST {
        text.push_str(&format!(" … and {} more", names.len() - LIST_AT_MOST));
    }
    text
}

fn check_weights(list: &mut Checklist, dir: Option<&Path>, sizes: &ModelSizes) {
    let pretrained: Vec<_> =
        sizes.classifiers.iter().filter(|(family, _)| *family != Family::Lenet5).collect();
    let names: Vec<&str> = pretrained.iter().map(|(family, _)| family.name()).collect();
    let Some(dir) = dir else {
        list.add(
            "weights",
            "folder",
            Status::Missing,
            None,
            "not given",
            Some(format!(
                "on a machine with torchvision run `{EXPORT} {} --out DIR`, then pass --weights \
                 DIR (make: WEIGHTS=DIR)",
                names.join(" ")
            )),
        );
        return;
    };
    for (family, shapes) in pretrained {
        let name = family.name();
        let path = dir.join(format!("{name}.safetensors"));
        let export = format!("{EXPORT} {name} --out {}", dir.display());
        let layout = match read_layout(&path) {
            Ok(layout) => layout,
            Err(error) => {
                list.add(
                    "weights",
                    format!("{} ({name})", family.letter()),
                    Status::Missing,
                    Some(&path),
                    error.to_string(),
                    Some(format!("on a machine with torchvision run `{export}`")),
                );
                continue;
            }
        };
        let in_file: HashMap<&str, &[i64]> =
            layout.tensors.iter().map(|t| (t.name.as_str(), t.shape.as_slice())).collect();
        let mut missing: Vec<String> =
            shapes.keys().filter(|n| !in_file.contains_key(n.as_str())).cloned().collect();
        let mut extra: Vec<String> = in_file
            .keys()
            .filter(|n| !shapes.contains_key(**n) && !is_ignorable(n))
            .map(|n| n.to_string())
            .collect();
        let mut wrong: Vec<String> = shapes
            .iter()
            .filter_map(|(n, ours)| {
                let theirs = in_file.get(n.as_str())?;
                (*theirs != ours.as_slice())
                    .then(|| format!("{n} (model {ours:?}, file {theirs:?})"))
            })
            .collect();
        missing.sort();
        extra.sort();
        wrong.sort();
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("{} missing: {}", missing.len(), listed(&missing)));
        }
        if !extra.is_empty() {
            problems.push(format!("{} not in the model: {}", extra.len(), listed(&extra)));
        }
        if !wrong.is_empty() {
            problems.push(format!("{} mis-shaped: {}", wrong.len(), listed(&wrong)));
        }
        if problems.is_empty() {
            list.add(
                "weights",
                format!("{} ({name})", family.letter()),
                Status::Ok,
                Some(&path),
                format!("{} tensors match the paper-scale {name}", shapes.len()),
                None,
            );
        } else {
            list.add(
                "weights",
                format!("{} ({name})", family.letter()),
                Status::Missing,
                Some(&path),
                format!("does not fit the paper-scale {name}: {}", problems.join("; ")),
                Some(format!(
                    "export torchvision's {name} (IMAGENET1K_V1) again with `{export}`; \
                     `dnlts weights check {} --model {name}` lists every difference",
                    path.display()
                )),
            );
        }
    }
}

/// A SegNet given in place of pre-training: a whole safetensors file (its names are checked
/// when it loads, strictly).
fn check_segnet(list: &mut Checklist, file: &Path) {
    match read_layout(file) {
        Ok(layout) => list.add(
            "weights",
            "A_S (segnet)",
            Status::Ok,
            Some(file),
            format!("{} tensors; used instead of pre-training", layout.tensors.len()),
            None,
        ),
        Err(error) => list.add(
            "weights",
            "A_S (segnet)",
            Status::Missing,
            Some(file),
            error.to_string(),
            Some(format!(
                "convert the checkpoint with `python3 scripts/export_weights.py segnet \
                 CHECKPOINT --out {}`, or drop --segnet to pre-train",
                file.display()
            )),
        ),
    }
}

fn check_device(list: &mut Checklist, choice: DeviceChoice, batch_size: u32, profile: &Profile) {
    let count = dnlts::device::cuda_device_count();
    let device = match choice.resolve() {
        Ok(device) => Some(device),
        Err(error) => {
            list.add(
                "device",
                choice.to_string(),
                Status::Missing,
                None,
                format!("{error} (CUDA available: {})", if count > 0 { "yes" } else { "no" }),
                Some(
                    "run on a machine with an NVIDIA GPU and a CUDA build (`make TORCH=cuda`)"
                        .into(),
                ),
            );
            None
        }
    };
    match device {
        None => {}
        Some(Device::Cuda(index)) => {
            let memory = dnlts::device::cuda_memory(index).map_or_else(
                || "memory unknown (the CUDA runtime's cudaMemGetInfo was not found)".into(),
                |(_, total)| format!("{} of memory", gib(total)),
            );
            list.add(
                "device",
                format!("cuda:{index}"),
                Status::Ok,
                None,
                format!("CUDA available, {count} device(s); cuda:{index} has {memory}"),
                None,
            );
        }
        Some(_) => list.add(
            "device",
            "cpu",
            Status::Warning,
            None,
            format!("{} CUDA device(s) seen; the paper profile on a CPU would take months", count),
            Some("pass --device cuda on a machine with an NVIDIA GPU".into()),
        ),
    }
    if u64::from(batch_size) > profile.eval_images {
        list.add(
            "device",
            "batch size",
            Status::Missing,
            None,
            format!(
                "batch size {batch_size} is larger than the {} validation images",
                profile.eval_images
            ),
            Some(format!(
                "use a batch size up to {} (the profile's is {})",
                profile.eval_images, profile.batch_size
            )),
        );
    } else {
        let detail = batch_hint(profile, choice, device, batch_size);
        list.add("device", "batch size", Status::Ok, None, detail, None);
    }
}

/// Whether `batch_size` fits is measured, not guessed: the `dnlts bench` command that
/// measures it where the run will go. A CUDA device is benched as it is; the paper profile
/// off a GPU (a warning above) is pointed at the GPU run it needs, never at the CPU; the
/// smaller paper-smoke runs on the CPU, where host memory bounds the batch.
fn batch_hint(
    profile: &Profile,
    choice: DeviceChoice,
    device: Option<Device>,
    batch_size: u32,
) -> String {
    let on = |device: &str, memory: &str| {
        format!(
            "batch size {batch_size} (the profile's is {}); whether it fits {memory} is measured, \
             not guessed: `dnlts bench --profile {} --device {device} --batch-size {batch_size}` \
             times a few steps of each stage and reports its peak memory; if one runs out of \
             memory, lower --batch-size, or keep the batch and add `--accumulate K` to `dnlts \
             reproduce` (the same update in K micro-batches)",
            profile.batch_size, profile.name
        )
    };
    match (device, choice) {
        // A GPU, or the GPU asked for that this machine lacks (a ✗ above).
        (Some(Device::Cuda(index)), _) | (None, DeviceChoice::Cuda(index)) => {
            on(&format!("cuda:{index}"), &format!("cuda:{index}'s memory"))
        }
        (Some(_), _) if profile.models != ModelScale::Paper => on("cpu", "this machine's memory"),
        _ => on("cuda", "the memory of the GPU you will run on (measure it there)"),
    }
}

fn check_disk(list: &mut Checklist, out: &Path, sizes: &ModelSizes, profile: &Profile) {
    let need = sizes.stage_bytes(profile);
    let trained = Family::ALL.iter().filter(|family| profile.trains_classifier(**family)).count();
    if let Err(error) = dnlts::files::check_output(out, dnlts::files::Output::Folder) {
        list.add(
            "disk",
            "output folder",
            Status::Missing,
            Some(out),
            error.to_string(),
            Some("pass --out DIR with a folder (or a new path)".into()),
        );
        return;
    }
    // The folder may not exist yet: ask about the file system of its nearest existing ancestor.
    let absolute = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let existing = absolute.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    let detail = format!(
        "the stages write about {} (pre-trained AE, {trained} trained classifier(s), 5 \
         fine-tuned AEs as f32 safetensors, ×{CHECKPOINT_COPIES} for checkpoints)",
        gib(need)
    );
    match free_bytes(existing) {
        None => list.add(
            "disk",
            "free space",
            Status::Warning,
            Some(out),
            format!("{detail}; the free space of {} could not be read", existing.display()),
            Some(format!("check by hand that {} is free there", gib(need))),
        ),
        Some(free) if free < need => list.add(
            "disk",
            "free space",
            Status::Missing,
            Some(out),
            format!("{detail}, but only {} is free", gib(free)),
            Some(format!("free {} there or pass --out on a larger disk", gib(need - free))),
        ),
        Some(free) => list.add(
            "disk",
            "free space",
            Status::Ok,
            Some(out),
            format!("{detail}; {} free", gib(free)),
            None,
        ),
    }
}

fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs writes into the struct we own; the path is a NUL-terminated string.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(profile: &str, choice: DeviceChoice, device: Option<Device>) -> String {
        batch_hint(&Profile::preset(profile).unwrap(), choice, device, 16)
    }

    #[test]
    fn the_batch_size_hint_of_a_gpu_run_never_sends_it_to_the_cpu() {
        // On a GPU: bench that GPU.
        let gpu = hint("paper", DeviceChoice::Cuda(1), Some(Device::Cuda(1)));
        assert!(gpu.contains("`dnlts bench --profile paper --device cuda:1 --batch-size 16`"));
        // The paper profile checked on a CPU (or with `auto` on a machine without a GPU):
        // measure on the GPU it needs, not here.
        for choice in [DeviceChoice::Cpu, DeviceChoice::Auto] {
            let text = hint("paper", choice, Some(Device::Cpu));
            assert!(text.contains("--device cuda --batch-size 16"), "{text}");
            assert!(!text.contains("--device cpu"), "{text}");
        }
        // A GPU asked for but absent (a ✗ of its own): the hint names that GPU.
        let absent = hint("paper", DeviceChoice::Cuda(7), None);
        assert!(absent.contains("--device cuda:7 "), "{absent}");
        // paper-smoke runs on the CPU (make test): there the CPU's memory is the bound.
        let smoke = hint("paper-smoke", DeviceChoice::Cpu, Some(Device::Cpu));
        assert!(smoke.contains("`dnlts bench --profile paper-smoke --device cpu"), "{smoke}");
        for text in [gpu, absent, smoke] {
            assert!(text.contains("lower --batch-size") && text.contains("--accumulate K"));
        }
    }
}
