//! `qwen2`: Qwen2 and Qwen2.5.
//!
//! The llama layout with a bias on the Q, K and V projections, and RoPE over the two halves of
//! each head (llama.cpp's "neox" RoPE).

use super::{ArchSpec, Ffn, Qkv, RopeStyle};

pub(crate) const SPEC: ArchSpec = ArchSpec {
    name: "qwen2",
    rope: RopeStyle::Halves,
    qkv: Qkv::Separate { bias: true },
    qk_norm: false,
    sandwich_norms: false,
    ffn: Ffn::Silu,
    scale_embeddings: false,
    sliding_window_pattern: None,
};
