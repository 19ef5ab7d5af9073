//! The one data trait: what training, evaluation, previews and exports read. Images are
//! addressed by split and index so that any batch can be rebuilt exactly (resuming, reruns,
//! parallel workers). One adapter per dataset implements it (synthetic, Fashion-MNIST,
//! ImageNet, YFCC100m); [`super::batch`] is the one prefetcher over any of them.

use std::ops::Range;

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::augment::{augment, AugmentConfig};
use super::fashion::{self, FashionMnist, FashionSplit};
use super::synthetic::{self, SyntheticConfig};
use super::{SkipLog, SkipReason};

/// Which images: the three labelled splits, or the unlabelled stream AE pre-training reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Split {
    Train,
    Validation,
    Test,
    /// Unlabelled images, each index a different image (labels [`NO_LABEL`]).
    Stream,
}

impl Split {
    /// The labelled splits.
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];
}

/// Label of unlabelled images.
pub const NO_LABEL: i64 = -1;

/// One image (RGB, `image_size()` square for the pipeline's sources) and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub image: RgbImage,
    pub label: i64,
}

/// Most consecutive images [`ImageSource::labelled`] tries in place of one that cannot be
/// loaded before it gives up on the dataset.
const MAX_REPLACEMENTS: u64 = 1_000;

pub trait ImageSource: Send + Sync {
    /// Side of the square images.
    fn image_size(&self) -> i64;
    fn classes(&self) -> i64;
    /// How many images `split` has.
    fn len(&self, split: Split) -> u64;
    /// Image `index` of `split`, or why it cannot be used (a damaged file, a filtered one).
    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason>;
    /// What image `index` of `split` is called in messages (a file path for real datasets).
    fn name(&self, split: Split, index: u64) -> String {
        format!("{split:?} image {index}")
    }
    /// Where this source lists the files it could not use (real datasets).
    fn skip_log(&self) -> Option<&SkipLog> {
        None
    }
    /// Images N×3×H×W in [0, 1] and labels N (int64) for `indices` of `split`. An image that
    /// cannot be loaded is replaced by the next one that can (and listed in [`skip_log`]), so
    /// batches keep their size; the pipeline checks the failure budget on that list.
    ///
    /// [`skip_log`]: ImageSource::skip_log
    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let samples: Vec<Sample> =
            indices.par_iter().map(|&i| load_or_next(self, split, i)).collect();
        let labels: Vec<i64> = samples.iter().map(|s| s.label).collect();
        let images: Vec<RgbImage> = samples.into_iter().map(|s| s.image).collect();
        (images_to_tensor(&images), Tensor::from_slice(&labels))
    }
    /// Images `indices` of the unlabelled stream, as [`ImageSource::labelled`] makes them.
    fn stream(&self, indices: Range<u64>) -> Tensor {
        let indices: Vec<u64> = indices.collect();
        self.labelled(Split::Stream, &indices).0
    }
}

/// Loads up to `limit` images of `split`, evenly spaced over it (every image when it has no
/// more), in parallel: (how many were tried, the files among them that failed to load).
/// Filter rejections (YFCC's placeholders, small files) are not failures. Nothing is recorded
/// in the source's skip log: this is a look at the files before a run reads them.
pub fn failures_in_sample<S: ImageSource + ?Sized>(
    source: &S,
    split: Split,
    limit: u64,
) -> (u64, Vec<super::Skipped>) {
    let len = source.len(split);
    let tried = len.min(limit);
    let mut failed = (0..tried)
        .into_par_iter()
        .filter_map(|k| {
            // k·len/tried: evenly spaced, every index when tried == len.
            let index = (k as u128 * len as u128 / tried.max(1) as u128) as u64;
            match source.load(split, index) {
                Err(reason) if reason.is_failure() => {
                    Some(super::Skipped { name: source.name(split, index), reason })
                }
                _ => None,
            }
        })
        .collect::<Vec<_>>();
    failed.sort_by(|a, b| a.name.cmp(&b.name));
    (tried, failed)
}

/// Image `index` of `split`, or the first loadable one after it (wrapping around a labelled
/// split; stream indices past the end are the source's to wrap, with new augmentations).
fn load_or_next<S: ImageSource + ?Sized>(source: &S, split: Split, index: u64) -> Sample {
    let len = source.len(split).max(1);
    for step in 0..MAX_REPLACEMENTS.min(len) {
        let at = if split == Split::Stream { index + step } else { (index + step) % len };
        match source.load(split, at) {
            Ok(sample) => return sample,
            Err(reason) => {
                if let Some(log) = source.skip_log() {
                    log.record(source.name(split, at), reason);
                }
            }
        }
    }
    // Only a dataset far over any failure budget gets here; a grey image keeps the batch's
    // shape, and the pipeline reports the breach from the skip log when the stage ends.
    let side = source.image_size() as u32;
    Sample { image: RgbImage::from_pixel(side, side, image::Rgb([128; 3])), label: 0 }
}

/// A labelled range as an index list.
pub fn range(start: u64, end: u64) -> Vec<u64> {
    (start..end).collect()
}

/// RGB images of one size as an N×3×H×W float tensor in [0, 1].
pub fn images_to_tensor(images: &[RgbImage]) -> Tensor {
    let (width, height) = images.first().map_or((0, 0), |image| image.dimensions());
    let pixels: Vec<u8> = images.iter().flat_map(|image| image.as_raw().iter().copied()).collect();
    Tensor::from_slice(&pixels)
        .view([images.len() as i64, height as i64, width as i64, 3])
        .permute([0, 3, 1, 2])
        .to_kind(tch::Kind::Float)
        / 255.0
}

/// [0, 1] images N×3×H×W back to 8-bit RGB (rounded), for nMI, histograms and picture grids.
pub fn tensor_to_images(images: &Tensor) -> Vec<RgbImage> {
    let size = images.size();
    let (n, height, width) = (size[0], size[2] as u32, size[3] as u32);
    let bytes = (images.detach().to_device(tch::Device::Cpu).clamp(0.0, 1.0) * 255.0)
        .round()
        .to_kind(tch::Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    let bytes: Vec<u8> = Vec::try_from(bytes.flatten(0, -1)).expect("uint8 tensor");
    let per_image = (height * width * 3) as usize;
    (0..n as usize)
        .map(|i| {
            let pixels = bytes[i * per_image..(i + 1) * per_image].to_vec();
            RgbImage::from_raw(width, height, pixels).expect("sizes match")
        })
        .collect()
}

/// The embedded synthetic world as an [`ImageSource`]: the first `train_images` images of the
/// generator's training range, `eval_images` of validation and test, and the unlabelled
/// stream. Images are generated in parallel on demand; the bytes never depend on threads.
pub struct SyntheticImages {
    pub config: SyntheticConfig,
    pub train_images: u64,
    pub eval_images: u64,
}

impl ImageSource for SyntheticImages {
    fn image_size(&self) -> i64 {
        self.config.size as i64
    }

    fn classes(&self) -> i64 {
        self.config.classes as i64
    }

    fn len(&self, split: Split) -> u64 {
        match split {
            Split::Train => self.train_images,
            Split::Validation | Split::Test => self.eval_images,
            Split::Stream => split.len(),
        }
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        let global = split.range().start + index;
        Ok(match split {
            Split::Stream => {
                Sample { image: synthetic::unlabeled(&self.config, global), label: NO_LABEL }
            }
            _ => {
                let (image, class) = synthetic::labelled(&self.config, global);
                Sample { image, label: class as i64 }
            }
        })
    }
}

/// The first images of one split, decoded once and kept as 8-bit RGB (a quarter of the f32
/// size): repeated passes over an evaluation set (eleven noise levels, two tables) decode
/// JPEGs or generate images once. Every source makes its images from bytes, so reading them
/// back from the cache gives bit-identical tensors.
pub struct DecodedSplit {
    split: Split,
    /// Per image 3×H×W bytes, images one after another.
    pixels: Vec<u8>,
    labels: Vec<i64>,
    /// [3, H, W].
    shape: [i64; 3],
}

impl DecodedSplit {
    /// Decodes images `0..images` of `split` from `source`, `batch` at a time.
    pub fn new(source: &dyn ImageSource, split: Split, images: u64, batch: u64) -> Self {
        let side = source.image_size();
        let mut decoded =
            DecodedSplit { split, pixels: Vec::new(), labels: Vec::new(), shape: [3, side, side] };
        for start in (0..images).step_by(batch.max(1) as usize) {
            let (x, y) = source.labelled(split, &range(start, (start + batch).min(images)));
            let bytes = (x * 255.0).round().to_kind(tch::Kind::Uint8).contiguous();
            decoded.pixels.extend(Vec::<u8>::try_from(bytes.flatten(0, -1)).expect("uint8"));
            decoded.labels.extend(Vec::<i64>::try_from(y).expect("int64 labels"));
        }
        decoded
    }

    pub fn len(&self) -> u64 {
        self.labels.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `source` with this split's cached images read from memory.
    pub fn over<'a>(&'a self, source: &'a dyn ImageSource) -> CachedSource<'a> {
        CachedSource { decoded: self, source }
    }

    fn read(&self, indices: &[u64]) -> (Tensor, Tensor) {
        let per_image = self.shape.iter().product::<i64>() as usize;
        let mut pixels = Vec::with_capacity(indices.len() * per_image);
        for &i in indices {
            pixels.extend_from_slice(&self.pixels[i as usize * per_image..][..per_image]);
        }
        let [c, h, w] = self.shape;
        let images = Tensor::from_slice(&pixels).view([indices.len() as i64, c, h, w]);
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i as usize]).collect();
        (images.to_kind(tch::Kind::Float) / 255.0, Tensor::from_slice(&labels))
    }
}

/// An [`ImageSource`] that reads the cached images of a [`DecodedSplit`] from memory and
/// everything else from the source behind it.
pub struct CachedSource<'a> {
    decoded: &'a DecodedSplit,
    source: &'a dyn ImageSource,
}

impl ImageSource for CachedSource<'_> {
    fn image_size(&self) -> i64 {
        self.source.image_size()
    }

    fn classes(&self) -> i64 {
        self.source.classes()
    }

    fn len(&self, split: Split) -> u64 {
        self.source.len(split)
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        self.source.load(split, index)
    }

    fn name(&self, split: Split, index: u64) -> String {
        self.source.name(split, index)
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        self.source.skip_log()
    }

    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let cached = split == self.decoded.split && indices.iter().all(|&i| i < self.decoded.len());
        if cached {
            self.decoded.read(indices)
        } else {
            self.source.labelled(split, indices)
        }
    }

    fn stream(&self, indices: Range<u64>) -> Tensor {
        self.source.stream(indices)
    }
}

/// Fashion-MNIST as an [`ImageSource`] (32×32 RGB, see [`super::fashion`]): the labelled
/// splits come from the IDX files, capped at `train_images` and `eval_images`. Its AE
/// pre-training stream is the training images under the standard augmentation, one
/// (image, augmentation) pair per stream index, so no stream image repeats exactly.
pub struct FashionImages {
    train: FashionMnist,
    validation: FashionMnist,
    test: FashionMnist,
    train_images: u64,
    eval_images: u64,
    augment_seed: u64,
}

impl FashionImages {
    /// Reads the IDX files of `dir` (all three splits, ~55 MB in memory).
    pub fn load(
        dir: &std::path::Path,
        train_images: u64,
        eval_images: u64,
        augment_seed: u64,
    ) -> Result<Self, super::DataError> {
        Ok(FashionImages {
            train: fashion::load(dir, FashionSplit::Train)?,
            validation: fashion::load(dir, FashionSplit::Validation)?,
            test: fashion::load(dir, FashionSplit::Test)?,
            train_images,
            eval_images,
            augment_seed,
        })
    }

    /// The IDX rows behind a labelled split (the stream reads the training rows).
    fn split(&self, split: Split) -> &FashionMnist {
        match split {
            Split::Train | Split::Stream => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}

impl ImageSource for FashionImages {
    fn image_size(&self) -> i64 {
        fashion::SIZE as i64
    }

    fn classes(&self) -> i64 {
        fashion::CLASSES as i64
    }

    fn len(&self, split: Split) -> u64 {
        let cap = match split {
            Split::Train => self.train_images,
            Split::Validation | Split::Test => self.eval_images,
            Split::Stream => return split.len(),
        };
        (self.split(split).labels.len() as u64).min(cap)
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        if split == Split::Stream {
            // One (image, augmentation) pair per stream index: no stream image repeats exactly.
            let image = self.train.image((index % self.train.labels.len() as u64) as usize);
            let image = augment(&image, &AugmentConfig::standard(), self.augment_seed, index);
            return Ok(Sample { image, label: NO_LABEL });
        }
        let set = self.split(split);
        Ok(Sample { image: set.image(index as usize), label: set.labels[index as usize] as i64 })
    }
}

/// The labelled splits of one source and the unlabelled stream of another: ImageNet and
/// YFCC100m as the paper pairs them.
pub struct WithStream<L, S> {
    pub labelled: L,
    pub stream: S,
}

impl<L: ImageSource, S: ImageSource> ImageSource for WithStream<L, S> {
    fn image_size(&self) -> i64 {
        self.labelled.image_size()
    }

    fn classes(&self) -> i64 {
        self.labelled.classes()
    }

    fn len(&self, split: Split) -> u64 {
        self.part(split).len(split)
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        self.part(split).load(split, index)
    }

    fn name(&self, split: Split, index: u64) -> String {
        self.part(split).name(split, index)
    }

    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        self.part(split).labelled(split, indices)
    }
}

impl<L: ImageSource, S: ImageSource> WithStream<L, S> {
    fn part(&self, split: Split) -> &dyn ImageSource {
        match split {
            Split::Stream => &self.stream,
            _ => &self.labelled,
        }
    }
}

/// A labelled source whose training split is read as an unlabelled stream, epoch after
/// epoch, each epoch in its own seeded order: Figure 2's second regime, where the AE trains on
/// ImageNet for many epochs instead of on YFCC100m's never-repeating stream. The other splits
/// are the labelled source's.
pub struct EpochStream<L> {
    labelled: L,
    seed: u64,
    /// The order of the epoch read last (1.3 M indices for ImageNet: made once per epoch).
    order: std::sync::Mutex<(u64, std::sync::Arc<Vec<u64>>)>,
}

impl<L: ImageSource> EpochStream<L> {
    pub fn new(labelled: L, seed: u64) -> Self {
        let order = super::batch::epoch_order(labelled.len(Split::Train), seed, 0);
        EpochStream { labelled, seed, order: std::sync::Mutex::new((0, order.into())) }
    }

    /// Stream index `index` as an index of the training split.
    fn train_index(&self, index: u64) -> u64 {
        let n = self.labelled.len(Split::Train).max(1);
        let epoch = index / n;
        let mut order = self.order.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if order.0 != epoch {
            *order = (epoch, super::batch::epoch_order(n, self.seed, epoch).into());
        }
        order.1[(index % n) as usize]
    }

    /// The split and index that `index` of `split` reads.
    fn locate(&self, split: Split, index: u64) -> (Split, u64) {
        match split {
            Split::Stream => (Split::Train, self.train_index(index)),
            _ => (split, index),
        }
    }
}

impl<L: ImageSource> ImageSource for EpochStream<L> {
    fn image_size(&self) -> i64 {
        self.labelled.image_size()
    }

    fn classes(&self) -> i64 {
        self.labelled.classes()
    }

    /// The stream never ends: it starts another epoch.
    fn len(&self, split: Split) -> u64 {
        match split {
            Split::Stream => u64::MAX,
            _ => self.labelled.len(split),
        }
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        let (inner, at) = self.locate(split, index);
        let sample = self.labelled.load(inner, at)?;
        let label = if split == Split::Stream { NO_LABEL } else { sample.label };
        Ok(Sample { label, ..sample })
    }

    fn name(&self, split: Split, index: u64) -> String {
        let (inner, at) = self.locate(split, index);
        self.labelled.name(inner, at)
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        self.labelled.skip_log()
    }
}

/// The first `images` of another source's unlabelled stream as the validation split: held-out
/// images for an AE that never trained on that stream (YFCC100m validating the AE of Figure 2's
/// second regime, trained on ImageNet). It has no other split.
pub struct StreamHeldOut<S> {
    pub stream: S,
    pub images: u64,
}

impl<S: ImageSource> ImageSource for StreamHeldOut<S> {
    fn image_size(&self) -> i64 {
        self.stream.image_size()
    }

    fn classes(&self) -> i64 {
        self.stream.classes()
    }

    fn len(&self, split: Split) -> u64 {
        match split {
            Split::Validation => self.images.min(self.stream.len(Split::Stream)),
            _ => 0,
        }
    }

    fn load(&self, _: Split, index: u64) -> Result<Sample, SkipReason> {
        self.stream.load(Split::Stream, index)
    }

    fn name(&self, _: Split, index: u64) -> String {
        self.stream.name(Split::Stream, index)
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        self.stream.skip_log()
    }
}

/// A shared source reads as the source itself (one YFCC100m index behind several views).
impl<T: ImageSource + ?Sized> ImageSource for std::sync::Arc<T> {
    fn image_size(&self) -> i64 {
        (**self).image_size()
    }

    fn classes(&self) -> i64 {
        (**self).classes()
    }

    fn len(&self, split: Split) -> u64 {
        (**self).len(split)
    }

    fn load(&self, split: Split, index: u64) -> Result<Sample, SkipReason> {
        (**self).load(split, index)
    }

    fn name(&self, split: Split, index: u64) -> String {
        (**self).name(split, index)
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        (**self).skip_log()
    }

    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        (**self).labelled(split, indices)
    }

    fn stream(&self, indices: Range<u64>) -> Tensor {
        (**self).stream(indices)
    }
}
