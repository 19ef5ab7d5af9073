//! Where a result came from: recorded in every output JSON.

use serde::{Deserialize, Serialize};

/// The build and machine facts that, with the seed and profile, pin down a result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub dnlts_version: String,
    pub git_commit: String,
    pub tch_version: String,
    pub libtorch_version: String,
    pub device: String,
    pub threads: usize,
    /// `--fast`: cuDNN autotuning and non-deterministic kernels (on a GPU the result is not
    /// bit-reproducible; on the CPU nothing changes).
    #[serde(default)]
    pub fast: bool,
    /// The CPU kernels in force: `avx2` (pinned; the same numbers on every x86-64 CPU with
    /// AVX2), `native` (`--native-kernels`) or `unpinnable` (no AVX2). On a GPU the promise is
    /// the same numbers on the same GPU model and driver, not across them.
    #[serde(default)]
    pub kernels: dnlts::kernels::Kernels,
    pub cpu_features: Vec<String>,
    /// OpenMP's wait policy and why (`dnlts::wait_policy`): speed only, never the numbers.
    #[serde(default)]
    pub wait_policy: String,
}

/// A device as users name it (`cpu`, `cuda:0`), not as Rust's debug format writes it.
pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".into(),
        tch::Device::Cuda(index) => format!("cuda:{index}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl Provenance {
    pub fn collect(device: tch::Device, threads: usize, fast: bool) -> Self {
        Provenance {
            dnlts_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("DNLTS_GIT_COMMIT").into(),
            tch_version: env!("DNLTS_TCH_VERSION").into(),
            libtorch_version: dnlts::LIBTORCH_VERSION.into(),
            device: device_name(device),
            threads,
            fast,
            kernels: dnlts::kernels::in_force(),
            cpu_features: dnlts::device::cpu_features().iter().map(|f| f.to_string()).collect(),
            wait_policy: dnlts::wait_policy::in_force(),
        }
    }
}
