//! Images per second through the SegNet and the scaled classifiers, forward and
//! forward+backward, on the CPU with libtorch's default thread count.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dnlts::models::classifier::Classifier;
use dnlts::models::segnet::{AeMode, AutoEncoder, SegNetConfig};
use dnlts::models::{Family, Scale};
use tch::{Device, Kind, Tensor};

fn segnet(c: &mut Criterion) {
    let mut group = c.benchmark_group("segnet");
    group.sample_size(10);
    let cases = [
        ("scaled/8", SegNetConfig::scaled(8, 5), 32, 1),
        ("scaled/8", SegNetConfig::scaled(8, 5), 32, 64),
        ("paper", SegNetConfig::paper(), 224, 1),
        ("paper", SegNetConfig::paper(), 224, 4),
    ];
    for (name, config, size, batch) in cases {
        let ae = AutoEncoder::new(config, Device::Cpu);
        let images = Tensor::rand([batch, 3, size, size], (Kind::Float, Device::Cpu));
        let id = format!("{name}/{size}px/batch{batch}");
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("forward", &id), |b| {
            b.iter(|| tch::no_grad(|| ae.forward(&images, AeMode::Eval)))
        });
        group.bench_function(BenchmarkId::new("forward_backward", &id), |b| {
            b.iter(|| {
                let loss =
                    ae.forward(&images, AeMode::Pretrain).mse_loss(&images, tch::Reduction::Mean);
                loss.backward();
            })
        });
    }
    group.finish();
}

fn classifiers(c: &mut Criterion) {
    let mut group = c.benchmark_group("classifier_scaled_32px_batch64");
    group.sample_size(10);
    let scale = Scale::Scaled { width_divisor: 8, image_size: 32 };
    let images = Tensor::rand([64, 3, 32, 32], (Kind::Float, Device::Cpu));
    let labels = Tensor::zeros([64], (Kind::Int64, Device::Cpu));
    group.throughput(Throughput::Elements(64));
    for family in Family::ALL {
        let classifier = Classifier::builtin(family, scale, 10, Device::Cpu);
        group.bench_function(BenchmarkId::new("forward", family.name()), |b| {
            b.iter(|| tch::no_grad(|| classifier.logits(&images, false)))
        });
        group.bench_function(BenchmarkId::new("forward_backward", family.name()), |b| {
            b.iter(|| classifier.logits(&images, true).cross_entropy_for_logits(&labels).backward())
        });
    }
    group.finish();
}

criterion_group!(benches, segnet, classifiers);
criterion_main!(benches);
