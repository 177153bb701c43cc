//! Opening and validating GGUF files before any tensor is touched.
//!
//! A user may point the app at any file. Everything the loader relies on is checked here first,
//! so that a broken or unsupported file becomes a typed error naming the problem — never a panic
//! deep inside a tensor operation.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use sha2::{Digest, Sha256};

use crate::{EngineError, Result};

pub use crate::arch::SUPPORTED_ARCHITECTURES;

/// A GGUF file whose header has been read and checked.
#[derive(Debug)]
pub struct GgufFile {
    /// Where it lives.
    pub path: PathBuf,
    /// Header, metadata and tensor directory.
    pub content: Content,
    /// Size of the file in bytes.
    pub file_size: u64,
}

impl GgufFile {
    /// Reads the header of the file at `path` and validates it for the engine.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = open_file(path)?;
        let file_size = file
            .metadata()
            .map_err(|source| EngineError::Io {
                path: path.to_owned(),
                source,
            })?
            .len();
        GgufFile::read(path, &mut BufReader::new(file), file_size)
    }

    /// Reads and validates a GGUF header from `reader`, which holds `file_size` bytes; `path`
    /// names the file in errors. What [`GgufFile::open`] does, for bytes from anywhere (the
    /// fuzz target feeds it arbitrary ones).
    pub fn read(
        path: &Path,
        reader: &mut (impl std::io::Read + std::io::Seek),
        file_size: u64,
    ) -> Result<GgufFile> {
        let content = Content::read(reader).map_err(|e| EngineError::InvalidGguf {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let gguf = GgufFile {
            path: path.to_owned(),
            content,
            file_size,
        };
        gguf.validate()?;
        Ok(gguf)
    }

    /// The metadata map.
    pub fn metadata(&self) -> &HashMap<String, Value> {
        &self.content.metadata
    }

    /// A string value, or `None` when the key is absent.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        match self.metadata().get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(bad(
                key,
                format!("a {:?}, not a string", other.value_type()),
            )),
        }
    }

    /// An unsigned integer value of any width, or `None` when the key is absent.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        let value = match self.metadata().get(key) {
            None => return Ok(None),
            Some(v) => v,
        };
        let n = match value {
            Value::U8(v) => Some(u64::from(*v)),
            Value::U16(v) => Some(u64::from(*v)),
            Value::U32(v) => Some(u64::from(*v)),
            Value::U64(v) => Some(*v),
            Value::I8(v) => u64::try_from(*v).ok(),
            Value::I16(v) => u64::try_from(*v).ok(),
            Value::I32(v) => u64::try_from(*v).ok(),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        };
        n.map(Some)
            .ok_or_else(|| bad(key, format!("{value:?}, not a non-negative integer")))
    }

    /// A required unsigned integer that must be at least 1.
    pub fn require_positive(&self, key: &str) -> Result<u64> {
        match self.get_u64(key)? {
            None => Err(bad(key, "missing".into())),
            Some(0) => Err(bad(key, "0; it must be at least 1".into())),
            Some(n) => Ok(n),
        }
    }

    /// An array of strings (for example the vocabulary).
    pub fn get_str_array(&self, key: &str) -> Result<Option<Vec<&str>>> {
        self.get_array(key, "string", |v| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// An array of integers (for example token types).
    pub fn get_i64_array(&self, key: &str) -> Result<Option<Vec<i64>>> {
        self.get_array(key, "integer", |v| match v {
            Value::I32(n) => Some(i64::from(*n)),
            Value::U32(n) => Some(i64::from(*n)),
            Value::I64(n) => Some(*n),
            Value::I8(n) => Some(i64::from(*n)),
            Value::U8(n) => Some(i64::from(*n)),
            _ => None,
        })
    }

    /// An array of floats (for example token scores).
    pub fn get_f32_array(&self, key: &str) -> Result<Option<Vec<f32>>> {
        self.get_array(key, "number", |v| match v {
            Value::F32(x) => Some(*x),
            Value::F64(x) => Some(*x as f32),
            _ => None,
        })
    }

    /// An array whose every item `item` converts; `kind` names the expected item in errors.
    fn get_array<'a, T>(
        &'a self,
        key: &str,
        kind: &str,
        item: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>> {
        let Some(value) = self.metadata().get(key) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(bad(key, "not an array".into()));
        };
        items
            .iter()
            .map(|v| item(v).ok_or_else(|| bad(key, format!("an array holding a non-{kind}"))))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// A boolean flag, `None` when absent.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.metadata().get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(key, "not a boolean".into())),
        }
    }

    /// The architecture name (`general.architecture`).
    pub fn architecture(&self) -> Result<&str> {
        self.get_str("general.architecture")?
            .ok_or_else(|| bad("general.architecture", "missing".into()))
    }

    /// Context length the file declares.
    pub fn context_length(&self) -> Result<u64> {
        let arch = self.architecture()?;
        self.require_positive(&format!("{arch}.context_length"))
    }

    /// Display name: `general.name`, else the file stem.
    pub fn display_name(&self) -> String {
        self.get_str("general.name")
            .ok()
            .flatten()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into())
            })
    }

    /// Quantization name from `general.file_type`, else the most common tensor type.
    pub fn quantization(&self) -> String {
        if let Ok(Some(ft)) = self.get_u64("general.file_type")
            && let Some(name) = file_type_name(ft)
        {
            return name.to_owned();
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for info in self.content.tensor_infos.values() {
            *counts.entry(format!("{:?}", info.ggml_dtype)).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(name, _)| name.to_uppercase())
            .unwrap_or_else(|| "unknown".into())
    }

    /// Checks that the file holds a model this engine can run, naming the first problem found:
    /// the architecture's hyper-parameters, every tensor's presence and shape, and that every
    /// tensor's bytes lie within the file.
    fn validate(&self) -> Result<()> {
        let hparams = crate::arch::HParams::read(self)?;
        hparams.check_tensors(self)?;
        for (name, info) in &self.content.tensor_infos {
            let elems = info.shape.elem_count();
            let block = info.ggml_dtype.block_size();
            if elems % block != 0 {
                return Err(self.invalid(format!(
                    "tensor {name} has {elems} elements, not a multiple of its block size {block}"
                )));
            }
            let bytes = (elems / block) as u64 * info.ggml_dtype.type_size() as u64;
            let end = self
                .content
                .tensor_data_offset
                .saturating_add(info.offset)
                .saturating_add(bytes);
            if end > self.file_size {
                return Err(self.invalid(format!(
                    "tensor {name} ends at byte {end} but the file has {} bytes (truncated download?)",
                    self.file_size
                )));
            }
        }
        Ok(())
    }

    /// Whether the file holds a tensor of that name.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The shape of a tensor, rows first; `None` when the file has no such tensor.
    pub fn tensor_shape(&self, name: &str) -> Option<Vec<usize>> {
        self.content
            .tensor_infos
            .get(name)
            .map(|t| t.shape.dims().to_vec())
    }

    pub(crate) fn invalid(&self, reason: String) -> EngineError {
        EngineError::InvalidGguf {
            path: self.path.clone(),
            reason,
        }
    }
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EngineError::ModelNotFound(path.to_owned())
        } else {
            EngineError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

fn bad(key: &str, problem: String) -> EngineError {
    EngineError::BadMetadata {
        key: key.to_owned(),
        problem,
    }
}

/// llama.cpp's `general.file_type` codes for the quantizations in common use.
fn file_type_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

/// sha256 of a file as lowercase hex, read in large blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = open_file(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| EngineError::Io {
            path: path.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// sha256 of a string as lowercase hex.
pub fn sha256_str(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
