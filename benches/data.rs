//! Data-layer throughput: synthetic generation, JPEG decode + eval transform at 1 and 2
//! threads, augmentation, batching. `cargo bench --bench data`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dnlts::data::augment::{augment, AugmentConfig};
use dnlts::data::batch::{build_batch, LoaderConfig};
use dnlts::data::resize::EvalTransform;
use dnlts::data::source::{Split, SyntheticImages};
use dnlts::data::synthetic::{self, SyntheticConfig};
use dnlts::data::{decode_rgb, noise};
use rayon::prelude::*;
use std::hint::black_box;

fn synthetic_images(c: &mut Criterion) {
    let mut group = c.benchmark_group("synthetic");
    group.throughput(Throughput::Elements(1));
    for size in [32, 64] {
        let cfg = SyntheticConfig { size, ..SyntheticConfig::default() };
        group.bench_with_input(BenchmarkId::new("labelled", size), &cfg, |b, cfg| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                black_box(synthetic::labelled(cfg, i))
            })
        });
        group.bench_with_input(BenchmarkId::new("unlabeled", size), &cfg, |b, cfg| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                black_box(synthetic::unlabeled(cfg, i))
            })
        });
    }
    group.finish();
}

/// ImageNet-like JPEGs (400×267 real photos), decoded and transformed as for AlexNet/VGG/ResNet.
fn jpeg_eval_pipeline(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let files: Vec<Vec<u8>> = ["china.jpg", "flower.jpg"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).expect("fixture photo"))
        .collect();
    const BATCH: usize = 16;
    let mut group = c.benchmark_group("jpeg_decode_resize256_crop224");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Decode alone, to separate decoder cost from resize + crop cost.
    group.bench_function("decode_only_1thread", |b| {
        b.iter(|| {
            (0..BATCH)
                .map(|i| decode_rgb(&files[i % files.len()]).expect("decodes"))
                .collect::<Vec<_>>()
        })
    });
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| {
                pool.install(|| {
                    (0..BATCH)
                        .into_par_iter()
                        .map(|i| {
                            let img = decode_rgb(&files[i % files.len()]).expect("decodes");
                            EvalTransform::STANDARD.apply(&img, "bench").expect("fits")
                        })
                        .collect::<Vec<_>>()
                })
            })
        });
    }
    group.finish();
}

fn augmentation(c: &mut Criterion) {
    let mut group = c.benchmark_group("augment_standard");
    group.throughput(Throughput::Elements(1));
    for size in [32, 64] {
        let cfg = SyntheticConfig { size, ..SyntheticConfig::default() };
        let img = synthetic::labelled(&cfg, 0).0;
        group.bench_with_input(BenchmarkId::from_parameter(size), &img, |b, img| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                black_box(augment(img, &AugmentConfig::standard(), 1, i))
            })
        });
    }
    group.finish();
    let img = synthetic::labelled(&SyntheticConfig::default(), 0).0;
    c.bench_function("eval_noise_32", |b| {
        b.iter(|| black_box(noise::uniform_noise_f32(&img, 0.3, 1, 2)))
    });
}

fn batching(c: &mut Criterion) {
    let train_images = Split::Train.len();
    let source =
        SyntheticImages { config: SyntheticConfig::default(), train_images, eval_images: 0 };
    let indices: Vec<u64> = (0..64).collect();
    let mut group = c.benchmark_group("batch64_synthetic32_augmented");
    group.throughput(Throughput::Elements(64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let cfg = LoaderConfig { augment: AugmentConfig::standard(), ..LoaderConfig::default() };
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| {
                pool.install(|| build_batch(&source, Split::Train, &indices, &cfg).expect("batch"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, synthetic_images, jpeg_eval_pipeline, augmentation, batching);
criterion_main!(benches);
