//! Fashion-MNIST from IDX files (gzipped or plain), upsampled 28→32 with Pillow's bilinear
//! filter and replicated to three channels.
//!
//! Files looked for in the folder: `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
//! `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`. The Debian package
//! `dataset-fashion-mnist` installs them in [`DEBIAN_DIR`] (checked with `dpkg -c`).
//!
//! Splits: `Train` = training file rows `0..55000`, `Validation` = rows `55000..60000`,
//! `Test` = the t10k file (the usual held-out split). Smaller files are split in the same
//! proportion (last 1/12 of the training rows is validation).

use super::resize::resize_bilinear;
use super::{read_regular, DataError, Result};
use flate2::read::GzDecoder;
use image::RgbImage;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where `apt-get install dataset-fashion-mnist` puts the files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";
pub const CLASSES: u32 = 10;
/// Output size after upsampling.
pub const SIZE: u32 = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FashionSplit {
    Train,
    Validation,
    Test,
}

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file of `u8` with `expected_dims` dimensions; gzip is detected by its magic.
pub fn read_idx(path: &Path, expected_dims: usize) -> Result<IdxArray> {
    // A FIFO or device in place of the file is an error naming it, never opened.
    let raw = read_regular(path)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| {
            bad(path, format!("gzip stream is corrupt ({e}); download the file again"))
        })?;
        out
    } else {
        raw
    };
    parse_idx(path, &bytes, expected_dims)
}

fn bad(path: &Path, message: String) -> DataError {
    DataError::BadFormat { file: path.to_path_buf(), message }
}

fn parse_idx(path: &Path, bytes: &[u8], expected_dims: usize) -> Result<IdxArray> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(path, "not an IDX file (magic must start with two zero bytes); pass the *-ubyte or *-ubyte.gz file".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(
            path,
            format!("IDX element type 0x{:02x}, expected 0x08 (unsigned byte)", bytes[2]),
        ));
    }
    let ndims = bytes[3] as usize;
    if ndims != expected_dims {
        return Err(bad(path, format!("IDX has {ndims} dimensions, expected {expected_dims} (images: 3, labels: 1); check the file names")));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(bad(path, "IDX header is truncated; download the file again".into()));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    let data = &bytes[header..];
    if data.len() != expected {
        return Err(bad(path, format!("IDX header promises {expected} bytes of data ({dims:?}) but the file holds {}; download the file again", data.len())));
    }
    Ok(IdxArray { dims, data: data.to_vec() })
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| DataError::BadFormat {
            file: dir.join(stem),
            message: "missing (plain or .gz); install `dataset-fashion-mnist` or pass the folder holding the IDX files".into(),
        })
}

/// One split of Fashion-MNIST in memory (28×28 grey, as stored).
#[derive(Clone, Debug)]
pub struct FashionMnist {
    pub rows: usize,
    pub cols: usize,
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

/// The folder to use: `dir` if given, else [`DEBIAN_DIR`] when it exists.
pub fn locate(dir: Option<&Path>) -> Result<PathBuf> {
    let path = dir.map(Path::to_path_buf).unwrap_or_else(|| DEBIAN_DIR.into());
    if path.is_dir() {
        Ok(path)
    } else {
        Err(DataError::MissingFolder(path))
    }
}

pub fn load(dir: &Path, split: FashionSplit) -> Result<FashionMnist> {
    let prefix = if split == FashionSplit::Test { "t10k" } else { "train" };
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx(&images_path, 3)?;
    let labels = read_idx(&labels_path, 1)?;
    if images.dims[0] != labels.dims[0] {
        return Err(bad(
            &labels_path,
            format!(
                "{} labels for {} images in {}; use files of the same split",
                labels.dims[0],
                images.dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some(pos) = labels.data.iter().position(|&l| l as u32 >= CLASSES) {
        return Err(DataError::UnknownLabel {
            file: labels_path,
            line: pos,
            label: labels.data[pos].to_string(),
            known: CLASSES as usize,
        });
    }
    let (rows, cols) = (images.dims[1], images.dims[2]);
    let n = images.dims[0];
    let valid_start = n - n / 12;
    let range = match split {
        FashionSplit::Train => 0..valid_start,
        FashionSplit::Validation => valid_start..n,
        FashionSplit::Test => 0..n,
    };
    Ok(FashionMnist {
        rows,
        cols,
        images: images.data[range.start * rows * cols..range.end * rows * cols].to_vec(),
        labels: labels.data[range].to_vec(),
    })
}

impl FashionMnist {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` as 32×32 RGB: grey replicated to three channels, Pillow-bilinear upsampled.
    pub fn image(&self, i: usize) -> RgbImage {
        let px = self.rows * self.cols;
        let grey = &self.images[i * px..(i + 1) * px];
        let rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        let img = RgbImage::from_raw(self.cols as u32, self.rows as u32, rgb)
            .expect("buffer matches the IDX dimensions");
        resize_bilinear(&img, SIZE, SIZE)
    }
}
