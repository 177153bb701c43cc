//! The architectures the engine runs, one file each, and the checks every file passes before a
//! single tensor is read.
//!
//! An architecture is described as data ([`ArchSpec`]): how it projects Q/K/V, where it
//! normalises, its feed-forward and its RoPE. [`crate::transformer`] runs any of them. Adding an
//! architecture means adding a file here and, if it needs a new kind of block, a case there.
//! [`HParams::read`] reads and checks the hyper-parameters, and [`HParams::tensors`] lists every
//! tensor with the shape this architecture needs, so that a bad file is refused with the name of
//! the key or tensor at fault rather than failing (or panicking) halfway through loading.

mod gemma3;
mod llama;
mod phi3;
mod qwen2;
mod qwen3;

use candle_core::quantized::gguf_file::Value;

use crate::gguf::GgufFile;
use crate::{EngineError, Result};

/// Architectures (`general.architecture`) this engine runs.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama", "qwen2", "qwen3", "gemma3", "phi3"];

/// Opening a GGUF file means knowing what model it holds: the file format alone (`gguf`) does
/// not, so the checks against the architectures live here, above it.
impl GgufFile {
    /// Reads the header of the file at `path` and checks that it holds a model this engine can
    /// run.
    pub fn open(path: &std::path::Path) -> Result<GgufFile> {
        let gguf = GgufFile::open_header(path)?;
        validate(&gguf)?;
        Ok(gguf)
    }

    /// The same for a GGUF file in `reader`, which holds `file_size` bytes; `path` names the
    /// file in errors (the fuzz target feeds it arbitrary bytes).
    pub fn read(
        path: &std::path::Path,
        reader: &mut (impl std::io::Read + std::io::Seek),
        file_size: u64,
    ) -> Result<GgufFile> {
        let gguf = GgufFile::read_header(path, reader, file_size)?;
        validate(&gguf)?;
        Ok(gguf)
    }
}

/// Checks that the file holds a model this engine can run, naming the first problem found:
/// the architecture's hyper-parameters and every tensor's presence and shape. (That every
/// tensor's bytes lie within the file, the header's reading checked.)
fn validate(gguf: &GgufFile) -> Result<()> {
    HParams::read(gguf)?.check_tensors(gguf)
}

/// Largest embedding, feed-forward or head size accepted: far above any released model, low
/// enough that a corrupt value cannot ask for terabytes.
const MAX_DIM: u64 = 1 << 17;
/// Most layers or heads accepted.
const MAX_COUNT: u64 = 1 << 12;
/// Longest context accepted.
const MAX_CONTEXT: u64 = 1 << 24;

/// How RoPE pairs up the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// Adjacent dimensions (0,1), (2,3)… — llama.cpp's "normal" RoPE.
    Pairs,
    /// Dimension i with i + d/2 — llama.cpp's "neox" RoPE.
    Halves,
}

/// How queries, keys and values are projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qkv {
    /// `attn_q`, `attn_k`, `attn_v`, each with a bias when `bias`.
    Separate { bias: bool },
    /// One `attn_qkv` whose output is Q, K and V one after the other.
    Fused,
}

/// The feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ffn {
    /// `down(silu(gate(x)) * up(x))`.
    Silu,
    /// `down(gelu_tanh(gate(x)) * up(x))`.
    Gelu,
    /// `ffn_up` holds gate and up stacked: `down(silu(first half) * second half)`.
    Fused,
}

/// Layers that attend to a sliding window, and the RoPE base those layers use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SlidingWindowPattern {
    /// Layer `i` is global when `(i + 1) % every_nth_is_global == 0`, local otherwise.
    pub every_nth_is_global: usize,
    /// RoPE base of the local layers.
    pub local_rope_base: f32,
}

/// What distinguishes one architecture from another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ArchSpec {
    pub name: &'static str,
    pub rope: RopeStyle,
    pub qkv: Qkv,
    /// RMSNorm over each head of Q and K (`attn_q_norm`, `attn_k_norm`).
    pub qk_norm: bool,
    /// Norms after attention and after the feed-forward too (`post_attention_norm`,
    /// `post_ffw_norm`).
    pub sandwich_norms: bool,
    pub ffn: Ffn,
    /// Multiply token embeddings by √(embedding length).
    pub scale_embeddings: bool,
    pub sliding_window_pattern: Option<SlidingWindowPattern>,
}

fn spec(name: &str) -> Option<ArchSpec> {
    [
        llama::SPEC,
        qwen2::SPEC,
        qwen3::SPEC,
        gemma3::SPEC,
        phi3::SPEC,
    ]
    .into_iter()
    .find(|s| s.name == name)
}

/// Hyper-parameters of a model, read from its metadata and checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HParams {
    pub spec: ArchSpec,
    pub vocab: usize,
    pub embedding: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub key_length: usize,
    pub value_length: usize,
    pub feed_forward: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
    /// Positions are multiplied by this (linear RoPE scaling; 1 without).
    pub rope_freq_scale: f32,
    /// Dimensions of each head that RoPE rotates (the rest pass through).
    pub rope_dims: usize,
    pub context: usize,
    /// Window of the local layers, when the architecture has them.
    pub sliding_window: Option<usize>,
}

impl HParams {
    /// Reads and checks the hyper-parameters of `gguf`'s architecture.
    pub fn read(gguf: &GgufFile) -> Result<HParams> {
        let name = gguf.architecture()?;
        let spec = spec(name).ok_or_else(|| EngineError::UnsupportedArchitecture(name.into()))?;
        let key = |k: &str| format!("{name}.{k}");
        let bounded = |k: &str, max: u64| -> Result<usize> {
            let key = key(k);
            let v = gguf.require_positive(&key)?;
            if v > max {
                return Err(bad(
                    &key,
                    format!("{v}, beyond any real model (at most {max})"),
                ));
            }
            Ok(v as usize)
        };
        let optional = |k: &str, max: u64| -> Result<Option<usize>> {
            match gguf.get_u64(&key(k))? {
                None => Ok(None),
                Some(_) => bounded(k, max).map(Some),
            }
        };
        let vocab = gguf
            .get_str_array("tokenizer.ggml.tokens")?
            .ok_or_else(|| bad("tokenizer.ggml.tokens", "missing".into()))?
            .len();
        if vocab == 0 {
            return Err(bad("tokenizer.ggml.tokens", "empty".into()));
        }
        let embedding = bounded("embedding_length", MAX_DIM)?;
        let layers = bounded("block_count", MAX_COUNT)?;
        let heads = bounded("attention.head_count", MAX_COUNT)?;
        let kv_heads = optional("attention.head_count_kv", MAX_COUNT)?.unwrap_or(heads);
        let feed_forward = bounded("feed_forward_length", MAX_DIM)?;
        let context = bounded("context_length", MAX_CONTEXT)?;
        if heads % kv_heads != 0 {
            return Err(bad(
                &key("attention.head_count_kv"),
                format!("{kv_heads}, which does not divide the head count {heads}"),
            ));
        }
        let key_length = match optional("attention.key_length", MAX_DIM)? {
            Some(k) => k,
            None if embedding % heads == 0 => embedding / heads,
            None => {
                return Err(bad(
                    &key("embedding_length"),
                    format!("{embedding}, not a multiple of the head count {heads}"),
                ));
            }
        };
        let value_length = optional("attention.value_length", MAX_DIM)?.unwrap_or(key_length);
        if value_length != key_length {
            return Err(bad(
                &key("attention.value_length"),
                format!("{value_length}, different from the key length {key_length}"),
            ));
        }
        let rope_dims = optional("rope.dimension_count", MAX_DIM)?.unwrap_or(key_length);
        if rope_dims > key_length || rope_dims % 2 != 0 {
            return Err(bad(
                &key("rope.dimension_count"),
                format!("{rope_dims}, not an even size up to the head size {key_length}"),
            ));
        }
        let rms_eps = positive_float(gguf, &key("attention.layer_norm_rms_epsilon"))?
            .ok_or_else(|| bad(&key("attention.layer_norm_rms_epsilon"), "missing".into()))?;
        let rope_base = positive_float(gguf, &key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_freq_scale = match gguf.get_str(&key("rope.scaling.type"))? {
            None | Some("none") => 1.0,
            Some("linear") => {
                let factor = positive_float(gguf, &key("rope.scaling.factor"))?.unwrap_or(1.0);
                1.0 / factor
            }
            Some(other) => {
                return Err(bad(
                    &key("rope.scaling.type"),
                    format!("`{other}`, a RoPE scaling this engine does not implement"),
                ));
            }
        };
        let sliding_window = match spec.sliding_window_pattern {
            Some(_) => Some(bounded("attention.sliding_window", MAX_CONTEXT)?),
            None => None,
        };
        Ok(HParams {
            spec,
            vocab,
            embedding,
            layers,
            heads,
            kv_heads,
            key_length,
            value_length,
            feed_forward,
            rms_eps,
            rope_base,
            rope_freq_scale,
            rope_dims,
            context,
            sliding_window,
        })
    }

    /// The shapes of the random models the tests write ([`crate::testing`]).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn for_test_model(
        architecture: &str,
        vocab: usize,
        shape: &crate::testing::ModelShape,
    ) -> Option<HParams> {
        Some(HParams {
            spec: spec(architecture)?,
            vocab,
            embedding: shape.heads * shape.head_size,
            layers: shape.layers,
            heads: shape.heads,
            kv_heads: shape.kv_heads,
            key_length: shape.head_size,
            value_length: shape.head_size,
            feed_forward: shape.feed_forward,
            rms_eps: 1e-6,
            rope_base: 10_000.0,
            rope_freq_scale: 1.0,
            rope_dims: shape.head_size,
            context: 256,
            sliding_window: None,
        })
    }

    /// Every tensor the model reads, with the shape it must have (rows first, as candle
    /// reports them), and whether it may be absent.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let (e, f, v) = (self.embedding, self.feed_forward, self.vocab);
        let (q, kv) = (
            self.heads * self.key_length,
            self.kv_heads * self.key_length,
        );
        let mut out = vec![
            TensorSpec::required("token_embd.weight", &[v, e]),
            TensorSpec::required("output_norm.weight", &[e]),
            TensorSpec::optional("output.weight", &[v, e]),
        ];
        if self.spec.name == "llama" {
            out.push(TensorSpec::optional(
                "rope_freqs.weight",
                &[self.rope_dims / 2],
            ));
        }
        for i in 0..self.layers {
            let t =
                |name: &str, dims: &[usize]| TensorSpec::required(&format!("blk.{i}.{name}"), dims);
            out.push(t("attn_norm.weight", &[e]));
            out.push(t("attn_output.weight", &[e, q]));
            match self.spec.qkv {
                Qkv::Separate { bias } => {
                    out.push(t("attn_q.weight", &[q, e]));
                    out.push(t("attn_k.weight", &[kv, e]));
                    out.push(t("attn_v.weight", &[kv, e]));
                    if bias {
                        out.push(t("attn_q.bias", &[q]));
                        out.push(t("attn_k.bias", &[kv]));
                        out.push(t("attn_v.bias", &[kv]));
                    }
                }
                Qkv::Fused => out.push(t("attn_qkv.weight", &[q + 2 * kv, e])),
            }
            if self.spec.qk_norm {
                out.push(t("attn_q_norm.weight", &[self.key_length]));
                out.push(t("attn_k_norm.weight", &[self.key_length]));
            }
            if self.spec.sandwich_norms {
                out.push(t("post_attention_norm.weight", &[e]));
                out.push(t("post_ffw_norm.weight", &[e]));
            }
            out.push(t("ffn_norm.weight", &[e]));
            out.push(t("ffn_down.weight", &[e, f]));
            match self.spec.ffn {
                Ffn::Silu | Ffn::Gelu => {
                    out.push(t("ffn_gate.weight", &[f, e]));
                    out.push(t("ffn_up.weight", &[f, e]));
                }
                Ffn::Fused => out.push(t("ffn_up.weight", &[2 * f, e])),
            }
        }
        out
    }

    /// Whether layer `layer` attends to a sliding window.
    pub fn is_local(&self, layer: usize) -> bool {
        self.spec
            .sliding_window_pattern
            .is_some_and(|p| !(layer + 1).is_multiple_of(p.every_nth_is_global))
    }

    /// Checks every tensor's presence and shape against what the architecture needs.
    pub fn check_tensors(&self, gguf: &GgufFile) -> Result<()> {
        if self.spec.name == "phi3"
            && (gguf.has_tensor("rope_factors_long.weight")
                || gguf.has_tensor("rope_factors_short.weight"))
        {
            return Err(gguf.invalid(
                "long-context RoPE factors (Phi-3 128k) are not implemented; use a 4k variant"
                    .into(),
            ));
        }
        for spec in self.tensors() {
            match gguf.tensor_shape(&spec.name) {
                None if spec.optional => {}
                None => return Err(gguf.invalid(format!("tensor {} is missing", spec.name))),
                Some(dims) if dims != spec.dims => {
                    return Err(gguf.invalid(format!(
                        "tensor {} has shape {dims:?}, expected {:?} for this {} model",
                        spec.name, spec.dims, self.spec.name
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// A tensor a model reads, and the shape it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorSpec {
    pub name: String,
    pub dims: Vec<usize>,
    pub optional: bool,
}

impl TensorSpec {
    fn required(name: &str, dims: &[usize]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dims: dims.into(),
            optional: false,
        }
    }

    fn optional(name: &str, dims: &[usize]) -> TensorSpec {
        TensorSpec {
            optional: true,
            ..TensorSpec::required(name, dims)
        }
    }
}

fn positive_float(gguf: &GgufFile, key: &str) -> Result<Option<f32>> {
    match gguf.metadata().get(key) {
        None => Ok(None),
        Some(Value::F32(x)) if x.is_finite() && *x > 0.0 => Ok(Some(*x)),
        Some(Value::F64(x)) if x.is_finite() && *x > 0.0 => Ok(Some(*x as f32)),
        Some(other) => Err(bad(key, format!("{other:?}, not a positive number"))),
    }
}

fn bad(key: &str, problem: String) -> EngineError {
    EngineError::BadMetadata {
        key: key.to_owned(),
        problem,
    }
}
