//! ImageNet in its usual folder layout, read with torchvision's evaluation transform.
//!
//! Accepted layouts under `root`:
//! - `train/<wnid>/*.JPEG` and `val/<wnid>/*.JPEG` (torchvision `ImageFolder`);
//! - a flat `val/*.JPEG` with `val_labels.txt` next to `val/`: one `<file name> <wnid>` per line
//!   (a 0-based class index `0..999`, in the sorted class list, is accepted in place of the
//!   wnid; the devkit's ground truth is 1-based). Each name is a file of `val/` itself.
//!
//! Classes are the wnids sorted (as `ImageFolder` sorts them), taken from `synsets.txt` (one wnid
//! per line, see `synset_list`) when present, else from the `train/` subfolders, else from the `val/` subfolders.
//! Layout problems (missing folder, empty class, unknown label) are reported by [`open`] before
//! any training starts.
//!
//! [`ImageNet`] is the dataset's [`ImageSource`]. Damaged files are skipped, counted against
//! the failure budget and listed by name ([`super::batch::Prefetcher::skipped`], or the
//! source's [`ImageSource::skip_log`] when the pipeline reads it): zero bytes, not an image, a truncated JPEG (no EOI
//! marker after its last scan) or PNG (no whole IEND chunk) or a decode error are
//! `Undecodable`; a FIFO, socket or device named like an image is `NotRegularFile` and never
//! opened (reading it could block forever). Entries not named like images are never read.

use super::batch::epoch_order;
use super::resize::EvalTransform;
use super::source::{ImageSource, Sample, Split};
use super::{
    decode_rgb, has_image_extension, io_err, read_capped, read_regular_text, walk_files, DataError,
    Result, SkipLog, SkipReason,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ImageNetSplit {
    Train,
    Val,
}

impl ImageNetSplit {
    pub fn folder(self) -> &'static str {
        match self {
            ImageNetSplit::Train => "train",
            ImageNetSplit::Val => "val",
        }
    }
}

/// An indexed ImageNet split: files in sorted order with their class indices.
#[derive(Clone, Debug)]
pub struct ImageNetFolder {
    pub root: PathBuf,
    pub split: ImageNetSplit,
    pub classes: Vec<String>,
    pub items: Vec<(PathBuf, u32)>,
    pub transform: EvalTransform,
}

/// Indexes `root/<split>` and checks the layout.
pub fn open(root: &Path, split: ImageNetSplit, transform: EvalTransform) -> Result<ImageNetFolder> {
    let dir = root.join(split.folder());
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir));
    }
    let classes = class_list(root)?;
    let items = if subfolders(&dir)?.is_empty() {
        flat_items(root, &dir, &classes)?
    } else {
        folder_items(&dir, &classes)?
    };
    Ok(ImageNetFolder { root: root.to_path_buf(), split, classes, items, transform })
}

fn subfolders(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if path.is_dir() {
            names.push(path.file_name().unwrap_or_default().to_string_lossy().into());
        }
    }
    names.sort();
    Ok(names)
}

fn class_list(root: &Path) -> Result<Vec<String>> {
    let synsets = root.join("synsets.txt");
    if synsets.exists() {
        return synset_list(&synsets, &read_regular_text(&synsets)?);
    }
    for folder in ["train", "val"] {
        let dir = root.join(folder);
        if dir.is_dir() {
            let list = subfolders(&dir)?;
            if !list.is_empty() {
                return Ok(list);
            }
        }
    }
    Err(DataError::MissingFolder(root.join("train")))
}

/// The classes `synsets.txt` lists, sorted: one wnid per line, optionally followed by a
/// description (as the devkit's `LOC_synset_mapping.txt` has); blank lines and lines starting
/// with `#` are ignored (no wnid starts with one). A wnid listed twice is an error: it would
/// count as two classes and shift every label after it.
fn synset_list(file: &Path, text: &str) -> Result<Vec<String>> {
    let mut first_line = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(wnid) = line.split_whitespace().next().filter(|w| !w.starts_with('#')) else {
            continue;
        };
        if let Some(first) = first_line.insert(wnid.to_string(), n + 1) {
            return Err(DataError::BadFormat {
                file: file.to_path_buf(),
                message: format!(
                    "line {} lists {wnid} again (first on line {first}); list each class once: \
                     one wnid per line, optionally followed by a description; blank lines and \
                     lines starting with # are ignored",
                    n + 1
                ),
            });
        }
    }
    let mut list: Vec<String> = first_line.into_keys().collect();
    list.sort();
    Ok(list)
}

fn folder_items(dir: &Path, classes: &[String]) -> Result<Vec<(PathBuf, u32)>> {
    let mut items = Vec::new();
    for name in subfolders(dir)? {
        let class = classes.binary_search(&name).map_err(|_| DataError::UnknownLabel {
            file: dir.join(&name),
            line: 0,
            label: name.clone(),
            known: classes.len(),
        })?;
        let class_dir = dir.join(&name);
        // FIFOs, sockets and devices named like images stay in the list: loading one is a
        // counted `NotRegularFile` skip that names it, without opening it.
        let walk = walk_files(&class_dir)?;
        let mut files: Vec<PathBuf> = walk
            .files
            .into_iter()
            .chain(walk.special.into_iter().map(|(p, _)| p))
            .filter(|p| has_image_extension(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(DataError::EmptyClass(class_dir));
        }
        items.extend(files.into_iter().map(|p| (p, class as u32)));
    }
    Ok(items)
}

fn flat_items(root: &Path, dir: &Path, classes: &[String]) -> Result<Vec<(PathBuf, u32)>> {
    let labels = root.join("val_labels.txt");
    let text = read_regular_text(&labels)?;
    let mut items = Vec::new();
    let mut listed = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(file), Some(label)) = (fields.next(), fields.next()) else {
            continue;
        };
        let class = classes
            .binary_search_by(|c| c.as_str().cmp(label))
            .ok()
            .or_else(|| label.parse::<usize>().ok().filter(|&i| i < classes.len()))
            .ok_or_else(|| DataError::UnknownLabel {
                file: labels.clone(),
                line: n + 1,
                label: label.to_string(),
                known: classes.len(),
            })?;
        // A listed name resolves inside the split folder: `../x`, `/x` or `train/…` would read
        // files outside it (training images as validation images). A symlink the user put in
        // the folder is the folder's own entry and is followed.
        let in_folder = matches!(
            Path::new(file).components().collect::<Vec<_>>()[..],
            [std::path::Component::Normal(_)]
        );
        let bad = |message: String| DataError::BadFormat { file: labels.clone(), message };
        if !in_folder {
            return Err(bad(format!(
                "line {} lists {file:?}, which is not a file name in {}: a flat \
                 val_labels.txt names files of the val folder itself (no folders, `..` or \
                 absolute paths); move the file into it and list it by name",
                n + 1,
                dir.display()
            )));
        }
        if let Some(first) = listed.insert(file, n + 1) {
            return Err(bad(format!(
                "line {} lists {file} again (first on line {first}); list each image once",
                n + 1
            )));
        }
        let path = dir.join(file);
        // A FIFO or device listed here is kept: loading it is a counted `NotRegularFile` skip.
        if !path.exists() || path.is_dir() {
            return Err(DataError::BadFormat {
                file: labels.clone(),
                message: format!(
                    "line {} lists {file}, which is not in {}; restore the file or remove the line",
                    n + 1,
                    dir.display()
                ),
            });
        }
        items.push((path, class as u32));
    }
    if items.is_empty() {
        return Err(DataError::BadFormat {
            file: labels,
            message: "no `<file> <wnid>` lines; write one line per validation image".into(),
        });
    }
    items.sort();
    Ok(items)
}

/// Reads, decodes (with limits) and transforms one file.
pub fn load_eval(
    path: &Path,
    transform: &EvalTransform,
) -> std::result::Result<image::RgbImage, SkipReason> {
    eval_image(&read_capped(path)?, transform, &path.display().to_string())
}

/// Decodes (with limits) and transforms one file's bytes; `name` is the file named in errors.
pub fn eval_image(
    bytes: &[u8],
    transform: &EvalTransform,
    name: &str,
) -> std::result::Result<image::RgbImage, SkipReason> {
    let img = decode_rgb(bytes)?;
    transform.apply(&img, name).map_err(|_| SkipReason::Undecodable)
}

/// ImageNet as an [`ImageSource`] at one evaluation transform: `Train` reads `train/`;
/// `Validation` and `Test` both read `val/`, since the paper has no other labelled held-out
/// set (its held-out checks and its tables both use ILSVRC2012 val; the checks read only the
/// first images). It has no unlabelled stream: the paper's is YFCC100m.
#[derive(Clone)]
pub struct ImageNet {
    pub classes: Arc<Vec<String>>,
    train: Arc<Vec<(PathBuf, u32)>>,
    val: Arc<Vec<(PathBuf, u32)>>,
    pub transform: EvalTransform,
    skipped: Arc<SkipLog>,
}

impl ImageNet {
    /// Both splits of `root` (see the module's layouts); they must name the same classes.
    /// Each split is put in an order drawn from `seed`: on disk the files are sorted by class,
    /// and the pipeline reads consecutive images (fine-tuning batches, the first images of
    /// held-out checks, nMI's inter pairs), which must mix the classes.
    pub fn open(root: &Path, transform: EvalTransform, seed: u64) -> Result<Self> {
        let train = open(root, ImageNetSplit::Train, transform)?;
        let val = open(root, ImageNetSplit::Val, transform)?;
        if train.classes != val.classes {
            return Err(DataError::BadFormat {
                file: root.join("val"),
                message: format!(
                    "names {} classes but {} names {}; give both splits the same class folders \
                     (or add synsets.txt listing every wnid)",
                    val.classes.len(),
                    root.join("train").display(),
                    train.classes.len()
                ),
            });
        }
        let shuffled = |items: Vec<(PathBuf, u32)>, which: u64| {
            let order = epoch_order(items.len() as u64, seed, which);
            Arc::new(order.iter().map(|&i| items[i as usize].clone()).collect::<Vec<_>>())
        };
        let mut imagenet = ImageNet::from(train);
        imagenet.train = shuffled(imagenet.train.to_vec(), 0);
        imagenet.val = shuffled(val.items, 1);
        Ok(imagenet)
    }

    /// The same images at another transform (each classifier reads its own crop); the file
    /// lists and the skip log are shared.
    pub fn at(&self, transform: EvalTransform) -> Self {
        ImageNet { transform, ..self.clone() }
    }

    fn items(&self, split: Split) -> &[(PathBuf, u32)] {
        match split {
            Split::Train => &self.train,
            Split::Validation | Split::Test => &self.val,
            Split::Stream => &[],
        }
    }
}

/// One indexed split as a source holding only that split (the other is empty).
impl From<ImageNetFolder> for ImageNet {
    fn from(folder: ImageNetFolder) -> Self {
        let items = Arc::new(folder.items);
        let (train, val) = match folder.split {
            ImageNetSplit::Train => (items, Arc::default()),
            ImageNetSplit::Val => (Arc::default(), items),
        };
        ImageNet {
            classes: Arc::new(folder.classes),
            train,
            val,
            transform: folder.transform,
            skipped: Arc::default(),
        }
    }
}

impl ImageSource for ImageNet {
    fn image_size(&self) -> i64 {
        self.transform.crop as i64
    }

    fn classes(&self) -> i64 {
        self.classes.len() as i64
    }

    fn len(&self, split: Split) -> u64 {
        self.items(split).len() as u64
    }

    fn load(&self, split: Split, index: u64) -> std::result::Result<Sample, SkipReason> {
        let (path, class) = &self.items(split)[index as usize];
        Ok(Sample { image: load_eval(path, &self.transform)?, label: *class as i64 })
    }

    fn name(&self, split: Split, index: u64) -> String {
        self.items(split)[index as usize].0.display().to_string()
    }

    fn skip_log(&self) -> Option<&SkipLog> {
        Some(&self.skipped)
    }
}
