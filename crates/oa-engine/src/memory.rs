//! How much memory a model needs on the CPU: its weights as the engine holds them, the KV
//! cache for a context, the working memory of reading a prompt, and the program around them.
//! The Models page judges whether a model fits from this; `cargo xtask bench` compares it
//! with the measured peak RSS of both reference models at 2,048 tokens.

use oa_types::CatalogModel;

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
    let mut weights = 0u64;
    for info in infos.values() {
        let elements = info.shape.elem_count() as u64;
        let stored =
            elements / info.ggml_dtype.block_size() as u64 * info.ggml_dtype.type_size() as u64;
        weights += match info.shape.rank() {
            // Norm weights, biases and RoPE factors are read as f32.
            0 | 1 => elements * 4,
            // Matrices are held as stored (in place in the mapped file, or copied); a tied
            // embedding is the output layer's matrix, counted once.
            _ => stored,
        };
    }
    let shape = Shape {
        layers: hp.layers as u64,
        heads: hp.heads as u64,
        kv_heads: hp.kv_heads as u64,
        key_length: hp.key_length as u64,
        value_length: hp.value_length as u64,
        embedding: hp.embedding as u64,
        feed_forward: hp.feed_forward as u64,
        vocab: hp.vocab as u64,
    };
    Ok(shape.estimate(weights, context.min(hp.context) as u64))
}

/// The memory a catalog model would need with `context` positions, before its file is here:
/// the weights from its parameter count and format, the rest from the shape the catalog
/// gives. `None` when the catalog gives no shape.
pub fn estimate_catalog(model: &CatalogModel, context: usize) -> Option<MemoryEstimate> {
    if model.layers == 0 || model.heads == 0 || model.kv_heads == 0 || model.head_size == 0 {
        return None;
    }
    let head = u64::from(model.head_size);
    let embedding = u64::from(model.heads) * head;
    let bits = held_bits_per_weight(&model.quantization);
    // The parameters count every matrix once, and a tied embedding is held once.
    let weights = (model.parameters as f64 * bits / 8.0) as u64;
    let shape = Shape {
        layers: u64::from(model.layers),
        heads: u64::from(model.heads),
        kv_heads: u64::from(model.kv_heads),
        key_length: head,
        value_length: head,
        embedding,
        feed_forward: 4 * embedding,
        vocab: u64::from(model.vocab),
    };
    let context = context.min(model.context_length as usize) as u64;
    Some(shape.estimate(weights, context))
}

/// Bits per weight of a file format, as stored and held; mixed formats (`Q4_K_M`) by their
/// usual average.
fn held_bits_per_weight(quantization: &str) -> f64 {
    match quantization.to_ascii_uppercase().as_str() {
        "F32" => 32.0,
        "F16" | "BF16" => 16.0,
        "Q8_0" => 8.5,
        "Q5_0" => 5.5,
        "Q6_K" => 6.5625,
        "Q5_1" => 6.0,
        "Q5_K_M" | "Q5_K_S" => 5.7,
        "Q4_1" => 5.0,
        "Q4_K_M" => 4.9,
        "Q4_K_S" => 4.6,
        "Q4_0" => 4.5,
        "Q3_K_M" | "Q3_K_L" | "Q3_K_S" => 3.9,
        "Q2_K" => 3.4,
        _ => 8.0,
    }
}

/// What the memory of the parts other than the weights depends on.
struct Shape {
    layers: u64,
    heads: u64,
    kv_heads: u64,
    key_length: u64,
    value_length: u64,
    embedding: u64,
    feed_forward: u64,
    vocab: u64,
}

impl Shape {
    fn estimate(&self, weights: u64, context: u64) -> MemoryEstimate {
        let kv_cache =
            self.layers * self.kv_heads * (self.key_length + self.value_length) * context * 2;
        let batch = (PREFILL_BATCH as u64).min(context.max(1));
        // The CPU attends query by query straight from the f16 cache (`attention.rs`): a row
        // of scores per query and head at a time, and the batch's queries, keys, values and
        // output in f32, a few copies each as tensors pass between steps.
        let scores = 2 * self.heads * context * 4;
        let widened = 4 * batch * (self.heads + 2 * self.kv_heads) * self.key_length * 4;
        let activations = batch * (4 * self.embedding + 3 * self.feed_forward) * 4;
        let logits = 2 * self.vocab * 4;
        MemoryEstimate {
            weights,
            kv_cache,
            working: scores + widened + activations + logits,
            runtime: RUNTIME_BYTES + TOKENIZER_BYTES_PER_TOKEN * self.vocab,
        }
    }
}
