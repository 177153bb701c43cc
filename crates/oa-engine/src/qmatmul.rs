//! Matrix multiplication with Q4_1, Q5_1 and Q8_0 weights, owned by the engine because candle's
//! arithmetic differs from llama.cpp's for them.
//!
//! llama.cpp multiplies these weights by activations quantized in blocks of 32: Q8_1 (with
//! `s = d · Σq` for Q4_1's offset term) and Q8_0. candle 0.11.1 differs twice:
//! - For Q4_1 and Q5_1 it computes `s` as `f16(Σq) · f16(d)` in half precision, while the
//!   format rounds `Σq · d` once, from f32. On SmolLM2 Q4_1 this moved logits by up to 1.2.
//! - On x86 CPUs with AVX-512 it repacks Q8_0 matrices whose rows are a multiple of 256 values
//!   and quantizes the activations to Q8_K, one scale per 256 values; on a one-layer model of
//!   SmolLM2's shape this moved logits by up to 0.2 (1% of their spread). SmolLM2's tied output
//!   layer is such a matrix.
//!
//! Here activations are quantized as llama.cpp's x86 kernels do (`127 / max` as the multiplier,
//! rounding half to even) and dot products summed block by block; rows are split over candle's
//! thread pool. `tests/tiny_models.rs` compares the logits of random models in both formats
//! with llama.cpp's.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

use candle_core::quantized::gguf_file::TensorInfo;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use half::f16;

use crate::{EngineError, Result};

#[cfg(target_arch = "x86_64")]
mod x86;

/// Values per block, for every format here.
const BLOCK: usize = 32;

/// One block of Q4_1 weights: `value = d · q + m` for 4-bit `q`.
#[derive(Clone, Copy)]
struct Q4_1Block {
    d: f32,
    m: f32,
    qs: [u8; BLOCK / 2],
}

/// One block of Q5_1 weights: `value = d · q + m` for 5-bit `q`, whose fifth bits are `qh`.
#[derive(Clone, Copy)]
struct Q5_1Block {
    d: f32,
    m: f32,
    qh: u32,
    qs: [u8; BLOCK / 2],
}

/// One block of Q8_0 weights: `value = d · q` for 8-bit `q`.
#[derive(Clone, Copy)]
struct Q8_0Block {
    d: f32,
    qs: [i8; BLOCK],
}

/// One block of quantized activations: `value ≈ d · q`, and `s = d · Σq` (Q8_1's extra field).
struct ActivationBlock {
    d: f32,
    s: f32,
    qs: [i8; BLOCK],
}

enum Blocks {
    Q4_1(Vec<Q4_1Block>),
    Q5_1(Vec<Q5_1Block>),
    Q8_0(Vec<Q8_0Block>),
}

/// Bytes per block in the file, for the formats held here.
fn block_bytes(dtype: GgmlDType) -> Option<usize> {
    match dtype {
        GgmlDType::Q4_1 => Some(20),
        GgmlDType::Q5_0 => Some(22),
        GgmlDType::Q5_1 => Some(24),
        GgmlDType::Q8_0 => Some(34),
        _ => None,
    }
}

fn scale(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

impl Blocks {
    /// Room for `n` blocks of `dtype` (one of [`block_bytes`]'s).
    fn empty(dtype: GgmlDType, n: usize) -> Blocks {
        match dtype {
            GgmlDType::Q4_1 => Blocks::Q4_1(Vec::with_capacity(n)),
            GgmlDType::Q5_1 => Blocks::Q5_1(Vec::with_capacity(n)),
            _ => Blocks::Q8_0(Vec::with_capacity(n)),
        }
    }

    /// Appends the blocks `data` holds, stored as `dtype` (the type `self` was made for).
    fn push_from(&mut self, dtype: GgmlDType, data: &[u8]) {
        let Some(size) = block_bytes(dtype) else {
            return;
        };
        let chunks = data.chunks_exact(size);
        match (self, dtype) {
            (Blocks::Q4_1(blocks), _) => blocks.extend(chunks.map(|b| Q4_1Block {
                d: scale(b, 0),
                m: scale(b, 2),
                qs: std::array::from_fn(|i| b[4 + i]),
            })),
            (Blocks::Q5_1(blocks), _) => blocks.extend(chunks.map(|b| Q5_1Block {
                d: scale(b, 0),
                m: scale(b, 2),
                qh: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                qs: std::array::from_fn(|i| b[8 + i]),
            })),
            (Blocks::Q8_0(blocks), GgmlDType::Q5_0) => blocks.extend(chunks.map(|b| {
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let qs = &b[6..22];
                Q8_0Block {
                    d: scale(b, 0),
                    qs: std::array::from_fn(|i| {
                        let nibble = if i < BLOCK / 2 {
                            qs[i] & 0x0F
                        } else {
                            qs[i - BLOCK / 2] >> 4
                        };
                        (nibble | (((qh >> i) & 1) << 4) as u8) as i8 - 16
                    }),
                }
            })),
            (Blocks::Q8_0(blocks), _) => blocks.extend(chunks.map(|b| Q8_0Block {
                d: scale(b, 0),
                qs: std::array::from_fn(|i| b[2 + i] as i8),
            })),
        }
    }
}

/// A quantized matrix, rows × columns, unpacked for fast access.
pub(crate) struct QuantMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

impl QuantMatrix {
    /// Takes a copy of a Q4_1, Q5_0, Q5_1 or Q8_0 tensor; `None` for any other type. Q5_0's
    /// values, 5-bit `q − 16`, are kept as 8-bit Q8_0 blocks with the same scale: llama.cpp
    /// multiplies Q5_0 by the same 8-bit activations, so the sums are the same integers, and
    /// the Q8_0 kernels serve (at 36 bytes per block instead of 22).
    pub fn from_qtensor(t: &QTensor) -> Result<Option<QuantMatrix>> {
        let Some(block_bytes) = block_bytes(t.dtype()) else {
            return Ok(None);
        };
        let (rows, cols) = t.shape().dims2()?;
        let data = t.data()?;
        if cols % BLOCK != 0 || data.len() != rows * cols / BLOCK * block_bytes {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a {:?} tensor of {rows}×{cols} holds {} bytes",
                t.dtype(),
                data.len()
            ))));
        }
        let mut blocks = Blocks::empty(t.dtype(), rows * cols / BLOCK);
        blocks.push_from(t.dtype(), &data);
        Ok(Some(QuantMatrix { rows, cols, blocks }))
    }

    /// Reads tensor `info` of a GGUF file (whose tensor data start at `data_offset`) straight
    /// into blocks, a megabyte at a time, so that the file's bytes are never held whole beside
    /// the copy (a 178 MB embedding would otherwise be held twice while loading). `None` for
    /// types other than those of [`QuantMatrix::from_qtensor`].
    pub fn read<R: Read + Seek>(
        info: &TensorInfo,
        reader: &mut R,
        data_offset: u64,
    ) -> Result<Option<QuantMatrix>> {
        let dtype = info.ggml_dtype;
        let Some(block_bytes) = block_bytes(dtype) else {
            return Ok(None);
        };
        let (rows, cols) = info.shape.dims2()?;
        if cols % BLOCK != 0 {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a {dtype:?} tensor of {rows}×{cols}: rows are not whole blocks"
            ))));
        }
        let io = |e: std::io::Error| EngineError::Inference(candle_core::Error::Io(e));
        reader
            .seek(SeekFrom::Start(data_offset + info.offset))
            .map_err(io)?;
        let total = rows * cols / BLOCK;
        let mut blocks = Blocks::empty(dtype, total);
        let per_read = (1 << 20) / block_bytes;
        let mut buffer = vec![0u8; per_read * block_bytes];
        let mut done = 0;
        while done < total {
            let n = per_read.min(total - done);
            let bytes = &mut buffer[..n * block_bytes];
            reader.read_exact(bytes).map_err(io)?;
            blocks.push_from(dtype, bytes);
            done += n;
        }
        Ok(Some(QuantMatrix { rows, cols, blocks }))
    }

    /// The rows `ids` of the matrix, dequantized as llama.cpp does (`d · q`, `d · q + m`): an
    /// embedding table's lookup, so that a tied output layer and the embedding share one copy.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let per_row = self.cols / BLOCK;
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let id = id as usize;
            if id >= self.rows {
                return Err(EngineError::InvalidRequest(format!(
                    "token id {id} is outside the vocabulary of {}",
                    self.rows
                )));
            }
            let blocks = id * per_row..(id + 1) * per_row;
            match &self.blocks {
                Blocks::Q4_1(b) => {
                    for w in &b[blocks] {
                        let value = |q: u8| w.d * f32::from(q) + w.m;
                        out.extend(w.qs.iter().map(|&q| value(q & 0x0F)));
                        out.extend(w.qs.iter().map(|&q| value(q >> 4)));
                    }
                }
                Blocks::Q5_1(b) => {
                    for w in &b[blocks] {
                        let high = |j: usize| (((w.qh >> j) & 1) << 4) as u8;
                        let value = |q: u8| w.d * f32::from(q) + w.m;
                        out.extend((0..BLOCK / 2).map(|j| value((w.qs[j] & 0x0F) | high(j))));
                        out.extend(
                            (0..BLOCK / 2).map(|j| value((w.qs[j] >> 4) | high(j + BLOCK / 2))),
                        );
                    }
                }
                Blocks::Q8_0(b) => {
                    for w in &b[blocks] {
                        out.extend(w.qs.iter().map(|&q| w.d * f32::from(q)));
                    }
                }
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), self.cols), &Device::Cpu)?)
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
        let activations: Vec<ActivationBlock> =
            input.chunks_exact(BLOCK).map(quantize_activation).collect();
        let out = self.rows_times(&activations, n)?;
        let mut shape = lead.to_vec();
        shape.push(self.rows);
        Ok(Tensor::from_vec(out, shape, &Device::Cpu)?)
    }

    /// Every weight row against every one of the `n` activation rows, the weight rows split in
    /// bands over candle's thread pool; the result is row-major, `n × rows`. Activation rows go
    /// [`ROWS_AT_ONCE`] at a time through a weight row, which is then read once for all.
    fn rows_times(&self, activations: &[ActivationBlock], n: usize) -> Result<Vec<f32>> {
        const BAND: usize = 16;
        let per_row = self.cols / BLOCK;
        let bands = self.rows.div_ceil(BAND);
        let parts: Mutex<Vec<(usize, Vec<f32>)>> = Mutex::new(Vec::with_capacity(bands));
        candle_core::utils::barrier_pool().execute_chunked(bands, |range| {
            let start = range.start * BAND;
            let end = (range.end * BAND).min(self.rows);
            let width = end - start;
            let mut part = vec![0f32; n * width];
            let row = |i: usize| &activations[i * per_row..(i + 1) * per_row];
            for r in start..end {
                let w = r * per_row..(r + 1) * per_row;
                let mut i = 0;
                while i < n {
                    let mut sums = [0f32; ROWS_AT_ONCE];
                    let taken = if i + ROWS_AT_ONCE <= n {
                        let rows: [_; ROWS_AT_ONCE] = std::array::from_fn(|k| row(i + k));
                        sums = match &self.blocks {
                            Blocks::Q4_1(blocks) => dot_q4_1(&blocks[w.clone()], rows),
                            Blocks::Q5_1(blocks) => rows.map(|a| dot_q5_1(&blocks[w.clone()], a)),
                            Blocks::Q8_0(blocks) => dot_q8_0(&blocks[w.clone()], rows),
                        };
                        ROWS_AT_ONCE
                    } else {
                        let rows = [row(i)];
                        sums[0] = match &self.blocks {
                            Blocks::Q4_1(blocks) => dot_q4_1(&blocks[w.clone()], rows)[0],
                            Blocks::Q5_1(blocks) => dot_q5_1(&blocks[w.clone()], rows[0]),
                            Blocks::Q8_0(blocks) => dot_q8_0(&blocks[w.clone()], rows)[0],
                        };
                        1
                    };
                    for (k, sum) in sums.iter().take(taken).enumerate() {
                        part[(i + k) * width + (r - start)] = *sum;
                    }
                    i += taken;
                }
            }
            if let Ok(mut parts) = parts.lock() {
                parts.push((start, part));
            }
        });
        let parts = parts.into_inner().unwrap_or_default();
        let mut out = vec![0f32; n * self.rows];
        let mut filled = 0;
        for (start, part) in parts {
            let width = part.len() / n.max(1);
            for i in 0..n {
                out[i * self.rows + start..i * self.rows + start + width]
                    .copy_from_slice(&part[i * width..(i + 1) * width]);
            }
            filled += width;
        }
        if filled != self.rows && n > 0 {
            return Err(EngineError::Inference(candle_core::Error::Msg(
                "a matrix multiplication worker failed".into(),
            )));
        }
        Ok(out)
    }
}

/// llama.cpp's x86 `quantize_row_q8_0` / `quantize_row_q8_1`: multiply by `127 / max|x|`,
/// round half to even, keep `d = max|x| / 127` and `s = d · Σq`, each rounded to f16 once.
fn quantize_activation(x: &[f32]) -> ActivationBlock {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut qs = [0i8; BLOCK];
    let mut sum = 0i32;
    for (q, v) in qs.iter_mut().zip(x) {
        *q = (v * id).round_ties_even() as i8;
        sum += i32::from(*q);
    }
    ActivationBlock {
        d: f16::from_f32(d).to_f32(),
        s: f16::from_f32(sum as f32 * d).to_f32(),
        qs,
    }
}

/// Activation rows that go through one weight row together.
const ROWS_AT_ONCE: usize = 4;

/// One row of Q4_1 weights by `N` rows of activations: with AVX2 and FMA where the CPU has
/// them (summed as llama.cpp's x86 kernel sums), else plainly.
fn dot_q4_1<const N: usize>(w: &[Q4_1Block], a: [&[ActivationBlock]; N]) -> [f32; N] {
    #[cfg(target_arch = "x86_64")]
    if let Some(sums) = x86::dot_q4_1(w, a) {
        return sums;
    }
    a.map(|a| dot_q4_1_plain(w, a))
}

/// One row of Q4_1 weights by one row of activations without SIMD, block by block.
fn dot_q4_1_plain(w: &[Q4_1Block], a: &[ActivationBlock]) -> f32 {
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

/// One row of Q5_1 weights by one row of activations, block by block as llama.cpp sums.
fn dot_q5_1(w: &[Q5_1Block], a: &[ActivationBlock]) -> f32 {
    let mut sum = 0f32;
    for (w, a) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..BLOCK / 2 {
            let lo = i32::from(w.qs[j] & 0x0F) | (((w.qh >> j) & 1) << 4) as i32;
            let hi = i32::from(w.qs[j] >> 4) | (((w.qh >> (j + BLOCK / 2)) & 1) << 4) as i32;
            sumi += lo * i32::from(a.qs[j]) + hi * i32::from(a.qs[j + BLOCK / 2]);
        }
        sum += (w.d * a.d) * sumi as f32 + w.m * a.s;
    }
    sum
}

/// One row of Q8_0 weights by `N` rows of activations: with AVX2 and FMA where the CPU has
/// them (summed as llama.cpp's x86 kernel sums), else plainly.
fn dot_q8_0<const N: usize>(w: &[Q8_0Block], a: [&[ActivationBlock]; N]) -> [f32; N] {
    #[cfg(target_arch = "x86_64")]
    if let Some(sums) = x86::dot_q8_0(w, a) {
        return sums;
    }
    a.map(|a| dot_q8_0_plain(w, a))
}

/// One row of Q8_0 weights by one row of activations without SIMD, block by block.
fn dot_q8_0_plain(w: &[Q8_0Block], a: &[ActivationBlock]) -> f32 {
    let mut sum = 0f32;
    for (w, a) in w.iter().zip(a) {
        let sumi: i32 =
            w.qs.iter()
                .zip(&a.qs)
                .map(|(&x, &y)| i32::from(x) * i32::from(y))
                .sum();
        sum += (w.d * a.d) * sumi as f32;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches_dequantized_weights_within_activation_rounding(dtype: GgmlDType) {
        let (rows, cols) = (37, 64);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
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
        assert_eq!(ours.len(), 2);
        assert_eq!(ours[0].len(), rows);
        for (a, b) in ours.iter().flatten().zip(exact.iter().flatten()) {
            assert!((a - b).abs() < 0.05, "{dtype:?}: {a} vs {b}");
        }
    }

    #[test]
    fn q4_1_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q4_1);
    }

    #[test]
    fn q5_0_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q5_0);
    }

    #[test]
    fn q5_1_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q5_1);
    }

    #[test]
    fn q8_0_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q8_0);
    }

    #[test]
    fn looked_up_rows_are_candles_dequantized_rows() {
        let (rows, cols) = (9, 64);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        for dtype in [
            GgmlDType::Q4_1,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::Q8_0,
        ] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let ids = [3u32, 0, 8, 3];
            let ours = m.rows(&ids).unwrap().to_vec2::<f32>().unwrap();
            let all = q
                .dequantize(&Device::Cpu)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            for (row, &id) in ours.iter().zip(&ids) {
                assert_eq!(row, &all[id as usize], "{dtype:?} row {id}");
            }
            assert!(m.rows(&[rows as u32]).is_err(), "outside the vocabulary");
        }
    }

    #[test]
    fn reading_from_a_file_in_pieces_gives_the_same_matrix() {
        // More blocks than one megabyte's read, so that several reads are joined.
        let (rows, cols) = (300, 4096);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q5_0, GgmlDType::Q8_0] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let mut file = vec![7u8; 100];
            file.extend_from_slice(&q.data().unwrap());
            let info = TensorInfo {
                ggml_dtype: dtype,
                shape: (rows, cols).into(),
                offset: 60,
            };
            let mut reader = std::io::Cursor::new(file);
            let read = QuantMatrix::read(&info, &mut reader, 40).unwrap().unwrap();
            let copied = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let ids: Vec<u32> = (0..rows as u32).step_by(37).collect();
            assert_eq!(
                read.rows(&ids).unwrap().to_vec2::<f32>().unwrap(),
                copied.rows(&ids).unwrap().to_vec2::<f32>().unwrap(),
                "{dtype:?}"
            );
            let short = TensorInfo { offset: 61, ..info };
            let mut reader = std::io::Cursor::new(reader.into_inner());
            assert!(
                QuantMatrix::read(&short, &mut reader, 40).is_err(),
                "a cut file"
            );
        }
    }

    #[test]
    fn other_formats_are_left_to_candle() {
        let w = Tensor::zeros((4, 256), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4K).unwrap();
        assert!(QuantMatrix::from_qtensor(&q).unwrap().is_none());
    }
}
