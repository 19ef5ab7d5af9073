//! What training and evaluation read: images as [0, 1] float tensors, addressed by index so
//! that any batch can be rebuilt exactly (resuming, reruns, parallel workers).

use std::ops::Range;

use image::RgbImage;
use rayon::prelude::*;
use tch::Tensor;

use super::augment::{augment, AugmentConfig};
use super::fashion::{self, FashionMnist, FashionSplit};
pub use super::synthetic::Split;
use super::synthetic::{self, SyntheticConfig};

pub trait ImageSource: Sync {
    /// Side of the square images.
    fn image_size(&self) -> i64;
    fn classes(&self) -> i64;
    /// How many labelled images `split` has.
    fn len(&self, split: Split) -> u64;
    /// Images N×3×H×W in [0, 1] and labels N (int64) for `indices` of `split`.
    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor);
    /// Images of the unlabelled stream (AE pre-training); each index is one image, never the
    /// same image as another index, and none of them in a labelled split.
    fn stream(&self, indices: Range<u64>) -> Tensor;
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
        }
    }

    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let start = split.range().start;
        let samples: Vec<(RgbImage, u32)> =
            indices.par_iter().map(|&i| synthetic::labelled(&self.config, start + i)).collect();
        let labels: Vec<i64> = samples.iter().map(|(_, label)| *label as i64).collect();
        let images: Vec<RgbImage> = samples.into_iter().map(|(image, _)| image).collect();
        (images_to_tensor(&images), Tensor::from_slice(&labels))
    }

    fn stream(&self, indices: Range<u64>) -> Tensor {
        let images: Vec<RgbImage> =
            indices.into_par_iter().map(|i| synthetic::unlabeled(&self.config, i)).collect();
        images_to_tensor(&images)
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

    fn split(&self, split: Split) -> &FashionMnist {
        match split {
            Split::Train => &self.train,
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
        let cap = if split == Split::Train { self.train_images } else { self.eval_images };
        (self.split(split).labels.len() as u64).min(cap)
    }

    fn labelled(&self, split: Split, indices: &[u64]) -> (Tensor, Tensor) {
        let set = self.split(split);
        let images: Vec<RgbImage> = indices.par_iter().map(|&i| set.image(i as usize)).collect();
        let labels: Vec<i64> = indices.iter().map(|&i| set.labels[i as usize] as i64).collect();
        (images_to_tensor(&images), Tensor::from_slice(&labels))
    }

    fn stream(&self, indices: Range<u64>) -> Tensor {
        let n = self.train.labels.len() as u64;
        let standard = AugmentConfig::standard();
        let images: Vec<RgbImage> = indices
            .into_par_iter()
            .map(|i| augment(&self.train.image((i % n) as usize), &standard, self.augment_seed, i))
            .collect();
        images_to_tensor(&images)
    }
}
