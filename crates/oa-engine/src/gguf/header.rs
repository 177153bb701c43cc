//! Reading a GGUF header — its metadata and tensor directory — with every count, length,
//! shape and offset checked before it is used.
//!
//! A model file may come from anyone, so no number in it is trusted: a length is compared with
//! the bytes left in the file before anything is allocated for it, sizes are multiplied with
//! overflow checks, and every tensor must lie whole inside the file, aligned, and apart from
//! the others. A file that breaks a rule is refused with the value at fault named. The layout
//! and the limits follow llama.cpp's `gguf.cpp`; the result is candle's [`Content`], through
//! which the loader reads tensors (candle's own reader divides by `general.alignment` unchecked,
//! so a 0 there panics, and leaves tensor sizes and offsets to its caller).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{Read, Seek};
use std::path::Path;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::{Content, TensorInfo, Value, VersionedMagic};

use crate::{EngineError, Result};

/// Alignment of the tensor data when the file names none (the GGUF default).
const DEFAULT_ALIGNMENT: u64 = 32;
/// Largest `general.alignment` accepted: far beyond a memory page, far below the values only a
/// corrupt file holds.
pub(crate) const MAX_ALIGNMENT: u64 = 1 << 20;
/// Most tensors a file may list: a model of 4,096 layers (the most [`crate::arch`] accepts)
/// has about 65,000.
const MAX_TENSORS: u64 = 1 << 20;
/// Most metadata entries a file may hold: real files have a few dozen.
const MAX_KEYS: u64 = 1 << 16;
/// Most values the metadata arrays may hold together. The largest vocabularies (262,144
/// tokens, each with a score and a type, plus merges) need about a million; each value takes
/// at least 32 bytes of memory, so this bounds what a file of tiny values can make the reader
/// allocate.
pub(crate) const MAX_VALUES: u64 = 1 << 23;
/// Most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// ggml's type ids of the tensor types candle reads.
const GGML_TYPES: [(u32, GgmlDType); 15] = [
    (0, GgmlDType::F32),
    (1, GgmlDType::F16),
    (2, GgmlDType::Q4_0),
    (3, GgmlDType::Q4_1),
    (6, GgmlDType::Q5_0),
    (7, GgmlDType::Q5_1),
    (8, GgmlDType::Q8_0),
    (9, GgmlDType::Q8_1),
    (10, GgmlDType::Q2K),
    (11, GgmlDType::Q3K),
    (12, GgmlDType::Q4K),
    (13, GgmlDType::Q5K),
    (14, GgmlDType::Q6K),
    (15, GgmlDType::Q8K),
    (30, GgmlDType::BF16),
];

/// The tensor type of ggml's type id `id`, if candle reads it.
fn ggml_type(id: u32) -> Option<GgmlDType> {
    GGML_TYPES.iter().find(|(i, _)| *i == id).map(|(_, t)| *t)
}

/// ggml's type id of `dtype` (the inverse of [`ggml_type`]), for the tests' file writer.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn ggml_type_id(dtype: GgmlDType) -> u32 {
    GGML_TYPES
        .iter()
        .find(|(_, t)| *t == dtype)
        .map(|(i, _)| *i)
        .expect("every candle type has a ggml id")
}

/// Reads the header of the GGUF file in `reader` (at its start, holding `file_size` bytes);
/// `path` names the file in errors.
pub(crate) fn read(
    path: &Path,
    reader: &mut (impl Read + Seek),
    file_size: u64,
) -> Result<Content> {
    let pos = reader.stream_position().map_err(|source| EngineError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut header = Header {
        reader,
        path,
        pos,
        file_size,
        wide: true,
        values: 0,
    };
    header.content()
}

/// A reader that knows how many bytes of the file are left.
struct Header<'a, R> {
    reader: &'a mut R,
    path: &'a Path,
    /// Bytes of the file read so far.
    pos: u64,
    file_size: u64,
    /// Lengths and counts are 64-bit (GGUF 2 and 3), not 32-bit (GGUF 1).
    wide: bool,
    /// Values read into metadata arrays so far.
    values: u64,
}

impl<R: Read> Header<'_, R> {
    fn content(&mut self) -> Result<Content> {
        if self.bytes::<4>()? != *b"GGUF" {
            return Err(self.invalid("it does not start with `GGUF`".into()));
        }
        let magic = match self.u32()? {
            1 => VersionedMagic::GgufV1,
            2 => VersionedMagic::GgufV2,
            3 => VersionedMagic::GgufV3,
            v => {
                return Err(self.invalid(format!(
                    "GGUF version {v} is not one this engine reads (1 to 3)"
                )));
            }
        };
        self.wide = magic != VersionedMagic::GgufV1;
        let tensor_count = self.length()?;
        let key_count = self.length()?;
        if tensor_count > MAX_TENSORS {
            return Err(self.invalid(format!(
                "the header lists {tensor_count} tensors, more than any model has (at most {MAX_TENSORS})"
            )));
        }
        if key_count > MAX_KEYS {
            return Err(self.invalid(format!(
                "the header lists {key_count} metadata entries, more than any model has (at most {MAX_KEYS})"
            )));
        }

        let mut metadata = HashMap::new();
        for _ in 0..key_count {
            let key = self.string("a metadata key")?;
            let value_type = self.u32()?;
            let value = self.value(&key, value_type)?;
            match metadata.entry(key) {
                Entry::Occupied(e) => {
                    return Err(self.invalid(format!("metadata key `{}` appears twice", e.key())));
                }
                Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
        }

        let mut directory = Vec::new();
        for _ in 0..tensor_count {
            directory.push(self.tensor_entry()?);
        }
        let alignment = alignment(&metadata)?;
        let tensor_data_offset = self
            .pos
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| {
                self.invalid("the tensor data would start beyond any file size".into())
            })?;
        let tensor_infos = self.tensor_infos(directory, tensor_data_offset, alignment)?;
        Ok(Content {
            magic,
            metadata,
            tensor_infos,
            tensor_data_offset,
        })
    }

    /// One metadata value of GGUF type `value_type`, the value of `key`.
    fn value(&mut self, key: &str, value_type: u32) -> Result<Value> {
        Ok(match value_type {
            0 => Value::U8(u8::from_le_bytes(self.bytes()?)),
            1 => Value::I8(i8::from_le_bytes(self.bytes()?)),
            2 => Value::U16(u16::from_le_bytes(self.bytes()?)),
            3 => Value::I16(i16::from_le_bytes(self.bytes()?)),
            4 => Value::U32(self.u32()?),
            5 => Value::I32(i32::from_le_bytes(self.bytes()?)),
            6 => Value::F32(f32::from_le_bytes(self.bytes()?)),
            7 => match self.bytes::<1>()? {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                [b] => return Err(bad(key, format!("a boolean stored as {b}, not 0 or 1"))),
            },
            8 => Value::String(self.string(&format!("the value of metadata `{key}`"))?),
            9 => self.array(key)?,
            10 => Value::U64(self.u64()?),
            11 => Value::I64(i64::from_le_bytes(self.bytes()?)),
            12 => Value::F64(f64::from_le_bytes(self.bytes()?)),
            other => {
                return Err(self.invalid(format!(
                    "metadata `{key}` has value type {other}, which GGUF does not define"
                )));
            }
        })
    }

    /// An array value of `key`: its items' type, its length, then the items.
    fn array(&mut self, key: &str) -> Result<Value> {
        let item_type = self.u32()?;
        let len = self.length()?;
        let item_size = match item_type {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            // A string is at least its length.
            8 => self.length_size(),
            9 => {
                return Err(self.invalid(format!(
                    "metadata `{key}` is an array of arrays, which GGUF readers do not accept"
                )));
            }
            other => {
                return Err(self.invalid(format!(
                    "metadata `{key}` is an array of value type {other}, which GGUF does not define"
                )));
            }
        };
        let remaining = self.remaining();
        if len.checked_mul(item_size).is_none_or(|n| n > remaining) {
            return Err(self.invalid(format!(
                "metadata `{key}` claims an array of {len} items, more than the {remaining} bytes \
                 left in the file hold (truncated download?)"
            )));
        }
        self.values = self.values.saturating_add(len);
        if self.values > MAX_VALUES {
            return Err(self.invalid(format!(
                "the metadata arrays hold more than {MAX_VALUES} values in all (`{key}` passes \
                 the limit), more than any model's vocabulary needs"
            )));
        }
        // Bounded by the bytes left and by MAX_VALUES, both checked above.
        let mut items = Vec::with_capacity(len as usize);
        for _ in 0..len {
            items.push(self.value(key, item_type)?);
        }
        Ok(Value::Array(items))
    }

    /// One entry of the tensor directory, as stored.
    fn tensor_entry(&mut self) -> Result<DirectoryEntry> {
        let name = self.string("a tensor name")?;
        let n_dims = self.u32()?;
        if n_dims > MAX_DIMS {
            return Err(self.invalid(format!(
                "tensor {name} has {n_dims} dimensions (at most {MAX_DIMS})"
            )));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.length()?);
        }
        let type_id = self.u32()?;
        let offset = self.u64()?;
        Ok(DirectoryEntry {
            name,
            dims,
            type_id,
            offset,
        })
    }

    /// The tensor directory checked: known types, rows of whole blocks, sizes that do not
    /// overflow, and every tensor aligned, inside the file and apart from the others.
    fn tensor_infos(
        &self,
        directory: Vec<DirectoryEntry>,
        data_offset: u64,
        alignment: u64,
    ) -> Result<HashMap<String, TensorInfo>> {
        let mut infos = HashMap::with_capacity(directory.len());
        let mut extents = Vec::with_capacity(directory.len());
        for entry in directory {
            let DirectoryEntry {
                name,
                dims,
                type_id,
                offset,
            } = entry;
            let Some(dtype) = ggml_type(type_id) else {
                return Err(self.invalid(format!(
                    "tensor {name} has type {type_id}, which this engine does not know"
                )));
            };
            let elements = dims
                .iter()
                .try_fold(1u64, |n, &d| n.checked_mul(d))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    self.invalid(format!(
                        "tensor {name} has dimensions {dims:?}: more values than any file holds"
                    ))
                })?;
            // GGUF lists the innermost dimension (a row's values) first.
            let row = dims.first().copied().unwrap_or(1);
            let block = dtype.block_size() as u64;
            if row % block != 0 {
                return Err(self.invalid(format!(
                    "tensor {name} has rows of {row} values, not whole {dtype:?} blocks of {block}"
                )));
            }
            let bytes = (elements as u64 / block)
                .checked_mul(dtype.type_size() as u64)
                .ok_or_else(|| {
                    self.invalid(format!(
                        "tensor {name} has dimensions {dims:?}: more bytes than any file holds"
                    ))
                })?;
            if offset % alignment != 0 {
                return Err(self.invalid(format!(
                    "tensor {name} starts at offset {offset}, not a multiple of the file's \
                     alignment {alignment}"
                )));
            }
            let end = data_offset
                .checked_add(offset)
                .and_then(|start| start.checked_add(bytes));
            match end {
                Some(end) if end <= self.file_size => {}
                _ => {
                    return Err(self.invalid(format!(
                        "tensor {name} ({bytes} bytes at offset {offset}) ends beyond the file's \
                         {} bytes (truncated download?)",
                        self.file_size
                    )));
                }
            }
            extents.push((offset, offset + bytes, name.clone()));
            let dims: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
            match infos.entry(name) {
                Entry::Occupied(e) => {
                    return Err(self.invalid(format!("tensor {} appears twice", e.key())));
                }
                Entry::Vacant(e) => {
                    e.insert(TensorInfo {
                        ggml_dtype: dtype,
                        shape: candle_core::Shape::from(dims),
                        offset,
                    });
                }
            }
        }
        extents.sort_unstable();
        for pair in extents.windows(2) {
            let ((_, end, first), (start, _, second)) = (&pair[0], &pair[1]);
            if start < end {
                return Err(
                    self.invalid(format!("tensors {first} and {second} overlap in the file"))
                );
            }
        }
        Ok(infos)
    }

    /// A length-prefixed string; `what` says whose, in errors. Trailing NULs (which some
    /// writers add) are dropped and invalid UTF-8 replaced, as llama.cpp reads them.
    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.length()?;
        let remaining = self.remaining();
        if len > remaining {
            return Err(self.invalid(format!(
                "{what} claims {len} bytes, more than the {remaining} left in the file \
                 (truncated download?)"
            )));
        }
        // At most the bytes left in the file.
        let mut bytes = vec![0u8; len as usize];
        self.fill(&mut bytes)?;
        while bytes.last() == Some(&0) {
            bytes.pop();
        }
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// A length or count: 64-bit from GGUF 2 on, 32-bit in GGUF 1.
    fn length(&mut self) -> Result<u64> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn length_size(&self) -> u64 {
        if self.wide { 8 } else { 4 }
    }

    fn u32(&mut self) -> Result<u32> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.bytes().map(u64::from_le_bytes)
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        if buf.len() as u64 > self.remaining() {
            return Err(self.truncated(self.file_size));
        }
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.truncated(self.pos))
            }
            Err(source) => Err(EngineError::Io {
                path: self.path.to_owned(),
                source,
            }),
        }
    }

    fn truncated(&self, at: u64) -> EngineError {
        self.invalid(format!(
            "the file ends inside its header, at byte {at} (truncated download?)"
        ))
    }

    fn remaining(&self) -> u64 {
        self.file_size.saturating_sub(self.pos)
    }

    fn invalid(&self, reason: String) -> EngineError {
        EngineError::InvalidGguf {
            path: self.path.to_owned(),
            reason,
        }
    }
}

/// A tensor as the directory lists it, before it is checked.
struct DirectoryEntry {
    name: String,
    /// Innermost first, as stored.
    dims: Vec<u64>,
    type_id: u32,
    offset: u64,
}

/// An integer value of any width that is not negative, as `u64`; `None` for anything else.
pub(crate) fn non_negative(value: &Value) -> Option<u64> {
    match value {
        Value::U8(v) => Some(u64::from(*v)),
        Value::U16(v) => Some(u64::from(*v)),
        Value::U32(v) => Some(u64::from(*v)),
        Value::U64(v) => Some(*v),
        Value::I8(v) => u64::try_from(*v).ok(),
        Value::I16(v) => u64::try_from(*v).ok(),
        Value::I32(v) => u64::try_from(*v).ok(),
        Value::I64(v) => u64::try_from(*v).ok(),
        _ => None,
    }
}

/// The file's `general.alignment`: a power of two up to [`MAX_ALIGNMENT`], 32 when absent.
fn alignment(metadata: &HashMap<String, Value>) -> Result<u64> {
    const KEY: &str = "general.alignment";
    let Some(value) = metadata.get(KEY) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match non_negative(value) {
        Some(n) if n.is_power_of_two() && n <= MAX_ALIGNMENT => Ok(n),
        _ => Err(bad(
            KEY,
            format!(
                "{}; it must be a power of two from 1 to {MAX_ALIGNMENT}",
                describe(value)
            ),
        )),
    }
}

/// A metadata value as an error message shows it.
fn describe(value: &Value) -> String {
    match value {
        Value::U8(v) => v.to_string(),
        Value::U16(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::I8(v) => v.to_string(),
        Value::I16(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        other => format!("a {:?}", other.value_type()),
    }
}

fn bad(key: &str, problem: String) -> EngineError {
    EngineError::BadMetadata {
        key: key.to_owned(),
        problem,
    }
}
