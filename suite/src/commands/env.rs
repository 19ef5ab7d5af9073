//! `dnlts env`: what this build and machine are, and the determinism settings in force.

use serde::Serialize;

use crate::provenance::Provenance;

#[derive(Serialize)]
struct Environment {
    #[serde(flatten)]
    build: Provenance,
    logical_cpus: usize,
    cuda_available: bool,
    cuda_devices: i64,
    cudnn_available: bool,
    libtorch_has_mkl: bool,
    libtorch_has_openmp: bool,
    /// `OMP_WAIT_POLICY` as libgomp found it ("unset": libgomp's default, spinning).
    omp_wait_policy: String,
    /// The wait policy in words: who chose it and why (`dnlts::wait_policy`).
    wait_policy: String,
    master_seed: u64,
    cudnn_benchmark: bool,
}

pub fn run(threads: Option<usize>, json: bool) -> anyhow::Result<()> {
    dnlts::device::load_cuda_backend();
    // The default profile's thread count, which every training stage of it runs with.
    let profile = crate::profile::Profile::preset(crate::profile::DEFAULT)?;
    let threads = profile.training_threads(threads);
    let determinism = dnlts::seed::Determinism::new(dnlts::seed::DEFAULT_MASTER_SEED, threads);
    determinism.apply();
    let env = Environment {
        build: Provenance::collect(
            tch::Device::Cpu,
            determinism.threads,
            determinism.cudnn_benchmark,
        ),
        logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: dnlts::device::cuda_device_count() as i64,
        cudnn_available: tch::Cuda::cudnn_is_available(),
        libtorch_has_mkl: tch::utils::has_mkl(),
        libtorch_has_openmp: tch::utils::has_openmp(),
        omp_wait_policy: std::env::var(dnlts::wait_policy::VARIABLE)
            .unwrap_or_else(|_| "unset".into()),
        wait_policy: dnlts::wait_policy::in_force(),
        master_seed: determinism.seed,
        cudnn_benchmark: determinism.cudnn_benchmark,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&env)?);
    } else {
        print_text(&env);
    }
    Ok(())
}

fn print_text(env: &Environment) {
    let b = &env.build;
    let yes_no = |flag: bool| if flag { "yes" } else { "no" };
    println!("dnlts      {} (commit {})", b.dnlts_version, b.git_commit);
    println!("tch        {}", b.tch_version);
    println!(
        "libtorch   {} (MKL: {}, OpenMP: {})",
        b.libtorch_version,
        yes_no(env.libtorch_has_mkl),
        yes_no(env.libtorch_has_openmp)
    );
    println!(
        "cpu        {} logical cores; features: {}",
        env.logical_cpus,
        if b.cpu_features.is_empty() {
            "none detected".to_string()
        } else {
            b.cpu_features.join(" ")
        }
    );
    if env.cuda_available {
        println!(
            "cuda       {} device(s), cuDNN: {}",
            env.cuda_devices,
            yes_no(env.cudnn_available)
        );
    } else {
        println!(
            "cuda       not available (CPU-only libtorch, or no NVIDIA GPU); see docs/paper-scale.md, \
             \"GPU workstations\""
        );
    }
    println!(
        "threads    {} (libtorch intra-op; each profile fixes its own, --threads overrides); \
         OpenMP wait policy {}",
        b.threads, env.wait_policy
    );
    println!(
        "kernels    {}{}",
        b.kernels.name(),
        match b.kernels {
            dnlts::kernels::Kernels::Avx2 => {
                ": the same numbers on every x86-64 CPU with AVX2 (--native-kernels: this CPU's own)"
            }
            dnlts::kernels::Kernels::Native => ": the numbers are this kind of CPU's",
            dnlts::kernels::Kernels::Unpinnable => ": the numbers are this machine's",
        }
    );
    println!(
        "determinism  master seed {} (per-target seeds = sha256(master, target, stage)); \
         cuDNN benchmark {}, deterministic cuDNN kernels",
        env.master_seed,
        if env.cudnn_benchmark { "on" } else { "off" }
    );
}
