//! `phi3`: Phi-3 and Phi-3.5 mini.
//!
//! One fused QKV projection and one fused gate+up projection (SwiGLU over its two halves), RoPE
//! over head halves. Files for 128k context carry long/short RoPE factors, which are refused
//! rather than ignored. llama.cpp runs Phi-3 without a sliding window, and so does this engine.

use super::{ArchSpec, Ffn, Qkv, RopeStyle};

pub(crate) const SPEC: ArchSpec = ArchSpec {
    name: "phi3",
    rope: RopeStyle::Halves,
    qkv: Qkv::Fused,
    qk_norm: false,
    sandwich_norms: false,
    ffn: Ffn::Fused,
    scale_embeddings: false,
    sliding_window_pattern: None,
};
