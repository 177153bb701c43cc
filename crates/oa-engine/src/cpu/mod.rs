//! The CPU kernel layer under the engine's matrix products (`qmatmul`) and attention
//! (`attention`), which both sit on it and never on each other: the block formats as the
//! kernels read them, and one table of kernels ([`Kernels`]) chosen once, from the CPU's
//! features (`features.rs`), the first time one is asked for (as a model loads).
//!
//! Every kernel exists as plain loops (`plain/`), which any CPU runs and which define the
//! results; where the CPU allows, the table holds vectorised ones instead (`x86/`: AVX2 with
//! FMA and F16C, AVX-512 VNNI for the repacked rows; `neon/`: NEON, `sdot` where the CPU has
//! the dot-product extension), compiled for those features and chosen at run time, so that one
//! portable build runs the fast path where it can. `kernel_tests.rs` and each kernel file's
//! tests hold every table this CPU can run to the plain loops. A caller takes the table once
//! (per matrix product, per attention call) and calls through it per row: no feature check
//! or dispatch inside a kernel's loops.

use std::sync::OnceLock;

use half::f16;

/// `$kind { one: $f::<1>, several: $f::<ROWS_AT_ONCE> }`: the table's entry for the kernel
/// `$f`, generic over the number of activation rows.
macro_rules! table_entry {
    ($kind:ident, $f:ident) => {
        $crate::cpu::$kind {
            one: $f::<1>,
            several: $f::<{ $crate::cpu::ROWS_AT_ONCE }>,
        }
    };
}

mod blocks;
mod features;
mod k_quants;
#[cfg(test)]
mod kernel_tests;
#[cfg(target_arch = "aarch64")]
mod neon;
mod plain;
mod scalar;
mod tiles;
#[cfg(target_arch = "x86_64")]
mod x86;

pub(crate) use blocks::{Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block};
use features::Features;
pub(crate) use k_quants::{Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock};
pub(crate) use scalar::widen;
pub(crate) use tiles::{Group, Offset, Q4_1Rows8, Q4KRows8, Q6KRows8, ROWS, Rows8};

/// Activation rows that go through one weight row (or one group of eight repacked rows)
/// together: a prompt's tokens, so that the weights are loaded and unpacked once for them all.
pub(crate) const ROWS_AT_ONCE: usize = 4;

/// A block format as the engine holds it, with the activations it multiplies.
pub(crate) trait Format: bytemuck::Pod + Send + Sync {
    /// One block of activations.
    type Activation: Send + Sync;
    /// Values per block.
    const VALUES: usize;
    /// Appends the block's values.
    fn dequantize(&self, out: &mut Vec<f32>);
    /// Quantizes `VALUES` activations.
    fn quantize(x: &[f32]) -> Self::Activation;
    /// The format's kernel in `kernels`.
    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Self::Activation>;
}

/// One weight row of `W` blocks, as the file stores them, by one row of activation blocks
/// `A`, or by [`ROWS_AT_ONCE`] rows at once: each row's sum is exactly what it gets alone.
pub(crate) struct RowKernel<W, A> {
    pub one: RowsTimes<W, A, 1>,
    pub several: RowsTimes<W, A, ROWS_AT_ONCE>,
}

/// One weight row by `N` activation rows: a sum for each.
pub(crate) type RowsTimes<W, A, const N: usize> = fn(&[W], [&[A]; N]) -> [f32; N];

/// Eight weight rows repacked as `G` (a tile per block; values held plus the given offset,
/// where the layout has one) by one row of activation blocks `A`, or by [`ROWS_AT_ONCE`] rows
/// at once: the eight rows' sums for each activation row, exactly what it gets alone.
pub(crate) struct TileKernel<G, A> {
    pub one: TilesTimes<G, A, 1>,
    pub several: TilesTimes<G, A, ROWS_AT_ONCE>,
}

/// Eight repacked weight rows (with the offset their values are held plus) by `N` activation
/// rows: eight sums for each.
pub(crate) type TilesTimes<G, A, const N: usize> = fn(&[G], u8, [&[A]; N]) -> [[f32; ROWS]; N];

/// The one-row kernel of every format held as the file stores it.
pub(crate) struct DotKernels {
    pub q4_0: RowKernel<Q4_0Block, Q8Block>,
    pub q4_1: RowKernel<Q4_1Block, Q8Block>,
    pub q5_0: RowKernel<Q5_0Block, Q8Block>,
    pub q5_1: RowKernel<Q5_1Block, Q8Block>,
    pub q8_0: RowKernel<Q8_0Block, Q8Block>,
    pub q4_k: RowKernel<Q4KBlock, Q8KBlock>,
    pub q5_k: RowKernel<Q5KBlock, Q8KBlock>,
    pub q6_k: RowKernel<Q6KBlock, Q8KBlock>,
}

/// The kernels of rows repacked eight at a time, and whether to repack.
pub(crate) struct TileKernels {
    /// Whether matrices are repacked when a model loads: only where these kernels are
    /// vectorised; elsewhere the blocks stay as the file stores them.
    pub repack: bool,
    /// Q5_0 and Q8_0 rows, held as bytes plus an offset.
    pub rows8: TileKernel<Rows8, Q8Block>,
    pub q4_1: TileKernel<Q4_1Rows8, Q8Block>,
    pub q4_k: TileKernel<Q4KRows8, Q8KBlock>,
    pub q6_k: TileKernel<Q6KRows8, Q8KBlock>,
}

/// The kernels of attention over a KV cache kept in f16.
pub(crate) struct AttentionKernels {
    /// `scores(q, size, keys, stride, scores)`: the scores of the query heads `q`
    /// (`heads × size`, f32) that share one key head against the cached keys (f16), summed in
    /// f32: `scores[h·n + j] = q_h · keys[j·stride..][..size]`, each key widened once for all
    /// the heads. `keys` must hold every key the scores ask for. Each head's scores are what it
    /// gets alone.
    pub scores: fn(&[f32], usize, &[f16], usize, &mut [f32]),
    /// `weighted_sum(weights, values, stride, y, size)`: the cached values weighed by
    /// attention, for the heads of `y` (`heads × size`) that share one value head:
    /// `y_h += Σ_j weights[h·n + j] · values[j·stride..][..size]`. `values` must hold every
    /// value the weights ask for. Each head's sum is what it gets alone.
    pub weighted_sum: fn(&[f32], &[f16], usize, &mut [f32], usize),
    /// `softmax(row, scale)`: raw attention scores made attention weights with llama.cpp's
    /// softmax: each scaled in f32, then `exp(x − max)` summed in f64 and every value
    /// multiplied by the sum's inverse.
    pub softmax: fn(&mut [f32], f32),
    /// Every value of a row rounded to the nearest f16 (ties to even) and back.
    pub round_to_f16: fn(&mut [f32]),
}

/// Every kernel the engine runs on the CPU, as chosen for this one.
pub(crate) struct Kernels {
    pub dot: DotKernels,
    pub tiles: TileKernels,
    pub attention: AttentionKernels,
}

// `vectorised(features, plain)`: `plain` with the vectorised kernels that `features` allow in
// place of the plain loops; the one place where the CPU's architecture chooses.
#[cfg(target_arch = "aarch64")]
use neon::kernels as vectorised;
#[cfg(target_arch = "x86_64")]
use x86::kernels as vectorised;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn vectorised(_: Features, plain: Kernels) -> Kernels {
    plain
}

/// The kernels for this CPU: chosen the first time they are asked for (a model's load), from
/// the features found then, and the same for the life of the process.
pub(crate) fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(|| Kernels::for_features(Features::detect()))
}

impl Kernels {
    /// The vectorised kernels `features` allow, and the plain loops for the rest.
    fn for_features(features: Features) -> Kernels {
        vectorised(features, plain::kernels())
    }

    /// The table of every choice of features this CPU allows, the plain loops first: for the
    /// tests, which hold each to the plain loops.
    #[cfg(test)]
    fn every_choice() -> Vec<(Features, Kernels)> {
        Features::detect()
            .and_fewer()
            .into_iter()
            .map(|features| (features, Kernels::for_features(features)))
            .collect()
    }
}
