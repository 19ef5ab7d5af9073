//! The models against PyTorch: names, shapes and parameter counts against torchvision's (and
//! the authors' SegNet) lists, outputs against PyTorch's for formula-filled weights, and the
//! properties the method relies on (decoder-only fine-tuning through a frozen classifier).
//! Fixtures are made by fixtures/models/make_fixtures.py.

mod common;

use common::gradients::{logits_and_input_gradient, relative_difference};
use std::collections::BTreeMap;
use std::path::Path;

use dnlts::models::classifier::Classifier;
use dnlts::models::segnet::{AeMode, AutoEncoder, Part, SegNetConfig};
use dnlts::models::weights::{self, LoadPolicy};
use dnlts::models::{parameter_count, Family, Scale};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const PRIME: u64 = 10007;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/models"))
}

fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Mirrors `fill` in fixtures/models/make_fixtures.py operation for operation.
fn fill(name: &str, shape: &[i64]) -> Tensor {
    let numel: i64 = shape.iter().product();
    let h = fnv1a(name) % PRIME;
    let values: Vec<f32> = (0..numel as u64)
        .map(|i| {
            let u = (((i % PRIME) * (2_654_435_761 % PRIME) + h) % PRIME) as f64 / PRIME as f64;
            let value = if name.ends_with("running_var") {
                0.5 + u
            } else if name.ends_with("running_mean") {
                (u - 0.5) * 0.2
            } else if shape.len() == 1 && name.ends_with("weight") {
                0.5 + u
            } else if shape.len() == 1 {
                (u - 0.5) * 0.2
            } else {
                let fan_in = numel / shape[0];
                (u - 0.5) * 2.0 * (6.0 / fan_in as f64).sqrt()
            };
            value as f32
        })
        .collect();
    Tensor::from_slice(&values).view(shape)
}

fn fixed_input(shape: &[i64]) -> Tensor {
    let numel: i64 = shape.iter().product();
    let values: Vec<f32> =
        (0..numel).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).map(|v| v as f32).collect();
    Tensor::from_slice(&values).view(shape)
}

fn fill_stores(stores: &[&nn::VarStore]) {
    tch::no_grad(|| {
        for store in stores {
            for (name, mut tensor) in store.variables() {
                tensor.copy_(&fill(&name, &tensor.size()));
            }
        }
    });
}

fn keys_and_shapes(stores: &[&nn::VarStore]) -> BTreeMap<String, Vec<i64>> {
    stores.iter().flat_map(|s| s.variables()).map(|(name, t)| (name, t.size())).collect()
}

fn fixture_keys(model: &str) -> BTreeMap<String, Vec<i64>> {
    let text = std::fs::read_to_string(fixtures().join(format!("{model}.keys.tsv"))).unwrap();
    text.lines()
        .map(|line| {
            let (name, shape) = line.split_once('\t').unwrap();
            (name.to_string(), serde_json::from_str(shape).unwrap())
        })
        .collect()
}

fn fidelity(model: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("fidelity.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["models"][model].clone()
}

/// Compares an output with PyTorch's to 1e-4 relative to the output's typical magnitude.
fn assert_matches_pytorch(model: &str, output: &Tensor) {
    let expected = fidelity(model);
    let flat: Vec<f64> = Vec::try_from(output.flatten(0, -1).to_kind(Kind::Double)).unwrap();
    assert_eq!(flat.len() as u64, expected["output_len"].as_u64().unwrap(), "{model} output size");
    let abs_sum = expected["abs_sum"].as_f64().unwrap();
    let scale = abs_sum / flat.len() as f64;
    let tolerance = 1e-4 * scale.max(1e-6);
    for (i, want) in expected["first"].as_array().unwrap().iter().enumerate() {
        let want = want.as_f64().unwrap();
        assert!((flat[i] - want).abs() <= tolerance, "{model}[{i}]: {} vs PyTorch {want}", flat[i]);
    }
    let sum: f64 = flat.iter().sum();
    let want_sum = expected["sum"].as_f64().unwrap();
    assert!(
        (sum - want_sum).abs() <= tolerance * flat.len() as f64,
        "{model} sum {sum} vs {want_sum}"
    );
    let ours: f64 = flat.iter().map(|v| v.abs()).sum();
    assert!((ours - abs_sum).abs() <= 1e-4 * abs_sum, "{model} |sum| {ours} vs {abs_sum}");
}

#[test]
fn paper_classifiers_match_torchvision_names_shapes_counts_and_outputs() {
    for family in [Family::Alexnet, Family::Vgg16Bn, Family::Resnet50, Family::InceptionV3] {
        let model = family.name();
        let store = nn::VarStore::new(Device::Cpu);
        let net = family.build(&store.root(), Scale::Paper, 1000);
        assert_eq!(keys_and_shapes(&[&store]), fixture_keys(model), "{model} state dict");
        let want = fidelity(model)["parameters"].as_i64().unwrap();
        assert_eq!(parameter_count(&store), want, "{model} parameter count");
        fill_stores(&[&store]);
        let shape: Vec<i64> =
            serde_json::from_value(fidelity(model)["input_shape"].clone()).unwrap();
        let output = tch::no_grad(|| net.forward_t(&fixed_input(&shape), false));
        assert_eq!(output.size(), [1, 1000]);
        assert_matches_pytorch(model, &output);
    }
}

#[test]
fn paper_segnet_matches_the_authors_architecture() {
    let ae = AutoEncoder::new(SegNetConfig::paper(), Device::Cpu);
    assert_eq!(keys_and_shapes(&[&ae.encoder, &ae.decoder]), fixture_keys("segnet"));
    let count = parameter_count(&ae.encoder) + parameter_count(&ae.decoder);
    assert_eq!(count, fidelity("segnet")["parameters"].as_i64().unwrap());
    assert_eq!(count, 29_480_259, "the authors' SegNet has 29,480,259 parameters");
    fill_stores(&[&ae.encoder, &ae.decoder]);
    // 72×96 is not a multiple of 32: unpooling must restore the odd intermediate sizes.
    let output = tch::no_grad(|| ae.forward(&fixed_input(&[1, 3, 72, 96]), AeMode::Eval));
    assert_eq!(output.size(), [1, 3, 72, 96]);
    assert_matches_pytorch("segnet", &output);
}

#[test]
fn scaled_classifiers_take_every_profile_size() {
    for size in [32, 64] {
        let scale = Scale::Scaled { width_divisor: 8, image_size: size };
        for family in Family::ALL {
            let classifier = Classifier::builtin(family, scale, 10, Device::Cpu);
            let images = Tensor::rand([2, 3, size, size], (Kind::Float, Device::Cpu));
            let logits = tch::no_grad(|| classifier.logits(&images, false));
            assert_eq!(logits.size(), [2, 10], "{family:?} at {size}×{size}");
            assert!(bool::try_from(logits.isfinite().all()).unwrap());
        }
    }
}

#[test]
fn lenet_takes_224_inputs_as_documented() {
    let classifier = Classifier::builtin(Family::Lenet5, Scale::Paper, 1000, Device::Cpu);
    let images = Tensor::rand([1, 3, 224, 224], (Kind::Float, Device::Cpu));
    assert_eq!(tch::no_grad(|| classifier.logits(&images, false)).size(), [1, 1000]);
}

#[test]
fn segnet_reconstructs_any_input_size() {
    let ae = AutoEncoder::new(SegNetConfig::scaled(8, 5), Device::Cpu);
    for (h, w) in [(32, 32), (64, 64), (37, 45), (33, 100)] {
        let images = Tensor::rand([2, 3, h, w], (Kind::Float, Device::Cpu));
        let output = tch::no_grad(|| ae.forward(&images, AeMode::Eval));
        assert_eq!(output.size(), [2, 3, h, w]);
    }
}

fn snapshot(store: &nn::VarStore) -> BTreeMap<String, Tensor> {
    store.variables().into_iter().map(|(name, t)| (name, t.detach().copy())).collect()
}

fn changed(before: &BTreeMap<String, Tensor>, store: &nn::VarStore) -> Vec<String> {
    store
        .variables()
        .into_iter()
        .filter(|(name, t)| !t.equal(&before[name]))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn finetuning_updates_the_decoder_only_through_a_frozen_classifier() {
    tch::manual_seed(3);
    let scale = Scale::Scaled { width_divisor: 8, image_size: 32 };
    let ae = AutoEncoder::new(SegNetConfig::scaled(8, 5), Device::Cpu);
    let mut classifier = Classifier::builtin(Family::Resnet50, scale, 10, Device::Cpu);
    classifier.freeze();
    let (encoder, decoder) = (snapshot(&ae.encoder), snapshot(&ae.decoder));
    let frozen = snapshot(classifier.store().unwrap());
    let mut optimizer =
        nn::Sgd { momentum: 0.9, ..Default::default() }.build(&ae.decoder, 0.1).unwrap();
    let images = Tensor::rand([4, 3, 32, 32], (Kind::Float, Device::Cpu));
    let labels = Tensor::from_slice(&[1i64, 2, 3, 4]);
    let loss = classifier
        .logits(&ae.forward(&images, AeMode::Finetune(Part::Decoder)), false)
        .cross_entropy_for_logits(&labels);
    optimizer.backward_step(&loss);
    assert!(
        changed(&encoder, &ae.encoder).is_empty(),
        "encoder weights and BN statistics unchanged"
    );
    let decoder_changed = changed(&decoder, &ae.decoder);
    assert!(decoder_changed.iter().any(|n| n.ends_with("conv11d.weight")), "decoder learned");
    assert!(decoder_changed.iter().any(|n| n.ends_with("conv_final.weight")));
    assert!(changed(&frozen, classifier.store().unwrap()).is_empty(), "classifier unchanged");
    for tensor in classifier.store().unwrap().trainable_variables() {
        assert!(!tensor.grad().defined(), "frozen classifier accumulated no gradient");
    }
    for tensor in ae.encoder.trainable_variables() {
        assert!(!tensor.grad().defined(), "no gradient reached the encoder");
    }
}

fn scratch_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dnlts-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn weights_round_trip_and_inspect() {
    let ae = AutoEncoder::new(SegNetConfig::scaled(8, 3), Device::Cpu);
    let path = scratch_file("ae.safetensors");
    ae.save(&path).unwrap();
    let mut other = AutoEncoder::new(SegNetConfig::scaled(8, 3), Device::Cpu);
    let report = other.load(&path, LoadPolicy::Strict).unwrap();
    assert_eq!(report.loaded, ae.encoder.len() + ae.decoder.len());
    assert!(changed(&snapshot(&ae.decoder), &other.decoder).is_empty());
    let summary = weights::inspect(&path).unwrap();
    assert_eq!(summary.tensors.len(), report.loaded);
    let params = parameter_count(&ae.encoder) + parameter_count(&ae.decoder);
    let running: i64 = summary
        .tensors
        .iter()
        .filter(|t| t.name.contains("running_"))
        .map(|t| t.shape.iter().product::<i64>())
        .sum();
    assert_eq!(summary.parameters, params + running);
    assert_eq!(summary.sha256.len(), 64);
}

#[test]
fn strict_loading_names_every_mismatch_and_loads_nothing() {
    let small = AutoEncoder::new(SegNetConfig::scaled(8, 3), Device::Cpu);
    let path = scratch_file("small.safetensors");
    small.save(&path).unwrap();
    let mut wider = AutoEncoder::new(SegNetConfig::scaled(4, 4), Device::Cpu);
    let before = snapshot(&wider.encoder);
    let error = wider.load(&path, LoadPolicy::Strict).unwrap_err().to_string();
    assert!(error.contains("small.safetensors"), "{error}");
    assert!(error.contains("missing from the file: decoder.bn41d.bias"), "{error}");
    assert!(
        error.contains(
            "encoder.conv11.weight: the model has shape [16, 3, 3, 3], the file [8, 3, 3, 3]"
        ),
        "{error}"
    );
    assert!(error.contains("--allow-partial"), "{error}");
    assert!(changed(&before, &wider.encoder).is_empty(), "a rejected file changes nothing");
    let partial = wider.load(&path, LoadPolicy::AllowPartial).unwrap();
    let m = &partial.mismatch;
    assert!(partial.loaded > 0 && !m.missing.is_empty() && !m.wrong_shape.is_empty());
    let total = wider.encoder.len() + wider.decoder.len();
    assert_eq!(
        partial.loaded + m.missing.len() + m.wrong_shape.len(),
        total,
        "every tensor accounted for"
    );
}

#[test]
fn unreadable_weight_files_get_a_clear_error() {
    let path = scratch_file("broken.safetensors");
    std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json").unwrap();
    let error = weights::inspect(&path).unwrap_err().to_string();
    assert!(error.contains("broken.safetensors") && error.contains("header"), "{error}");
    let mut ae = AutoEncoder::new(SegNetConfig::scaled(8, 1), Device::Cpu);
    assert!(ae
        .load(&path, LoadPolicy::Strict)
        .unwrap_err()
        .to_string()
        .contains("broken.safetensors"));
}

#[test]
fn inception_files_with_an_aux_head_load_with_or_without_it() {
    let with_aux = nn::VarStore::new(Device::Cpu);
    let _ = Family::InceptionV3.build(&with_aux.root(), Scale::Paper, 1000);
    let path = scratch_file("inception.safetensors");
    weights::save(&[&with_aux], &path).unwrap();
    let config = dnlts::models::inception::InceptionConfig {
        aux_logits: false,
        ..dnlts::models::inception::InceptionConfig::paper()
    };
    let mut without = nn::VarStore::new(Device::Cpu);
    let _ = dnlts::models::inception::inception_v3(&without.root(), &config, 1000);
    let report = weights::load(&mut [&mut without], &path, LoadPolicy::Strict).unwrap();
    assert!(
        report.ignored.iter().all(|name| name.starts_with("AuxLogits."))
            && !report.ignored.is_empty()
    );
}

#[test]
fn a_users_torchscript_classifier_runs_frozen_and_matches_pytorch() {
    let spec: dnlts::models::classifier::ScriptedSpec = format!(
        "mine={},size=16,resize=16,mean=0:0:0,std=1:1:1",
        fixtures().join("tiny_scripted.pt").display()
    )
    .parse()
    .unwrap();
    let classifier = spec.load(Device::Cpu).unwrap();
    assert_eq!((classifier.name.as_str(), classifier.spec.size), ("mine", 16));
    let images = fixed_input(&[2, 3, 16, 16]).set_requires_grad(true);
    let logits = classifier.logits(&images, false);
    assert_matches_pytorch("tiny_scripted", &logits);
    logits.sum(Kind::Float).backward();
    assert!(
        images.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0,
        "gradient reaches the input"
    );
}

#[test]
fn user_classifier_arguments_are_checked() {
    use dnlts::models::classifier::ScriptedSpec;
    for (bad, expected) in [
        ("model.pt", "NAME=FILE.pt"),
        ("R=model.pt", "built-in"),
        ("x=model.pt,size=abc", "whole number"),
        ("x=model.pt,std=1:0:1", "positive"),
        ("x=model.pt,mean=1:2", "R:G:B"),
        ("x=model.pt,colour=red", "unknown option"),
        ("x=model.pt,family=resnet", "use lenet5, alexnet"),
        ("S=model.pt", "not 'S'"),
        ("my model=model.pt", "ASCII letters"),
    ] {
        let error = bad.parse::<ScriptedSpec>().unwrap_err();
        assert!(error.contains(expected), "{bad}: {error}");
    }
    let family: ScriptedSpec = "r2=w.safetensors,family=R,size=32".parse().unwrap();
    assert_eq!((family.family, family.input.size), (Some(dnlts::models::Family::Resnet50), 32));
    let missing: ScriptedSpec = "x=/nonexistent/model.pt".parse().unwrap();
    let error = missing.load(Device::Cpu).err().unwrap().to_string();
    assert!(error.contains("/nonexistent/model.pt"), "{error}");
}

#[test]
fn the_encoder_can_start_from_vgg16_bn_weights() {
    let vgg = nn::VarStore::new(Device::Cpu);
    let _ =
        Family::Vgg16Bn.build(&vgg.root(), Scale::Scaled { width_divisor: 8, image_size: 32 }, 10);
    let path = scratch_file("vgg16_bn.safetensors");
    weights::save(&[&vgg], &path).unwrap();
    let mut ae = AutoEncoder::new(SegNetConfig::scaled(8, 5), Device::Cpu);
    assert_eq!(ae.transplant_vgg16_bn(&path).unwrap(), 13 * 6, "13 convs (2 tensors) + BNs (4)");
    let theirs = vgg.variables();
    let ours = ae.encoder.variables();
    for (mine, source) in [
        ("encoder.conv11.weight", "features.0.weight"),
        ("encoder.bn12.running_var", "features.4.running_var"),
        ("encoder.conv21.bias", "features.7.bias"),
        ("encoder.conv53.weight", "features.40.weight"),
        ("encoder.bn53.bias", "features.41.bias"),
    ] {
        assert!(ours[mine].equal(&theirs[source]), "{mine} should be {source}");
    }
    let alexnet = nn::VarStore::new(Device::Cpu);
    let _ = Family::Alexnet.build(&alexnet.root(), Scale::Paper, 1000);
    weights::save(&[&alexnet], &path).unwrap();
    let error = ae.transplant_vgg16_bn(&path).unwrap_err().to_string();
    assert!(error.contains("vgg16_bn"), "{error}");
}

#[test]
fn scaled_segnets_pool_down_to_an_eight_pixel_bottleneck() {
    for (size, stages) in [(16, 1), (32, 2), (64, 3), (256, 5), (8, 1)] {
        assert_eq!(SegNetConfig::for_image_size(8, size).stages, stages, "{size}×{size}");
    }
}

/// torchvision's model table (pytorch.org/vision/stable/models.html, "GFLOPS" column, which
/// counts multiply-accumulates of one image at the weights' evaluation crop): AlexNet 0.71,
/// VGG16-BN 15.47, Inception v3 5.71 (at 299), ResNet-50 4.09. Tolerance 2 %: the table rounds
/// to two decimals (±0.7 % for AlexNet) and counting tools differ in the small extras they
/// include (pooling, residual additions), which stay under 1 % of these networks.
#[test]
fn paper_classifier_macs_match_torchvisions_published_counts() {
    use dnlts::models::flops::classifier_pass;
    let published = [
        (Family::Alexnet, 0.71),
        (Family::Vgg16Bn, 15.47),
        (Family::InceptionV3, 5.71),
        (Family::Resnet50, 4.09),
    ];
    for (family, gmacs) in published {
        let store = nn::VarStore::new(Device::Cpu);
        let net = family.build(&store.root(), Scale::Paper, 1000);
        let size = family.input_spec(Scale::Paper).size;
        let ours = classifier_pass(net.as_ref(), size, false).forward as f64 / 1e9;
        let error = (ours - gmacs).abs() / gmacs;
        assert!(error < 0.02, "{}: {ours:.3} GMACs, published {gmacs} ({error:.3})", family.name());
    }
}

/// The authors' SegNet at 256×256, against a slow reference written out layer by layer: the
/// encoder is VGG16's 13 convolutions, the decoder their mirror (the last conv of each stage
/// stepping down a width, the first stage 64→64) and the 1×1 conv to RGB.
#[test]
fn segnet_macs_match_a_layer_by_layer_reference_and_training_counts_its_graph() {
    use dnlts::models::flops::autoencoder_pass;
    let side = |stage: u32| 256u64 >> stage;
    let conv = |c_in: u64, c_out: u64, stage: u32| c_in * c_out * 9 * side(stage).pow(2);
    let encoder = conv(3, 64, 0)
        + conv(64, 64, 0)
        + conv(64, 128, 1)
        + conv(128, 128, 1)
        + conv(128, 256, 2)
        + 2 * conv(256, 256, 2)
        + conv(256, 512, 3)
        + 2 * conv(512, 512, 3)
        + 3 * conv(512, 512, 4);
    let decoder = 3 * conv(512, 512, 4)
        + 2 * conv(512, 512, 3)
        + conv(512, 256, 3)
        + 2 * conv(256, 256, 2)
        + conv(256, 128, 2)
        + conv(128, 128, 1)
        + conv(128, 64, 1)
        + 2 * conv(64, 64, 0)
        + 64 * 3 * side(0).pow(2);
    let ae = AutoEncoder::new(SegNetConfig::paper(), Device::Cpu);
    let eval = autoencoder_pass(&ae, 256, AeMode::Eval);
    assert_eq!(eval.forward, encoder + decoder);
    assert_eq!(eval.backward, 0);
    // Pre-training: every layer's weight gradient, every input gradient but the first conv's.
    let pretrain = autoencoder_pass(&ae, 256, AeMode::Pretrain);
    assert_eq!(pretrain.backward, 2 * (encoder + decoder) - conv(3, 64, 0));
    // Decoder-only fine-tuning: the encoder runs without a graph; the decoder's first conv
    // reads the (detached) code, so it needs no input gradient.
    let finetune = autoencoder_pass(&ae, 256, AeMode::Finetune(Part::Decoder));
    assert_eq!(finetune.backward, 2 * decoder - conv(512, 512, 4));
}

/// How far a frozen classifier (batch norm folded, models/blocks.rs) moves from the same
/// weights unfrozen (batch norm run as such), in `kind`: relative differences of the logits and
/// of the input gradients, and whether the logits are bit-identical.
fn fold_differences(family: Family, kind: Kind) -> (f64, f64, bool) {
    let scale = Scale::Scaled { width_divisor: 8, image_size: 32 };
    tch::manual_seed(17);
    let images = Tensor::rand([8, 3, 32, 32], (kind, Device::Cpu));
    let mut classifier = Classifier::builtin(family, scale, 10, Device::Cpu);
    fill_stores(&[classifier.store().unwrap()]);
    classifier.store_mut().unwrap().set_kind(kind);
    let (logits, gradient) = logits_and_input_gradient(&classifier, &images);
    classifier.freeze();
    let (folded_logits, folded_gradient) = logits_and_input_gradient(&classifier, &images);
    let (dl, dg) = (
        relative_difference(&folded_logits, &logits),
        relative_difference(&folded_gradient, &gradient),
    );
    eprintln!("{family:?} in {kind:?}: logits {dl:.1e}, input gradient {dg:.1e}");
    (dl, dg, folded_logits.equal(&logits))
}

/// Folding batch norm changes only the rounding. Measured on the small profile's models with
/// formula-filled weights (non-trivial statistics), 8 images, 2 threads: in f64 logits and
/// input gradients agree to ≤ 3e-14 of their largest value (what exact algebra gives), in f32
/// the logits to ≤ 1.3e-5 (VGG16-BN; Inception, ResNet ≤ 2.5e-6); the bounds leave 10× over
/// that. f32 input gradients are not compared: where a pre-activation lies within rounding of
/// 0, a ReLU switches in one computation and not the other, and ResNet-50's input gradients
/// then differ by 1–2 % of their largest value in the images it touches (a switched unit,
/// not rounding; the f64 run shows the functions are the same).
#[test]
fn frozen_classifiers_fold_batch_norm_without_changing_logits_or_input_gradients() {
    for family in Family::ALL {
        let (dl, dg, identical) = fold_differences(family, Kind::Double);
        assert!(dl <= 3e-13 && dg <= 3e-13, "{family:?} in f64: {dl:e}, {dg:e}");
        // A network without batch norm has nothing to fold: the very same computation runs.
        let has_batch_norm = !matches!(family, Family::Lenet5 | Family::Alexnet);
        assert_eq!(identical, !has_batch_norm, "{family:?}: folded only where there is BN");
        let (dl, _, _) = fold_differences(family, Kind::Float);
        assert!(dl <= 1.3e-4, "{family:?} in f32: {dl:e}");
    }
}
