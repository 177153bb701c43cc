//! Writes the random-weight model the speed benchmark runs beside the reference models: llama
//! shaped, about a billion parameters (Llama 3.2 1B's layers: 16 blocks, 32 query heads of 64,
//! 8 for keys and values, a feed-forward of 8,192), quantized as Q4_K_M files are (Q4_K, with
//! Q6_K for the value projections and every other feed-forward output). Its 0.6 GB of weights
//! no longer fit in any cache, so its speed is the speed of reading memory. The vocabulary is
//! the test models' byte-level one (265 tokens), so prompts use ids below 256.
//!
//! ```text
//! cargo run --release -p oa-engine --example write_bench_model -- --out bench-1b.gguf
//! ```

use std::error::Error;
use std::path::PathBuf;

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor};
use oa_engine::testing::{ModelShape, write_edited_model};

mod common;
use common::arg;

/// Llama 3.2 1B's layers.
fn shape() -> ModelShape {
    ModelShape {
        layers: 16,
        heads: 32,
        kv_heads: 8,
        head_size: 64,
        feed_forward: 8192,
    }
}

/// Whether Q4_K_M keeps `name` in Q6_K: the value projections, and the feed-forward outputs of
/// every other block (llama.cpp gives "more bits" to some of them).
fn six_bits(name: &str) -> bool {
    let block = name
        .strip_prefix("blk.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|n| n.parse::<usize>().ok());
    name.ends_with("attn_v.weight")
        || (name.ends_with("ffn_down.weight") && block.is_some_and(|b| b % 2 == 0))
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(arg("--out")?);
    let partial = out.with_extension("partial");
    write_edited_model(
        "llama",
        &partial,
        11,
        GgmlDType::Q4K,
        &shape(),
        |_, tensors| {
            for (name, tensor) in tensors.iter_mut() {
                if six_bits(name) {
                    let values = tensor
                        .dequantize(&Device::Cpu)
                        .expect("a Q4_K tensor dequantizes");
                    *tensor = QTensor::quantize(&values, GgmlDType::Q6K)
                        .expect("a Q4_K tensor's values quantize to Q6_K");
                }
            }
        },
    );
    std::fs::rename(&partial, &out)?;
    let bytes = std::fs::metadata(&out)?.len();
    eprintln!("wrote {} ({:.0} MB)", out.display(), bytes as f64 / 1e6);
    Ok(())
}
