//! One split of any [`ImageSource`] written as an ImageFolder tree — `DIR/<class>/<index>.png`
//! plus `DIR/MANIFEST.sha256` — so a model can be trained elsewhere (PyTorch's
//! `torchvision.datasets.ImageFolder`) on exactly the images the pipeline reads, then plugged
//! back in with `dnlts reproduce --classifier`.
//!
//! The PNGs hold the 8-bit pixels the source makes; every source builds its [0, 1] tensors as
//! `byte / 255`, so reading a PNG back gives bit-identical tensors. Class folders are the
//! label, zero-padded (`00`, `01`, …), so that sorting them — as ImageFolder does — gives the
//! pipeline's label order.

use std::path::Path;

use super::preview::encode_png;
use super::source::{range, tensor_to_images, ImageSource, Split};
use super::{io_err, DataError, Result};

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    pub images: u64,
    pub classes: i64,
    /// Files listed in the manifest (the PNGs).
    pub files: usize,
}

/// The folder of class `label` among `classes`: the label, zero-padded to one width.
pub fn class_folder(label: i64, classes: i64) -> String {
    let width = classes.saturating_sub(1).max(1).to_string().len();
    format!("{label:0width$}")
}

/// The file of image `index` of a split of `images` images, zero-padded so that the files of
/// a class sort in index order.
pub fn image_file(index: u64, images: u64) -> String {
    let width = images.saturating_sub(1).max(1).to_string().len();
    format!("{index:0width$}.png")
}

/// Writes every image of `split` of `source` under `dir` (which must be empty or new), `batch`
/// images at a time, then the manifest. Each file is written atomically.
pub fn export(source: &dyn ImageSource, split: Split, dir: &Path, batch: u64) -> Result<Exported> {
    check_empty(dir)?;
    let (images, classes) = (source.len(split), source.classes());
    for start in (0..images).step_by(batch.max(1) as usize) {
        let (pixels, labels) = source.labelled(split, &range(start, (start + batch).min(images)));
        let labels = Vec::<i64>::try_from(labels).map_err(|error| DataError::BadFormat {
            file: dir.to_path_buf(),
            message: format!("the source's labels are not int64 ({error})"),
        })?;
        for (offset, (image, label)) in tensor_to_images(&pixels).iter().zip(labels).enumerate() {
            let path = dir
                .join(class_folder(label, classes))
                .join(image_file(start + offset as u64, images));
            let bytes = encode_png(image)?;
            crate::atomic::write_atomic(&path, &bytes).map_err(io_err(&path))?;
        }
    }
    let files = super::manifest::write(dir)?;
    Ok(Exported { images, classes, files })
}

/// A folder that already holds files would mix them into the tree and its manifest.
fn check_empty(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
    if entries.next().is_some() {
        return Err(DataError::BadFormat {
            file: dir.to_path_buf(),
            message: "the export folder is not empty; give a new or empty folder (an export \
                      never mixes its images with other files)"
                .into(),
        });
    }
    Ok(())
}
