//! `dnlts plan`: the stage graph of a profile, written for a scheduler that already exists —
//! a Makefile (one host, `make -jN`) or a Slurm script (one job per stage, chained with
//! `--dependency=afterok`). Every node is a `dnlts` stage command writing into one shared
//! output folder; the content-keyed stage cache makes running a node twice cost a load, so a
//! plan can be resubmitted after a failure and only what is missing is computed.
//!
//! The graph: `pretrain` and the `classifier-*` the profile trains have no prerequisites;
//! `finetune-X` needs `pretrain` and, when X is trained, `classifier-X` (a classifier whose
//! pretrained weights are loaded — A, V, I, R at paper scale — has no node: its fine-tuning
//! loads it from `--weights`); `report` (`dnlts reproduce`) needs every fine-tuning and runs
//! the evaluation pass and every target. The evaluation is not a node of its own because its
//! results are kept in memory, not in the stage cache: a separate `dnlts evaluate` job would be
//! computed again by the report.
//!
//! The same graph and command lines drive `dnlts reproduce --devices` ([`stages`],
//! [`run_words`]). In a Slurm script each job gets its own `--cpus-per-task` and `--time`,
//! sized for the paper profiles from the plan's estimate ([`Sizing`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dnlts::models::Family;

mod emit_text;

use crate::cli::{Emit, PaperArgs, PlanArgs};
use crate::commands::bench::loading::Reads;
use crate::output::thousands;
use crate::profile::{DataSource, Profile};
pub use emit_text::quoted;
use emit_text::shell_quote;

/// One node of the stage graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The stage's name, as its files in `<out>/stages/` are named (`report` has none).
    pub name: String,
    /// The `dnlts` subcommand and its own arguments (the shared ones come after).
    pub command: Vec<String>,
    /// Nodes that must finish first, all earlier in the list.
    pub needs: Vec<String>,
}

/// The stage graph of `profile` in an order where every node comes after what it needs: its
/// [`stages`], Figure 2's ImageNet pre-training when `fig2_epochs` is above 0, then the
/// report, which needs every fine-tuning and that pre-training, and is given the same
/// `--fig2-imagenet-epochs` so that its Figure 2 loads the stage (whose key holds the epochs).
pub fn graph(profile: &Profile, fig2_epochs: u64) -> Vec<Node> {
    let mut nodes = stages(profile, fig2_epochs);
    let mut report = vec!["reproduce".to_string()];
    if fig2_epochs > 0 {
        report.extend(["--fig2-imagenet-epochs".into(), fig2_epochs.to_string()]);
    }
    let needs = nodes
        .iter()
        .filter(|n| n.command[0] == "finetune" || n.command[0] == "pretrain-imagenet")
        .map(|n| n.name.clone())
        .collect();
    nodes.push(Node { name: "report".into(), command: report, needs });
    nodes
}

/// The nodes of the graph that make cached stages (all but the report), each after what it
/// needs, with Figure 2's ImageNet regime when `fig2_epochs` > 0: what `dnlts reproduce
/// --devices` runs as child processes.
pub fn stages(profile: &Profile, fig2_epochs: u64) -> Vec<Node> {
    let node = |name: String, command: &[&str], needs: Vec<String>| Node {
        name,
        command: command.iter().map(|part| part.to_string()).collect(),
        needs,
    };
    let mut nodes = vec![node("pretrain".into(), &["pretrain"], vec![])];
    let trained: Vec<Family> =
        Family::ALL.into_iter().filter(|&f| profile.trains_classifier(f)).collect();
    for family in &trained {
        let stage = format!("classifier-{}", family.name());
        nodes.push(node(stage, &["train-classifier", "--family", family.name()], vec![]));
    }
    for family in Family::ALL {
        let stage = format!("finetune-{}", family.name());
        let mut needs = vec!["pretrain".to_string()];
        if trained.contains(&family) {
            needs.push(format!("classifier-{}", family.name()));
        }
        nodes.push(node(stage, &["finetune", "--family", family.name()], needs));
    }
    if fig2_epochs > 0 {
        let epochs = fig2_epochs.to_string();
        nodes.push(node(
            "pretrain-imagenet".into(),
            &["pretrain-imagenet", "--epochs", &epochs],
            vec![],
        ));
    }
    nodes
}

/// The words every stage command of one run shares, but its device: they are part of every
/// stage's cache key or decide its numbers (the thread count), so all commands must agree on
/// them. The output folder and the paper profiles' data and weights are made absolute.
pub fn run_words(
    profile: &str,
    out: &Path,
    seed: u64,
    kernels: KernelWords,
    inputs: &PaperArgs,
) -> anyhow::Result<Vec<String>> {
    let mut words = vec![
        "--profile".into(),
        profile.to_string(),
        "--out".into(),
        absolute(out.to_path_buf())?.display().to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    // Absent, every command takes the profile's thread count, as this one does.
    if let Some(threads) = kernels.threads {
        words.extend(["--threads".into(), threads.to_string()]);
    }
    if kernels.native {
        words.push("--native-kernels".into());
    }
    let given = [
        ("--imagenet", &inputs.imagenet),
        ("--yfcc", &inputs.yfcc),
        ("--weights", &inputs.weights),
        ("--segnet", &inputs.segnet),
    ];
    for (option, path) in given {
        if let Some(path) = path {
            words.push(option.into());
            words.push(absolute(path.clone())?.display().to_string());
        }
    }
    Ok(words)
}

/// How the stage commands compute, as far as their options say: `--threads` (None: the
/// profile's) and `--native-kernels`.
#[derive(Clone, Copy)]
pub struct KernelWords {
    pub threads: Option<usize>,
    pub native: bool,
}

/// The arguments every node shares: [`run_words`] and the device.
fn shared_args(args: &PlanArgs, out: &Path) -> anyhow::Result<Vec<String>> {
    let training = &args.training;
    let kernels = KernelWords { threads: args.threads, native: args.native_kernels };
    let mut shared = run_words(&args.profile, out, args.seed, kernels, &training.inputs)?;
    shared.extend(["--device".into(), args.device().to_string()]);
    shared.extend(training.words()?);
    shared.extend(pretrain_devices(args)?);
    Ok(shared)
}

pub fn run(args: &PlanArgs) -> anyhow::Result<()> {
    let mut profile = Profile::preset(&args.profile)?;
    // The stages' options, checked as `reproduce` checks them (and --batch-size applied to
    // the profile the jobs are sized for).
    args.training.apply(&mut profile)?;
    let reads_imagenet = profile.data == DataSource::ImagenetYfcc;
    super::reproduce::check_fig2_epochs(args.fig2_imagenet_epochs, &profile)?;
    // A job given a GPU whose stage runs on the CPU would hold the GPU for nothing.
    let on_cpu = !matches!(args.device(), dnlts::device::DeviceChoice::Cuda(_));
    anyhow::ensure!(
        !(on_cpu && args.gpus_per_job.is_some_and(|gpus| gpus > 0)),
        "--gpus-per-job {}: every stage of this plan runs on {}, so its GPUs would sit idle; \
         add --device cuda, or leave --gpus-per-job out",
        args.gpus_per_job.unwrap_or(0),
        args.device()
    );
    let inputs = &args.training.inputs;
    if reads_imagenet
        && (inputs.imagenet.is_none() || inputs.yfcc.is_none() || inputs.weights.is_none())
    {
        eprintln!(
            "note: profile '{}' needs --imagenet, --yfcc and --weights; without them every \
             stage of this plan stops at its preflight (`dnlts doctor --profile {}` lists what \
             is missing)",
            profile.name, profile.name
        );
    }
    let out =
        absolute(args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&profile.name)))?;
    let dnlts = this_binary()?;
    let shared = shared_args(args, &out)?;
    // Before any sizing: what reaches the script is either carried byte for byte or refused.
    emit_text::check("the path of this dnlts binary", &dnlts.display().to_string())?;
    emit_text::check_words(&shared)?;
    emit_text::check_words(&sbatch_options(args))?;
    if args.emit == Emit::Slurm {
        emit_text::slurm_logs(&out)?;
    }
    if let Some(time) = &args.time {
        emit_text::check("--time", time)?;
    }
    let nodes = graph(&profile, args.fig2_imagenet_epochs);
    let text = match args.emit {
        Emit::Make => makefile(&nodes, &dnlts, &shared),
        Emit::Slurm => {
            // The paper profiles' stages are sized from the estimate; the others get --threads.
            let sizing = if reads_imagenet { Some(Sizing::new(&profile, args)?) } else { None };
            let threads = profile.training_threads(args.threads);
            let jobs: Vec<Vec<String>> = nodes
                .iter()
                .map(|node| job_options(node, args, sizing.as_ref(), threads))
                .collect();
            let note = sizing.as_ref().map(|sizing| sizing.source.as_str());
            slurm(&nodes, &dnlts, &shared, &out, args, &jobs, note)?
        }
    };
    print!("{text}");
    Ok(())
}

/// The path of this `dnlts` binary, which the plan's commands run.
pub fn this_binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe().map_err(|error| {
        anyhow::anyhow!("cannot find the path of this dnlts binary ({error}) to run its stages")
    })
}

/// `path` made absolute against the current folder, so the plan works from anywhere (Slurm
/// jobs start in the submission folder, or wherever the cluster says).
pub fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path);
    }
    let here = std::env::current_dir().map_err(|error| {
        anyhow::anyhow!(
            "cannot read the current folder ({error}) to make {} absolute; give absolute \
             paths",
            path.display()
        )
    })?;
    Ok(here.join(path))
}

/// A Makefile with one phony target per stage. Phony, because whether a stage is current is
/// the stage cache's decision (its key covers the code, profile and options), not a file date:
/// a node whose stage is cached only loads it.
pub fn makefile(nodes: &[Node], dnlts: &Path, shared: &[String]) -> String {
    let mut text = String::new();
    // No user text in comments (a comment ends at a newline, or goes on after a backslash);
    // values are quoted for the shell, then escaped for make.
    let _ = writeln!(text, "# Stage graph of dnlts, made by `dnlts plan --emit make`.");
    let _ = writeln!(
        text,
        "# Run with `make -f FILE -jN`; every stage writes into the stages/ folder of ARGS'"
    );
    let _ = writeln!(text, "# --out, and a stage already made there is loaded, not recomputed.");
    let dnlts = shell_quote(&dnlts.display().to_string());
    let _ = writeln!(text, "DNLTS ?= {}", emit_text::make_value(&dnlts));
    let _ = writeln!(text, "ARGS := {}", emit_text::make_words(shared));
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let _ = writeln!(text, "\n.PHONY: all {}", names.join(" "));
    let last = names.last().copied().unwrap_or("");
    let _ = writeln!(text, "all: {last}");
    for node in nodes {
        let _ = writeln!(text, "\n{}: {}", node.name, node.needs.join(" "));
        let _ = writeln!(text, "\t$(DNLTS) {} $(ARGS)", emit_text::make_words(&node.command));
    }
    text
}

/// A bash script that submits one Slurm job per stage, each waiting with
/// `--dependency=afterok:` for the jobs of the stages it needs.
/// `jobs` holds each node's own options (beside the shared [`sbatch_options`]), `note` where
/// their sizes come from.
pub fn slurm(
    nodes: &[Node],
    dnlts: &Path,
    shared: &[String],
    out: &Path,
    args: &PlanArgs,
    jobs: &[Vec<String>],
    note: Option<&str>,
) -> anyhow::Result<String> {
    let logs = out.join("logs").display().to_string();
    let output = emit_text::slurm_logs(out)?;
    let mut text = String::new();
    let _ = writeln!(text, "#!/usr/bin/env bash");
    let _ =
        writeln!(text, "# Stage graph of dnlts, made by `dnlts plan --emit slurm`: run it on a");
    let _ = writeln!(
        text,
        "# login node. One job per stage, started when the stages it needs ended well;"
    );
    let _ =
        writeln!(text, "# resubmitting after a failure recomputes only the stages missing from");
    // No user text in comments: a newline in it would start a command.
    let _ = writeln!(
        text,
        "# the stages/ folder of ARGS' --out (the stage cache is keyed by content)."
    );
    let _ = writeln!(text, "set -euo pipefail");
    let _ = writeln!(text, "DNLTS=${{DNLTS:-{}}}", shell_quote(&dnlts.display().to_string()));
    let _ = writeln!(text, "ARGS=({})", quoted(shared));
    if let Some(note) = note {
        let _ = writeln!(text, "# Each job's --cpus-per-task, --time and --mem: {note}.");
    }
    let _ = writeln!(text, "SBATCH_OPTIONS=({})", quoted(&sbatch_options(args)));
    let _ = writeln!(text, "mkdir -p {}", shell_quote(&logs));
    // sbatch --wrap runs its command with /bin/sh, which may not read bash's printf %q ($'…').
    let _ = writeln!(text, "# Each word quoted for sh, as sbatch --wrap runs the command.");
    let _ = writeln!(text, "{SH_WORDS}");
    let _ = writeln!(
        text,
        "# Submits one stage; prints its job id (sbatch --parsable: ID or ID;CLUSTER)."
    );
    let _ = writeln!(text, "submit() {{");
    let _ = writeln!(text, "  local name=$1 dependency=$2; shift 2");
    let _ = writeln!(text, "  local id");
    let _ = writeln!(
        text,
        "  id=$(sbatch --parsable --job-name=\"dnlts-$name\" ${{dependency:+--dependency=afterok:$dependency}} \\"
    );
    let _ = writeln!(
        text,
        "    --output={}/\"$name\"-%j.log \"${{SBATCH_OPTIONS[@]}}\" \"${{RESOURCES[@]}}\" \\",
        shell_quote(&output)
    );
    let _ = writeln!(text, "    --wrap=\"$(sh_words \"$DNLTS\" \"$@\" \"${{ARGS[@]}}\")\")");
    let _ = writeln!(text, "  echo \"${{id%%;*}}\"");
    let _ = writeln!(text, "}}");
    for (node, resources) in nodes.iter().zip(jobs) {
        let _ = writeln!(text, "RESOURCES=({})", quoted(resources));
        let needs: Vec<String> = node.needs.iter().map(|n| format!("${}", variable(n))).collect();
        let _ = writeln!(
            text,
            "{}=$(submit {} \"{}\" {})",
            variable(&node.name),
            node.name,
            needs.join(":"),
            quoted(&node.command)
        );
        let _ = writeln!(text, "echo \"{} submitted as job ${}\"", node.name, variable(&node.name));
    }
    Ok(text)
}

/// A bash function printing each of its words in single quotes (a `'` as `'\''`), which sh
/// reads back byte for byte, whatever the locale.
const SH_WORDS: &str =
    r#"sh_words() { local word q="'"; for word; do printf "'%s' " "${word//$q/$q\\$q$q}"; done; }"#;

/// Whether `node` pre-trains an AE: the stages split over GPUs (`--pretrain-gpus`,
/// `--pretrain-devices`).
pub fn is_pretraining(node: &Node) -> bool {
    matches!(node.name.as_str(), "pretrain" | "pretrain-imagenet")
}

/// With `--pretrain-gpus N` > 1, pre-training splits its batches over N GPUs from --device's
/// on (a Slurm job numbers its GPUs from 0): `--pretrain-devices` for every node, since the
/// number of copies is in pre-training's key, which every stage made from it computes; only
/// the pre-training jobs are given the GPUs, and only pre-training looks for them.
fn pretrain_devices(args: &PlanArgs) -> anyhow::Result<Vec<String>> {
    let gpus = args.pretrain_gpus as usize;
    if gpus < 2 {
        return Ok(Vec::new());
    }
    let dnlts::device::DeviceChoice::Cuda(first) = args.device() else {
        anyhow::bail!(
            "--pretrain-gpus {gpus}: pre-training splits over GPUs, and --device is {}; add \
             --device cuda",
            args.device()
        );
    };
    let devices: Vec<String> = (first..first + gpus).map(|index| format!("cuda:{index}")).collect();
    Ok(vec!["--pretrain-devices".into(), devices.join(",")])
}

/// The GPUs of `node`'s job: `--pretrain-gpus` for pre-training, else `--gpus-per-job`
/// (default one on a CUDA device, none on the CPU).
fn job_gpus(node: &Node, args: &PlanArgs) -> u32 {
    if is_pretraining(node) && args.pretrain_gpus > 1 {
        return args.pretrain_gpus;
    }
    let cuda = matches!(args.device(), dnlts::device::DeviceChoice::Cuda(_));
    args.gpus_per_job.unwrap_or(u32::from(cuda))
}

/// The shell variable holding a node's job id.
fn variable(node: &str) -> String {
    format!("job_{}", node.replace('-', "_"))
}

/// Resources every job shares: the partition.
fn sbatch_options(args: &PlanArgs) -> Vec<String> {
    let mut options = Vec::new();
    if let Some(partition) = &args.partition {
        options.push(format!("--partition={partition}"));
    }
    options
}

/// A stage so cheap on the GPU that only its loaders limit it (LeNet-5 at paper scale) would
/// ask for hundreds of cores; few nodes give one GPU more than this many.
const MAX_LOADER_CORES: usize = 32;

/// What sizes a paper profile's jobs: the plan's estimate at the assumed rate, and one core's
/// JPEG rates (the bench's data-loading rows, measured where the plan is made).
pub struct Sizing {
    rows: Vec<StageEstimate>,
    tflops: f64,
    per_core: Vec<(Reads, f64)>,
    /// One batch of f32 images at the largest input a network of the profile takes.
    batch_bytes: u64,
    /// Where the numbers come from, for the script's comment.
    pub source: String,
}

impl Sizing {
    fn new(profile: &Profile, args: &PlanArgs) -> anyhow::Result<Sizing> {
        let segnet = args.training.inputs.segnet.is_some();
        let epochs = args.fig2_imagenet_epochs;
        let rows = estimate(profile, Default::default(), segnet, epochs, Default::default());
        // Not resolved: the plan is made on a login node, which may have no GPU.
        let device = match args.device() {
            dnlts::device::DeviceChoice::Cuda(index) => tch::Device::Cuda(index),
            _ => tch::Device::Cpu,
        };
        let (tflops, rate) = assumed_throughput(device, false);
        let loading =
            super::bench::loading::measure(1, 5, &super::bench::loading::GpuRate::Unknown)?;
        let per_core = loading.transforms.iter().map(|t| (t.reads, t.images_per_core_second));
        Ok(Sizing {
            rows,
            tflops,
            per_core: per_core.collect(),
            batch_bytes: batch_bytes(profile),
            source: format!(
                "--time is twice the plan's f32 estimate at {rate} (at least 1 hour); \
                 --cpus-per-task on a GPU is --threads or, if more, the cores that decode \
                 JPEGs as fast as that estimate (one core's rates measured on this machine, \
                 `dnlts bench`'s data-loading rows; at most {MAX_LOADER_CORES}) plus one; \
                 --mem on a GPU is twice what a process holds in host memory (the largest \
                 peak measured of a process holding paper-size networks, {MEASURED_PROCESS_GIB:.2} \
                 GiB, docs/paper-scale.md \"Peak memory of the evaluation\"; three batches \
                 of images; a decoded 12-megapixel photo per core) plus {CUDA_HOST_GIB} GiB for libtorch's \
                 CUDA runtime (an allowance, not measured); on the CPU the activations are in \
                 host memory too and no --mem is sized: give --mem"
            ),
        })
    }

    fn row(&self, node: &Node) -> Option<&StageEstimate> {
        self.rows.iter().find(|row| row.node.as_deref() == Some(node.name.as_str()))
    }

    /// Cores whose decoding keeps up with the stage's estimated step rate.
    fn loader_cores(&self, row: &StageEstimate) -> Option<usize> {
        let reads = row.reads?;
        let per_core = self.per_core.iter().find(|(r, _)| *r == reads)?.1;
        if row.images == 0 || row.gflop_per_image <= 0.0 {
            return None;
        }
        let rate = self.tflops * 1e3 / row.gflop_per_image;
        Some(((rate / per_core).ceil() as usize).min(MAX_LOADER_CORES))
    }
}

/// The bytes of one batch of f32 images at the largest input a network of `profile` takes
/// (Inception v3's 299 at paper scale).
fn batch_bytes(profile: &Profile) -> u64 {
    let (scale, _) = crate::stages::scale_of(profile);
    let sizes = Family::ALL.into_iter().map(|family| family.input_spec(scale).size as u64);
    let side = sizes.chain([u64::from(profile.image_size)]).max().unwrap_or(0);
    u64::from(profile.batch_size.max(profile.eval_batch_size)) * 3 * side * side * 4
}

/// A node's own options: --cpus-per-task (see [`Sizing`]), --time and --mem (given, or from
/// the estimate and the measured memory).
/// `threads`: the stages' training threads (`--threads`, else the profile's).
fn job_options(
    node: &Node,
    args: &PlanArgs,
    sizing: Option<&Sizing>,
    threads: usize,
) -> Vec<String> {
    let gpu = matches!(args.device(), dnlts::device::DeviceChoice::Cuda(_));
    // A stage split over N GPUs steps N times as fast, at best: its loaders must keep up.
    let gpus = job_gpus(node, args);
    let sized = sizing.and_then(|sizing| Some((sizing, sizing.row(node)?)));
    let loaders = sized.filter(|_| gpu).and_then(|(sizing, row)| sizing.loader_cores(row));
    let loaders = loaders.map(|cores| cores * gpus.max(1) as usize);
    let cpus = loaders.map_or(threads, |cores| threads.max(cores + 1));
    let mut options = vec![format!("--cpus-per-task={cpus}")];
    if gpus > 0 {
        options.push(format!("--gres=gpu:{gpus}"));
    }
    match (&args.time, sized) {
        (Some(time), _) => options.push(format!("--time={time}")),
        (None, Some((sizing, row))) => {
            let hours = row.hours(sizing.tflops) / f64::from(gpus.max(1));
            options.push(format!("--time={}", slurm_time(hours)))
        }
        (None, None) => {}
    }
    // Memory is sized for every GPU job of a paper profile, with an estimate row or not: it
    // depends on the networks a process holds, not on the stage's images.
    match (&args.mem, sizing.filter(|_| gpu)) {
        (Some(mem), _) => options.push(format!("--mem={mem}")),
        (None, Some(sizing)) => {
            options.push(format!("--mem={}G", host_memory_gib(cpus, sizing.batch_bytes)))
        }
        (None, None) => {}
    }
    options
}

/// The largest peak resident memory measured of a process holding paper-size networks:
/// 2,575,200 KiB, Table 2's evaluation pass with all five classifiers and six AEs loaded, flat
/// in the number of images streamed (docs/paper-scale.md, "Peak memory of the evaluation").
/// Every stage holds a subset of those networks, so it bounds each of them; on a GPU their
/// activations live in device memory, not here.
const MEASURED_PROCESS_GIB: f64 = 2_575_200.0 / (1 << 20) as f64;

/// What one JPEG-decoding core may hold at once: a decoded 12-megapixel photo in 8-bit RGB.
/// An allowance, not a measurement (YFCC100m's originals vary in size).
const DECODED_PHOTO_GIB: f64 = 12e6 * 3.0 / (1u64 << 30) as f64;

/// libtorch's CUDA runtime in host memory (context, kernel images, cuDNN and cuBLAS handles).
/// An allowance, not a measurement: this project's machine has no GPU to measure it on.
const CUDA_HOST_GIB: u64 = 3;

/// A GPU job's host memory in whole GiB: twice (the margin --time also takes) what its process
/// holds — [`MEASURED_PROCESS_GIB`], three batches of f32 images in flight (one prefetched,
/// one being made, one computing) and a decoded photo per core — plus [`CUDA_HOST_GIB`].
fn host_memory_gib(cpus: usize, batch_bytes: u64) -> u64 {
    let batches = 3.0 * batch_bytes as f64 / (1u64 << 30) as f64;
    let held = MEASURED_PROCESS_GIB + batches + cpus as f64 * DECODED_PHOTO_GIB;
    (2.0 * held).ceil() as u64 + CUDA_HOST_GIB
}

/// Checks `--mem` as sbatch reads it: a whole number, then K, M, G or T (no suffix: MiB).
pub fn parse_mem(text: &str) -> Result<String, String> {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T']);
    let suffixes = text.len() - digits.len();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && suffixes <= 1 {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a memory size as sbatch --mem reads it: give a whole number with \
             K, M, G or T, e.g. 64G (no suffix: MiB)"
        ))
    }
}

/// Twice `hours` (the estimate assumes a rate and leaves out loading) in whole hours, at
/// least one, as sbatch writes a time: D-HH:MM:SS.
fn slurm_time(hours: f64) -> String {
    let hours = (2.0 * hours).ceil().max(1.0) as u64;
    format!("{}-{:02}:00:00", hours / 24, hours % 24)
}

/// The share of the device's peak the plan's estimate assumes every stage runs at: an
/// assumption, not a measurement (`dnlts bench` measures each stage's MFU on the device).
pub const ASSUMED_MFU: f64 = 0.4;

/// One row of the plan printed after the preflight: a stage, the images it reads and the
/// work per image (forward and backward, as `dnlts models` counts it).
#[derive(Debug, Clone, PartialEq)]
pub struct StageEstimate {
    pub stage: String,
    pub images: u64,
    pub gflop_per_image: f64,
    /// The node of the graph this row is (none: loading weights is part of the fine-tunings).
    pub node: Option<String>,
    /// The JPEGs the stage decodes as it trains, for sizing its loaders (none: not estimated).
    pub reads: Option<Reads>,
}

impl StageEstimate {
    /// Hours at `tflops` TFLOP/s.
    pub fn hours(&self, tflops: f64) -> f64 {
        self.images as f64 * self.gflop_per_image / (tflops * 1e3) / 3600.0
    }
}

/// The stages of a paper profile with their images and GFLOP per image, counted on the
/// networks themselves (`dnlts::models::flops`, what `dnlts models` prints) at the profile's
/// sizes; `found` caps the ImageNet counts at what the preflight found. The evaluation row is
/// every pass the targets make: Table 2's (every AE under every classifier), Figure 4's 11
/// noise strengths (x, A_S and each classifier's own AE; s = 0 is Table 1's), and Figure 9's
/// nMI (every AE at the AE's size).
pub fn estimate(
    profile: &Profile,
    part: dnlts::models::segnet::Part,
    segnet_given: bool,
    fig2_epochs: u64,
    found: super::doctor::Found,
) -> Vec<StageEstimate> {
    use dnlts::models::flops::{self, autoencoder_pass, count_macs, Macs};
    use dnlts::models::segnet::{AeMode, AutoEncoder};
    let gflop = |macs: Macs| flops::flops(macs.total()) / 1e9;
    let (scale, segnet) = crate::stages::scale_of(profile);
    let ae = AutoEncoder::new(segnet, tch::Device::Cpu);
    // Each (size, mode) of the AE counted once: at paper scale a pass is tens of GFLOP.
    let counted = std::cell::RefCell::new(Vec::<(i64, AeMode, f64)>::new());
    let ae_gflop = |size: i64, mode: AeMode| {
        let known = counted.borrow().iter().find(|(s, m, _)| (*s, *m) == (size, mode)).map(|c| c.2);
        known.unwrap_or_else(|| {
            let value = gflop(autoencoder_pass(&ae, size, mode));
            counted.borrow_mut().push((size, mode, value));
            value
        })
    };
    let ae_eval = |size: i64| ae_gflop(size, AeMode::Eval);
    let cap = |wanted: u64, found: Option<u64>| found.map_or(wanted, |f| wanted.min(f));
    let train = cap(profile.train_images, found.train_images);
    let val = cap(profile.eval_images, found.val_images);
    let mut rows = vec![StageEstimate {
        stage: if segnet_given {
            "AE pre-training: none, --segnet given".into()
        } else {
            format!("AE pre-training (YFCC100m, {} px)", profile.image_size)
        },
        images: if segnet_given { 0 } else { profile.pretrain_images },
        gflop_per_image: ae_gflop(profile.image_size as i64, AeMode::Pretrain),
        node: Some("pretrain".into()),
        reads: Some(Reads::Stream(profile.image_size)),
    }];
    if fig2_epochs > 0 {
        // Figure 2's second regime: the same AE step on ImageNet's training images, epoch
        // after epoch. Its loading is not sized (no bench row reads ImageNet at that size).
        rows.push(StageEstimate {
            stage: format!("AE pre-training (ImageNet train, {fig2_epochs} epochs: Figure 2)"),
            images: fig2_epochs * train,
            gflop_per_image: rows[0].gflop_per_image,
            node: Some("pretrain-imagenet".into()),
            reads: None,
        });
    }
    // Per classifier: its input, evaluation forward, and the fine-tuning step's work.
    let mut classifiers = Vec::new();
    let mut finetunes = Vec::new();
    let mut loaded = Vec::new();
    for family in Family::ALL {
        let store = tch::nn::VarStore::new(tch::Device::Cpu);
        let net = family.build(&store.root(), scale, i64::from(profile.classes));
        let spec = family.input_spec(scale);
        if profile.trains_classifier(family) {
            rows.push(StageEstimate {
                stage: format!(
                    "train {} (ImageNet train, {} epoch(s))",
                    family.name(),
                    profile.classifier_epochs
                ),
                images: train * profile.classifier_epochs,
                gflop_per_image: gflop(flops::classifier_pass(net.as_ref(), spec.size, true)),
                node: Some(format!("classifier-{}", family.name())),
                reads: Some(Reads::Crop(spec.size as u32)),
            });
        } else {
            loaded.push(family.letter());
        }
        let forward = gflop(flops::classifier_pass(net.as_ref(), spec.size, false));
        // Fine-tuning: the AE's step, then the frozen classifier's forward and the gradient of
        // its input (the AE's output needs one; its weights need none).
        let mut frozen = store;
        frozen.freeze();
        let image = tch::Tensor::zeros([1, 3, spec.size, spec.size], tch::kind::FLOAT_CPU)
            .set_requires_grad(true);
        let through = count_macs(|| net.forward_t(&image, false)).1;
        let step = ae_gflop(spec.size, AeMode::Finetune(part)) + gflop(through);
        finetunes.push(StageEstimate {
            stage: format!("fine-tune A_{} (ImageNet train, {} px)", family.letter(), spec.size),
            images: cap(profile.finetune_images, found.train_images),
            gflop_per_image: step,
            node: Some(format!("finetune-{}", family.name())),
            reads: Some(Reads::Crop(spec.size as u32)),
        });
        classifiers.push((spec.size, forward));
    }
    if !loaded.is_empty() {
        rows.push(StageEstimate {
            stage: format!("load {} (--weights)", loaded.join(", ")),
            images: 0,
            gflop_per_image: 0.0,
            node: None,
            reads: None,
        });
    }
    rows.extend(finetunes);
    // The evaluation, grouped by input size as the pipeline runs it.
    let aes = 1.0 + classifiers.len() as f64;
    let views = 1.0 + aes;
    let mut sizes: Vec<i64> = classifiers.iter().map(|(size, _)| *size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut per_image = aes * ae_eval(profile.image_size as i64);
    for size in sizes {
        let group: Vec<f64> =
            classifiers.iter().filter(|(s, _)| *s == size).map(|(_, f)| *f).collect();
        let (members, forwards) = (group.len() as f64, group.iter().sum::<f64>());
        let table2 = aes * ae_eval(size) + views * forwards;
        let noise = (1.0 + members) * ae_eval(size) + 3.0 * forwards;
        per_image += table2 + 11.0 * noise;
    }
    rows.push(StageEstimate {
        stage: "evaluation (ImageNet val: Tables 1-2, Figures 4, 9)".into(),
        images: val,
        gflop_per_image: per_image,
        node: Some("report".into()),
        // Each image is decoded once per pass and crop: not sized here.
        reads: None,
    });
    rows
}

/// The throughput the plan is estimated at, and where it comes from: [`ASSUMED_MFU`] of the
/// device's peak (bench's table of GPUs), or of an H200's when the device's is not known.
pub fn assumed_throughput(device: tch::Device, amp: bool) -> (f64, String) {
    let (peak, whose) = match super::bench::peak::find(None, device, amp) {
        Some(peak) => (peak, "this device's peak".to_string()),
        None => {
            let device = match device {
                tch::Device::Cuda(index) => format!("cuda:{index}"),
                _ => "the CPU".to_string(),
            };
            let whose = format!("one H200's peak (there is no known peak for {device})");
            (super::bench::peak::reference(amp), whose)
        }
    };
    let tflops = peak.tflops * ASSUMED_MFU;
    let source = format!(
        "{tflops:.0} TFLOP/s, an assumed {:.0} % of {whose}: {}, {} TFLOP/s",
        ASSUMED_MFU * 100.0,
        peak.source,
        peak.tflops
    );
    (tflops, source)
}

/// The plan as a table: each stage, its images, GFLOP per image and estimated hours.
pub fn format_estimate(rows: &[StageEstimate], tflops: f64, source: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "plan (an estimate, not a measurement): compute only, each stage's counted FLOPs at \
         {source}; JPEG decoding, data loading and the held-out checks are not counted, and \
         `dnlts bench --profile P --device cuda` measures the real rates"
    );
    let _ =
        writeln!(text, "  {:<52} {:>13} {:>10} {:>9}", "stage", "images", "GFLOP/img", "est. h");
    let mut total = 0.0;
    for row in rows {
        let hours = row.hours(tflops);
        total += hours;
        let images = if row.images == 0 { "-".into() } else { thousands(row.images) };
        let _ = writeln!(
            text,
            "  {:<52} {:>13} {:>10.2} {:>9.2}",
            row.stage, images, row.gflop_per_image, hours
        );
    }
    let _ = writeln!(
        text,
        "  {:<52} {:>13} {:>10} {:>9.2}",
        "total (stages in sequence)", "", "", total
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(nodes: &'a [Node], name: &str) -> &'a Node {
        nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    }

    #[test]
    fn every_node_comes_after_what_it_needs_and_names_a_real_stage() {
        for name in crate::profile::PRESETS {
            let nodes = graph(&Profile::preset(name).unwrap(), 0);
            for (position, node) in nodes.iter().enumerate() {
                for need in &node.needs {
                    let before = nodes[..position].iter().any(|earlier| &earlier.name == need);
                    assert!(
                        before,
                        "{name}: {} needs {need}, which does not come first",
                        node.name
                    );
                }
            }
            let report = nodes.last().unwrap();
            assert_eq!(report.needs.len(), 5, "{name}: the report needs every fine-tuning");
        }
    }

    #[test]
    fn tiny_trains_all_five_classifiers_and_each_finetuning_waits_for_its_own() {
        let nodes = graph(&Profile::preset("tiny").unwrap(), 0);
        assert_eq!(nodes.len(), 1 + 5 + 5 + 1);
        for family in Family::ALL {
            let classifier = format!("classifier-{}", family.name());
            assert_eq!(node(&nodes, &classifier).command[0], "train-classifier");
            let finetune = node(&nodes, &format!("finetune-{}", family.name()));
            assert_eq!(finetune.needs, ["pretrain".to_string(), classifier]);
        }
    }

    #[test]
    fn paper_trains_only_lenet5_and_loads_the_others_inside_their_finetuning() {
        for name in ["paper", "paper-smoke"] {
            let nodes = graph(&Profile::preset(name).unwrap(), 0);
            let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "pretrain",
                    "classifier-lenet5",
                    "finetune-lenet5",
                    "finetune-alexnet",
                    "finetune-vgg16_bn",
                    "finetune-inception_v3",
                    "finetune-resnet50",
                    "report"
                ],
                "{name}"
            );
            assert_eq!(node(&nodes, "finetune-lenet5").needs, ["pretrain", "classifier-lenet5"]);
            for family in &Family::ALL[1..] {
                let finetune = node(&nodes, &format!("finetune-{}", family.name()));
                assert_eq!(finetune.needs, ["pretrain"], "{name}: {}", finetune.name);
            }
        }
    }

    #[test]
    fn figure_2s_imagenet_regime_is_a_node_the_report_waits_for_and_names() {
        let profile = Profile::preset("paper-smoke").unwrap();
        let nodes = graph(&profile, 3);
        let fig2 = node(&nodes, "pretrain-imagenet");
        assert_eq!(fig2.command, ["pretrain-imagenet", "--epochs", "3"]);
        assert!(fig2.needs.is_empty(), "it trains a SegNet of its own, from scratch");
        let report = nodes.last().unwrap();
        assert_eq!(report.command, ["reproduce", "--fig2-imagenet-epochs", "3"]);
        assert_eq!(report.needs.len(), 6, "{:?}", report.needs);
        assert!(report.needs.contains(&"pretrain-imagenet".to_string()));
        assert!(graph(&profile, 0).iter().all(|n| n.name != "pretrain-imagenet"));
        // Its estimate: three epochs of the 16 training images found, at pre-training's step.
        let found = crate::commands::doctor::Found { train_images: Some(16), val_images: Some(4) };
        let rows = estimate(&profile, Default::default(), false, 3, found);
        let row = rows.iter().find(|r| r.node.as_deref() == Some("pretrain-imagenet")).unwrap();
        assert_eq!((row.images, row.gflop_per_image), (48, rows[0].gflop_per_image));
    }

    #[test]
    fn the_paper_smoke_estimate_has_every_stage_and_trains_only_lenet5() {
        let profile = Profile::preset("paper-smoke").unwrap();
        let found = crate::commands::doctor::Found { train_images: Some(16), val_images: Some(64) };
        let rows = estimate(&profile, Default::default(), false, 0, found);
        let stages: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
        assert_eq!(rows.len(), 1 + 1 + 1 + 5 + 1, "{stages:?}");
        assert_eq!(stages[1], "train lenet5 (ImageNet train, 1 epoch(s))");
        assert_eq!((stages[2], rows[2].images), ("load A, V, I, R (--weights)", 0));
        // The evaluation reads the 64 validation images found, not the profile's cap.
        assert_eq!(rows.last().unwrap().images, 64);
        assert_eq!(rows[1].images, 16);
        for row in rows.iter().filter(|r| r.images > 0) {
            assert!(row.gflop_per_image > 0.0, "{row:?}");
        }
        // SegNet at 64 px: a pre-training step costs more than its forward pass, and the
        // evaluation of an image (dozens of passes) more than either.
        assert!(rows.last().unwrap().gflop_per_image > 10.0 * rows[0].gflop_per_image);
        let given = estimate(&profile, Default::default(), true, 0, found);
        assert_eq!(given[0].images, 0, "--segnet skips pre-training");
    }

    #[test]
    fn the_estimate_is_images_times_work_over_the_assumed_rate() {
        let row = |stage: &str, images, gflop_per_image| StageEstimate {
            stage: stage.into(),
            images,
            gflop_per_image,
            node: None,
            reads: None,
        };
        let rows = [row("a", 3_600_000, 100.0), row("b", 0, 0.0), row("c", 3_600, 1000.0)];
        // 3.6 M × 100 GFLOP at 100 TFLOP/s: 3,600 s.
        assert!((rows[0].hours(100.0) - 1.0).abs() < 1e-12);
        let text = format_estimate(&rows, 100.0, "100 TFLOP/s, assumed");
        assert!(text.starts_with("plan (an estimate, not a measurement)"), "{text}");
        assert!(text.contains("100 TFLOP/s, assumed"), "{text}");
        assert!(text.contains("3,600,000"), "{text}");
        let total = text.lines().last().unwrap();
        assert!(total.contains("total") && total.ends_with("1.01"), "{text}");
    }

    #[test]
    fn the_assumed_rate_is_a_stated_share_of_a_known_peak() {
        let (tflops, source) = assumed_throughput(tch::Device::Cpu, false);
        assert!((tflops - 494.7 * ASSUMED_MFU).abs() < 1e-9);
        assert!(source.contains("40 %") && source.contains("H200"), "{source}");
    }

    /// `dnlts plan --profile paper` with `extra` options, as parsed.
    fn plan_args(extra: &[&str]) -> PlanArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            plan: PlanArgs,
        }
        let base = ["plan", "--profile", "paper"];
        Cli::parse_from(base.iter().chain(extra)).plan
    }

    #[test]
    fn paper_jobs_ask_for_their_loader_cores_and_twice_the_estimated_time() {
        let parse = |extra: &[&str]| plan_args(&[&["--threads", "4"][..], extra].concat());
        let row = |node: &str, reads, images, gflop_per_image| StageEstimate {
            stage: node.into(),
            images,
            gflop_per_image,
            node: Some(node.into()),
            reads,
        };
        let sizing = Sizing {
            rows: vec![
                row("pretrain", Some(Reads::Stream(256)), 3_600_000, 100.0),
                row("classifier-lenet5", Some(Reads::Crop(224)), 1_000, 0.001),
                row("report", None, 50_000, 10.0),
            ],
            tflops: 100.0,
            per_core: vec![(Reads::Stream(256), 100.0), (Reads::Crop(224), 500.0)],
            // 1 GiB a batch, so that the batches' share of --mem is plain to see.
            batch_bytes: 1 << 30,
            source: String::new(),
        };
        let node = |name: &str| Node { name: name.into(), command: vec![], needs: vec![] };
        let gpu = parse(&["--device", "cuda:0"]);
        let options =
            |name: &str, args: &PlanArgs| job_options(&node(name), args, Some(&sizing), 4);
        // 100 TFLOP/s at 100 GFLOP per image: 1,000 images/s, 10 cores' decoding and one more;
        // 3.6 M images at that rate take an hour, doubled. Memory: 2.456 GiB measured, three
        // 1-GiB batches and 11 decoded photos of 0.0335 GiB make 5.82 GiB, twice is 11.65,
        // so 12 GiB, and 3 for CUDA.
        let pretrain = ["--cpus-per-task=11", "--gres=gpu:1", "--time=0-02:00:00", "--mem=15G"];
        assert_eq!(options("pretrain", &gpu), pretrain);
        // LeNet-5 would keep 200,000 cores busy: capped; 33 decoders hold 1.11 GiB of photos,
        // 2 × 6.56 GiB is 13.1, so 14 and 3.
        let capped = format!("--cpus-per-task={}", MAX_LOADER_CORES + 1);
        assert_eq!(options("classifier-lenet5", &gpu)[0], capped);
        assert_eq!(options("classifier-lenet5", &gpu)[3], "--mem=17G");
        // The evaluation's loading is not sized; its 5 s estimate gets the 1-hour minimum.
        let report = ["--cpus-per-task=4", "--gres=gpu:1", "--time=0-01:00:00", "--mem=15G"];
        assert_eq!(options("report", &gpu), report);
        // A node without an estimate row still gets its memory.
        let imagenet = ["--cpus-per-task=4", "--gres=gpu:1", "--mem=15G"];
        assert_eq!(options("pretrain-imagenet", &gpu), imagenet);
        // Pre-training split over 4 GPUs: 4 × 10 decoding cores and one more, a quarter of the
        // hour doubled (the 1-hour minimum), and the memory of 41 decoders; the rest one GPU.
        let split = parse(&["--device", "cuda:0", "--pretrain-gpus", "4"]);
        let mem = format!("--mem={}G", host_memory_gib(41, 1 << 30));
        let pretrain = ["--cpus-per-task=41", "--gres=gpu:4", "--time=0-01:00:00", &mem];
        assert_eq!(options("pretrain", &split), pretrain);
        assert_eq!(options("report", &split)[1], "--gres=gpu:1");
        // On the CPU no loaders and no memory are sized, and a --time or --mem given is every
        // job's.
        let cpu = parse(&["--device", "cpu", "--time", "3:00:00"]);
        assert_eq!(options("pretrain", &cpu), ["--cpus-per-task=4", "--time=3:00:00"]);
        let given = parse(&["--device", "cuda", "--mem", "64G"]);
        assert_eq!(options("pretrain", &given)[3], "--mem=64G");
        assert_eq!(slurm_time(30.0), "2-12:00:00");
        assert_eq!(host_memory_gib(0, 0), 5 + CUDA_HOST_GIB, "2 × 2.456 GiB, rounded up");
    }

    #[test]
    fn pretrain_gpus_split_pretraining_over_gpus_from_the_device_on_in_every_job() {
        let parse = |extra: &[&str]| plan_args(&[&["--pretrain-gpus", "3"][..], extra].concat());
        let shared = shared_args(&parse(&["--device", "cuda:1"]), Path::new("/o")).unwrap();
        let at = shared.iter().position(|word| word == "--pretrain-devices").unwrap();
        assert_eq!(shared[at + 1], "cuda:1,cuda:2,cuda:3");
        let cpu = parse(&["--device", "cpu"]);
        let error = shared_args(&cpu, Path::new("/o")).unwrap_err().to_string();
        assert!(error.contains("--pretrain-gpus 3") && error.contains("--device cuda"), "{error}");
        let one = shared_args(&plan_args(&["--device", "cuda"]), Path::new("/o")).unwrap();
        assert!(!one.contains(&"--pretrain-devices".to_string()));
    }

    /// The paper profile is meant for a GPU: its plan's jobs run on one unless --device says
    /// otherwise, and no job is given GPUs its stage does not run on.
    #[test]
    fn a_paper_plan_runs_its_jobs_on_the_gpu_unless_told_otherwise() {
        let shared = shared_args(&plan_args(&[]), Path::new("/o")).unwrap().join(" ");
        assert!(shared.contains("--device cuda:0"), "{shared}");
        let cpu = shared_args(&plan_args(&["--device", "cpu"]), Path::new("/o")).unwrap();
        assert!(cpu.join(" ").contains("--device cpu"));
        let mut idle = plan_args(&["--device", "cpu", "--gpus-per-job", "1"]);
        idle.out = Some(std::env::temp_dir().join("dnlts-plan-idle-gpus"));
        let error = run(&idle).unwrap_err().to_string();
        assert!(error.contains("--gpus-per-job 1") && error.contains("--device cuda"), "{error}");
    }

    #[test]
    fn every_job_computes_with_the_training_options_given_to_the_plan() {
        let args = ["--accumulate", "2", "--no-fold-bn", "--batch-size", "16", "--fast"];
        let shared = shared_args(&plan_args(&args), Path::new("/o")).unwrap();
        let text = shared.join(" ");
        for words in ["--accumulate 2", "--no-fold-bn", "--batch-size 16", "--fast"] {
            assert!(text.contains(words), "{words} missing from {text}");
        }
        let defaults = shared_args(&plan_args(&[]), Path::new("/o")).unwrap().join(" ");
        assert!(!defaults.contains("--fast") && defaults.contains("--accumulate 1"), "{defaults}");
    }

    #[test]
    fn mem_takes_what_sbatch_reads_and_names_what_it_does_not() {
        for good in ["64G", "4000", "512M", "1T"] {
            assert_eq!(parse_mem(good).as_deref(), Ok(good));
        }
        for bad in ["", "G", "64GB", "6.5G", "-1G", "64 G"] {
            let error = parse_mem(bad).unwrap_err();
            assert!(error.contains(&format!("'{bad}'")) && error.contains("64G"), "{error}");
        }
    }

    /// The paper profile's plan as docs/paper-scale.md ("The paper's path", step 5) shows it:
    /// counting the paper-size networks takes a while on a CPU, so it runs only when asked
    /// (`cargo test -p dnlts-suite --bin dnlts -- --ignored paper_plan --nocapture`).
    #[test]
    #[ignore]
    fn paper_plan_for_the_readme() {
        let profile = Profile::preset("paper").unwrap();
        let found = crate::commands::doctor::Found::default();
        let rows = estimate(&profile, Default::default(), false, 0, found);
        for amp in [false, true] {
            let (tflops, source) = assumed_throughput(tch::Device::Cpu, amp);
            println!("{}", format_estimate(&rows, tflops, &source));
        }
    }
}
