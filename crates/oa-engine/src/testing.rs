//! Support for tests of this and other crates (feature `testing`): where the reference models
//! are, and llama.cpp's answers for the same inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::DEFAULT_MODEL_FILE;

/// File name of the second reference model (Gemma 3 270M, Q4_K_M; a base model).
pub const GEMMA_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// The default model the tests chat with: `OA_MODEL` if set, else the checkout's `models/`
/// folder, where `cargo xtask setup` puts it.
///
/// # Panics
/// When the file is missing, with the command that fetches it: a test without its model must
/// fail loudly, never pass by skipping.
pub fn default_model() -> PathBuf {
    let path = std::env::var_os("OA_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir().join(DEFAULT_MODEL_FILE));
    require(path)
}

/// The Gemma 3 reference model in the checkout's `models/` folder.
///
/// # Panics
/// When the file is missing, with the command that fetches it.
pub fn gemma_model() -> PathBuf {
    require(models_dir().join(GEMMA_MODEL_FILE))
}

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask setup` first",
        path.display()
    );
    path
}

/// llama.cpp's answer to `request`, from `tests/reference/llama_reference.py` (its docstring gives
/// the request and answer format) run with llama-cpp-python, which `cargo xtask setup` installs.
///
/// # Panics
/// When Python or llama-cpp-python is missing or the script fails, with its error output.
pub fn llama_cpp(request: &serde_json::Value) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/llama_reference.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (installed by `cargo xtask setup`)");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(request.to_string().as_bytes())
        .expect("the request reaches the script");
    let out = child.wait_with_output().expect("the script finishes");
    assert!(
        out.status.success(),
        "{} failed (run `cargo xtask setup` to install llama-cpp-python):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script answers JSON")
}

/// The sizes of a test model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    /// Transformer blocks.
    pub layers: usize,
    /// Query heads; the embedding is `heads × head_size`.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Size of each head.
    pub head_size: usize,
    /// Width of the feed-forward layer.
    pub feed_forward: usize,
}

impl ModelShape {
    /// Two layers of SmolLM2-135M's head layout (nine heads of 64, three for keys and
    /// values) and feed-forward width: rows of the sizes its kernels see.
    pub fn smollm2_layers() -> ModelShape {
        ModelShape {
            layers: 2,
            heads: 9,
            kv_heads: 3,
            head_size: 64,
            feed_forward: 1536,
        }
    }

    /// Two layers whose every matrix has rows of whole 256-value blocks, as the k-quant
    /// formats need: four heads of 128 (two for keys and values), a feed-forward of 1,536.
    pub fn k_quant_layers() -> ModelShape {
        ModelShape {
            layers: 2,
            heads: 4,
            kv_heads: 2,
            head_size: 128,
            feed_forward: 1536,
        }
    }

    /// Four heads of 16 (two for keys and values), a feed-forward of 96, two layers; seven
    /// for Gemma 3, so that the sixth is a global layer.
    pub fn tiny(architecture: &str) -> ModelShape {
        ModelShape {
            layers: if architecture == "gemma3" { 7 } else { 2 },
            heads: 4,
            kv_heads: 2,
            head_size: 16,
            feed_forward: 96,
        }
    }
}

/// Writes a tiny model of `architecture` ([`ModelShape::tiny`]) with random weights; see
/// [`write_test_model`].
pub fn write_tiny_model(
    architecture: &str,
    path: &Path,
    seed: u64,
    weights: candle_core::quantized::GgmlDType,
) {
    write_test_model(
        architecture,
        path,
        seed,
        weights,
        &ModelShape::tiny(architecture),
    );
}

/// Writes a model of `architecture` with random weights (seeded; matrices in `weights`,
/// vectors in f32) to `path`: every tensor the architecture reads, in the shapes it needs, and
/// a byte-level vocabulary of 263 tokens. Such a file proves an architecture against llama.cpp
/// without downloading a model. Gemma 3 files get a sliding window of 8 positions, so that a
/// prompt of a few dozen tokens crosses it.
///
/// # Panics
/// When the architecture is not one the engine runs, or the file cannot be written.
pub fn write_test_model(
    architecture: &str,
    path: &Path,
    seed: u64,
    weights: candle_core::quantized::GgmlDType,
    shape: &ModelShape,
) {
    write_edited_model(architecture, path, seed, weights, shape, |_, _| {});
}

/// Metadata of a model file being written: key and value.
pub type Metadata = Vec<(String, candle_core::quantized::gguf_file::Value)>;
/// Tensors of a model file being written: name and data.
pub type Tensors = Vec<(String, candle_core::quantized::QTensor)>;

/// Like [`write_test_model`], with `edit` changing the metadata and tensors before they are
/// written: how the tests make broken files of every kind.
pub fn write_edited_model(
    architecture: &str,
    path: &Path,
    seed: u64,
    weights: candle_core::quantized::GgmlDType,
    shape: &ModelShape,
    edit: impl FnOnce(&mut Metadata, &mut Tensors),
) {
    let bytes = edited_model_bytes(architecture, seed, weights, shape, edit);
    std::fs::write(path, bytes).expect("the tiny model file can be written");
}

/// The bytes [`write_edited_model`] writes.
fn edited_model_bytes(
    architecture: &str,
    seed: u64,
    weights: candle_core::quantized::GgmlDType,
    shape: &ModelShape,
    edit: impl FnOnce(&mut Metadata, &mut Tensors),
) -> Vec<u8> {
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    let gemma = architecture == "gemma3";
    let tokens = byte_level_vocabulary();
    let vocab = tokens.len();
    let hp = crate::arch::HParams::for_test_model(architecture, vocab, shape)
        .expect("a supported architecture");
    let (embedding, heads, kv_heads, head, ff, layers) = (
        hp.embedding,
        hp.heads,
        hp.kv_heads,
        hp.key_length,
        hp.feed_forward,
        hp.layers,
    );
    let key = |k: &str| format!("{architecture}.{k}");
    let u32v = |n: usize| Value::U32(n as u32);
    let mut metadata: Vec<(String, Value)> = vec![
        (
            "general.architecture".into(),
            Value::String(architecture.into()),
        ),
        (
            "general.name".into(),
            Value::String(format!("tiny {architecture}")),
        ),
        (key("context_length"), u32v(256)),
        (key("embedding_length"), u32v(embedding)),
        (key("block_count"), u32v(layers)),
        (key("feed_forward_length"), u32v(ff)),
        (key("attention.head_count"), u32v(heads)),
        (key("attention.head_count_kv"), u32v(kv_heads)),
        (key("attention.key_length"), u32v(head)),
        (key("attention.value_length"), u32v(head)),
        (key("rope.dimension_count"), u32v(head)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (
            key("rope.freq_base"),
            Value::F32(if gemma { 1_000_000.0 } else { 10_000.0 }),
        ),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("default".into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.iter().cloned().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(vec![
                Value::String("Ġ t".into()),
                Value::String("h e".into()),
            ]),
        ),
        ("tokenizer.ggml.bos_token_id".into(), u32v(vocab - 2)),
        ("tokenizer.ggml.eos_token_id".into(), u32v(vocab - 1)),
    ];
    if gemma {
        metadata.push((key("attention.sliding_window"), u32v(8)));
    }
    let mut rng = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let tensors: Vec<(String, QTensor)> = hp
        .tensors()
        .into_iter()
        .filter(|spec| !spec.optional)
        .map(|spec| {
            let n: usize = spec.dims.iter().product();
            let is_norm = spec.name.contains("norm");
            let values: Vec<f32> = (0..n)
                .map(|_| {
                    let r = next();
                    if is_norm { 1.0 + 0.2 * r } else { 0.3 * r }
                })
                .collect();
            let t = Tensor::from_vec(values, spec.dims.clone(), &Device::Cpu).unwrap();
            let dtype = if spec.dims.len() == 2 {
                weights
            } else {
                GgmlDType::F32
            };
            (spec.name, QTensor::quantize(&t, dtype).unwrap())
        })
        .collect();
    let (mut metadata, mut tensors) = (metadata, tensors);
    edit(&mut metadata, &mut tensors);
    let metadata_refs: Vec<(&str, &Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut bytes = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut bytes, &metadata_refs, &tensor_refs).expect("the tiny model is written");
    bytes.into_inner()
}

/// GPT-2's byte-level alphabet (a printable character for each of the 256 bytes), two merged
/// tokens, the special tokens llama.cpp expects of Phi-3, and BOS/EOS.
fn byte_level_vocabulary() -> Vec<String> {
    let mut printable: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut extra = 0;
    let mut tokens: Vec<String> = (0..=255u32)
        .map(|byte| {
            let code = if printable.contains(&byte) {
                byte
            } else {
                extra += 1;
                255 + extra
            };
            char::from_u32(code).expect("a valid character").to_string()
        })
        .collect();
    // llama.cpp looks Phi-3's special tokens up by their text.
    tokens.extend(
        [
            "Ġt",
            "he",
            "<unk>",
            "<|endoftext|>",
            "<|end|>",
            "<s>",
            "</s>",
        ]
        .map(String::from),
    );
    tokens
}

/// A GGUF file taken apart into its header entries and its tensor data, to be written back
/// with entries no honest writer produces (sizes, offsets, lengths and types that contradict
/// the file): how the tests make hostile files.
#[derive(Debug, Clone)]
pub struct RawGguf {
    /// Metadata entries in the order written: key, GGUF value type and the value as stored.
    pub metadata: Vec<(String, u32, Vec<u8>)>,
    /// The tensor directory in the order written.
    pub tensors: Vec<RawTensor>,
    /// The tensor data, from where the header's padding ends.
    pub data: Vec<u8>,
}

/// One entry of a [`RawGguf`]'s tensor directory, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTensor {
    /// The tensor's name.
    pub name: String,
    /// Dimensions, innermost (a row's values) first.
    pub dims: Vec<u64>,
    /// ggml's type id.
    pub ggml_type: u32,
    /// Where its data start, from the start of the tensor data.
    pub offset: u64,
}

impl RawGguf {
    /// The parts of the (valid) GGUF file at `path`, such as [`write_test_model`] writes.
    ///
    /// # Panics
    /// When the file cannot be read or is not a valid GGUF file.
    pub fn read(path: &Path) -> RawGguf {
        RawGguf::from_bytes(&std::fs::read(path).expect("the model file can be read"))
    }

    /// A tiny model of `architecture` ([`ModelShape::tiny`]) with random f32 weights, as
    /// [`write_tiny_model`] writes it, taken apart.
    ///
    /// # Panics
    /// When the architecture is not one the engine runs.
    pub fn tiny_model(architecture: &str, seed: u64) -> RawGguf {
        let shape = ModelShape::tiny(architecture);
        let f32 = candle_core::quantized::GgmlDType::F32;
        RawGguf::from_bytes(&edited_model_bytes(
            architecture,
            seed,
            f32,
            &shape,
            |_, _| {},
        ))
    }

    /// The parts of a valid GGUF file's bytes.
    ///
    /// # Panics
    /// When the bytes are not a valid GGUF file.
    pub fn from_bytes(bytes: &[u8]) -> RawGguf {
        use candle_core::quantized::gguf_file::Content;
        let content =
            Content::read(&mut std::io::Cursor::new(bytes)).expect("a valid GGUF file to edit");
        let metadata = content
            .metadata
            .iter()
            .map(|(key, value)| {
                let (value_type, stored) = gguf_value(value);
                (key.clone(), value_type, stored)
            })
            .collect();
        let tensors = content
            .tensor_infos
            .iter()
            .map(|(name, info)| RawTensor {
                name: name.clone(),
                dims: info.shape.dims().iter().rev().map(|&d| d as u64).collect(),
                ggml_type: crate::gguf::header::ggml_type_id(info.ggml_dtype),
                offset: info.offset,
            })
            .collect();
        RawGguf {
            metadata,
            tensors,
            data: bytes[content.tensor_data_offset as usize..].to_vec(),
        }
    }

    /// Sets metadata `key` to the 32-bit unsigned integer `value`.
    pub fn set_u32(&mut self, key: &str, value: u32) {
        self.set_raw(key, 4, value.to_le_bytes().to_vec());
    }

    /// Sets metadata `key` to a value of GGUF type `value_type` stored as `stored`, which need
    /// not be a valid value of that type.
    pub fn set_raw(&mut self, key: &str, value_type: u32, stored: Vec<u8>) {
        self.metadata.retain(|(k, _, _)| k != key);
        self.metadata.push((key.to_owned(), value_type, stored));
    }

    /// The file's bytes: a GGUF 3 header with the entries as given, zeros up to the next
    /// multiple of 32 bytes, then the data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        };
        for (key, value_type, stored) in &self.metadata {
            string(&mut out, key);
            out.extend(value_type.to_le_bytes());
            out.extend(stored);
        }
        for t in &self.tensors {
            string(&mut out, &t.name);
            out.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(t.ggml_type.to_le_bytes());
            out.extend(t.offset.to_le_bytes());
        }
        out.resize(out.len().next_multiple_of(32), 0);
        out.extend(&self.data);
        out
    }

    /// Writes [`RawGguf::to_bytes`] to `path`.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_bytes()).expect("the edited model file can be written");
    }
}

/// GGUF's type id of `value` and its bytes as a GGUF file stores them.
pub fn gguf_value(value: &candle_core::quantized::gguf_file::Value) -> (u32, Vec<u8>) {
    use candle_core::quantized::gguf_file::Value;
    match value {
        Value::U8(v) => (0, v.to_le_bytes().to_vec()),
        Value::I8(v) => (1, v.to_le_bytes().to_vec()),
        Value::U16(v) => (2, v.to_le_bytes().to_vec()),
        Value::I16(v) => (3, v.to_le_bytes().to_vec()),
        Value::U32(v) => (4, v.to_le_bytes().to_vec()),
        Value::I32(v) => (5, v.to_le_bytes().to_vec()),
        Value::F32(v) => (6, v.to_le_bytes().to_vec()),
        Value::Bool(v) => (7, vec![u8::from(*v)]),
        Value::String(s) => {
            let mut out = (s.len() as u64).to_le_bytes().to_vec();
            out.extend(s.as_bytes());
            (8, out)
        }
        Value::Array(items) => {
            let item_type = items.first().map_or(4, |v| gguf_value(v).0);
            let mut out = item_type.to_le_bytes().to_vec();
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                out.extend(gguf_value(item).1);
            }
            (9, out)
        }
        Value::U64(v) => (10, v.to_le_bytes().to_vec()),
        Value::I64(v) => (11, v.to_le_bytes().to_vec()),
        Value::F64(v) => (12, v.to_le_bytes().to_vec()),
    }
}
