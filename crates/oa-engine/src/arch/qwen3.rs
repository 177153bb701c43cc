//! `qwen3`: Qwen3 dense models.
//!
//! Like Qwen2 without the Q/K/V bias, and with an RMSNorm over each head of Q and K before RoPE.

use super::{ArchSpec, Ffn, Qkv, RopeStyle};

pub(crate) const SPEC: ArchSpec = ArchSpec {
    name: "qwen3",
    rope: RopeStyle::Halves,
    qkv: Qkv::Separate { bias: false },
    qk_norm: true,
    sandwich_norms: false,
    ffn: Ffn::Silu,
    scale_embeddings: false,
    sliding_window_pattern: None,
};
