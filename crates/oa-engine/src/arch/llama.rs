//! `llama`: Llama 2/3.x, Mistral, SmolLM2 and every model converted to this layout.
//!
//! Pre-norm blocks (RMSNorm), separate Q/K/V projections without bias, SwiGLU feed-forward.
//! RoPE rotates adjacent pairs (llama.cpp's "normal" RoPE; the converter permutes Q and K for it).
//! Llama 3.1+ files carry `rope_freqs.weight`, per-frequency divisors for long context.

use super::{ArchSpec, Ffn, Qkv, RopeStyle};

pub(crate) const SPEC: ArchSpec = ArchSpec {
    name: "llama",
    rope: RopeStyle::Pairs,
    qkv: Qkv::Separate { bias: false },
    qk_norm: false,
    sandwich_norms: false,
    ffn: Ffn::Silu,
    scale_embeddings: false,
    sliding_window_pattern: None,
};
