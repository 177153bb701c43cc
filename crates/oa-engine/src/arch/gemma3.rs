//! `gemma3`: Gemma 3 text models.
//!
//! Embeddings scaled by √d; every block normalises before *and after* attention and the
//! feed-forward ("sandwich" norms); RMSNorm over each head of Q and K; a GELU (tanh) gated
//! feed-forward; RoPE over head halves. Five of every six layers attend to a sliding window of
//! the last `attention.sliding_window` positions with their own RoPE base (10,000); the sixth is
//! global with the file's base and scaling. Queries are scaled by 1/√(key length). The
//! converter has already added Gemma's +1 to the norm weights.

use super::{ArchSpec, Ffn, Qkv, RopeStyle, SlidingWindowPattern};

pub(crate) const SPEC: ArchSpec = ArchSpec {
    name: "gemma3",
    rope: RopeStyle::Halves,
    qkv: Qkv::Separate { bias: false },
    qk_norm: true,
    sandwich_norms: true,
    ffn: Ffn::Gelu,
    scale_embeddings: true,
    sliding_window_pattern: Some(SlidingWindowPattern {
        every_nth_is_global: 6,
        local_rope_base: 10_000.0,
    }),
};
