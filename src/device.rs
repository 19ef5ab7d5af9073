//! Choosing where tensors live: `cpu`, `cuda`, `cuda:N` or `auto`.

use std::fmt;
use std::str::FromStr;

/// A device as the user names it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
    /// The first CUDA device if there is one, else the CPU.
    Auto,
}

/// A device name that is not `cpu`, `cuda`, `cuda:N` or `auto`, or a CUDA device that is absent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown device '{0}': use cpu, cuda, cuda:N (N = 0, 1, …) or auto")]
    Unknown(String),
    #[error(
        "device cuda:{asked} was asked for but {available} CUDA device(s) are available; \
         use --device cpu, or build with `make TORCH=cuda` on a machine with an NVIDIA GPU"
    )]
    CudaMissing { asked: usize, available: usize },
}

/// Free and total memory of CUDA device `index`, in bytes, as the CUDA runtime reports them
/// (cudaSetDevice, then cudaMemGetInfo, both looked up in the loaded libraries, since tch does
/// not wrap them); None where the runtime is not loaded or a call fails.
pub fn cuda_memory(index: usize) -> Option<(u64, u64)> {
    // SAFETY: dlsym only reads the loaded objects' symbol tables; the two symbols are the CUDA
    // runtime's C functions `cudaError_t cudaSetDevice(int)` and
    // `cudaError_t cudaMemGetInfo(size_t *free, size_t *total)`.
    unsafe {
        let set = libc::dlsym(libc::RTLD_DEFAULT, c"cudaSetDevice".as_ptr());
        let info = libc::dlsym(libc::RTLD_DEFAULT, c"cudaMemGetInfo".as_ptr());
        if set.is_null() || info.is_null() {
            return None;
        }
        let set: extern "C" fn(i32) -> i32 = std::mem::transmute(set);
        let info: extern "C" fn(*mut usize, *mut usize) -> i32 = std::mem::transmute(info);
        if set(i32::try_from(index).ok()?) != 0 {
            return None;
        }
        let (mut free, mut total) = (0usize, 0usize);
        (info(&mut free, &mut total) == 0).then_some((free as u64, total as u64))
    }
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "auto" => Ok(DeviceChoice::Auto),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| DeviceError::Unknown(text.to_string())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(index) => write!(f, "cuda:{index}"),
            DeviceChoice::Auto => write!(f, "auto"),
        }
    }
}

impl DeviceChoice {
    /// `devices` as the options that list devices take them: comma-separated.
    pub fn list(devices: &[DeviceChoice]) -> String {
        devices.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }

    /// Resolves the choice against the devices this process can see.
    pub fn resolve(self) -> Result<tch::Device, DeviceError> {
        let available = cuda_device_count();
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Auto if available > 0 => Ok(tch::Device::Cuda(0)),
            DeviceChoice::Auto => Ok(tch::Device::Cpu),
            DeviceChoice::Cuda(asked) if asked < available => Ok(tch::Device::Cuda(asked)),
            DeviceChoice::Cuda(asked) => Err(DeviceError::CudaMissing { asked, available }),
        }
    }
}

/// How many CUDA devices libtorch sees (0 with a CPU-only libtorch).
pub fn cuda_device_count() -> usize {
    load_cuda_backend();
    tch::Cuda::device_count().max(0) as usize
}

/// libtorch registers its CUDA backend when `libtorch_cuda.so` is loaded. Rust links with
/// `--as-needed` and our code names none of that library's symbols, so the linker leaves it out
/// of the binary and libtorch would report no GPU: load it by name before asking. With a
/// CPU-only libtorch the library is absent and this does nothing.
pub fn load_cuda_backend() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: dlopen of a shared library by name; a null result (not found) is ignored.
        unsafe { libc::dlopen(c"libtorch_cuda.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    });
}

/// The x86 instruction-set extensions libtorch's CPU kernels can use, for `dnlts env`.
pub fn cpu_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($feature:tt),*) => {
                $(if std::arch::is_x86_feature_detected!($feature) { found.push($feature); })*
            };
        }
        probe!("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vnni");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_spelling() {
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("CUDA".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceChoice::Cuda(3)));
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
    }

    #[test]
    fn rejects_unknown_names_with_the_choices() {
        let err = "gpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("'gpu'"));
        assert!(err.to_string().contains("cuda:N"));
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn resolving_follows_the_gpus_libtorch_sees() {
        // Loads libtorch_cuda.so where there is one; with a CPU-only libtorch it finds none.
        let gpus = cuda_device_count();
        let first = if gpus > 0 { tch::Device::Cuda(0) } else { tch::Device::Cpu };
        assert_eq!(DeviceChoice::Auto.resolve(), Ok(first));
        let missing = DeviceError::CudaMissing { asked: gpus, available: gpus };
        assert_eq!(DeviceChoice::Cuda(gpus).resolve(), Err(missing));
    }

    #[test]
    fn display_round_trips() {
        for choice in [DeviceChoice::Cpu, DeviceChoice::Cuda(2), DeviceChoice::Auto] {
            assert_eq!(choice.to_string().parse(), Ok(choice));
        }
    }
}
