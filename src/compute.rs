//! How a step is computed, as opposed to what it computes: micro-batching with gradient
//! accumulation, bf16 autocast and the channels-last memory format. None of these changes the
//! maths of a step (up to rounding), so they are run options, not part of a profile.

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

/// Run options shared by every training loop and the evaluation pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compute {
    /// Each batch is split into this many micro-batches whose gradients add up to the whole
    /// batch's: the same update with less activation memory. Batch-norm layers in training
    /// mode see micro-batch statistics, as in any accumulation scheme.
    pub accumulation: u64,
    /// bf16 autocast (libtorch's op policy: convolutions and matrix products in bf16,
    /// reductions and losses in f32). Meant for CUDA; on a CPU without bf16 units it is slower.
    pub amp: bool,
    /// Inputs in NHWC strides, which cuDNN and oneDNN convolutions prefer; every convolution
    /// keeps the format of its input, so the whole network runs channels-last.
    pub channels_last: bool,
    /// Batch norm of the units that do not train (frozen classifiers, the fixed encoder of a
    /// fine-tuning) folded into their convolutions: equal up to rounding, one op instead of
    /// two (models/blocks.rs). Applied to the whole process by
    /// [`crate::models::blocks::set_batch_norm_folding`].
    #[serde(default = "on")]
    pub fold_batch_norm: bool,
}

fn on() -> bool {
    true
}

impl Default for Compute {
    fn default() -> Self {
        Compute { accumulation: 1, amp: false, channels_last: false, fold_batch_norm: true }
    }
}

impl Compute {
    /// Runs `f` under bf16 autocast on `device` when `amp` is set.
    pub fn autocast<T>(&self, device: Device, f: impl FnOnce() -> T) -> T {
        if self.amp {
            bf16_autocast(device, f)
        } else {
            f()
        }
    }

    /// These settings for a stage in which every network trains (pre-training, classifier
    /// training): no unit is frozen there, so folding cannot change the result, and the
    /// stage's key must not make `--no-fold-bn` train it again.
    pub fn with_every_network_training(self) -> Compute {
        Compute { fold_batch_norm: true, ..self }
    }

    /// `images` as the model should read them.
    pub fn prepare(&self, images: &Tensor) -> Tensor {
        if self.channels_last {
            to_channels_last(images)
        } else {
            images.shallow_clone()
        }
    }

    /// The micro-batch boundaries of a batch of `n`: `accumulation` nearly equal parts.
    pub fn micro_batches(&self, n: i64) -> Vec<(i64, i64)> {
        let parts = (self.accumulation.max(1) as i64).min(n.max(1));
        (0..parts).map(|p| (p * n / parts, (p + 1) * n / parts)).filter(|(a, b)| b > a).collect()
    }
}

/// The same values with NHWC strides (what PyTorch calls `memory_format=torch.channels_last`):
/// convolutions keep the format of their input.
pub fn to_channels_last(tensor: &Tensor) -> Tensor {
    if tensor.dim() != 4 {
        return tensor.shallow_clone();
    }
    tensor.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Whether `tensor` is laid out channels-last.
pub fn is_channels_last(tensor: &Tensor) -> bool {
    let stride = tensor.stride();
    tensor.dim() == 4 && stride[1] == 1 && stride[3] == tensor.size()[1]
}

// libtorch's autocast entry points. tch exposes only CUDA autocast with its default dtype
// (fp16, which needs loss scaling); bf16 does not, and the dtype setter is C++ only, so it is
// looked up at run time in the loaded libtorch (present since 2.4, checked by a test).
// c10::DeviceType and c10::ScalarType are 8-bit enums: CPU = 0, CUDA = 1, BFloat16 = 15.
const SET_ENABLED: &std::ffi::CStr = c"_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb";
const IS_ENABLED: &std::ffi::CStr = c"_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE";
const SET_DTYPE: &std::ffi::CStr =
    c"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE";
const INCREMENT: &std::ffi::CStr = c"_ZN2at8autocast17increment_nestingEv";
const DECREMENT: &std::ffi::CStr = c"_ZN2at8autocast17decrement_nestingEv";
const CLEAR_CACHE: &std::ffi::CStr = c"_ZN2at8autocast11clear_cacheEv";
const BFLOAT16: i8 = 15;

struct AutocastApi {
    set_enabled: extern "C" fn(i8, bool),
    is_enabled: extern "C" fn(i8) -> bool,
    set_dtype: extern "C" fn(i8, i8),
    increment: extern "C" fn() -> i32,
    decrement: extern "C" fn() -> i32,
    clear_cache: extern "C" fn(),
}

/// The address of a libtorch function by its (mangled C++) name, for the few entry points tch
/// does not wrap.
pub(crate) fn lookup(name: &std::ffi::CStr) -> Result<*mut libc::c_void, String> {
    // SAFETY: dlsym with RTLD_DEFAULT only reads the loaded objects' symbol tables.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if symbol.is_null() {
        return Err(format!("the loaded libtorch has no {name:?} (libtorch 2.4 or newer has it)"));
    }
    Ok(symbol)
}

fn autocast_api() -> Result<&'static AutocastApi, String> {
    static API: std::sync::OnceLock<Result<AutocastApi, String>> = std::sync::OnceLock::new();
    // SAFETY: the symbols are libtorch's functions with these C++ signatures; 8-bit enums and
    // bool are passed as integers by the platform ABI, as a C function would take them.
    let api = API.get_or_init(|| unsafe {
        type Ptr = *mut libc::c_void;
        Ok(AutocastApi {
            set_enabled: std::mem::transmute::<Ptr, extern "C" fn(i8, bool)>(lookup(SET_ENABLED)?),
            is_enabled: std::mem::transmute::<Ptr, extern "C" fn(i8) -> bool>(lookup(IS_ENABLED)?),
            set_dtype: std::mem::transmute::<Ptr, extern "C" fn(i8, i8)>(lookup(SET_DTYPE)?),
            increment: std::mem::transmute::<Ptr, extern "C" fn() -> i32>(lookup(INCREMENT)?),
            decrement: std::mem::transmute::<Ptr, extern "C" fn() -> i32>(lookup(DECREMENT)?),
            clear_cache: std::mem::transmute::<Ptr, extern "C" fn()>(lookup(CLEAR_CACHE)?),
        })
    });
    api.as_ref().map_err(Clone::clone)
}

/// Whether this libtorch offers bf16 autocast (checked before a run with `--amp` starts).
pub fn check_amp() -> Result<(), String> {
    autocast_api().map(|_| ()).map_err(|reason| format!("--amp needs bf16 autocast: {reason}"))
}

/// Runs `f` with bf16 autocast on `device`'s type, restoring the previous setting afterwards
/// (also when `f` panics).
pub fn bf16_autocast<T>(device: Device, f: impl FnOnce() -> T) -> T {
    struct Restore {
        device_type: i8,
        was_enabled: bool,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            let api = autocast_api().expect("checked when autocast began");
            if (api.decrement)() == 0 {
                (api.clear_cache)();
            }
            (api.set_enabled)(self.device_type, self.was_enabled);
        }
    }
    let api = autocast_api().unwrap_or_else(|reason| panic!("{reason}"));
    let device_type = if device.is_cuda() { 1 } else { 0 };
    let _restore = Restore { device_type, was_enabled: (api.is_enabled)(device_type) };
    (api.set_dtype)(device_type, BFLOAT16);
    (api.set_enabled)(device_type, true);
    (api.increment)();
    f()
}

/// Whether a libtorch error message is an out-of-memory failure.
pub fn is_out_of_memory(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("out of memory") || message.contains("defaultcpuallocator: can't allocate")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn bf16_autocast_runs_matrix_products_in_bf16_and_restores_f32() {
        let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([8, 2], (Kind::Float, Device::Cpu));
        let inside = bf16_autocast(Device::Cpu, || a.matmul(&b));
        assert_eq!(inside.kind(), Kind::BFloat16);
        assert_eq!(f64::try_from(inside.to_kind(Kind::Float).sum(Kind::Float)).unwrap(), 64.0);
        assert_eq!(a.matmul(&b).kind(), Kind::Float, "autocast must end with the closure");
        let nested = bf16_autocast(Device::Cpu, || bf16_autocast(Device::Cpu, || a.matmul(&b)));
        assert_eq!(nested.kind(), Kind::BFloat16);
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
    }

    #[test]
    fn channels_last_keeps_values_and_changes_strides() {
        let x = Tensor::arange(2 * 3 * 4 * 5, (Kind::Float, Device::Cpu)).view([2, 3, 4, 5]);
        let y = to_channels_last(&x);
        assert!(is_channels_last(&y) && !is_channels_last(&x));
        assert_eq!(y.size(), x.size());
        assert!(y.equal(&x));
    }

    #[test]
    fn micro_batches_cover_the_batch_once() {
        for (n, parts) in [(64, 1), (64, 4), (10, 3), (3, 8), (1, 1)] {
            let compute = Compute { accumulation: parts, ..Compute::default() };
            let bounds = compute.micro_batches(n);
            assert_eq!(bounds.first().unwrap().0, 0);
            assert_eq!(bounds.last().unwrap().1, n);
            assert!(bounds.windows(2).all(|w| w[0].1 == w[1].0));
            assert_eq!(bounds.len() as u64, parts.min(n as u64));
        }
    }

    #[test]
    fn out_of_memory_messages_are_recognised() {
        assert!(is_out_of_memory("CUDA out of memory. Tried to allocate 2.00 GiB"));
        assert!(is_out_of_memory("[enforce fail] DefaultCPUAllocator: can't allocate memory"));
        assert!(!is_out_of_memory("shape mismatch"));
    }
}
