//! What training and evaluation read: images as [0, 1] float tensors, addressed by index so
//! that any batch can be rebuilt exactly (resuming, reruns, parallel workers).

use std::ops::Range;

use tch::Tensor;

/// The disjoint parts of a labelled dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

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
