//! The training and evaluation engine on a tiny deterministic source: optimiser semantics,
//! learning, checkpoints, bit-identical resuming, corrupt-checkpoint detection, evaluation.

use std::ops::Range;
use std::path::PathBuf;

use dnlts::compute::{is_channels_last, Compute};
use dnlts::data::source::{tensor_to_images, DecodedSplit, ImageSource, Sample, Split};
use dnlts::data::SkipReason;
use dnlts::eval::{add_uniform_noise, evaluate, top_k_correct, EvalPlan, View};
use dnlts::models::classifier::Classifier;
use dnlts::models::segnet::{AeMode, AutoEncoder, Part, SegNetConfig};
use dnlts::models::{Family, Scale};
use dnlts::train::checkpoint::Checkpoints;
use dnlts::train::classify::{ClassifyConfig, TrainClassifier};
use dnlts::train::finetune::{Finetune, FinetuneConfig};
use dnlts::train::optim::{LrSchedule, Optimizer, Rule};
use dnlts::train::parallel::Replica;
use dnlts::train::pretrain::{ae_tensors, CheckRecord, Pretrain, PretrainConfig, PretrainRecipe};
use dnlts::train::{
    drive, CheckAt, Optimisation, Persistence, Schedule, Task, TrainError, Unlabelled,
};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// 16×16 images whose class (of 4) sets the mean colour; every pixel also carries a
/// deterministic pseudo-random texture of its index.
struct Toy;

fn toy_image(index: u64, class: i64) -> Tensor {
    let base =
        Tensor::from_slice(&[0.2 + 0.2 * (class % 2) as f32, 0.3 + 0.15 * (class / 2) as f32, 0.5])
            .view([3, 1, 1]);
    let texture: Vec<f32> = (0..3 * 16 * 16u64)
        .map(|i| ((i.wrapping_mul(2654435761) ^ index.wrapping_mul(40503)) % 1000) as f32 / 1000.0)
        .collect();
    (base + (Tensor::from_slice(&texture).view([3, 16, 16]) - 0.5) * 0.3).clamp(0.0, 1.0)
}

impl ImageSource for Toy {
    fn image_size(&self) -> i64 {
        16
    }
    fn classes(&self) -> i64 {
        4
    }
    fn len(&self, split: Split) -> u64 {
        match split {
            Split::Train => 256,
            _ => 64,
        }
    }
    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        let (images, labels) = self.labelled(split, &[index]);
        Ok(Sample { image: tensor_to_images(&images).remove(0), label: labels.int64_value(&[0]) })
    }
    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let offset = match split {
            Split::Train => 0,
            Split::Validation => 10_000,
            Split::Test => 20_000,
            Split::Stream => 1_000_000,
        };
        let labels: Vec<i64> = indices.iter().map(|i| ((i + offset) % 4) as i64).collect();
        let images: Vec<Tensor> =
            indices.iter().zip(&labels).map(|(i, &c)| toy_image(i + offset, c)).collect();
        (Tensor::stack(&images, 0), Tensor::from_slice(&labels))
    }
    fn stream(&self, indices: Range<u64>) -> Tensor {
        Tensor::stack(
            &indices.map(|i| toy_image(1_000_000 + i, (i * 7 % 4) as i64)).collect::<Vec<_>>(),
            0,
        )
    }
}

/// Held for the whole of every test here: they seed libtorch's one global generator (and the
/// driver reseeds it every step), so two tests running at once would draw each other's numbers.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn small_ae() -> AutoEncoder {
    AutoEncoder::new(SegNetConfig::scaled(16, 2), Device::Cpu)
}

fn pretrain_config() -> PretrainConfig {
    PretrainConfig::paper_recipe(8 * 24, 8, 32, 16)
}

#[test]
fn sgd_matches_libtorch_sgd_with_momentum_and_weight_decay() {
    let _serial = serial();
    let store = nn::VarStore::new(Device::Cpu);
    let w = store.root().randn("w", &[5, 3], 0.0, 1.0);
    let reference_store = nn::VarStore::new(Device::Cpu);
    let w_ref = reference_store.root().zeros("w", &[5, 3]);
    tch::no_grad(|| w_ref.shallow_clone().copy_(&w));
    let mut ours = Optimizer::sgd(vec![("w".into(), w.shallow_clone())], 0.1, 0.9, 0.01);
    let mut theirs = nn::Sgd { momentum: 0.9, wd: 0.01, ..Default::default() }
        .build(&reference_store, 0.1)
        .unwrap();
    let x = Tensor::randn([4, 5], (Kind::Float, Device::Cpu));
    for _ in 0..5 {
        ours.backward_step(&x.matmul(&w).pow_tensor_scalar(2).sum(Kind::Float));
        theirs.backward_step(&x.matmul(&w_ref).pow_tensor_scalar(2).sum(Kind::Float));
    }
    let gap = (&w - &w_ref).abs().max().double_value(&[]);
    assert!(gap < 1e-5, "our SGD drifted {gap} from libtorch's");
}

#[test]
fn adam_matches_libtorch_adam_and_resumes_from_its_state() {
    let _serial = serial();
    let store = nn::VarStore::new(Device::Cpu);
    let w = store.root().randn("w", &[5, 3], 0.0, 1.0);
    let copy_of = |w: &Tensor| {
        let reference = nn::VarStore::new(Device::Cpu);
        let w_ref = reference.root().zeros("w", &[5, 3]);
        tch::no_grad(|| w_ref.shallow_clone().copy_(w));
        (reference, w_ref)
    };
    let (reference_store, w_ref) = copy_of(&w);
    let mut ours = Optimizer::new(vec![("w".into(), w.shallow_clone())], 0.01, Rule::adam());
    let mut theirs = nn::Adam::default().build(&reference_store, 0.01).unwrap();
    let x = Tensor::randn([4, 5], (Kind::Float, Device::Cpu));
    let loss = |w: &Tensor| x.matmul(w).pow_tensor_scalar(2).sum(Kind::Float);
    for _ in 0..5 {
        ours.backward_step(&loss(&w));
        theirs.backward_step(&loss(&w_ref));
    }
    let gap = (&w - &w_ref).abs().max().double_value(&[]);
    assert!(gap < 1e-5, "our Adam drifted {gap} from libtorch's");
    // A second optimizer restored from the first one's state continues bit for bit.
    let (_resumed_store, w_resumed) = copy_of(&w);
    let mut resumed =
        Optimizer::new(vec![("w".into(), w_resumed.shallow_clone())], 0.01, Rule::adam());
    let saved: std::collections::HashMap<String, Tensor> = ours.state().into_iter().collect();
    assert_eq!(saved.len(), 3, "first and second moments and the step count: {:?}", saved.keys());
    resumed.restore(&saved);
    for _ in 0..3 {
        ours.backward_step(&loss(&w));
        resumed.backward_step(&loss(&w_resumed));
    }
    assert!(w.equal(&w_resumed), "a restored Adam took other steps");
}

#[test]
fn pretraining_lowers_the_heldout_loss_and_logs_every_check() {
    let _serial = serial();
    tch::manual_seed(0);
    let ae = small_ae();
    let task = Pretrain::new(&ae, &Toy, pretrain_config());
    let before = task.heldout_loss();
    let schedule = Schedule { check_every: 4, ..task.schedule() };
    let log = drive(&task, schedule, None, 1).unwrap().log;
    assert_eq!(log.len(), 6, "one check every 4 of 24 steps");
    assert_eq!(log.last().unwrap().images, 24 * 8);
    assert!(log.last().unwrap().heldout_loss < before, "{before} → {:?}", log.last());
}

/// Runs `inner` and asks the driver to stop once step `at` has been taken.
struct StopAt<'a> {
    inner: Pretrain<'a>,
    at: u64,
    /// Losses computed so far: one per step, as the run does not accumulate.
    losses: std::cell::Cell<u64>,
}

impl Task for StopAt<'_> {
    type Batch = Unlabelled;
    type Record = CheckRecord;
    fn name(&self) -> String {
        self.inner.name()
    }
    fn tensors(&self) -> Vec<(String, Tensor)> {
        self.inner.tensors()
    }
    fn trainable(&self) -> Vec<(String, Tensor)> {
        self.inner.trainable()
    }
    fn loader(&self) -> Box<dyn FnMut(u64) -> Unlabelled + Send + '_> {
        self.inner.loader()
    }
    fn loss(&self, batch: &Unlabelled) -> Tensor {
        self.losses.set(self.losses.get() + 1);
        if self.losses.get() == self.at {
            dnlts::train::stop::request();
        }
        self.inner.loss(batch)
    }
    fn check(&self, at: &CheckAt) -> (f64, CheckRecord) {
        self.inner.check(at)
    }
    fn replicas(&self) -> &[Box<dyn Replica<Unlabelled>>] {
        self.inner.replicas()
    }
}

fn persistence(dir: &std::path::Path, resume: bool) -> Persistence {
    Persistence { checkpoints: Checkpoints::new(dir, 2), dir: dir.to_path_buf(), resume }
}

/// A new AE holding `bytes` (what [`all_bytes`] returned).
fn ae_with(bytes: &[(String, Vec<f32>)]) -> AutoEncoder {
    let ae = small_ae();
    tch::no_grad(|| {
        for ((_, t), (_, v)) in ae_tensors(&ae).iter().zip(bytes) {
            t.shallow_clone().copy_(&Tensor::from_slice(v).view(&t.size()[..]));
        }
    });
    ae
}

fn all_bytes(ae: &AutoEncoder) -> Vec<(String, Vec<f32>)> {
    values(ae_tensors(ae))
}

/// Named tensors' values.
fn values(tensors: Vec<(String, Tensor)>) -> Vec<(String, Vec<f32>)> {
    tensors.into_iter().map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap())).collect()
}

/// Both optimizers in one test: the stop request they use is process-wide.
#[test]
fn an_interrupted_run_resumes_to_the_same_bytes() {
    let _serial = serial();
    interrupted_pretraining_resumes_to_the_same_bytes(pretrain_config(), "sgd", &[]);
    let adam = PretrainConfig::new(PretrainRecipe::Adam { lr: 0.003 }, 8 * 24, 8, 32, 16);
    interrupted_pretraining_resumes_to_the_same_bytes(adam, "adam", &[]);
    // Data-parallel: the replica gets the master's tensors again after the resume.
    interrupted_pretraining_resumes_to_the_same_bytes(pretrain_config(), "sgd-2", &[Device::Cpu]);
}

/// Pre-training of `ae` with copies on `replicas` (data-parallel).
fn pretrain_on<'a>(
    ae: &'a AutoEncoder,
    config: &PretrainConfig,
    replicas: &[Device],
) -> Pretrain<'a> {
    Pretrain::new(ae, &Toy, config.clone()).data_parallel(replicas).unwrap()
}

/// Pre-training interrupted at three steps and resumed in a fresh AE ends with the bytes of
/// an uninterrupted run; `replicas`: the devices of the AE's data-parallel copies.
fn interrupted_pretraining_resumes_to_the_same_bytes(
    config: PretrainConfig,
    tag: &str,
    replicas: &[Device],
) {
    tch::manual_seed(5);
    let reference = small_ae();
    let start = all_bytes(&reference);
    let dir = scratch(&format!("{tag}-reference"));
    let task = pretrain_on(&reference, &config, replicas);
    let schedule = Schedule { steps: 24, check_every: 4, ..task.schedule() };
    drive(&task, schedule, Some(&persistence(&dir, false)), 9).unwrap();

    for stop_at in [3, 10, 17] {
        dnlts::train::stop::reset();
        let dir = scratch(&format!("{tag}-stop{stop_at}"));
        let ae = ae_with(&start);
        let inner = pretrain_on(&ae, &config, replicas);
        let stopping = StopAt { inner, at: stop_at, losses: Default::default() };
        let error = drive(&stopping, schedule, Some(&persistence(&dir, false)), 9).unwrap_err();
        assert!(
            matches!(error, TrainError::Interrupted { step, .. } if step == stop_at),
            "{error}"
        );
        assert!(error.to_string().contains("--resume"));
        dnlts::train::stop::reset();
        // A fresh process: new, differently initialised AE, everything from the checkpoint.
        tch::manual_seed(99);
        let resumed = small_ae();
        drive(
            &pretrain_on(&resumed, &config, replicas),
            schedule,
            Some(&persistence(&dir, true)),
            9,
        )
        .unwrap();
        assert!(
            all_bytes(&resumed) == all_bytes(&reference),
            "stopped at {stop_at}: resumed run differs"
        );
    }
}

/// The trainable tensors' values, by name.
fn trainable_values(task: &Pretrain) -> Vec<(String, Vec<f32>)> {
    values(task.trainable())
}

#[test]
fn two_replicas_train_as_two_accumulated_micro_batches_on_one_device() {
    let _serial = serial();
    tch::manual_seed(3);
    let start = all_bytes(&small_ae());
    let (one, two, whole) = (ae_with(&start), ae_with(&start), ae_with(&start));
    let accumulate = Compute { accumulation: 2, ..Compute::default() };
    let accumulated =
        Pretrain::new(&one, &Toy, PretrainConfig { compute: accumulate, ..pretrain_config() });
    let parallel =
        Pretrain::new(&two, &Toy, pretrain_config()).data_parallel(&[Device::Cpu]).unwrap();
    assert_eq!(parallel.replicas().len(), 1);
    let schedule = Schedule { steps: 6, check_every: 3, ..accumulated.schedule() };
    let expected = drive(&accumulated, schedule, None, 4).unwrap();
    let schedule = Schedule { compute: Compute::default(), ..schedule };
    let got = drive(&parallel, schedule, None, 4).unwrap();
    assert!(all_bytes(&one) != start, "the steps changed the weights");
    // The same parts in the same order and the same sums of gradients: equal to the bit.
    assert_eq!(got.first_losses, expected.first_losses);
    assert!(trainable_values(&parallel) == trainable_values(&accumulated), "weights differ");
    // The whole batch on one device: batch norm sees other statistics, so the steps differ.
    let one_part = drive(&Pretrain::new(&whole, &Toy, pretrain_config()), schedule, None, 4);
    assert_ne!(one_part.unwrap().first_losses[1..], got.first_losses[1..]);
}

#[test]
fn checkpoints_survive_half_writes_and_detect_corruption() {
    let _serial = serial();
    let dir = scratch("corrupt");
    let store = Checkpoints::new(&dir, 3);
    let t = vec![("x".to_string(), Tensor::from_slice(&[1.0f32, 2.0]))];
    store.save(1, &t, &"one", Some(1.0)).unwrap();
    store.save(2, &t, &"two", Some(0.5)).unwrap();
    // A crash while writing step 3: its tensor file landed, its JSON never did.
    std::fs::write(dir.join("step-0000000003.safetensors.tmp"), b"partial").unwrap();
    std::fs::copy(dir.join("step-0000000002.safetensors"), dir.join("step-0000000003.safetensors"))
        .unwrap();
    let latest = store.latest::<String>().unwrap().unwrap();
    assert_eq!((latest.step, latest.state.as_str()), (2, "two"));
    // A flipped byte in the newest complete checkpoint is reported, not loaded.
    let path = dir.join("step-0000000002.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let error = store.latest::<String>().err().unwrap().to_string();
    assert!(error.contains("corrupt") && error.contains("step-0000000002"), "{error}");
}

#[test]
fn pruning_keeps_the_newest_and_the_best() {
    let _serial = serial();
    let dir = scratch("prune");
    let store = Checkpoints::new(&dir, 2);
    let t = vec![("x".to_string(), Tensor::from_slice(&[0.0f32]))];
    for (step, score) in [(1, 0.9), (2, 0.1), (3, 0.5), (4, 0.7), (5, 0.8)] {
        store.save(step, &t, &(), Some(score)).unwrap();
    }
    assert_eq!(store.steps(), vec![2, 4, 5]);
}

#[test]
fn top_k_counts_labels_among_the_highest_scores() {
    let _serial = serial();
    let logits = Tensor::from_slice(&[0.1f32, 0.9, 0.0, 0.5, 0.2, 0.3]).view([2, 3]);
    let labels = Tensor::from_slice(&[0i64, 0]);
    assert_eq!(top_k_correct(&logits, &labels, 1), 1);
    assert_eq!(top_k_correct(&logits, &labels, 2), 2);
    assert_eq!(top_k_correct(&logits, &labels, 10), 2, "k larger than the classes counts all");
}

#[test]
fn noise_depends_on_the_sample_not_the_batch() {
    let _serial = serial();
    let (images, _) = Toy.labelled(Split::Validation, &[0, 1, 2, 3]);
    let together = add_uniform_noise(&images, &[0, 1, 2, 3], 0.3, 7);
    let alone = add_uniform_noise(&images.narrow(0, 2, 1), &[2], 0.3, 7);
    assert!(together.narrow(0, 2, 1).equal(&alone));
    let noise = (&together - &images).abs().max().double_value(&[]);
    assert!(noise > 0.1 && noise <= 0.3 + 1e-6, "max |noise| = {noise}");
    assert!(add_uniform_noise(&images, &[0, 1, 2, 3], 0.0, 7).equal(&images));
    let (min, max) = (together.min().double_value(&[]), together.max().double_value(&[]));
    assert!(min >= 0.0 && max <= 1.0);
}

#[test]
fn one_evaluation_pass_matches_direct_computation() {
    let _serial = serial();
    tch::manual_seed(2);
    let scale = Scale::Scaled { width_divisor: 16, image_size: 16 };
    let a = Classifier::builtin(Family::Lenet5, scale, 4, Device::Cpu);
    let r = Classifier::builtin(Family::Resnet50, scale, 4, Device::Cpu);
    let ae = small_ae();
    let views = [View { name: "x".into(), ae: None }, View { name: "A_S".into(), ae: Some(&ae) }];
    let plan = EvalPlan {
        split: Split::Validation,
        images: 40,
        batch_size: 16,
        noise: 0.0,
        noise_seed: 0,
        compute: Compute::default(),
        progress: None,
    };
    let table = evaluate(&Toy, &plan, &views, &[&a, &r], &|v, c| !(v == 1 && c == 0));
    assert!(table.top1[1][0].is_nan(), "pairs not asked for are not computed");
    let (images, labels) = Toy.labelled(Split::Validation, &(0..40).collect::<Vec<_>>());
    let direct = |classifier: &Classifier, input: &Tensor| {
        top_k_correct(&tch::no_grad(|| classifier.logits(input, false)), &labels, 1) as f64 / 40.0
    };
    assert_eq!(table.top1[0][0], direct(&a, &images));
    let reconstructed = tch::no_grad(|| ae.forward(&images, AeMode::Eval));
    assert!((table.top1[1][1] - direct(&r, &reconstructed)).abs() < 1e-12);
    assert!(table.top5[0][1] >= table.top1[0][1]);
}

/// LeNet-5's recipe (SGD from lr 0.05, no warm-up) for one epoch in batches of 32.
fn classify_config(compute: Compute) -> ClassifyConfig {
    ClassifyConfig {
        check_images: 32,
        seed: 3,
        compute,
        ..ClassifyConfig::recipe(Family::Lenet5, 1, 32)
    }
}

/// LeNet-5 (no batch norm, so micro-batches change nothing but rounding) after two steps.
fn lenet_after_two_steps(compute: Compute) -> Vec<(String, Vec<f32>)> {
    tch::manual_seed(11);
    let scale = Scale::Scaled { width_divisor: 16, image_size: 16 };
    let classifier = Classifier::builtin(Family::Lenet5, scale, 4, Device::Cpu);
    let task = TrainClassifier::new(&classifier, &Toy, classify_config(compute));
    let schedule = Schedule { steps: 2, check_every: (1 << 20) / 32, ..task.schedule() };
    drive(&task, schedule, None, 1).unwrap();
    dnlts::train::sorted_variables(classifier.store().unwrap())
        .into_iter()
        .map(|(name, t)| (name, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect()
}

#[test]
fn gradient_accumulation_makes_the_same_update_as_one_batch() {
    let _serial = serial();
    let whole = lenet_after_two_steps(Compute::default());
    let initial = {
        tch::manual_seed(11);
        let scale = Scale::Scaled { width_divisor: 16, image_size: 16 };
        let c = Classifier::builtin(Family::Lenet5, scale, 4, Device::Cpu);
        dnlts::train::sorted_variables(c.store().unwrap())
            .into_iter()
            .map(|(_, t)| Vec::<f32>::try_from(t.flatten(0, -1)).unwrap())
            .collect::<Vec<_>>()
    };
    for parts in [2, 4, 3] {
        let micro = lenet_after_two_steps(Compute { accumulation: parts, ..Compute::default() });
        for (((name, a), (_, b)), start) in whole.iter().zip(&micro).zip(&initial) {
            let gap = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(gap < 1e-5, "{name}: {parts} micro-batches drift {gap} from one batch");
            assert_ne!(a, start, "{name} must have been trained");
        }
    }
}

#[test]
fn channels_last_and_bf16_autocast_train_and_evaluate() {
    let _serial = serial();
    let compute = Compute { channels_last: true, amp: true, accumulation: 2, ..Compute::default() };
    let ae = small_ae();
    let input = compute.prepare(&Toy.stream(0..4));
    assert!(is_channels_last(&input));
    let reconstruction = compute.autocast(Device::Cpu, || ae.forward(&input, AeMode::Eval));
    let plain = ae.forward(&Toy.stream(0..4), AeMode::Eval);
    let gap = (reconstruction.to_kind(Kind::Float) - &plain).abs().max().double_value(&[]);
    // f32 channels-last alone differs by ~1e-6; bf16 rounding by ~1e-3..1e-2.
    assert!(gap > 1e-4 && gap < 0.1, "bf16 reconstruction: gap {gap} to f32");
    let scale = Scale::Scaled { width_divisor: 16, image_size: 16 };
    let lenet = Classifier::builtin(Family::Lenet5, scale, 4, Device::Cpu);
    let logits = compute.autocast(Device::Cpu, || lenet.logits(&input, false));
    assert_eq!(logits.kind(), Kind::BFloat16, "linear layers run in bf16 under --amp");

    let config = PretrainConfig { compute, ..pretrain_config() };
    let task = Pretrain::new(&ae, &Toy, config);
    let log = drive(&task, Schedule { steps: 4, check_every: 2, ..task.schedule() }, None, 1)
        .unwrap()
        .log;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|c| c.train_loss.is_finite() && c.heldout_loss.is_finite()));
    let dir = scratch("channels-last-save");
    ae.save(&dir.join("ae.safetensors")).expect("channels-last weights save densely");
}

fn changed_tensors(before: &[(String, Vec<f32>)], ae: &AutoEncoder) -> Vec<String> {
    all_bytes(ae)
        .into_iter()
        .zip(before)
        .filter(|((_, now), (_, then))| now != then)
        .map(|((name, _), _)| name)
        .collect()
}

#[test]
fn fine_tuning_updates_only_the_part_asked_for() {
    let _serial = serial();
    let scale = Scale::Scaled { width_divisor: 16, image_size: 16 };
    let mut classifier = Classifier::builtin(Family::Lenet5, scale, 4, Device::Cpu);
    classifier.freeze();
    for part in [Part::Decoder, Part::Encoder, Part::Both] {
        tch::manual_seed(2);
        let ae = small_ae();
        let before = all_bytes(&ae);
        let config = FinetuneConfig { part, ..FinetuneConfig::recipe(64, 16, 64, 16) };
        let task = Finetune::new(&ae, &classifier, &Toy, config);
        drive(&task, task.schedule(), None, 1).unwrap();
        let changed = changed_tensors(&before, &ae);
        let (encoder, decoder) = AeMode::Finetune(part).trains();
        assert_eq!(changed.iter().any(|n| n.starts_with("encoder.")), encoder, "{part:?}");
        assert_eq!(changed.iter().any(|n| n.starts_with("decoder.")), decoder, "{part:?}");
    }
}

/// A task whose loss fails the way libtorch does when memory runs out.
struct OutOfMemory;

impl Task for OutOfMemory {
    type Batch = Unlabelled;
    type Record = ();
    fn name(&self) -> String {
        "oom".into()
    }
    fn tensors(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn trainable(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn loader(&self) -> Box<dyn FnMut(u64) -> Unlabelled + Send + '_> {
        Box::new(|_| Unlabelled {
            images: Tensor::zeros([64, 3, 2, 2], (Kind::Float, Device::Cpu)),
        })
    }
    fn loss(&self, _: &Unlabelled) -> Tensor {
        panic!("called `Result::unwrap()` on an `Err` value: Torch(\"CUDA out of memory. Tried to allocate 9.00 GiB\")")
    }
    fn check(&self, _: &CheckAt) -> (f64, ()) {
        (0.0, ())
    }
}

#[test]
fn out_of_memory_stops_with_batch_size_advice() {
    let _serial = serial();
    let compute = Compute { accumulation: 2, ..Compute::default() };
    let optimisation =
        Optimisation { rule: Rule::adam(), lr: 0.0, lr_schedule: LrSchedule::Constant };
    let error =
        drive(&OutOfMemory, Schedule::new(optimisation, 3, 64, 64, compute), None, 0).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, TrainError::OutOfMemory { step: 0, batch_size: 64, .. }));
    assert!(message.contains("batch size 64"), "{message}");
    assert!(message.contains("--batch-size 32") && message.contains("--accumulate 4"), "{message}");
    assert!(message.contains("(CUDA out of memory. Tried to allocate 9.00 GiB"), "{message}");
    assert!(!message.contains("unwrap"), "tch's wrapping is dropped: {message}");
}

#[test]
fn decoded_split_reads_back_the_same_tensors() {
    let _serial = serial();
    let decoded = DecodedSplit::new(&Toy, Split::Test, 40, 16);
    let cached = decoded.over(&Toy);
    let indices = [39u64, 0, 17, 17, 5];
    let (a, la) = cached.labelled(Split::Test, &indices);
    let (b, lb) = Toy.labelled(Split::Test, &indices);
    // Toy images are not 8-bit, so compare after the same quantisation the real sources have.
    let quantised = (b * 255.0).round() / 255.0;
    assert!(a.equal(&quantised) && la.equal(&lb));
    let (outside, _) = cached.labelled(Split::Test, &[40, 41]);
    assert!(
        outside.equal(&Toy.labelled(Split::Test, &[40, 41]).0),
        "uncached indices pass through"
    );
    assert!(cached.labelled(Split::Train, &[1]).0.equal(&Toy.labelled(Split::Train, &[1]).0));
}

#[test]
fn prefetching_batches_changes_no_byte() {
    let _serial = serial();
    let run = |prefetch: usize| {
        tch::manual_seed(9);
        let ae = small_ae();
        let task = Pretrain::new(&ae, &Toy, pretrain_config());
        let schedule = Schedule { prefetch, steps: 6, ..task.schedule() };
        drive(&task, schedule, None, 4).unwrap();
        all_bytes(&ae)
    };
    let inline = run(0);
    assert_eq!(inline, run(1), "one batch ahead");
    assert_eq!(inline, run(3), "three batches ahead");
}
