//! Reading GGUF files: the header, checked before any tensor is touched, and typed access to
//! the metadata.
//!
//! A user may point the app at any file. The header's counts, lengths, sizes and offsets are
//! checked in `header`; the model's hyper-parameters and tensor shapes are checked by
//! [`crate::arch`], whose `GgufFile::open` and `GgufFile::read` do both, so that a broken,
//! unsupported or hostile file becomes a typed error naming the problem — never a panic deep
//! inside a tensor operation.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use sha2::{Digest, Sha256};

use crate::{EngineError, Result};

pub(crate) mod header;

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
    /// Reads and checks the header of the file at `path`, not yet what model it holds (see
    /// `GgufFile::open` in [`crate::arch`]).
    pub(crate) fn open_header(path: &Path) -> Result<GgufFile> {
        let file = open_file(path)?;
        let file_size = file
            .metadata()
            .map_err(|source| EngineError::Io {
                path: path.to_owned(),
                source,
            })?
            .len();
        GgufFile::read_header(path, &mut BufReader::new(file), file_size)
    }

    /// Reads and checks a GGUF header from `reader`, which holds `file_size` bytes; `path`
    /// names the file in errors.
    pub(crate) fn read_header(
        path: &Path,
        reader: &mut (impl std::io::Read + std::io::Seek),
        file_size: u64,
    ) -> Result<GgufFile> {
        let content = header::read(path, reader, file_size)?;
        Ok(GgufFile {
            path: path.to_owned(),
            content,
            file_size,
        })
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
        header::non_negative(value)
            .map(Some)
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
    File::open(path).map_err(|source| file_error(path, source))
}

/// The error of reading the model file at `path`: a missing file is named as such.
pub(crate) fn file_error(path: &Path, source: std::io::Error) -> EngineError {
    if source.kind() == std::io::ErrorKind::NotFound {
        EngineError::ModelNotFound(path.to_owned())
    } else {
        EngineError::Io {
            path: path.to_owned(),
            source,
        }
    }
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

/// sha256 of a string as lowercase hex.
pub fn sha256_str(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::GgmlDType;

    use super::*;
    use crate::testing::{ModelShape, RawGguf, RawTensor, write_edited_model, write_tiny_model};

    /// How opening a file went; `None` when it was refused as `mention` says, else what went
    /// wrong instead.
    fn not_refused(path: &Path, mention: &str) -> Option<String> {
        match std::panic::catch_unwind(|| GgufFile::open(path)) {
            Err(_) => Some("opening it panicked".into()),
            Ok(Ok(_)) => Some("it opened".into()),
            Ok(Err(e @ (EngineError::InvalidGguf { .. } | EngineError::BadMetadata { .. })))
                if e.to_string().contains(mention) =>
            {
                None
            }
            Ok(Err(e)) => Some(format!("the error does not name {mention}: {e:?}")),
        }
    }

    /// A tiny llama model that opens, taken apart for editing, and where in its data a
    /// tensor added at the end may start.
    fn intact(dir: &Path) -> (RawGguf, u64) {
        let path = dir.join("intact.gguf");
        write_tiny_model("llama", &path, 1, GgmlDType::Q8_0);
        GgufFile::open(&path).expect("the intact file opens");
        let raw = RawGguf::read(&path);
        let rewritten = dir.join("rewritten.gguf");
        raw.write(&rewritten);
        GgufFile::open(&rewritten).expect("the file written back unchanged opens");
        let end = (raw.data.len() as u64).next_multiple_of(32);
        (raw, end)
    }

    fn assert_all_refused(failures: Vec<String>) {
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn an_alignment_that_is_not_a_power_of_two_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aligned.gguf");
        let shape = ModelShape::tiny("llama");
        let mut failures = Vec::new();
        for value in [
            Value::U32(0),
            Value::U32(48),
            Value::U64(1 << 40),
            Value::I32(-32),
            Value::String("32".into()),
        ] {
            let case = format!("general.alignment = {value:?}");
            write_edited_model("llama", &path, 1, GgmlDType::F32, &shape, |m, _| {
                m.push(("general.alignment".into(), value));
            });
            if let Some(problem) = not_refused(&path, "general.alignment") {
                failures.push(format!("{case}: {problem}"));
            }
        }
        assert_all_refused(failures);
        // The default, stated, still opens.
        write_edited_model("llama", &path, 1, GgmlDType::F32, &shape, |m, _| {
            m.push(("general.alignment".into(), Value::U32(32)));
        });
        GgufFile::open(&path).unwrap();
    }

    #[test]
    fn hostile_tensor_directory_entries_are_refused_naming_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let (raw, end) = intact(dir.path());
        let junk = |name: &str, dims: &[u64], ggml_type: u32, offset: u64| RawTensor {
            name: name.into(),
            dims: dims.to_vec(),
            ggml_type,
            offset,
        };
        let first = raw.tensors.iter().min_by_key(|t| t.offset).unwrap().clone();
        let cases: Vec<(&str, RawTensor)> = vec![
            (
                "more values than a 64-bit count holds",
                junk("junk.values", &[1 << 32, 1 << 32, 1 << 32, 1], 0, end),
            ),
            (
                "more bytes than a 64-bit size holds",
                junk("junk.bytes", &[1 << 31, 1 << 31], 0, end),
            ),
            (
                "rows that are not whole blocks",
                junk("junk.rows", &[16, 2], 8, end),
            ),
            ("an unknown type", junk("junk.type", &[32], 5, end)),
            (
                "an offset off the alignment",
                junk("junk.misaligned", &[4], 0, end + 4),
            ),
            (
                "data over another tensor's",
                junk("junk.overlap", &[4], 0, first.offset),
            ),
            ("a second tensor of one name", first.clone()),
        ];
        let mut failures = Vec::new();
        for (case, tensor) in cases {
            let mut hostile = raw.clone();
            let mention = tensor.name.clone();
            hostile.tensors.push(tensor);
            // Room for the tensors added at the end, so that only their entry is wrong.
            hostile.data.resize(end as usize + 256, 0);
            let path = dir.path().join("hostile.gguf");
            hostile.write(&path);
            if let Some(problem) = not_refused(&path, &mention) {
                failures.push(format!("{case}: {problem}"));
            }
        }
        assert_all_refused(failures);
    }

    #[test]
    fn hostile_metadata_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (raw, _) = intact(dir.path());
        let huge = 1u64 << 40;
        let values = header::MAX_VALUES + 1;
        let mut too_many = 0u32.to_le_bytes().to_vec();
        too_many.extend(values.to_le_bytes());
        too_many.resize(too_many.len() + values as usize, 7);
        let mut nested = 9u32.to_le_bytes().to_vec();
        nested.extend(1u64.to_le_bytes());
        nested.extend(4u32.to_le_bytes());
        nested.extend(1u64.to_le_bytes());
        nested.extend(5u32.to_le_bytes());
        let cases: Vec<(&str, &str, u32, Vec<u8>)> = vec![
            (
                "a string longer than the file",
                "general.name",
                8,
                [huge.to_le_bytes().as_slice(), b"tiny"].concat(),
            ),
            (
                "an array longer than the file",
                "tokenizer.ggml.scores",
                9,
                [6u32.to_le_bytes().as_slice(), &huge.to_le_bytes()].concat(),
            ),
            ("an array of arrays", "junk.nested", 9, nested),
            (
                "a boolean that is neither 0 nor 1",
                "tokenizer.ggml.add_bos_token",
                7,
                vec![2],
            ),
            (
                "more array values than any vocabulary",
                "junk.values",
                9,
                too_many,
            ),
        ];
        let mut failures = Vec::new();
        let path = dir.path().join("hostile.gguf");
        for (case, key, value_type, stored) in cases {
            let mut hostile = raw.clone();
            hostile.set_raw(key, value_type, stored);
            hostile.write(&path);
            if let Some(problem) = not_refused(&path, key) {
                failures.push(format!("{case}: {problem}"));
            }
        }
        let mut twice = raw.clone();
        let name = twice
            .metadata
            .iter()
            .find(|(k, _, _)| k == "general.name")
            .unwrap()
            .clone();
        twice.metadata.push(name);
        twice.write(&path);
        if let Some(problem) = not_refused(&path, "general.name") {
            failures.push(format!("a key given twice: {problem}"));
        }
        assert_all_refused(failures);
    }
}
