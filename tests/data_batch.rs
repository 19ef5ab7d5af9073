//! Batching: order, thread-count independence, bounded prefetch, failure budget.

use dnlts::data::augment::AugmentConfig;
use dnlts::data::batch::{build_batch, epoch_order, spawn, LoaderConfig, Order, NO_LABEL};
use dnlts::data::source::{
    EpochStream, ImageSource, Sample, Split, StreamHeldOut, SyntheticImages,
};
use dnlts::data::synthetic::{self, SyntheticConfig};
use dnlts::data::{FailureBudget, SkipReason};
use std::sync::Arc;

fn synthetic() -> SyntheticImages {
    let (train_images, eval_images) = (Split::Train.len(), Split::Validation.len());
    SyntheticImages { config: SyntheticConfig::default(), train_images, eval_images }
}

fn source() -> Arc<SyntheticImages> {
    Arc::new(synthetic())
}

fn loader(threads: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size: 32,
        prefetch: 2,
        threads,
        augment: AugmentConfig::standard(),
        ..LoaderConfig::default()
    }
}

#[test]
fn batches_cover_the_order_in_sequence() {
    let batches: Vec<_> =
        spawn(source(), Split::Train, Order::Range { start: 0, end: 100 }, loader(2))
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let sizes: Vec<usize> = batches.iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [32, 32, 32, 4]);
    let indices: Vec<u64> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(indices, (0..100).collect::<Vec<u64>>());
    let cfg = SyntheticConfig::default();
    for b in &batches {
        assert_eq!(b.pixels.len(), b.len() * 32 * 32 * 3);
        for (i, &label) in b.indices.iter().zip(&b.labels) {
            assert_eq!(label, synthetic::label(&cfg, *i) as i64);
        }
    }
}

#[test]
fn bytes_do_not_depend_on_thread_count() {
    let run = |threads| -> Vec<_> {
        spawn(source(), Split::Train, Order::Range { start: 5, end: 85 }, loader(threads))
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn unlabeled_stream_uses_no_label_and_split_offsets() {
    let src = synthetic();
    let cfg = LoaderConfig { augment: AugmentConfig::default(), ..loader(1) };
    let batch = build_batch(&src, Split::Stream, &[0, 1], &cfg).unwrap();
    assert_eq!(batch.labels, [NO_LABEL, NO_LABEL]);
    let expected = synthetic::unlabeled(&src.config, Split::Stream.range().start);
    assert_eq!(&batch.pixels[..32 * 32 * 3], expected.as_raw().as_slice());
}

#[test]
fn dropping_the_iterator_early_stops_the_producer() {
    let mut it =
        spawn(source(), Split::Stream, Order::Range { start: 0, end: 1 << 30 }, loader(2)).unwrap();
    assert_eq!(it.next().unwrap().unwrap().len(), 32);
    drop(it); // must return: the bounded channel closes and the producer exits
}

#[test]
fn epoch_order_is_a_deterministic_permutation() {
    let a = epoch_order(1000, 1, 0);
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..1000).collect::<Vec<u64>>());
    assert_eq!(a, epoch_order(1000, 1, 0));
    assert_ne!(a, epoch_order(1000, 1, 1));
    let batches: Vec<_> =
        spawn(source(), Split::Train, Order::List(Arc::new(a[..40].to_vec())), loader(2))
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let seen: Vec<u64> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(seen, a[..40]);
}

/// Fails every `every`-th sample.
struct Flaky {
    every: u64,
}

impl ImageSource for Flaky {
    fn image_size(&self) -> i64 {
        4
    }
    fn classes(&self) -> i64 {
        1
    }
    fn len(&self, _: Split) -> u64 {
        1000
    }
    fn load(&self, _: Split, index: u64) -> Result<Sample, SkipReason> {
        if index.is_multiple_of(self.every) {
            return Err(SkipReason::Undecodable);
        }
        Ok(Sample { image: image::RgbImage::new(4, 4), label: 0 })
    }
    fn name(&self, _: Split, index: u64) -> String {
        format!("file-{index}.jpg")
    }
}

#[test]
fn failures_are_skipped_counted_and_listed_within_budget() {
    let cfg = LoaderConfig {
        budget: FailureBudget { max_fraction: 0.2 },
        augment: AugmentConfig::default(),
        ..loader(2)
    };
    let mut it = spawn(
        Arc::new(Flaky { every: 10 }),
        Split::Train,
        Order::Range { start: 0, end: 200 },
        cfg,
    )
    .unwrap();
    let total: usize = it.by_ref().map(|b| b.unwrap().len()).sum();
    assert_eq!(total, 180);
    let skipped = it.skipped();
    assert_eq!(skipped.len(), 20);
    assert!(skipped.iter().any(|s| s.name == "file-190.jpg"));
}

#[test]
fn too_many_failures_stop_with_examples() {
    let cfg = LoaderConfig { augment: AugmentConfig::default(), ..loader(2) };
    let results: Vec<_> = spawn(
        Arc::new(Flaky { every: 10 }),
        Split::Train,
        Order::Range { start: 0, end: 200 },
        cfg,
    )
    .unwrap()
    .collect();
    let err = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(err.contains("file-0.jpg"), "{err}");
    assert!(err.contains("1.00%"), "{err}");
    // It stops at the first check (after 128 samples, i.e. 4 batches) rather than running on.
    assert_eq!(results.len(), 4);
}

#[test]
fn mixed_sizes_in_one_batch_are_an_error() {
    struct Mixed;
    impl ImageSource for Mixed {
        fn image_size(&self) -> i64 {
            4
        }
        fn classes(&self) -> i64 {
            1
        }
        fn len(&self, _: Split) -> u64 {
            2
        }
        fn load(&self, _: Split, i: u64) -> Result<Sample, SkipReason> {
            Ok(Sample { image: image::RgbImage::new(4 + i as u32, 4), label: 0 })
        }
    }
    let err = build_batch(&Mixed, Split::Train, &[0, 1], &LoaderConfig::default()).unwrap_err();
    assert!(err.to_string().contains("same size"), "{err}");
}

/// Figure 2's second regime reads the training split as a stream: every epoch holds each
/// training image once, in an order of its own, without labels; the other splits are the
/// source's own.
#[test]
fn an_epoch_stream_reads_every_training_image_once_per_epoch() {
    let small =
        || SyntheticImages { config: SyntheticConfig::default(), train_images: 12, eval_images: 4 };
    let stream = EpochStream::new(small(), 3);
    let plain = small();
    let epoch = |e: u64| -> Vec<String> {
        (e * 12..(e + 1) * 12).map(|i| stream.name(Split::Stream, i)).collect()
    };
    let mut training: Vec<String> = (0..12).map(|i| plain.name(Split::Train, i)).collect();
    training.sort();
    let (first, second) = (epoch(0), epoch(1));
    for order in [&first, &second] {
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, training, "each training image once per epoch");
    }
    assert_ne!(first, second, "each epoch in its own order");
    let sample = stream.load(Split::Stream, 5).unwrap();
    let index: u64 = first[5].rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(sample.image, plain.load(Split::Train, index).unwrap().image);
    assert_eq!(sample.label, NO_LABEL);
    assert_eq!(
        stream.load(Split::Validation, 2).unwrap(),
        plain.load(Split::Validation, 2).unwrap()
    );
}

/// Another source's stream as held-out images: validation image i is stream image i.
#[test]
fn a_stream_held_out_is_the_streams_first_images() {
    let held = StreamHeldOut { stream: synthetic(), images: 5 };
    assert_eq!(held.len(Split::Validation), 5);
    assert_eq!(held.len(Split::Train), 0);
    let (images, _) = held.labelled(Split::Validation, &[0, 4]);
    let stream = synthetic().stream(0..5);
    assert!(images.equal(&stream.index_select(0, &tch::Tensor::from_slice(&[0i64, 4]))));
}
