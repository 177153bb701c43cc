//! The one-row kernels as plain loops: one weight row as the file stores it by one row of
//! activations, block by block, each block's sum exact in integers and scaled in f32, as
//! llama.cpp's reference sums them. What every CPU can run, and what the vectorised kernels
//! are held to.

use super::super::DotKernels;
use super::super::blocks::{
    Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block, integer_dot, nibbles,
};
use super::super::k_quants::{
    Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock, QK_K, scaled_sub_sums, scales_and_mins,
};
use super::super::scalar::widen;

/// `$row` for each of the activation rows at once, as the table's entry.
macro_rules! each_row {
    ($row:ident, $block:ty, $activation:ty) => {{
        fn rows<const N: usize>(w: &[$block], a: [&[$activation]; N]) -> [f32; N] {
            a.map(|a| $row(w, a))
        }
        table_entry!(RowKernel, rows)
    }};
}

/// The plain one-row kernels.
pub(crate) fn kernels() -> DotKernels {
    DotKernels {
        q4_0: each_row!(q4_0, Q4_0Block, Q8Block),
        q4_1: each_row!(q4_1, Q4_1Block, Q8Block),
        q5_0: each_row!(q5_0, Q5_0Block, Q8Block),
        q5_1: each_row!(q5_1, Q5_1Block, Q8Block),
        q8_0: each_row!(q8_0, Q8_0Block, Q8Block),
        q4_k: each_row!(q4_k, Q4KBlock, Q8KBlock),
        q5_k: each_row!(q5_k, Q5KBlock, Q8KBlock),
        q6_k: each_row!(q6_k, Q6KBlock, Q8KBlock),
    }
}

/// One row of Q4_0 weights by one row of activations, block by block.
pub(crate) fn q4_0(w: &[Q4_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let values = nibbles(&w.qs).map(|q| i32::from(q) - 8);
            (widen(w.d) * a.d) * integer_dot(values, &a.qs) as f32
        })
        .sum()
}

/// One row of Q4_1 weights by one row of activations, block by block.
pub(crate) fn q4_1(w: &[Q4_1Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let sumi = integer_dot(nibbles(&w.qs).map(i32::from), &a.qs);
            (widen(w.d) * a.d) * sumi as f32 + widen(w.m) * a.s
        })
        .sum()
}

/// One row of Q5_0 weights by one row of activations, block by block.
pub(crate) fn q5_0(w: &[Q5_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| (widen(w.d) * a.d) * integer_dot(w.values(), &a.qs) as f32)
        .sum()
}

/// One row of Q5_1 weights by one row of activations, block by block.
pub(crate) fn q5_1(w: &[Q5_1Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let sumi = integer_dot(w.values().map(i32::from), &a.qs);
            (widen(w.d) * a.d) * sumi as f32 + widen(w.m) * a.s
        })
        .sum()
}

/// One row of Q8_0 weights by one row of activations, block by block.
pub(crate) fn q8_0(w: &[Q8_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let values = w.qs.iter().map(|&q| i32::from(q));
            (widen(w.d) * a.d) * integer_dot(values, &a.qs) as f32
        })
        .sum()
}

/// One row of Q4_K weights by one row of activations, block by block.
pub(crate) fn q4_k(w: &[Q4KBlock], a: &[Q8KBlock]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let (scales, mins) = scales_and_mins(&w.scales);
            let d = (widen(w.d), widen(w.dmin));
            scale_min_sum(d, &scales, &mins, |i| w.value(i), a)
        })
        .sum()
}

/// One row of Q5_K weights by one row of activations, block by block.
pub(crate) fn q5_k(w: &[Q5KBlock], a: &[Q8KBlock]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let (scales, mins) = scales_and_mins(&w.scales);
            let d = (widen(w.d), widen(w.dmin));
            scale_min_sum(d, &scales, &mins, |i| w.value(i), a)
        })
        .sum()
}

/// One row of Q6_K weights by one row of activations, block by block.
pub(crate) fn q6_k(w: &[Q6KBlock], a: &[Q8KBlock]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let sumi: i32 = (0..QK_K)
                .map(|i| {
                    i32::from(w.scales[i / 16]) * (i32::from(w.value(i)) - 32) * i32::from(a.qs[i])
                })
                .sum();
            (widen(w.d) * a.d) * sumi as f32
        })
        .sum()
}

/// A Q4_K or Q5_K block (`(d, dmin)`, sub-block scales and minimums, values by index) times a
/// block of activations: `d·d' · Σ scales[i/32] · q_i · a_i − dmin·d' · Σ mins[j] · Σa` over
/// sub-blocks `j` of 32, the sums exact in integers.
fn scale_min_sum(
    d: (f32, f32),
    scales: &[u8; 8],
    mins: &[u8; 8],
    value: impl Fn(usize) -> u8,
    a: &Q8KBlock,
) -> f32 {
    let sub: [i32; 8] = std::array::from_fn(|j| {
        (32 * j..32 * j + 32)
            .map(|i| i32::from(value(i)) * i32::from(a.qs[i]))
            .sum()
    });
    scaled_sub_sums(d, scales, mins, &sub, a)
}
