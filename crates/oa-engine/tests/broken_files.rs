//! The broken-file corpus: files a person might point the app at, each broken in one way. Every
//! one must be refused with a typed error naming the problem — never a panic, never a model
//! that loads and then computes garbage.

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use oa_engine::EngineError;
use oa_engine::model::LoadedModel;
use oa_engine::testing::{Metadata, ModelShape, Tensors, write_edited_model};

type Edit = Box<dyn FnOnce(&mut Metadata, &mut Tensors)>;

fn set(key: &'static str, value: Value) -> Edit {
    Box::new(move |m: &mut Metadata, _: &mut Tensors| {
        m.retain(|(k, _)| k != key);
        m.push((key.to_owned(), value));
    })
}

fn remove_key(key: &'static str) -> Edit {
    Box::new(move |m: &mut Metadata, _: &mut Tensors| m.retain(|(k, _)| k != key))
}

fn replace_tensor(name: &'static str, dims: &'static [usize], dtype: GgmlDType) -> Edit {
    Box::new(move |_: &mut Metadata, t: &mut Tensors| {
        let n: usize = dims.iter().product();
        let values = Tensor::from_vec(vec![0.5f32; n], dims, &Device::Cpu).unwrap();
        let tensor = QTensor::quantize(&values, dtype).unwrap();
        t.retain(|(k, _)| k != name);
        t.push((name.to_owned(), tensor));
    })
}

fn remove_tensor(name: &'static str) -> Edit {
    Box::new(move |_: &mut Metadata, t: &mut Tensors| t.retain(|(k, _)| k != name))
}

/// (name, edit, text the error must mention)
fn corpus() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
        (
            "zero heads",
            set("llama.attention.head_count", Value::U32(0)),
            "llama.attention.head_count",
        ),
        (
            "zero layers",
            set("llama.block_count", Value::U32(0)),
            "llama.block_count",
        ),
        (
            "huge embedding",
            set("llama.embedding_length", Value::U64(1 << 40)),
            "llama.embedding_length",
        ),
        (
            "huge context",
            set("llama.context_length", Value::U64(u64::MAX)),
            "llama.context_length",
        ),
        (
            "kv heads not dividing heads",
            set("llama.attention.head_count_kv", Value::U32(3)),
            "head_count_kv",
        ),
        (
            "odd rope dimensions",
            set("llama.rope.dimension_count", Value::U32(7)),
            "rope.dimension_count",
        ),
        (
            "negative epsilon",
            set("llama.attention.layer_norm_rms_epsilon", Value::F32(-1.0)),
            "layer_norm_rms_epsilon",
        ),
        (
            "epsilon as text",
            set(
                "llama.attention.layer_norm_rms_epsilon",
                Value::String("tiny".into()),
            ),
            "layer_norm_rms_epsilon",
        ),
        (
            "heads as text",
            set("llama.attention.head_count", Value::String("four".into())),
            "llama.attention.head_count",
        ),
        (
            "unknown architecture",
            set("general.architecture", Value::String("mamba9".into())),
            "mamba9",
        ),
        (
            "no architecture",
            remove_key("general.architecture"),
            "general.architecture",
        ),
        (
            "no vocabulary",
            remove_key("tokenizer.ggml.tokens"),
            "tokenizer.ggml.tokens",
        ),
        (
            "unknown tokenizer",
            set("tokenizer.ggml.model", Value::String("wordpiece9".into())),
            "wordpiece9",
        ),
        (
            "unknown pre-tokenizer",
            set("tokenizer.ggml.pre", Value::String("mystery".into())),
            "mystery",
        ),
        (
            "eos beyond the vocabulary",
            set("tokenizer.ggml.eos_token_id", Value::U32(1_000_000)),
            "eos_token_id",
        ),
        (
            "short embedding",
            replace_tensor("token_embd.weight", &[200, 64], GgmlDType::F32),
            "token_embd.weight",
        ),
        (
            "wrong q shape",
            replace_tensor("blk.0.attn_q.weight", &[32, 64], GgmlDType::F32),
            "blk.0.attn_q.weight",
        ),
        (
            "missing layer tensor",
            remove_tensor("blk.1.ffn_down.weight"),
            "blk.1.ffn_down.weight",
        ),
        (
            "missing output norm",
            remove_tensor("output_norm.weight"),
            "output_norm.weight",
        ),
        (
            "norm as a matrix",
            replace_tensor("blk.0.attn_norm.weight", &[64, 64], GgmlDType::F32),
            "blk.0.attn_norm.weight",
        ),
        (
            "wrong dtype layout",
            replace_tensor("blk.0.attn_k.weight", &[64, 64], GgmlDType::Q8_0),
            "blk.0.attn_k.weight",
        ),
    ]
}

#[test]
fn every_broken_file_is_a_typed_error_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let shape = ModelShape::tiny("llama");
    for (name, edit, mention) in corpus() {
        let path = dir.path().join(format!("{}.gguf", name.replace(' ', "-")));
        write_edited_model("llama", &path, 1, GgmlDType::F32, &shape, edit);
        let outcome = std::panic::catch_unwind(|| LoadedModel::load(&path));
        let result = outcome.unwrap_or_else(|_| panic!("{name}: loading panicked"));
        let err = match result {
            Ok(_) => panic!("{name}: a broken file loaded"),
            Err(e) => e,
        };
        assert!(
            matches!(
                err,
                EngineError::InvalidGguf { .. }
                    | EngineError::BadMetadata { .. }
                    | EngineError::UnsupportedArchitecture(_)
                    | EngineError::UnsupportedTokenizer(_)
            ),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains(mention),
            "{name}: the error does not name {mention}: {err}"
        );
    }
}

#[test]
fn an_intact_test_file_loads() {
    // The corpus is only meaningful if the unedited file is good.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intact.gguf");
    write_edited_model(
        "llama",
        &path,
        1,
        GgmlDType::F32,
        &ModelShape::tiny("llama"),
        |_, _| {},
    );
    LoadedModel::load(&path).unwrap();
}
