//! The one prefetcher: batches of any [`ImageSource`] split, built in parallel with rayon and
//! prefetched on a bounded channel.
//!
//! A producer thread owns a rayon pool of `threads` threads; each batch's samples are made with
//! an indexed parallel map and collected in index order, so the bytes do not depend on the
//! thread count. At most `prefetch` finished batches wait in the channel, plus the one being
//! built: memory is bounded whatever the dataset size.

use super::augment::{augment, AugmentConfig};
use super::source::{ImageSource, Split};
pub use super::source::{Sample, NO_LABEL};
use super::synthetic;
use super::{DataError, FailureBudget, Result, SampleRng, SkipLog, SkipReason, Skipped};
use rayon::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// N images of H×W×3 bytes (NHWC, RGB) with their labels and dataset indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub indices: Vec<u64>,
    pub height: u32,
    pub width: u32,
    /// `len() == indices.len() * height * width * 3`.
    pub pixels: Vec<u8>,
    pub labels: Vec<i64>,
    /// Samples of this batch that could not be loaded (left out of `pixels`).
    pub skipped: Vec<Skipped>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Which sample indices to visit, in order.
#[derive(Clone, Debug)]
pub enum Order {
    /// Consecutive indices (streams: each index used once).
    Range { start: u64, end: u64 },
    /// An explicit list (e.g. a shuffled epoch from [`epoch_order`]).
    List(Arc<Vec<u64>>),
}

impl Order {
    fn len(&self) -> u64 {
        match self {
            Order::Range { start, end } => end.saturating_sub(*start),
            Order::List(list) => list.len() as u64,
        }
    }

    fn chunk(&self, from: u64, count: u64) -> Vec<u64> {
        match self {
            Order::Range { start, .. } => (start + from..start + from + count).collect(),
            Order::List(list) => list[from as usize..(from + count) as usize].to_vec(),
        }
    }
}

/// Fisher–Yates permutation of `0..n` for one epoch, deterministic in `(seed, epoch)`.
pub fn epoch_order(n: u64, seed: u64, epoch: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..n).collect();
    let mut rng = SampleRng::new(seed, epoch, 0xE90C);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Finished batches that may wait in the channel.
    pub prefetch: usize,
    /// Threads of the loader's own rayon pool.
    pub threads: usize,
    pub augment: AugmentConfig,
    /// Seed of the augmentation streams (sample index is the other half of the key).
    pub augment_seed: u64,
    pub budget: FailureBudget,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            prefetch: 4,
            threads: 2,
            augment: AugmentConfig::default(),
            augment_seed: synthetic::DEFAULT_SEED,
            budget: FailureBudget::default(),
        }
    }
}

/// Builds one batch of `split` in the current rayon pool. Failed samples are left out and
/// listed.
pub fn build_batch(
    source: &dyn ImageSource,
    split: Split,
    indices: &[u64],
    config: &LoaderConfig,
) -> Result<Batch> {
    let loaded: Vec<(u64, std::result::Result<Sample, SkipReason>)> = indices
        .par_iter()
        .map(|&i| {
            let sample = source.load(split, i).map(|mut s| {
                s.image = augment(&s.image, &config.augment, config.augment_seed, i);
                s
            });
            (i, sample)
        })
        .collect();
    assemble(source, split, loaded)
}

fn assemble(
    source: &dyn ImageSource,
    split: Split,
    loaded: Vec<(u64, std::result::Result<Sample, SkipReason>)>,
) -> Result<Batch> {
    let mut batch = Batch {
        indices: Vec::new(),
        height: 0,
        width: 0,
        pixels: Vec::new(),
        labels: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, sample) in loaded {
        let sample = match sample {
            Ok(s) => s,
            Err(reason) => {
                let name = source.name(split, index);
                batch.skipped.push(Skipped { name, reason });
                continue;
            }
        };
        if batch.indices.is_empty() {
            (batch.width, batch.height) = sample.image.dimensions();
        } else if sample.image.dimensions() != (batch.width, batch.height) {
            return Err(DataError::BadFormat {
                file: source.name(split, index).into(),
                message: format!(
                    "image is {:?} but the batch is {}x{}; give every sample the same size (resize/crop transform)",
                    sample.image.dimensions(),
                    batch.width,
                    batch.height
                ),
            });
        }
        batch.indices.push(index);
        batch.labels.push(sample.label);
        batch.pixels.extend_from_slice(sample.image.as_raw());
    }
    Ok(batch)
}

/// Iterator over prefetched batches; dropping it stops the producer.
pub struct Prefetcher {
    receiver: Option<Receiver<Result<Batch>>>,
    producer: Option<JoinHandle<()>>,
    skip_log: Arc<SkipLog>,
}

impl Prefetcher {
    /// Every sample skipped so far, sorted by name.
    pub fn skipped(&self) -> Vec<Skipped> {
        self.skip_log.snapshot()
    }
}

impl Iterator for Prefetcher {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Closing the channel makes the producer's next send fail, so it stops.
        self.receiver.take();
        if let Some(handle) = self.producer.take() {
            let _ = handle.join();
        }
    }
}

/// Starts a producer thread that sends batches on a channel holding at most `prefetch` of them.
/// `produce` must stop when a send fails (the consumer dropped the iterator).
fn spawn_producer(
    prefetch: usize,
    produce: impl FnOnce(SyncSender<Result<Batch>>, Arc<SkipLog>) + Send + 'static,
) -> Prefetcher {
    let (sender, receiver) = sync_channel(prefetch.max(1));
    let skip_log = Arc::new(SkipLog::default());
    let log = Arc::clone(&skip_log);
    let producer = std::thread::spawn(move || produce(sender, log));
    Prefetcher { receiver: Some(receiver), producer: Some(producer), skip_log }
}

/// A rayon pool of `threads` threads for one loader.
pub fn loader_pool(threads: usize) -> Result<rayon::ThreadPool> {
    if threads == 0 {
        return Err(DataError::InvalidValue {
            name: "threads",
            value: "0".into(),
            fix: "use at least one loader thread",
        });
    }
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| {
        DataError::InvalidValue {
            name: "threads",
            value: format!("{threads} ({e})"),
            fix: "use fewer loader threads",
        }
    })
}

/// Starts loading `order` of `split` from `source` in batches. The failure budget is checked
/// after every batch once 100 samples were seen, and at the end; a breach is sent as the last
/// item.
pub fn spawn(
    source: Arc<dyn ImageSource>,
    split: Split,
    order: Order,
    config: LoaderConfig,
) -> Result<Prefetcher> {
    if config.batch_size == 0 {
        return Err(DataError::InvalidValue {
            name: "batch_size",
            value: "0".into(),
            fix: "use a batch size of at least 1",
        });
    }
    let pool = loader_pool(config.threads)?;
    Ok(spawn_producer(config.prefetch, move |sender, log| {
        let total = order.len();
        let mut from = 0;
        while from < total {
            let count = (config.batch_size as u64).min(total - from);
            let indices = order.chunk(from, count);
            from += count;
            let batch = pool.install(|| build_batch(source.as_ref(), split, &indices, &config));
            let batch = batch.and_then(|b| {
                b.skipped.iter().for_each(|s| log.record(s.name.clone(), s.reason));
                if from >= 100.min(total) {
                    config.budget.check(from, &log.snapshot())?;
                }
                Ok(b)
            });
            let stop = batch.is_err();
            if sender.send(batch).is_err() || stop {
                return;
            }
        }
    }))
}
