//! The formats of 32 values per block (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the 8-bit
//! activations they multiply: blocks as the file stores them (f16 scales, the same bytes, so
//! that decoding, which reads every weight once per token, moves no more memory than the file
//! holds), their values, and activations quantized as llama.cpp quantizes them.

use bytemuck::{Pod, Zeroable};
use half::f16;

use super::scalar::{nearest_int, widen};
use super::{Format, Kernels, RowKernel};

/// Values per block.
pub(crate) const BLOCK: usize = 32;

/// One block of quantized activations: `value ≈ d · q`, and `s = d · Σq` (Q8_1's extra field,
/// which the formats with an offset use); `sum = Σq` exactly, for the repacked rows, whose
/// values are held plus an offset.
pub(crate) struct Q8Block {
    pub d: f32,
    pub s: f32,
    pub sum: i32,
    pub qs: [i8; BLOCK],
}

/// llama.cpp's x86 `quantize_row_q8_0` / `quantize_row_q8_1`: multiply by `127 / max|x|`,
/// round half to even, keep `d = max|x| / 127` and `s = d · Σq`, each rounded to f16 once.
pub(crate) fn quantize_q8(x: &[f32]) -> Q8Block {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut qs = [0i8; BLOCK];
    let mut sum = 0i32;
    for (q, v) in qs.iter_mut().zip(x) {
        *q = nearest_int(v * id) as i8;
        sum += i32::from(*q);
    }
    Q8Block {
        d: half::f16::from_f32(d).to_f32(),
        s: half::f16::from_f32(sum as f32 * d).to_f32(),
        sum,
        qs,
    }
}

/// One block of Q4_0 weights: `value = d · (q − 8)` for 4-bit `q`; values 0..16 are the low
/// nibbles of `qs`, 16..32 the high ones.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q4_0Block {
    pub d: f16,
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q4_1 weights: `value = d · q + m` for 4-bit `q`, laid out as Q4_0's.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q4_1Block {
    pub d: f16,
    pub m: f16,
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q5_0 weights: `value = d · (q − 16)` for 5-bit `q`, whose low four bits are
/// laid out as Q4_0's and fifth bits are `qh` (bit `i` of the little-endian word for value `i`).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q5_0Block {
    pub d: f16,
    pub qh: [u8; 4],
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q5_1 weights: `value = d · q + m` for 5-bit `q`, whose fifth bits are `qh`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q5_1Block {
    pub d: f16,
    pub m: f16,
    pub qh: [u8; 4],
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q8_0 weights: `value = d · q` for 8-bit `q`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q8_0Block {
    pub d: f16,
    pub qs: [i8; BLOCK],
}

/// The 4-bit values of `qs` in order: low nibbles first, then high ones.
pub(crate) fn nibbles(qs: &[u8; BLOCK / 2]) -> impl Iterator<Item = u8> + '_ {
    qs.iter().map(|q| q & 0x0F).chain(qs.iter().map(|q| q >> 4))
}

/// `Σ w·a` of two blocks' 8-bit values.
pub(crate) fn integer_dot(w: impl Iterator<Item = i32>, a: &[i8; BLOCK]) -> i32 {
    w.zip(a).map(|(w, &a)| w * i32::from(a)).sum()
}

impl Format for Q4_0Block {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let d = widen(self.d);
        out.extend(nibbles(&self.qs).map(|q| d * (f32::from(q) - 8.0)));
    }

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8Block> {
        &kernels.dot.q4_0
    }
}

impl Format for Q4_1Block {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let (d, m) = (widen(self.d), widen(self.m));
        out.extend(nibbles(&self.qs).map(|q| d * f32::from(q) + m));
    }

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8Block> {
        &kernels.dot.q4_1
    }
}

impl Q5_0Block {
    /// The values `q − 16` in order.
    pub(crate) fn values(&self) -> impl Iterator<Item = i32> + '_ {
        let qh = u32::from_le_bytes(self.qh);
        nibbles(&self.qs)
            .enumerate()
            .map(move |(i, q)| i32::from(q | (((qh >> i) & 1) << 4) as u8) - 16)
    }
}

impl Format for Q5_0Block {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let d = widen(self.d);
        out.extend(self.values().map(|q| d * q as f32));
    }

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8Block> {
        &kernels.dot.q5_0
    }
}

impl Q5_1Block {
    /// The 5-bit values in order.
    pub(crate) fn values(&self) -> impl Iterator<Item = u8> + '_ {
        nibbles(&self.qs)
            .enumerate()
            .map(|(i, q)| q | (((u32::from_le_bytes(self.qh) >> i) & 1) << 4) as u8)
    }
}

impl Format for Q5_1Block {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let (d, m) = (widen(self.d), widen(self.m));
        out.extend(self.values().map(|q| d * f32::from(q) + m));
    }

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8Block> {
        &kernels.dot.q5_1
    }
}

impl Format for Q8_0Block {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn dequantize(&self, out: &mut Vec<f32>) {
        let d = widen(self.d);
        out.extend(self.qs.iter().map(|&q| d * f32::from(q)));
    }

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    fn kernel(kernels: &Kernels) -> &RowKernel<Self, Q8Block> {
        &kernels.dot.q8_0
    }
}
