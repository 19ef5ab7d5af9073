//! What fine-tuning reads of a frozen classifier, for the tests that compare two ways of
//! computing it (batch norm folded or not).

use dnlts::models::classifier::Classifier;
use tch::{Device, Kind, Tensor};

/// Eval-mode logits of `images` and the gradient of their cross-entropy w.r.t. the images,
/// what fine-tuning backpropagates into the AE.
pub fn logits_and_input_gradient(classifier: &Classifier, images: &Tensor) -> (Tensor, Tensor) {
    let images = images.copy().set_requires_grad(true);
    let logits = classifier.logits(&images, false);
    let labels = Tensor::arange(images.size()[0], (Kind::Int64, Device::Cpu)).remainder(10);
    logits.cross_entropy_for_logits(&labels).backward();
    (logits.detach(), images.grad())
}

/// Largest |a − b| relative to the largest |b|.
pub fn relative_difference(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b.abs().max().double_value(&[]);
    (a - b).abs().max().double_value(&[]) / scale
}
