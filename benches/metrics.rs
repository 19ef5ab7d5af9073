//! Criterion benchmarks of the analysis metrics. Inputs come from a fixed xorshift stream so
//! every run measures the same work.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dnlts::metrics::bootstrap::{self, Hits};
use dnlts::metrics::fca::{self, Context};
use dnlts::metrics::lab;
use dnlts::metrics::nmi::{self, ImageShape};
use std::hint::black_box;
use std::time::Duration;

const SHAPE: ImageShape = ImageShape { height: 256, width: 256, channels: 3 };
/// Distinct images behind the 1,000 pairs; cycled so the set stays a few MiB.
const DISTINCT_IMAGES: usize = 32;
const PAIRS: usize = 1000;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A smooth image plus noise: realistic joint histograms (neither diagonal nor uniform).
fn image(rng: &mut XorShift) -> Vec<u8> {
    let phase = (rng.next() % 256) as usize;
    (0..SHAPE.len())
        .map(|k| ((k / 3 % 256 + k / 768 + phase) as u64 / 2 + rng.next() % 64) as u8)
        .collect()
}

fn context(rng: &mut XorShift, n: usize, density_permille: u64) -> Vec<Vec<bool>> {
    (0..n).map(|_| (0..n).map(|_| rng.next() % 1000 < density_permille).collect()).collect()
}

fn bench_nmi(c: &mut Criterion) {
    let mut rng = XorShift(2018);
    let images: Vec<Vec<u8>> = (0..DISTINCT_IMAGES).map(|_| image(&mut rng)).collect();
    let mut group = c.benchmark_group("nmi");
    group.throughput(Throughput::Elements(SHAPE.len() as u64));
    group.bench_function("pair_256x256x3", |b| {
        b.iter(|| {
            nmi::nmi_of_images(black_box(&images[0]), black_box(&images[1]), SHAPE, 256).unwrap()
        })
    });
    group.throughput(Throughput::Elements((PAIRS * SHAPE.len()) as u64));
    group.sample_size(10);
    let originals: Vec<&[u8]> =
        (0..PAIRS).map(|k| images[k % DISTINCT_IMAGES].as_slice()).collect();
    let reconstructions: Vec<&[u8]> =
        (0..PAIRS).map(|k| images[(k + 1) % DISTINCT_IMAGES].as_slice()).collect();
    group.bench_function("intra_1000_pairs", |b| {
        b.iter(|| {
            nmi::intra_nmi(black_box(&originals), black_box(&reconstructions), SHAPE, 256).unwrap()
        })
    });
    let samples: Vec<&[u8]> =
        (0..2 * PAIRS).map(|k| images[k % DISTINCT_IMAGES].as_slice()).collect();
    group.bench_function("inter_1000_pairs", |b| {
        b.iter(|| nmi::inter_nmi(black_box(&samples), SHAPE, 256).unwrap())
    });
    group.finish();
}

fn bench_lab(c: &mut Criterion) {
    let pixels = image(&mut XorShift(7));
    let mut group = c.benchmark_group("lab");
    group.throughput(Throughput::Elements((SHAPE.height * SHAPE.width) as u64));
    group.bench_function("srgb_to_lab_256x256", |b| {
        b.iter(|| lab::image_to_lab(black_box(&pixels)).unwrap())
    });
    group.finish();
}

fn bench_fca(c: &mut Criterion) {
    let mut rng = XorShift(42);
    let mut group = c.benchmark_group("fca");
    group.sample_size(10);
    // Density 0.3: a 64×64 context then has about 10^4 concepts; at 0.5 it has ~5·10^5.
    for n in [5, 16, 64] {
        let incidence = context(&mut rng, n, 300);
        group.bench_with_input(
            BenchmarkId::new("concepts_and_covers", format!("{n}x{n}")),
            &incidence,
            |b, m| {
                b.iter(|| {
                    let context = Context::from_matrix(m);
                    let concepts = fca::concepts(&context);
                    let edges = fca::covering_edges(&context, &concepts);
                    (concepts.len(), edges.len())
                })
            },
        );
    }
    group.finish();
}

/// What the paired bootstrap of a run costs beyond what does not grow with the images (Table
/// 2's analysis and the claims on each resample, timed by every run): 1,000 resamples of the
/// Tables' pass, 35 views (7 views × 5 classifiers) at top-1 and top-5, at 5,000 and 50,000
/// images (the paper's evaluation).
fn bench_bootstrap(c: &mut Criterion) {
    let mut group = c.benchmark_group("bootstrap_1000_resamples_70_bitsets");
    group.sample_size(10);
    for images in [5_000usize, 50_000] {
        let mut rng = XorShift(26);
        let views: Vec<Hits> = (0..70)
            .map(|_| {
                Hits::from_bools(&(0..images).map(|_| rng.next() % 10 < 6).collect::<Vec<_>>())
            })
            .collect();
        group.throughput(Throughput::Elements(images as u64));
        group.bench_with_input(BenchmarkId::from_parameter(images), &views, |b, views| {
            b.iter(|| {
                bootstrap::bootstrap(images, 1000, 2018, |weights| {
                    views.iter().map(|h| h.weighted_count(weights)).sum::<u64>()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench_nmi, bench_lab, bench_fca, bench_bootstrap
}
criterion_main!(benches);
