//! Where a model runs: the CPU, or a GPU through candle's CUDA (`cuda` feature) or Metal
//! (`metal` feature) backend when the build has one.

use candle_core::Device;
use oa_types::ComputeDevice;

use crate::{EngineError, Result};

/// The GPU backend this build was made with; `None` for a CPU-only build.
pub fn gpu_backend() -> Option<&'static str> {
    if cfg!(feature = "cuda") {
        Some("CUDA")
    } else if cfg!(feature = "metal") {
        Some("Metal")
    } else {
        None
    }
}

/// The device for `choice`. `Auto` takes the GPU when there is a usable one and the CPU
/// otherwise; `Gpu` fails with the reason when there is none.
pub fn select(choice: ComputeDevice) -> Result<Device> {
    match choice {
        ComputeDevice::Cpu => Ok(Device::Cpu),
        ComputeDevice::Gpu => gpu(),
        ComputeDevice::Auto => Ok(gpu().unwrap_or(Device::Cpu)),
    }
}

/// The first GPU, or why there is none.
pub fn gpu() -> Result<Device> {
    #[cfg(feature = "cuda")]
    {
        Device::new_cuda(0)
            .map_err(|e| EngineError::NoGpu(format!("no CUDA GPU could be used ({e})")))
    }
    #[cfg(all(feature = "metal", not(feature = "cuda")))]
    {
        Device::new_metal(0)
            .map_err(|e| EngineError::NoGpu(format!("no Metal GPU could be used ({e})")))
    }
    #[cfg(not(any(feature = "cuda", feature = "metal")))]
    {
        Err(EngineError::NoGpu(
            "this build runs models on the CPU only".into(),
        ))
    }
}

/// CPU threads the engine's compute pool has: `CANDLE_NUM_THREADS` or `RAYON_NUM_THREADS`
/// when set when the process started, else one per physical core.
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// Threads a process started without `CANDLE_NUM_THREADS` or `RAYON_NUM_THREADS` uses: one
/// per physical core.
pub fn default_cpu_threads() -> usize {
    num_cpus::get_physical().max(1)
}

/// The device's name for people: `CPU`, `CUDA GPU 0`, `Metal GPU`.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "CPU".into(),
        Device::Cuda(_) => "CUDA GPU 0".into(),
        Device::Metal(_) => "Metal GPU".into(),
    }
}
