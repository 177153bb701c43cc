//! How much memory a model needs on the CPU: its weights as the engine holds them, the KV
//! cache for a context, the working memory of reading a prompt, and the program around them.
//! The Models page judges whether a model fits from this; `cargo xtask bench` compares it
//! with the measured peak RSS of both reference models at 2,048 tokens.

use candle_core::quantized::GgmlDType;

use crate::Result;
use crate::arch::HParams;
use crate::gguf::GgufFile;

/// Most prompt tokens the model reads in one pass: a longer prompt is read in batches of this
/// size, which bounds the attention scores held at once (heads × batch × context) at a cost
/// of a few percent in prompt speed.
pub const PREFILL_BATCH: usize = 256;

/// The program without a model: code and allocator. With the next constant, fitted to the
/// memory that loading SmolLM2 (49,152 tokens) and Gemma 3 (262,144) adds beyond their
/// weights: 23 and 94 MB.
const RUNTIME_BYTES: u64 = 8 << 20;
/// The tokenizer's memory per vocabulary entry: the token text, its id maps and merges.
const TOKENIZER_BYTES_PER_TOKEN: u64 = 330;

/// The parts of a model's memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// The weights as the engine keeps them (some formats are unpacked to wider blocks).
    pub weights: u64,
    /// Keys and values of `context` positions, in f16.
    pub kv_cache: u64,
    /// Reading a prompt batch against the full context: attention scores and activations.
    pub working: u64,
    /// The program and the tokenizer.
    pub runtime: u64,
}

impl MemoryEstimate {
    /// All of it: what the process needs at its peak.
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.working + self.runtime
    }
}

/// The memory `gguf`'s model needs on the CPU with `context` positions in its cache.
pub fn estimate(gguf: &GgufFile, context: usize) -> Result<MemoryEstimate> {
    let hp = HParams::read(gguf)?;
    let infos = &gguf.content.tensor_infos;
    let tied = !infos.contains_key("output.weight");
    let mut weights = 0u64;
    for (name, info) in infos {
        let elements = info.shape.elem_count() as u64;
        let stored =
            elements / info.ggml_dtype.block_size() as u64 * info.ggml_dtype.type_size() as u64;
        weights += match info.shape.rank() {
            // Norm weights, biases and RoPE factors are read as f32.
            0 | 1 => elements * 4,
            _ if name == "token_embd.weight" => {
                // Kept as stored for looking rows up; a tied output layer holds a second copy.
                stored
                    + if tied {
                        held_matrix(info.ggml_dtype, elements, stored)
                    } else {
                        0
                    }
            }
            _ => held_matrix(info.ggml_dtype, elements, stored),
        };
    }
    let context = context.min(hp.context) as u64;
    let kv_cache = hp.layers as u64
        * hp.kv_heads as u64
        * (hp.key_length + hp.value_length) as u64
        * context
        * 2;
    let batch = (PREFILL_BATCH as u64).min(context.max(1));
    // Scores of one layer, in f32: the product, the softmax's copy, the f16-rounded copy and
    // its f32 widening; keys and values widened to f32 for every head; the batch's activations.
    let scores = 4 * hp.heads as u64 * batch * context * 4;
    let widened = 2 * hp.heads as u64 * context * hp.key_length.max(hp.value_length) as u64 * 4;
    let activations = batch * (4 * hp.embedding + 3 * hp.feed_forward) as u64 * 4;
    let logits = 2 * hp.vocab as u64 * 4;
    Ok(MemoryEstimate {
        weights,
        kv_cache,
        working: scores + widened + activations + logits,
        runtime: RUNTIME_BYTES + TOKENIZER_BYTES_PER_TOKEN * hp.vocab as u64,
    })
}

/// Bytes a weight matrix takes once loaded: the engine unpacks Q4_1, Q5_1 and Q8_0 blocks
/// with f32 scales (`qmatmul.rs`); other formats stay as stored.
fn held_matrix(dtype: GgmlDType, elements: u64, stored: u64) -> u64 {
    let blocks = elements / 32;
    match dtype {
        GgmlDType::Q4_1 => blocks * 24,
        GgmlDType::Q5_1 => blocks * 28,
        GgmlDType::Q8_0 => blocks * 36,
        _ => stored,
    }
}
