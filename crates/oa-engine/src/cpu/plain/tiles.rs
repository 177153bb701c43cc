//! The kernels of repacked rows as plain loops: eight rows of tiles by one row of
//! activations, block by block, in the order the vectorised kernels sum them, so that those
//! give these sums exactly.

use super::super::TileKernels;
use super::super::blocks::{BLOCK, Q8Block};
use super::super::k_quants::Q8KBlock;
use super::super::scalar::widen;
use super::super::tiles::{Q4_1Rows8, Q4KRows8, Q6KRows8, ROWS, Rows8, min_at, scale_at};

/// `$row` for each of the activation rows at once, as the table's entry; `$offset` says
/// whether the layout holds its values plus an offset.
macro_rules! each_row {
    ($row:ident, $tiles:ty, $activation:ty, offset) => {{
        fn rows<const N: usize>(
            w: &[$tiles],
            offset: u8,
            a: [&[$activation]; N],
        ) -> [[f32; ROWS]; N] {
            a.map(|a| $row(w, offset, a))
        }
        table_entry!(TileKernel, rows)
    }};
    ($row:ident, $tiles:ty, $activation:ty) => {{
        fn rows<const N: usize>(w: &[$tiles], _: u8, a: [&[$activation]; N]) -> [[f32; ROWS]; N] {
            a.map(|a| $row(w, a))
        }
        table_entry!(TileKernel, rows)
    }};
}

/// The plain kernels of repacked rows. Matrices are not repacked for them (`repack: false`):
/// without vectorised kernels of these layouts, the one-row kernels over the file's own blocks
/// serve.
pub(crate) fn kernels() -> TileKernels {
    TileKernels {
        repack: false,
        rows8: each_row!(rows8, Rows8, Q8Block, offset),
        q4_1: each_row!(q4_1, Q4_1Rows8, Q8Block),
        q4_k: each_row!(q4_k, Q4KRows8, Q8KBlock),
        q6_k: each_row!(q6_k, Q6KRows8, Q8KBlock),
    }
}

/// The eight rows of a group (`w`, one tile per block) by one row of activations,
/// block by block: what the vectorised kernels compute, summed in the same order.
pub(crate) fn rows8(w: &[Rows8], offset: u8, a: &[Q8Block]) -> [f32; ROWS] {
    let mut sums = [0f32; ROWS];
    for (tile, a) in w.iter().zip(a) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let dot: i32 = (0..BLOCK)
                .map(|i| i32::from(tile.qs[32 * (i / 4) + 4 * r + i % 4]) * i32::from(a.qs[i]))
                .sum();
            let dot = dot - i32::from(offset) * a.sum;
            *sum = (dot as f32).mul_add(tile.d[r] * a.d, *sum);
        }
    }
    sums
}

/// Eight repacked Q4_K rows by one row of activations: what the vectorised kernels
/// compute.
pub(crate) fn q4_k(w: &[Q4KRows8], a: &[Q8KBlock]) -> [f32; ROWS] {
    let mut sums = [0f32; ROWS];
    for (tile, a) in w.iter().zip(a) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let mut total = 0i32;
            let mut mins = 0i32;
            for s in 0..8 {
                let dot: i32 = (32 * s..32 * s + 32)
                    .map(|i| i32::from(tile.value(r, i)) * i32::from(a.qs[i]))
                    .sum();
                total += i32::from(tile.unpacked(scale_at(r, s))) * dot;
                mins += i32::from(tile.unpacked(min_at(r, s))) * i32::from(a.sums32[s]);
            }
            *sum = (total as f32).mul_add(widen(tile.d[r]) * a.d, *sum);
            *sum = (-(mins as f32)).mul_add(widen(tile.dmin[r]) * a.d, *sum);
        }
    }
    sums
}

/// Eight repacked Q6_K rows by one row of activations: what the vectorised kernels
/// compute.
pub(crate) fn q6_k(w: &[Q6KRows8], a: &[Q8KBlock]) -> [f32; ROWS] {
    let mut sums = [0f32; ROWS];
    for (tile, a) in w.iter().zip(a) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let mut total = 0i32;
            for s in 0..16 {
                let dot: i32 = (16 * s..16 * s + 16)
                    .map(|i| i32::from(tile.value(r, i)) * i32::from(a.qs[i]))
                    .sum();
                let scale = i32::from(tile.scale(r, s));
                total += scale * (dot - 32 * i32::from(a.bsums[s]));
            }
            *sum = (total as f32).mul_add(widen(tile.d[r]) * a.d, *sum);
        }
    }
    sums
}

/// Eight repacked Q4_1 rows by one row of activations: what the vectorised kernels
/// compute.
pub(crate) fn q4_1(w: &[Q4_1Rows8], a: &[Q8Block]) -> [f32; ROWS] {
    let mut sums = [0f32; ROWS];
    for (tile, a) in w.iter().zip(a) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let dot: i32 = (0..BLOCK)
                .map(|i| i32::from(tile.value(r, i)) * i32::from(a.qs[i]))
                .sum();
            *sum = (dot as f32).mul_add(widen(tile.d[r]) * a.d, *sum);
            *sum = widen(tile.m[r]).mul_add(a.s, *sum);
        }
    }
    sums
}
