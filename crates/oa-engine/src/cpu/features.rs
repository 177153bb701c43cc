//! The CPU features that choose the kernels, detected once (when the kernels are chosen), and
//! the environment variables that set them aside to measure what they bring:
//! `OA_ENGINE_PLAIN_KERNELS=1` keeps the plain loops, `OA_ENGINE_NO_VNNI=1` the AVX2
//! instructions where the CPU has AVX-512 VNNI, `OA_ENGINE_NO_DOTPROD=1` `smull` where it has
//! `sdot`.

/// What this CPU offers the kernels (each `false` on other architectures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Features {
    /// x86-64: AVX2 with FMA and F16C (nearly every x86-64 CPU since 2013).
    pub avx2: bool,
    /// x86-64: besides AVX2, AVX-512 VNNI with its 256-bit forms (`dpbusd`: four byte
    /// products summed into each 32-bit lane in one instruction, where AVX2 takes three).
    pub avx512_vnni: bool,
    /// aarch64: NEON, which every aarch64 CPU has.
    pub neon: bool,
    /// aarch64: besides NEON, the dot-product extension (`sdot`; Armv8.2 and later, Apple's
    /// and recent Arm servers' cores).
    pub dotprod: bool,
}

impl Features {
    /// The features of this CPU, less those the environment sets aside.
    pub fn detect() -> Features {
        let set_aside = |name: &str| std::env::var_os(name).is_some_and(|v| v == "1");
        let plain = set_aside("OA_ENGINE_PLAIN_KERNELS");
        #[allow(unused_mut)]
        let mut found = Features::default();
        #[cfg(target_arch = "x86_64")]
        {
            found.avx2 = !plain
                && std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("f16c");
            found.avx512_vnni = found.avx2
                && std::is_x86_feature_detected!("avx512vnni")
                && std::is_x86_feature_detected!("avx512vl")
                && !set_aside("OA_ENGINE_NO_VNNI");
        }
        #[cfg(target_arch = "aarch64")]
        {
            found.neon = !plain;
            found.dotprod = found.neon
                && std::arch::is_aarch64_feature_detected!("dotprod")
                && !set_aside("OA_ENGINE_NO_DOTPROD");
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let _ = (plain, set_aside);
        found
    }

    /// These features, and each smaller set that chooses other kernels: none, then the base
    /// instructions without the extension (VNNI, `sdot`) where the CPU has it.
    #[cfg(test)]
    pub fn and_fewer(self) -> Vec<Features> {
        let mut all = vec![Features::default()];
        for fewer in [
            Features {
                avx512_vnni: false,
                dotprod: false,
                ..self
            },
            self,
        ] {
            if !all.contains(&fewer) {
                all.push(fewer);
            }
        }
        all
    }
}
