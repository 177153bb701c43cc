//! Matrix multiplication with Q4_1 weights, owned by the engine because candle's is wrong.
//!
//! Q4_1 weights are multiplied by activations quantized to Q8_1 blocks, each of which carries
//! `s = d · Σq` for the weights' offset term. candle 0.11.1 computes `s` as
//! `f16(Σq) · f16(d)` in half precision, while llama.cpp (and the format's definition) rounds
//! `Σq · d` once, from f32. The error enters every block of every dot product: on SmolLM2 Q4_1
//! it moved logits by up to 1.2 (3.5% of their spread) and changed greedy text after about ten
//! tokens. Here the activations are quantized as llama.cpp does and the dot products summed as
//! its reference kernel does; a tiny random Q4_1 model then agrees with llama.cpp's logits
//! (`tests/tiny_models.rs`). Rows are split over the CPU's threads.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use half::f16;

use crate::{EngineError, Result};

/// Values per block, for Q4_1 and Q8_1 alike.
const BLOCK: usize = 32;
/// Bytes of one Q4_1 block: f16 scale, f16 minimum, 16 bytes of nibbles.
const Q4_1_BYTES: usize = 20;

#[derive(Clone, Copy)]
struct WeightBlock {
    d: f32,
    m: f32,
    qs: [u8; BLOCK / 2],
}

struct ActivationBlock {
    d: f32,
    s: f32,
    qs: [i8; BLOCK],
}

/// A Q4_1 matrix, rows × columns, unpacked for fast access.
pub(crate) struct Q4_1Matrix {
    rows: usize,
    cols: usize,
    blocks: Vec<WeightBlock>,
}

impl Q4_1Matrix {
    /// Takes over a Q4_1 tensor; `None` for any other type.
    pub fn from_qtensor(t: &QTensor) -> Result<Option<Q4_1Matrix>> {
        if t.dtype() != GgmlDType::Q4_1 {
            return Ok(None);
        }
        let (rows, cols) = t.shape().dims2()?;
        if cols % BLOCK != 0 {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a Q4_1 row of {cols} values is not whole blocks"
            ))));
        }
        let data = t.data()?;
        let blocks: Vec<WeightBlock> = data
            .chunks_exact(Q4_1_BYTES)
            .map(|b| {
                let mut qs = [0u8; BLOCK / 2];
                qs.copy_from_slice(&b[4..]);
                WeightBlock {
                    d: f16::from_le_bytes([b[0], b[1]]).to_f32(),
                    m: f16::from_le_bytes([b[2], b[3]]).to_f32(),
                    qs,
                }
            })
            .collect();
        if blocks.len() != rows * cols / BLOCK {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a Q4_1 tensor of {rows}×{cols} holds {} blocks",
                blocks.len()
            ))));
        }
        Ok(Some(Q4_1Matrix { rows, cols, blocks }))
    }

    /// `x · Wᵀ` for `x` of shape (…, cols): the result has shape (…, rows).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let Some((&cols, lead)) = dims.split_last() else {
            return Err(EngineError::InvalidRequest("a scalar input".into()));
        };
        if cols != self.cols {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "input of width {cols} for a matrix of {} columns",
                self.cols
            ))));
        }
        let n: usize = lead.iter().product();
        let input = x.flatten_all()?.to_vec1::<f32>()?;
        let per_row = self.cols / BLOCK;
        let activations: Vec<ActivationBlock> =
            input.chunks_exact(BLOCK).map(quantize_q8_1).collect();
        let mut out = vec![0f32; n * self.rows];
        // Each thread fills a band of weight rows for every input row.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(self.rows.max(1));
        let band = self.rows.div_ceil(threads);
        let mut results: Vec<Vec<f32>> = Vec::with_capacity(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (start, end) = (t * band, ((t + 1) * band).min(self.rows));
                    let activations = &activations;
                    scope.spawn(move || {
                        let mut part = vec![0f32; n * end.saturating_sub(start)];
                        for r in start..end {
                            let w = &self.blocks[r * per_row..(r + 1) * per_row];
                            for i in 0..n {
                                let a = &activations[i * per_row..(i + 1) * per_row];
                                part[i * (end - start) + (r - start)] = dot(w, a);
                            }
                        }
                        part
                    })
                })
                .collect();
            for h in handles {
                results.push(h.join().unwrap_or_default());
            }
        });
        for (t, part) in results.iter().enumerate() {
            let (start, end) = (t * band, ((t + 1) * band).min(self.rows));
            let width = end.saturating_sub(start);
            if part.len() != n * width {
                return Err(EngineError::Inference(candle_core::Error::Msg(
                    "a matrix multiplication thread failed".into(),
                )));
            }
            for i in 0..n {
                out[i * self.rows + start..i * self.rows + end]
                    .copy_from_slice(&part[i * width..(i + 1) * width]);
            }
        }
        let mut shape = lead.to_vec();
        shape.push(self.rows);
        Ok(Tensor::from_vec(out, shape, &Device::Cpu)?)
    }
}

/// llama.cpp's `quantize_row_q8_1`: scale to ±127, round, and keep `d` and `s = d · Σq`, each
/// rounded to f16 once.
fn quantize_q8_1(x: &[f32]) -> ActivationBlock {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut qs = [0i8; BLOCK];
    let mut sum = 0i32;
    for (q, v) in qs.iter_mut().zip(x) {
        *q = (v * id).round() as i8;
        sum += i32::from(*q);
    }
    ActivationBlock {
        d: f16::from_f32(d).to_f32(),
        s: f16::from_f32(sum as f32 * d).to_f32(),
        qs,
    }
}

/// One row of weights by one row of activations, block by block as llama.cpp's kernel sums.
fn dot(w: &[WeightBlock], a: &[ActivationBlock]) -> f32 {
    let mut sum = 0f32;
    for (w, a) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..BLOCK / 2 {
            let lo = i32::from(w.qs[j] & 0x0F);
            let hi = i32::from(w.qs[j] >> 4);
            sumi += lo * i32::from(a.qs[j]) + hi * i32::from(a.qs[j + BLOCK / 2]);
        }
        sum += (w.d * a.d) * sumi as f32 + w.m * a.s;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dequantized_weights_within_activation_rounding() {
        let (rows, cols) = (5, 64);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let m = Q4_1Matrix::from_qtensor(&q).unwrap().unwrap();
        let x = Tensor::from_vec(
            (0..2 * cols)
                .map(|i| (i as f32 * 0.37).sin())
                .collect::<Vec<f32>>(),
            (2, cols),
            &Device::Cpu,
        )
        .unwrap();
        let ours = m.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        let exact = x
            .matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (a, b) in ours.iter().flatten().zip(exact.iter().flatten()) {
            assert!((a - b).abs() < 0.05, "{a} vs {b}");
        }
    }
}
