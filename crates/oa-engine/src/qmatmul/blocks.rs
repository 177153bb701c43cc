//! The formats of 32 values per block (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the 8-bit
//! activations they multiply: blocks as the file stores them (f16 scales, the same bytes, so
//! that decoding, which reads every weight once per token, moves no more memory than the file
//! holds), dequantized, and multiplied plainly, block by block, as llama.cpp's reference sums.

use bytemuck::{Pod, Zeroable};
use half::f16;

use super::{Format, nearest_int, widen};

/// Values per block.
pub(super) const BLOCK: usize = 32;

/// One block of quantized activations: `value ≈ d · q`, and `s = d · Σq` (Q8_1's extra field,
/// which the formats with an offset use); `sum = Σq` exactly, for the repacked rows, whose
/// values are held plus an offset.
pub(super) struct Q8Block {
    pub d: f32,
    pub s: f32,
    pub sum: i32,
    pub qs: [i8; BLOCK],
}

/// llama.cpp's x86 `quantize_row_q8_0` / `quantize_row_q8_1`: multiply by `127 / max|x|`,
/// round half to even, keep `d = max|x| / 127` and `s = d · Σq`, each rounded to f16 once.
pub(super) fn quantize_q8(x: &[f32]) -> Q8Block {
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
pub(super) struct Q4_0Block {
    pub d: f16,
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q4_1 weights: `value = d · q + m` for 4-bit `q`, laid out as Q4_0's.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Q4_1Block {
    pub d: f16,
    pub m: f16,
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q5_0 weights: `value = d · (q − 16)` for 5-bit `q`, whose low four bits are
/// laid out as Q4_0's and fifth bits are `qh` (bit `i` of the little-endian word for value `i`).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Q5_0Block {
    pub d: f16,
    pub qh: [u8; 4],
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q5_1 weights: `value = d · q + m` for 5-bit `q`, whose fifth bits are `qh`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Q5_1Block {
    pub d: f16,
    pub m: f16,
    pub qh: [u8; 4],
    pub qs: [u8; BLOCK / 2],
}

/// One block of Q8_0 weights: `value = d · q` for 8-bit `q`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Q8_0Block {
    pub d: f16,
    pub qs: [i8; BLOCK],
}

/// The 4-bit values of `qs` in order: low nibbles first, then high ones.
fn nibbles(qs: &[u8; BLOCK / 2]) -> impl Iterator<Item = u8> + '_ {
    qs.iter().map(|q| q & 0x0F).chain(qs.iter().map(|q| q >> 4))
}

/// `Σ w·a` of two blocks' 8-bit values.
fn integer_dot(w: impl Iterator<Item = i32>, a: &[i8; BLOCK]) -> i32 {
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

    fn dot<const N: usize>(w: &[Self], a: [&[Q8Block]; N]) -> [f32; N] {
        #[cfg(target_arch = "x86_64")]
        if let Some(sums) = super::x86::dot_q4_0(w, a) {
            return sums;
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(sums) = super::neon::dot_q4_0(w, a) {
            return sums;
        }
        a.map(|a| dot_q4_0_plain(w, a))
    }
}

/// One row of Q4_0 weights by one row of activations without SIMD, block by block.
pub(super) fn dot_q4_0_plain(w: &[Q4_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let values = nibbles(&w.qs).map(|q| i32::from(q) - 8);
            (widen(w.d) * a.d) * integer_dot(values, &a.qs) as f32
        })
        .sum()
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

    fn dot<const N: usize>(w: &[Self], a: [&[Q8Block]; N]) -> [f32; N] {
        #[cfg(target_arch = "x86_64")]
        if let Some(sums) = super::x86::dot_q4_1(w, a) {
            return sums;
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(sums) = super::neon::dot_q4_1(w, a) {
            return sums;
        }
        a.map(|a| dot_q4_1_plain(w, a))
    }
}

/// One row of Q4_1 weights by one row of activations without SIMD, block by block.
pub(super) fn dot_q4_1_plain(w: &[Q4_1Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let sumi = integer_dot(nibbles(&w.qs).map(i32::from), &a.qs);
            (widen(w.d) * a.d) * sumi as f32 + widen(w.m) * a.s
        })
        .sum()
}

impl Q5_0Block {
    /// The values `q − 16` in order.
    pub(super) fn values(&self) -> impl Iterator<Item = i32> + '_ {
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

    fn dot<const N: usize>(w: &[Self], a: [&[Q8Block]; N]) -> [f32; N] {
        #[cfg(target_arch = "x86_64")]
        if let Some(sums) = super::x86::dot_q5_0(w, a) {
            return sums;
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(sums) = super::neon::dot_q5_0(w, a) {
            return sums;
        }
        a.map(|a| dot_q5_0_plain(w, a))
    }
}

/// One row of Q5_0 weights by one row of activations without SIMD, block by block.
pub(super) fn dot_q5_0_plain(w: &[Q5_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| (widen(w.d) * a.d) * integer_dot(w.values(), &a.qs) as f32)
        .sum()
}

impl Q5_1Block {
    /// The 5-bit values in order.
    fn values(&self) -> impl Iterator<Item = u8> + '_ {
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

    fn dot<const N: usize>(w: &[Self], a: [&[Q8Block]; N]) -> [f32; N] {
        #[cfg(target_arch = "x86_64")]
        if let Some(sums) = super::x86::dot_q5_1(w, a) {
            return sums;
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(sums) = super::neon::dot_q5_1(w, a) {
            return sums;
        }
        a.map(|a| dot_q5_1_plain(w, a))
    }
}

/// One row of Q5_1 weights by one row of activations without SIMD, block by block.
pub(super) fn dot_q5_1_plain(w: &[Q5_1Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let sumi = integer_dot(w.values().map(i32::from), &a.qs);
            (widen(w.d) * a.d) * sumi as f32 + widen(w.m) * a.s
        })
        .sum()
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

    fn dot<const N: usize>(w: &[Self], a: [&[Q8Block]; N]) -> [f32; N] {
        #[cfg(target_arch = "x86_64")]
        if let Some(sums) = super::x86::dot_q8_0(w, a) {
            return sums;
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(sums) = super::neon::dot_q8_0(w, a) {
            return sums;
        }
        a.map(|a| dot_q8_0_plain(w, a))
    }
}

/// One row of Q8_0 weights by one row of activations without SIMD, block by block.
pub(super) fn dot_q8_0_plain(w: &[Q8_0Block], a: &[Q8Block]) -> f32 {
    w.iter()
        .zip(a)
        .map(|(w, a)| {
            let values = w.qs.iter().map(|&q| i32::from(q));
            (widen(w.d) * a.d) * integer_dot(values, &a.qs) as f32
        })
        .sum()
}
