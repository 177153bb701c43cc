//! The k-quant formats (Q4_K, Q5_K, Q6_K: 256 values per block in sub-blocks with their own
//! scales) and the Q8_K activations they multiply, as llama.cpp defines and sums them.

use bytemuck::{Pod, Zeroable};
use half::f16;

use super::scalar::{nearest_int, widen};
use super::{Format, Kernels, RowKernel};

/// Values per block.
pub(crate) const QK_K: usize = 256;

/// One block of activations for the k-quants: `value ≈ d · q`, with the sum of every 16
/// values of `q` kept in `bsums` (for the formats' offsets and minimums), and of every 32 in
/// `sums32` (for the repacked Q4_K rows' minimums).
pub(crate) struct Q8KBlock {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
    pub sums32: [i16; QK_K / 32],
}

/// llama.cpp's `quantize_row_q8_K`: the value of largest magnitude `max` (with its sign) sets
/// `d = max / −127` in f32; values are rounded half to even and capped at 127.
pub(crate) fn quantize_q8k(x: &[f32]) -> Q8KBlock {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    let mut block = Q8KBlock {
        d: 0.0,
        qs: [0; QK_K],
        bsums: [0; QK_K / 16],
        sums32: [0; QK_K / 32],
    };
    if amax == 0.0 {
        return block;
    }
    let iscale = -127.0 / max;
    for (q, v) in block.qs.iter_mut().zip(x) {
        *q = nearest_int(iscale * v).min(127) as i8;
    }
    for (sum, qs) in block.bsums.iter_mut().zip(block.qs.chunks_exact(16)) {
        *sum = qs.iter().map(|&q| i16::from(q)).sum();
    }
    for (sum, pair) in block.sums32.iter_mut().zip(block.bsums.chunks_exact(2)) {
        *sum = pair[0] + pair[1];
    }
    block.d = 1.0 / iscale;
    block
}

/// The eight 6-bit scales and minimums of a Q4_K or Q5_K block, packed in 12 bytes: scale
/// and minimum `j < 4` are the low six bits of bytes `j` and `j + 4`; for `j ≥ 4` their low
/// four bits are the low and high nibbles of byte `j + 4` and their high two bits the top bits
/// of bytes `j − 4` and `j` (llama.cpp's `get_scale_min_k4`). Unpacked four at a time in
/// 32-bit words, and inlined: the kernels unpack every block's, and as a call it cost a fifth
/// of a billion-parameter model's decoding.
#[inline(always)]
pub(crate) fn scales_and_mins(s: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let (scales, mins) = scale_and_min_words(s);
    (scales.to_le_bytes(), mins.to_le_bytes())
}

/// [`scales_and_mins`] as two little-endian 64-bit words, for the kernels to move straight
/// into vector registers.
#[inline(always)]
pub(crate) fn scale_and_min_words(s: &[u8; 12]) -> (u64, u64) {
    const SIX_BITS: u32 = 0x3F3F_3F3F;
    const NIBBLES: u32 = 0x0F0F_0F0F;
    const TWO_BITS: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]]);
    let (a, b, c) = (word(0), word(1), word(2));
    let low_scales = a & SIX_BITS;
    let high_scales = (c & NIBBLES) | (((a >> 6) & TWO_BITS) << 4);
    let low_mins = b & SIX_BITS;
    let high_mins = ((c >> 4) & NIBBLES) | (((b >> 6) & TWO_BITS) << 4);
    let join = |low: u32, high: u32| u64::from(high) << 32 | u64::from(low);
    (join(low_scales, high_scales), join(low_mins, high_mins))
}

/// One block of Q4_K weights, as the file stores it: value `i` is
/// `d · scale[i/32] · q − dmin · min[i/32]` for 4-bit `q`, the eight 6-bit scales and minimums
/// packed in `scales` ([`scales_and_mins`]); each 32 bytes of `qs` hold 64 values, the low
/// nibbles first.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q4KBlock {
    pub d: f16,
    pub dmin: f16,
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}

/// One block of Q5_K weights: as Q4_K, with the fifth bit of value `64j + i` (`i < 32`) in bit
/// `2j` of `qh[i]`, and of value `64j + 32 + i` in bit `2j + 1`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q5KBlock {
    pub d: f16,
    pub dmin: f16,
    pub scales: [u8; 12],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

/// One block of Q6_K weights: value `i` is `d · scales[i/16] · (q − 32)` for 6-bit `q`, whose
/// low four bits are in `ql` and high two in `qh` (see [`Q6KBlock::value`]).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q6KBlock {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: f16,
}

impl Q4KBlock {
    /// The 4-bit value `i`.
    pub(crate) fn value(&self, i: usize) -> u8 {
        let q = self.qs[i / 64 * 32 + i % 32];
        if i % 64 < 32 { q & 0x0F } else { q >> 4 }
    }
}

impl Q5KBlock {
    /// The 5-bit value `i`.
    pub(crate) fn value(&self, i: usize) -> u8 {
        let q = self.qs[i / 64 * 32 + i % 32];
        let low = if i % 64 < 32 { q & 0x0F } else { q >> 4 };
        let bit = (self.qh[i % 32] >> (i / 32)) & 1;
        low | (bit << 4)
    }
}

impl Q6KBlock {
    /// The 6-bit value `i`: in each half of 128 values, the four runs of 32 take the low
    /// nibbles of `ql[0..32]`, of `ql[32..64]`, then their high nibbles, and bit pairs 0, 2,
    /// 4, 6 of `qh[0..32]`.
    pub(crate) fn value(&self, i: usize) -> u8 {
        let (half, run, l) = (i / 128, i % 128 / 32, i % 32);
        let q = self.ql[half * 64 + (run % 2) * 32 + l];
        let low = if run < 2 { q & 0x0F } else { q >> 4 };
        let high = (self.qh[half * 32 + l] >> (2 * run)) & 3;
        low | (high << 4)
    }
}

/// A Q4_K or Q5_K block (`(d, dmin)`, sub-block scales and minimums) times a block of
/// activations, from the sums `sub` of each sub-block's values times its activations:
/// `d·d' · Σ scales[j] · sub[j] − dmin·d' · Σ mins[j] · Σa`, the sums exact in integers, as
/// the plain loops and the NEON kernels scale them.
#[inline(always)]
pub(crate) fn scaled_sub_sums(
    (d, dmin): (f32, f32),
    scales: &[u8; 8],
    mins: &[u8; 8],
    sub: &[i32; 8],
    a: &Q8KBlock,
) -> f32 {
    let sumi: i32 = scales
        .iter()
        .zip(sub)
        .map(|(&s, &v)| i32::from(s) * v)
        .sum();
    let offsets: i32 = mins
        .iter()
        .enumerate()
        .map(|(j, &m)| i32::from(m) * (i32::from(a.bsums[2 * j]) + i32::from(a.bsums[2 * j + 1])))
        .sum();
    (d * a.d) * sumi as f32 - (dmin * a.d) * offsets as f32
}

/// Appends a Q4_K or Q5_K block's values: `d · scales[i/32] · q_i − dmin · mins[i/32]`.
fn dequantize_scale_min(
    (d, dmin): (f32, f32),
    scales: &[u8; 8],
    mins: &[u8; 8],
    value: impl Fn(usize) -> u8,
    out: &mut Vec<f32>,
) {
    out.extend((0..QK_K).map(|i| {
        let j = i / 32;
        d * f32::from(scales[j]) * f32::from(value(i)) - dmin * f32::from(mins[j])
    }));
}

impl Format for Q4KBlock {
    type Activation = Q8KBlock;
    const VALUES: usize = QK_K;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let (scales, mins) = scales_and_mins(&self.scales);
        let d = (widen(self.d), widen(self.dmin));
        dequantize_scale_min(d, &scales, &mins, |i| self.value(i), out);
    }

    fn quantize(x: &[f32]) -> Q8KBlock {
        quantize_q8k(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8KBlock> {
        &kernels.dot.q4_k
    }
}

impl Format for Q5KBlock {
    type Activation = Q8KBlock;
    const VALUES: usize = QK_K;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let (scales, mins) = scales_and_mins(&self.scales);
        let d = (widen(self.d), widen(self.dmin));
        dequantize_scale_min(d, &scales, &mins, |i| self.value(i), out);
    }

    fn quantize(x: &[f32]) -> Q8KBlock {
        quantize_q8k(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8KBlock> {
        &kernels.dot.q5_k
    }
}

impl Format for Q6KBlock {
    type Activation = Q8KBlock;
    const VALUES: usize = QK_K;

    fn dequantize(&self, out: &mut Vec<f32>) {
        out.extend((0..QK_K).map(|i| {
            widen(self.d) * f32::from(self.scales[i / 16]) * (f32::from(self.value(i)) - 32.0)
        }));
    }

    fn quantize(x: &[f32]) -> Q8KBlock {
        quantize_q8k(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8KBlock> {
        &kernels.dot.q6_k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_scales_unpack_as_llama_cpp_reads_them_one_by_one() {
        let mut state = 0x9E37_79B9_u32;
        for _ in 0..10_000 {
            let packed: [u8; 12] = std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            });
            let (scales, mins) = scales_and_mins(&packed);
            for j in 0..8 {
                let (scale, min) = if j < 4 {
                    (packed[j] & 63, packed[j + 4] & 63)
                } else {
                    (
                        (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4),
                        (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
                    )
                };
                assert_eq!((scales[j], mins[j]), (scale, min), "{packed:?}, {j}");
            }
        }
    }
}
