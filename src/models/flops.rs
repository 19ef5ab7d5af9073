//! Counting the work of a forward pass, and of the backward pass it sets up, from the layers
//! the model really runs.
//!
//! Every convolution and fully connected layer of every model goes through
//! [`super::blocks::conv2d`] and [`super::blocks::linear`], which report what they just
//! computed to [`record`]. [`count_macs`] runs a closure (a forward pass, or a whole training
//! step) with recording switched on and returns the multiply-accumulates (MACs) it saw, so the
//! count follows the models as they change: there is no second description of the layers that
//! could drift from the first.
//!
//! Counted is the convention of the published figures (torchvision's model table, fvcore,
//! ptflops): one multiply-accumulate per weight use in convolutions and linear layers. Batch
//! norm, ReLU, pooling, unpooling and additions are not counted; they are a few per mille of a
//! convolutional network's work.
//!
//! Backward: autograd computes, for each such layer on the graph, the gradient of its input
//! (if the input needs one) and of its weight (if the weight trains), each a product as large
//! as the forward one. So a training step is not exactly 3× its forward pass: the first layer
//! needs no input gradient, a frozen classifier no weight gradients, an encoder run without
//! a graph no backward at all. [`record`] counts what autograd will do from the same flags
//! autograd reads.

use std::cell::Cell;

use tch::Tensor;

use super::segnet::{AeMode, AutoEncoder};

/// Multiply-accumulates of a pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Macs {
    pub forward: u64,
    /// What backpropagating from the pass's outputs costs (0 for a pass without a graph).
    pub backward: u64,
}

impl Macs {
    pub fn total(&self) -> u64 {
        self.forward + self.backward
    }

    /// The per-image share of a pass over `images` images.
    pub fn per_image(&self, images: u64) -> Macs {
        let n = images.max(1);
        Macs { forward: self.forward / n, backward: self.backward / n }
    }
}

thread_local! {
    /// MACs seen since recording began on this thread; None when not recording, so that a
    /// layer outside [`count_macs`] costs one thread-local read.
    static RECORDED: Cell<Option<Macs>> = const { Cell::new(None) };
}

/// Runs `pass` and returns its value and the MACs of the convolutions and linear layers it ran
/// (for the whole batch), with the backward products those layers' graph implies. Nested calls
/// count into the innermost one only.
pub fn count_macs<T>(pass: impl FnOnce() -> T) -> (T, Macs) {
    // Restores the outer state also when `pass` panics.
    struct Restore(Option<Macs>);
    impl Drop for Restore {
        fn drop(&mut self) {
            RECORDED.with(|recorded| recorded.set(self.0));
        }
    }
    let restore = Restore(RECORDED.with(|recorded| recorded.replace(Some(Macs::default()))));
    let value = pass();
    let macs = RECORDED.with(|recorded| recorded.get()).unwrap_or_default();
    drop(restore);
    (value, macs)
}

/// Called by a layer after computing `output` from `input` with `weight`: each output value of
/// a convolution or linear layer is one dot product of length weight.numel() / out_channels
/// (c_in/groups · kh · kw for a convolution, c_in for a linear layer).
pub fn record(input: &Tensor, output: &Tensor, weight: &Tensor) {
    RECORDED.with(|recorded| {
        let Some(so_far) = recorded.get() else { return };
        let out_channels = weight.size()[0].max(1) as u64;
        let forward = output.numel() as u64 * (weight.numel() as u64 / out_channels);
        // No graph (no_grad, or nothing upstream trains): autograd never comes back here.
        let backward = if output.requires_grad() {
            forward * (u64::from(input.requires_grad()) + u64::from(weight.requires_grad()))
        } else {
            0
        };
        recorded.set(Some(Macs {
            forward: so_far.forward + forward,
            backward: so_far.backward + backward,
        }));
    });
}

/// Floating-point operations of `macs` multiply-accumulates (a multiply and an add each).
pub fn flops(macs: u64) -> f64 {
    2.0 * macs as f64
}

/// MACs of one `size`×`size` RGB image through `ae`, used as `mode` says: without a graph
/// for [`AeMode::Eval`], with the graph of pre-training or fine-tuning otherwise.
pub fn autoencoder_pass(ae: &AutoEncoder, size: i64, mode: AeMode) -> Macs {
    let image = Tensor::zeros([1, 3, size, size], (tch::Kind::Float, ae.encoder.device()));
    let pass = || count_macs(|| ae.forward(&image, mode)).1;
    if mode == AeMode::Eval {
        tch::no_grad(pass)
    } else {
        pass()
    }
}

/// MACs of one `size`×`size` RGB image through classifier `net`: without a graph (`training`
/// false, what evaluation costs), or with the graph of training it from scratch (every weight
/// trains, the input needs no gradient).
pub fn classifier_pass(net: &dyn tch::nn::ModuleT, size: i64, training: bool) -> Macs {
    let image = Tensor::zeros([1, 3, size, size], (tch::Kind::Float, tch::Device::Cpu));
    // Eval mode either way: batch statistics of one image are not the point, the shapes are.
    let pass = || count_macs(|| net.forward_t(&image, false)).1;
    if training {
        pass()
    } else {
        tch::no_grad(pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::blocks::{conv2d, linear, ConvSpec, WeightInit};
    use tch::nn::{Module, VarStore};
    use tch::{Device, Kind};

    #[test]
    fn a_convolution_counts_one_mac_per_weight_use() {
        let store = VarStore::new(Device::Cpu);
        let spec = ConvSpec::same(3, 8, 3).stride(2);
        let conv = conv2d(&(store.root() / "c"), spec, WeightInit::PytorchDefault);
        let x = Tensor::zeros([2, 3, 10, 10], (Kind::Float, Device::Cpu));
        let (y, macs) = count_macs(|| conv.forward(&x));
        // Slow reference: 2 images × 8 channels × 5×5 positions, each a 3×3×3 dot product.
        assert_eq!(y.size(), [2, 8, 5, 5]);
        let forward = 2 * 8 * 5 * 5 * 3 * 3 * 3;
        // The input needs no gradient, the weight trains: one backward product.
        assert_eq!(macs, Macs { forward, backward: forward });
        let (_, without_graph) = tch::no_grad(|| count_macs(|| conv.forward(&x)));
        assert_eq!(without_graph, Macs { forward, backward: 0 });
    }

    #[test]
    fn backward_counts_follow_what_needs_a_gradient() {
        let mut store = VarStore::new(Device::Cpu);
        let fc = linear(&(store.root() / "fc"), 7, 4, WeightInit::PytorchDefault);
        let x = Tensor::zeros([3, 7], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let forward = 3 * 7 * 4;
        let (_, trains) = count_macs(|| fc.forward(&x));
        assert_eq!(trains, Macs { forward, backward: 2 * forward });
        store.freeze();
        let (_, frozen) = count_macs(|| fc.forward(&x));
        assert_eq!(frozen, Macs { forward, backward: forward }, "input gradient only");
    }

    #[test]
    fn counts_start_at_zero_and_nest_innermost() {
        let store = VarStore::new(Device::Cpu);
        let fc = linear(&(store.root() / "fc"), 7, 4, WeightInit::PytorchDefault);
        let x = Tensor::zeros([3, 7], (Kind::Float, Device::Cpu));
        let (_, outer) = count_macs(|| {
            let (_, inner) = count_macs(|| fc.forward(&x));
            assert_eq!(inner.forward, 3 * 7 * 4);
            fc.forward(&x)
        });
        assert_eq!(outer.forward, 3 * 7 * 4, "the inner count is not added to the outer one");
        // Outside count_macs nothing is recorded, so a later count starts from zero.
        let _ = fc.forward(&x);
        assert_eq!(count_macs(|| ()).1, Macs::default());
    }
}
