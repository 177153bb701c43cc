//! The decoder-only transformer that runs every architecture in [`crate::arch`], on candle-core
//! tensors and candle's quantized matrix multiplication.
//!
//! The engine owns this layer rather than using candle-transformers' quantized models, whose
//! defects change the output (see `docs/engine.md`): Gemma 3 with SiLU instead of GELU
//! and no sliding window in decoding, llama's RoPE capped at 4,096 positions, no Qwen3 or Phi-3.
//! RoPE angles are computed for the positions of each call, once for all layers, so any
//! context the file declares works without a table per layer. The KV cache remembers how many
//! positions it holds; a call at an earlier position keeps the cache up to there and continues
//! from it, which is how a follow-up turn reuses the shared prefix of the conversation.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor, gguf_file::Content};
use candle_core::{D, DType, Device, Module, Tensor};
use half::f16;

use crate::arch::{Ffn, HParams, Qkv, RopeStyle};
use crate::attention::{Heads, LayerCache, attend};
use crate::qmatmul::QuantMatrix;
use crate::{EngineError, Result};

/// RMSNorm over the last dimension, computed on the CPU as llama.cpp computes it: squares
/// summed in f64, `1/√(mean + ε)` in f32, the row scaled by it and then multiplied by the
/// weight. candle-nn's sums in f32 and divides; the last-bit differences then decide how the
/// next matrix's 8-bit activations round, which on SmolLM2 moved a query by 2e-3 in the first
/// layer. On a GPU, candle-nn's kernel runs on the weight kept there.
struct Norm {
    weight: Vec<f32>,
    on_gpu: Option<Tensor>,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(weight) = &self.on_gpu {
            return Ok(candle_nn::ops::rms_norm(
                &x.contiguous()?,
                weight,
                self.eps,
            )?);
        }
        let n = self.weight.len();
        if x.dims().last() != Some(&n) {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a norm of width {n} applied to {:?}",
                x.dims()
            ))));
        }
        let mut values = x.flatten_all()?.to_vec1::<f32>()?;
        let work = values.len();
        crate::parallel::for_each_chunk(&mut values, n, work, |_, row| {
            let sum: f64 = row.iter().map(|&a| f64::from(a * a)).sum();
            let mean = (sum / n as f64) as f32;
            let scale = 1.0 / (mean + self.eps).sqrt();
            for (a, w) in row.iter_mut().zip(&self.weight) {
                *a = (*a * scale) * w;
            }
        });
        Ok(Tensor::from_vec(values, x.dims(), x.device())?)
    }
}

/// A weight matrix: on the CPU the engine's own ([`crate::qmatmul`]: llama.cpp's arithmetic,
/// kernels chosen for the CPU at hand) for the formats it holds, else candle's quantized
/// multiplication. A GPU always uses candle's kernels.
enum Matrix {
    Candle(QMatMul),
    Own(Arc<QuantMatrix>),
}

impl Matrix {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Matrix::Candle(m) => Ok(m.forward(x)?),
            Matrix::Own(m) => m.forward(x),
        }
    }
}

/// The token embedding table: candle's quantized tensor (only the rows used are
/// dequantized), or, when the output layer is tied to it and is the engine's own matrix, that
/// very matrix, so that the table is held once.
enum Embedding {
    Candle(Arc<QTensor>),
    Own(Arc<QuantMatrix>),
}

struct Linear {
    weight: Matrix,
    bias: Option<Tensor>,
}

impl Linear {
    /// `x` through each of `linears`; the engine's own matrices in one pass over the thread
    /// pool ([`QuantMatrix::forward_together`]).
    fn forward_together<const N: usize>(linears: [&Linear; N], x: &Tensor) -> Result<[Tensor; N]> {
        let own: Option<Vec<&QuantMatrix>> = linears
            .iter()
            .map(|l| match &l.weight {
                Matrix::Own(m) => Some(m.as_ref()),
                Matrix::Candle(_) => None,
            })
            .collect();
        let ys = match own {
            Some(matrices) if x.device().is_cpu() => QuantMatrix::forward_together(&matrices, x)?,
            _ => linears
                .iter()
                .map(|l| l.weight.forward(x))
                .collect::<Result<Vec<_>>>()?,
        };
        let ys = ys
            .into_iter()
            .zip(linears)
            .map(|(y, l)| {
                Ok(match &l.bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        <[Tensor; N]>::try_from(ys).map_err(|_| {
            EngineError::Inference(candle_core::Error::Msg("a projection went missing".into()))
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

enum QkvProj {
    Separate { q: Linear, k: Linear, v: Linear },
    Fused(Linear),
}

enum FfnProj {
    Gated { gate: Linear, up: Linear },
    Fused { gate_up: Linear },
}

struct Layer {
    attn_norm: Norm,
    qkv: QkvProj,
    q_norm: Option<Norm>,
    k_norm: Option<Norm>,
    output: Linear,
    post_attn_norm: Option<Norm>,
    ffn_norm: Norm,
    ffn: FfnProj,
    down: Linear,
    post_ffn_norm: Option<Norm>,
    local: bool,
}

/// Keys and values of the positions seen so far, per layer, shaped (1, kv heads, positions,
/// head size), in f16 as llama.cpp keeps them by default: half the memory, and the same
/// rounding, which decides near-ties in greedy decoding.
#[derive(Default)]
struct KvCache {
    /// On a GPU: each layer's keys and values, (batch, kv heads, positions, head).
    layers: Vec<Option<(Tensor, Tensor)>>,
    /// On the CPU: each layer's cache, `[position][kv head][value]` in f16.
    cpu: Vec<LayerCache>,
    /// Values per position in a CPU layer cache.
    stride: usize,
    len: usize,
}

impl KvCache {
    fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let slot = &mut self.layers[layer];
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        Ok((k, v))
    }

    fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        for layer in &mut self.cpu {
            layer.truncate(len, self.stride);
        }
        for slot in &mut self.layers {
            *slot = match slot.take() {
                Some(_) if len == 0 => None,
                Some((k, v)) => Some((
                    k.narrow(2, 0, len)?.contiguous()?,
                    v.narrow(2, 0, len)?.contiguous()?,
                )),
                None => None,
            };
        }
        self.len = len;
        Ok(())
    }
}

/// Reads tensors by name from a checked file.
struct Loader<'a, R> {
    content: &'a Content,
    reader: &'a mut R,
    /// The file mapped into memory, where it could be.
    mapped: Option<&'a Arc<memmap2::Mmap>>,
    device: &'a Device,
    eps: f32,
}

impl<R: Read + Seek> Loader<'_, R> {
    fn qtensor(&mut self, name: &str) -> Result<QTensor> {
        Ok(self.content.tensor(self.reader, name, self.device)?)
    }

    fn tensor(&mut self, name: &str) -> Result<Tensor> {
        Ok(self
            .qtensor(name)?
            .dequantize(self.device)?
            .to_dtype(DType::F32)?)
    }

    fn norm(&mut self, name: &str) -> Result<Norm> {
        let weight = self.tensor(name)?.flatten_all()?;
        Ok(Norm {
            on_gpu: (!self.device.is_cpu()).then(|| weight.clone()),
            weight: weight.to_vec1::<f32>()?,
            eps: self.eps,
        })
    }

    /// Matrix `name`: on the CPU, in a format the engine holds, read in place from the mapped
    /// file (or copied from it where it could not be mapped); else through candle.
    fn matrix(&mut self, name: &str) -> Result<Matrix> {
        if let Some(m) = self.own(name)? {
            return Ok(Matrix::Own(Arc::new(m)));
        }
        Ok(Matrix::Candle(QMatMul::from_qtensor(self.qtensor(name)?)?))
    }

    /// Matrix `name` as the engine's own, if it runs on the CPU in a format the engine holds.
    fn own(&mut self, name: &str) -> Result<Option<QuantMatrix>> {
        let (true, Some(info)) = (self.device.is_cpu(), self.content.tensor_infos.get(name)) else {
            return Ok(None);
        };
        let offset = self.content.tensor_data_offset;
        match self.mapped {
            Some(file) => QuantMatrix::map(info, file, offset),
            None => QuantMatrix::read(info, self.reader, offset),
        }
    }

    fn linear(&mut self, prefix: &str, bias: bool) -> Result<Linear> {
        Ok(Linear {
            weight: self.matrix(&format!("{prefix}.weight"))?,
            bias: if bias {
                Some(self.tensor(&format!("{prefix}.bias"))?)
            } else {
                None
            },
        })
    }
}

/// Which keys a call's queries see: from `position` on, causally, within `window` positions
/// where given; as a mask tensor for a GPU.
struct Visible<'a> {
    position: usize,
    mask: Option<&'a Tensor>,
    window: Option<usize>,
}

/// RoPE angles for one call's positions.
struct Angles {
    cos: Tensor,
    sin: Tensor,
}

/// A loaded model of any supported architecture.
pub(crate) struct Transformer {
    hp: HParams,
    embedding: Embedding,
    layers: Vec<Layer>,
    norm: Norm,
    output: Matrix,
    /// Divisors of each RoPE frequency (`rope_freqs.weight`, Llama 3.1+), else ones.
    rope_freq_factors: Vec<f32>,
    cache: KvCache,
    device: Device,
}

impl Transformer {
    /// Reads the weights of a file whose metadata and tensor shapes have been checked
    /// ([`HParams::check_tensors`]), in place from `mapped` (the same file) where given.
    pub fn load<R: Read + Seek>(
        hp: HParams,
        content: &Content,
        reader: &mut R,
        mapped: Option<&Arc<memmap2::Mmap>>,
        device: &Device,
    ) -> Result<Transformer> {
        let mut w = Loader {
            content,
            reader,
            mapped,
            device,
            eps: hp.rms_eps,
        };
        let (embedding, output) = if content.tensor_infos.contains_key("output.weight") {
            let table = Arc::new(w.qtensor("token_embd.weight")?);
            let output = w.matrix("output.weight")?;
            (Embedding::Candle(table), output)
        } else {
            // A tied output layer: one copy serves both, the engine's own matrix where it can.
            let own = w.own("token_embd.weight")?;
            match own {
                Some(m) => {
                    let m = Arc::new(m);
                    (Embedding::Own(m.clone()), Matrix::Own(m))
                }
                None => {
                    let table = Arc::new(w.qtensor("token_embd.weight")?);
                    let output = Matrix::Candle(QMatMul::from_arc(table.clone())?);
                    (Embedding::Candle(table), output)
                }
            }
        };
        let final_norm = w.norm("output_norm.weight")?;
        let rope_freq_factors = if content.tensor_infos.contains_key("rope_freqs.weight") {
            w.tensor("rope_freqs.weight")?.to_vec1::<f32>()?
        } else {
            vec![1.0; hp.rope_dims / 2]
        };
        let mut layers = Vec::with_capacity(hp.layers);
        for i in 0..hp.layers {
            let p = format!("blk.{i}");
            let qkv = match hp.spec.qkv {
                Qkv::Separate { bias } => QkvProj::Separate {
                    q: w.linear(&format!("{p}.attn_q"), bias)?,
                    k: w.linear(&format!("{p}.attn_k"), bias)?,
                    v: w.linear(&format!("{p}.attn_v"), bias)?,
                },
                Qkv::Fused => QkvProj::Fused(w.linear(&format!("{p}.attn_qkv"), false)?),
            };
            let ffn = match hp.spec.ffn {
                Ffn::Silu | Ffn::Gelu => FfnProj::Gated {
                    gate: w.linear(&format!("{p}.ffn_gate"), false)?,
                    up: w.linear(&format!("{p}.ffn_up"), false)?,
                },
                Ffn::Fused => FfnProj::Fused {
                    gate_up: w.linear(&format!("{p}.ffn_up"), false)?,
                },
            };
            let (qk_norm, sandwich) = (hp.spec.qk_norm, hp.spec.sandwich_norms);
            let mut norm_if = |wanted: bool, n: &str| -> Result<Option<Norm>> {
                wanted
                    .then(|| w.norm(&format!("{p}.{n}.weight")))
                    .transpose()
            };
            let q_norm = norm_if(qk_norm, "attn_q_norm")?;
            let k_norm = norm_if(qk_norm, "attn_k_norm")?;
            let post_attn_norm = norm_if(sandwich, "post_attention_norm")?;
            let post_ffn_norm = norm_if(sandwich, "post_ffw_norm")?;
            layers.push(Layer {
                attn_norm: w.norm(&format!("{p}.attn_norm.weight"))?,
                qkv,
                q_norm,
                k_norm,
                output: w.linear(&format!("{p}.attn_output"), false)?,
                post_attn_norm,
                ffn_norm: w.norm(&format!("{p}.ffn_norm.weight"))?,
                ffn,
                down: w.linear(&format!("{p}.ffn_down"), false)?,
                post_ffn_norm,
                local: hp.is_local(i),
            });
        }
        let cache = KvCache {
            layers: vec![None; hp.layers],
            cpu: (0..hp.layers).map(|_| LayerCache::default()).collect(),
            stride: hp.kv_heads * hp.key_length,
            len: 0,
        };
        Ok(Transformer {
            hp,
            embedding,
            layers,
            norm: final_norm,
            output,
            rope_freq_factors,
            cache,
            device: device.clone(),
        })
    }

    /// Positions held in the KV cache.
    pub fn cached_len(&self) -> usize {
        self.cache.len
    }

    /// Runs `tokens` at `position` and returns the logits after the last one, shape (vocab).
    /// The cache keeps positions before `position` and forgets any after; `position` may not
    /// be past what the cache holds.
    pub fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Tensor> {
        if position > self.cache.len {
            return Err(EngineError::InvalidRequest(format!(
                "position {position} is past the {} cached positions",
                self.cache.len
            )));
        }
        self.cache.truncate(position)?;
        let seq = tokens.len();
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = match &self.embedding {
            Embedding::Candle(table) => table.embedding(&ids)?,
            Embedding::Own(table) => table.rows(tokens)?,
        }
        .unsqueeze(0)?;
        if self.hp.spec.scale_embeddings {
            x = (x * (self.hp.embedding as f64).sqrt())?;
        }
        let global = self.angles(
            position,
            seq,
            self.hp.rope_base,
            self.hp.rope_freq_scale,
            true,
        )?;
        let local = match self.hp.spec.sliding_window_pattern {
            Some(p) => Some(self.angles(position, seq, p.local_rope_base, 1.0, false)?),
            None => None,
        };
        let kv_len = position + seq;
        // The CPU's attention masks as it goes; a GPU's takes the masks as tensors.
        let gpu = !self.device.is_cpu();
        let causal = match gpu {
            true => mask(seq, position, kv_len, None, &self.device)?,
            false => None,
        };
        let windowed = match (gpu, self.hp.sliding_window) {
            (true, Some(w)) => mask(seq, position, kv_len, Some(w), &self.device)?,
            _ => None,
        };
        for i in 0..self.layers.len() {
            let layer = &self.layers[i];
            let (angles, mask, window) = match (&local, layer.local) {
                (Some(local), true) => (local, windowed.as_ref(), self.hp.sliding_window),
                _ => (&global, causal.as_ref(), None),
            };
            let h = layer.attn_norm.forward(&x)?;
            let h = self.attention(
                i,
                &h,
                angles,
                Visible {
                    position,
                    mask,
                    window,
                },
            )?;
            let layer = &self.layers[i];
            let h = match &layer.post_attn_norm {
                Some(n) => n.forward(&h)?,
                None => h,
            };
            x = (x + h)?;
            let h = layer.ffn_norm.forward(&x)?;
            let h = self.feed_forward(layer, &h)?;
            let h = match &layer.post_ffn_norm {
                Some(n) => n.forward(&h)?,
                None => h,
            };
            x = (x + h)?;
        }
        self.cache.len = kv_len;
        let last = x.narrow(1, seq - 1, 1)?;
        let last = self.norm.forward(&last)?;
        Ok(self.output.forward(&last)?.flatten_all()?)
    }

    fn angles(
        &self,
        position: usize,
        seq: usize,
        base: f32,
        freq_scale: f32,
        with_factors: bool,
    ) -> Result<Angles> {
        // As llama.cpp's rope cache: the angle starts at the position and is multiplied by
        // `base^(−2/dims)` pair by pair, all in f32, so that the last bits agree with its.
        let dims = self.hp.rope_dims;
        let step = base.powf(-2.0 / dims as f32);
        let mut angles = Vec::with_capacity(seq * dims / 2);
        for p in position..position + seq {
            let mut theta = p as f32;
            for i in 0..dims / 2 {
                let factor = if with_factors {
                    self.rope_freq_factors[i]
                } else {
                    1.0
                };
                angles.push(freq_scale * (theta / factor));
                theta *= step;
            }
        }
        let t = Tensor::from_vec(angles, (seq, dims / 2), &self.device)?;
        Ok(Angles {
            cos: t.cos()?,
            sin: t.sin()?,
        })
    }

    fn rope(&self, x: &Tensor, angles: &Angles) -> Result<Tensor> {
        let head = self.hp.key_length;
        let dims = self.hp.rope_dims;
        let rotate = |x: &Tensor| -> Result<Tensor> {
            let x = x.contiguous()?;
            Ok(match self.hp.spec.rope {
                RopeStyle::Pairs => candle_nn::rotary_emb::rope_i(&x, &angles.cos, &angles.sin)?,
                RopeStyle::Halves => candle_nn::rotary_emb::rope(&x, &angles.cos, &angles.sin)?,
            })
        };
        if dims == head {
            return rotate(x);
        }
        let rotated = rotate(&x.narrow(D::Minus1, 0, dims)?)?;
        let pass = x.narrow(D::Minus1, dims, head - dims)?;
        Ok(Tensor::cat(&[&rotated, &pass], D::Minus1)?)
    }

    fn attention(
        &mut self,
        index: usize,
        x: &Tensor,
        angles: &Angles,
        visible: Visible<'_>,
    ) -> Result<Tensor> {
        let hp = &self.hp;
        let layer = &self.layers[index];
        let (b, seq, _) = x.dims3()?;
        let (heads, kv_heads, head) = (hp.heads, hp.kv_heads, hp.key_length);
        let (q, k, v) = match &layer.qkv {
            QkvProj::Separate { q, k, v } => {
                let [q, k, v] = Linear::forward_together([q, k, v], x)?;
                (q, k, v)
            }
            QkvProj::Fused(qkv) => {
                let all = qkv.forward(x)?;
                let (qd, kvd) = (heads * head, kv_heads * head);
                (
                    all.narrow(D::Minus1, 0, qd)?,
                    all.narrow(D::Minus1, qd, kvd)?,
                    all.narrow(D::Minus1, qd + kvd, kvd)?,
                )
            }
        };
        let mut q = q.reshape((b, seq, heads, head))?;
        let mut k = k.reshape((b, seq, kv_heads, head))?;
        let v = v.reshape((b, seq, kv_heads, head))?;
        if let Some(n) = &layer.q_norm {
            q = n.forward(&q)?;
        }
        if let Some(n) = &layer.k_norm {
            k = n.forward(&k)?;
        }
        let q = self.rope(&q.transpose(1, 2)?, angles)?;
        let k = self.rope(&k.transpose(1, 2)?, angles)?;
        if self.device.is_cpu() {
            // [position][head][value], as the cache and `attend` take them.
            let rows = |t: Tensor| -> Result<Vec<f32>> {
                Ok(t.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>()?)
            };
            let (queries, keys) = (rows(q)?, rows(k)?);
            let values = v.flatten_all()?.to_vec1::<f32>()?;
            let cache = &mut self.cache.cpu[index];
            cache.append(&keys, &values);
            let shape = Heads {
                heads,
                kv_heads,
                size: head,
                window: visible.window,
            };
            let y = attend(&shape, &queries, cache, visible.position);
            let y = Tensor::from_vec(y, (b, seq, heads * head), &self.device)?;
            return self.layers[index].output.forward(&y);
        }
        let mask = visible.mask;
        let v = v.transpose(1, 2)?.contiguous()?;
        let (k, v) = self
            .cache
            .append(index, k.to_dtype(DType::F16)?, v.to_dtype(DType::F16)?)?;
        let rep = heads / kv_heads;
        let k =
            candle_transformers::utils::repeat_kv(k.to_dtype(DType::F32)?, rep)?.contiguous()?;
        let v =
            candle_transformers::utils::repeat_kv(v.to_dtype(DType::F32)?, rep)?.contiguous()?;
        // llama.cpp multiplies the f16 cache by queries and weights rounded to f16, summing in
        // f32; products of f16 values are exact in f32, so rounding the inputs is the same math.
        let q = round_to_f16(&q)?;
        let scale = 1.0 / (head as f32).sqrt();
        let weights = round_to_f16(&softmax(&q.matmul(&k.t()?)?, scale, mask)?)?;
        let y = weights.matmul(&v)?;
        let y = y.transpose(1, 2)?.reshape((b, seq, heads * head))?;
        self.layers[index].output.forward(&y)
    }

    fn feed_forward(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let gated = match (&layer.ffn, self.hp.spec.ffn) {
            (FfnProj::Gated { gate, up }, Ffn::Gelu) if x.device().is_cpu() => {
                let [gate, up] = Linear::forward_together([gate, up], x)?;
                gelu_times(&gate, &up)?
            }
            (FfnProj::Gated { gate, up }, Ffn::Gelu) => {
                (gate.forward(x)?.gelu()? * up.forward(x)?)?
            }
            (FfnProj::Gated { gate, up }, _) => {
                let [gate, up] = Linear::forward_together([gate, up], x)?;
                (gate.silu()? * up)?
            }
            (FfnProj::Fused { gate_up }, _) => {
                let both = gate_up.forward(x)?;
                let f = self.hp.feed_forward;
                (both.narrow(D::Minus1, 0, f)?.silu()? * both.narrow(D::Minus1, f, f)?)?
            }
        };
        layer.down.forward(&gated)
    }
}

/// `GELU(gate) · up`, on the CPU, with GELU (tanh form) as llama.cpp computes it there: the
/// value at the input rounded to f16, from a table of its f16 results for every f16 (inputs
/// below −10 give 0, above 10 themselves). candle computes `tanh` for every value, which took
/// a twentieth of Gemma 3's prompt time, and differs from llama.cpp's by the f16 rounding.
fn gelu_times(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    static TABLE: std::sync::OnceLock<Vec<f16>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        (0..=u16::MAX)
            .map(|bits| {
                let x = f16::from_bits(bits).to_f32();
                let inner = SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x);
                f16::from_f32(0.5 * x * (1.0 + inner.tanh()))
            })
            .collect()
    });
    let mut values = gate.flatten_all()?.to_vec1::<f32>()?;
    let up_values = up.flatten_all()?.to_vec1::<f32>()?;
    const CHUNK: usize = 4096;
    let work = values.len();
    crate::parallel::for_each_chunk(&mut values, CHUNK, work, |i, chunk| {
        for (x, &u) in chunk.iter_mut().zip(&up_values[i * CHUNK..]) {
            let g = if *x <= -10.0 {
                0.0
            } else if *x >= 10.0 {
                *x
            } else {
                table[usize::from(f16::from_f32(*x).to_bits())].to_f32()
            };
            *x = g * u;
        }
    });
    Ok(Tensor::from_vec(values, gate.dims(), gate.device())?)
}

/// Attention weights from raw scores of shape (…, queries, keys), on a GPU (the CPU attends
/// in [`crate::attention`]): scaled, masked, candle-nn's softmax kernel.
fn softmax(scores: &Tensor, scale: f32, mask: Option<&Tensor>) -> Result<Tensor> {
    let scaled = (scores * f64::from(scale))?;
    let masked = match mask {
        Some(m) => scaled.broadcast_add(m)?,
        None => scaled,
    };
    Ok(candle_nn::ops::softmax_last_dim(&masked.contiguous()?)?)
}

/// `x` with every value rounded to the nearest f16, kept in f32.
fn round_to_f16(x: &Tensor) -> Result<Tensor> {
    Ok(x.to_dtype(DType::F16)?.to_dtype(DType::F32)?.contiguous()?)
}

/// The additive attention mask for `seq` queries starting at `position` over `kv_len` keys:
/// causal, and limited to the last `window` positions when given. `None` when nothing is
/// masked (one query that may see every key).
fn mask(
    seq: usize,
    position: usize,
    kv_len: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Option<Tensor>> {
    let visible = |query: usize, key: usize| key <= query && window.is_none_or(|w| query - key < w);
    let all_visible = (0..seq).all(|i| (0..kv_len).all(|j| visible(position + i, j)));
    if all_visible {
        return Ok(None);
    }
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| {
            (0..kv_len).map(move |j| {
                if visible(position + i, j) {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Some(Tensor::from_vec(values, (seq, kv_len), device)?))
}
