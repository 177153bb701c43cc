//! Matrix multiplication with quantized weights, owned by the engine: kernels chosen at run
//! time for the CPU at hand, with llama.cpp's arithmetic.
//!
//! llama.cpp multiplies weights by activations quantized in blocks: Q8_0 and Q8_1 (with
//! `s = d · Σq` for the offset term of Q4_1 and Q5_1) for the formats of 32 values per block,
//! Q8_K (one f32 scale per 256 values, with sums of every 16) for the k-quants. candle 0.11.1
//! differs: for Q4_1 and Q5_1 it computes `s` as `f16(Σq) · f16(d)` in half precision, while
//! the format rounds `Σq · d` once, from f32 (on SmolLM2 Q4_1 this moved logits by up to 1.2);
//! on x86 CPUs with AVX-512 it repacks Q8_0 matrices and quantizes their activations to Q8_K
//! (up to 1% of the logits' spread on SmolLM2's output layer); it rounds Q8_K with `−128/max`
//! where llama.cpp uses `−127/max`; and it picks its SIMD kernels when it is compiled, so a
//! portable build runs plain loops.
//!
//! Here activations are quantized as llama.cpp's x86 code does (rounding half to even) and dot
//! products summed block by block in exact integers, scaled in f32; the weight rows are split
//! over candle's thread pool, and a prompt's activation rows go through each weight row (or
//! group of eight repacked rows) [`ROWS_AT_ONCE`] at a time. This module holds the matrices:
//! where their blocks come from, which are repacked, and how the work is split; the block
//! formats and the kernels that multiply them are the `cpu` layer's, whose table is taken
//! once per multiplication. `tests/tiny_models.rs` compares the logits of random models in
//! every format with llama.cpp's.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::TensorInfo;
use candle_core::{Device, Tensor};
use memmap2::Mmap;

use crate::cpu::{
    Format, Group, Offset, Q4_0Block, Q4_1Block, Q4_1Rows8, Q4KBlock, Q4KRows8, Q5_0Block,
    Q5_1Block, Q5KBlock, Q6KBlock, Q6KRows8, Q8_0Block, ROWS, ROWS_AT_ONCE, RowKernel, Rows8,
    TileKernel,
};
use crate::{EngineError, Result};

/// One row of weights by `n` rows of activations through `kernel`, [`ROWS_AT_ONCE`] at a
/// time: the sum for activation row `k` goes to `out[k · stride]`.
fn row_times<F: Format>(
    kernel: &RowKernel<F, F::Activation>,
    w: &[F],
    activations: &[F::Activation],
    n: usize,
    out: &mut [f32],
    stride: usize,
) {
    let per_row = w.len();
    let a = |k: usize| &activations[k * per_row..(k + 1) * per_row];
    let mut i = 0;
    while i + ROWS_AT_ONCE <= n {
        let sums = (kernel.several)(w, std::array::from_fn(|k| a(i + k)));
        for (k, sum) in sums.into_iter().enumerate() {
            out[(i + k) * stride] = sum;
        }
        i += ROWS_AT_ONCE;
    }
    for k in i..n {
        out[k * stride] = (kernel.one)(w, [a(k)])[0];
    }
}

/// Groups of eight repacked weight rows (`groups`, each its blocks) by `n` rows of
/// activations through `kernel`: [`ROWS_AT_ONCE`] activation rows at a time go through every
/// group while they are in the cache. Activation row `k`'s sums go to `out[k · stride..]`,
/// eight per group.
fn group_times<G: Group>(
    kernel: &TileKernel<G, G::Activation>,
    groups: &[&[G]],
    offset: u8,
    activations: &[G::Activation],
    n: usize,
    out: &mut [f32],
    stride: usize,
) {
    let per_row = groups.first().map_or(0, |w| w.len());
    let a = |k: usize| &activations[k * per_row..(k + 1) * per_row];
    let mut i = 0;
    while i + ROWS_AT_ONCE <= n {
        for (g, w) in groups.iter().enumerate() {
            let sums = (kernel.several)(w, offset, std::array::from_fn(|k| a(i + k)));
            for (k, sums) in sums.iter().enumerate() {
                out[(i + k) * stride + g * ROWS..][..ROWS].copy_from_slice(sums);
            }
        }
        i += ROWS_AT_ONCE;
    }
    for k in i..n {
        for (g, w) in groups.iter().enumerate() {
            out[k * stride + g * ROWS..][..ROWS]
                .copy_from_slice(&(kernel.one)(w, offset, [a(k)])[0]);
        }
    }
}

/// Blocks of one format, laid out as the file stores them: read in place from the mapped
/// file, or copied into memory.
enum Storage<T> {
    Mapped {
        file: Arc<Mmap>,
        start: usize,
        blocks: usize,
    },
    Owned(Vec<T>),
}

impl<T: bytemuck::Pod> Storage<T> {
    fn blocks(&self) -> &[T] {
        match self {
            // Aligned and within the file, as `Storage::mapped` checked.
            Storage::Mapped {
                file,
                start,
                blocks,
            } => bytemuck::try_cast_slice(&file[*start..*start + blocks * size_of::<T>()])
                .unwrap_or_default(),
            Storage::Owned(blocks) => blocks,
        }
    }

    /// The `blocks` blocks at byte `start` of `file` (which holds them): in place where they
    /// are aligned for `T` on a little-endian CPU (as the file's numbers are), else a copy.
    fn mapped(file: &Arc<Mmap>, start: usize, blocks: usize) -> Storage<T> {
        let bytes = &file[start..start + blocks * size_of::<T>()];
        match bytemuck::try_cast_slice::<u8, T>(bytes) {
            Ok(_) if cfg!(target_endian = "little") => Storage::Mapped {
                file: file.clone(),
                start,
                blocks,
            },
            _ => Storage::Owned(
                bytes
                    .chunks_exact(size_of::<T>())
                    .map(bytemuck::pod_read_unaligned)
                    .collect(),
            ),
        }
    }
}

/// Where a matrix's blocks come from.
trait Source {
    /// The next `blocks` blocks of `T`.
    fn storage<T: bytemuck::Pod>(&mut self, blocks: usize) -> Result<Storage<T>>;

    /// The next `rows` rows of `per_row` blocks of `T`, repacked eight rows at a time by
    /// `repack` (a group's blocks, blocks per row, block index).
    fn repacked<T: bytemuck::Pod, G>(
        &mut self,
        rows: usize,
        per_row: usize,
        repack: impl Fn(&[T], usize, usize) -> G,
    ) -> Result<Vec<G>>;
}

/// The mapped file, from byte `start` on.
struct InPlace<'a> {
    file: &'a Arc<Mmap>,
    start: usize,
}

impl Source for InPlace<'_> {
    fn storage<T: bytemuck::Pod>(&mut self, blocks: usize) -> Result<Storage<T>> {
        let fits = blocks
            .checked_mul(size_of::<T>())
            .and_then(|bytes| bytes.checked_add(self.start))
            .is_some_and(|end| end <= self.file.len());
        if !fits {
            return Err(EngineError::Inference(candle_core::Error::Msg(
                "a tensor runs past the end of the file".into(),
            )));
        }
        Ok(Storage::mapped(self.file, self.start, blocks))
    }

    /// Straight from the mapped pages, which are given back a megabyte at a time as the
    /// groups are repacked (the copy is what the model keeps).
    fn repacked<T: bytemuck::Pod, G>(
        &mut self,
        rows: usize,
        per_row: usize,
        repack: impl Fn(&[T], usize, usize) -> G,
    ) -> Result<Vec<G>> {
        let storage = self.storage::<T>(rows * per_row)?;
        let group_bytes = ROWS * per_row * size_of::<T>();
        let mut tiles = Vec::with_capacity(rows / ROWS * per_row);
        let mut released = self.start;
        for (i, group) in storage.blocks().chunks_exact(ROWS * per_row).enumerate() {
            tiles.extend((0..per_row).map(|b| repack(group, per_row, b)));
            let read = self.start + (i + 1) * group_bytes;
            if read - released >= 1 << 20 {
                crate::mapped::release(self.file, released..read);
                released = read;
            }
        }
        crate::mapped::release(
            self.file,
            released..self.start + rows * per_row * size_of::<T>(),
        );
        Ok(tiles)
    }
}

/// A reader, copied from a megabyte at a time, so that the file's bytes are never held whole
/// beside the copy.
struct Copied<'a, R>(&'a mut R);

impl<R: Read> Source for Copied<'_, R> {
    fn storage<T: bytemuck::Pod>(&mut self, blocks: usize) -> Result<Storage<T>> {
        Ok(Storage::Owned(self.blocks(blocks)?))
    }

    fn repacked<T: bytemuck::Pod, G>(
        &mut self,
        rows: usize,
        per_row: usize,
        repack: impl Fn(&[T], usize, usize) -> G,
    ) -> Result<Vec<G>> {
        self.repacked_in_pieces(rows, per_row, repack)
    }
}

impl<R: Read> Copied<'_, R> {
    /// The next `blocks` blocks of `T`.
    fn blocks<T: bytemuck::Pod>(&mut self, blocks: usize) -> Result<Vec<T>> {
        let size = size_of::<T>();
        let io = |e: std::io::Error| EngineError::Inference(candle_core::Error::Io(e));
        let per_read = ((1 << 20) / size).clamp(1, blocks.max(1));
        let mut buffer = vec![0u8; per_read * size];
        let mut out = Vec::with_capacity(blocks);
        while out.len() < blocks {
            let bytes = &mut buffer[..per_read.min(blocks - out.len()) * size];
            self.0.read_exact(bytes).map_err(io)?;
            out.extend(
                bytes
                    .chunks_exact(size)
                    .map(bytemuck::pod_read_unaligned::<T>),
            );
        }
        Ok(out)
    }

    /// [`Source::repacked`], read about a megabyte at a time.
    fn repacked_in_pieces<T: bytemuck::Pod, G>(
        &mut self,
        rows: usize,
        per_row: usize,
        repack: impl Fn(&[T], usize, usize) -> G,
    ) -> Result<Vec<G>> {
        let groups = rows / ROWS;
        let group_bytes = ROWS * per_row * size_of::<T>();
        if group_bytes == 0 {
            return Ok(Vec::new());
        }
        // About a megabyte read at once: a read per group of small rows cost more in system
        // calls than the copying.
        let per_read = ((1 << 20) / group_bytes).max(1);
        let io = |e: std::io::Error| EngineError::Inference(candle_core::Error::Io(e));
        let mut tiles = Vec::with_capacity(groups * per_row);
        let mut bytes = vec![0u8; per_read.min(groups) * group_bytes];
        let mut group: Vec<T> = Vec::with_capacity(ROWS * per_row);
        let mut done = 0;
        while done < groups {
            let now = per_read.min(groups - done);
            let bytes = &mut bytes[..now * group_bytes];
            self.0.read_exact(bytes).map_err(io)?;
            for one in bytes.chunks_exact(group_bytes) {
                group.clear();
                group.extend(
                    one.chunks_exact(size_of::<T>())
                        .map(bytemuck::pod_read_unaligned::<T>),
                );
                tiles.extend((0..per_row).map(|b| repack(&group, per_row, b)));
            }
            done += now;
        }
        Ok(tiles)
    }
}

/// `rows` rows of `per_row` blocks of `dtype` from `source`, repacked eight at a time (for the
/// types [`QuantMatrix::repacked`] names).
fn repacked(
    dtype: GgmlDType,
    rows: usize,
    per_row: usize,
    source: &mut impl Source,
) -> Result<Blocks> {
    Ok(match dtype {
        GgmlDType::Q5_0 => Blocks::Rows8 {
            tiles: source.repacked(rows, per_row, Rows8::new::<Q5_0Block>)?,
            offset: Q5_0Block::OFFSET,
        },
        GgmlDType::Q8_0 => Blocks::Rows8 {
            tiles: source.repacked(rows, per_row, Rows8::new::<Q8_0Block>)?,
            offset: Q8_0Block::OFFSET,
        },
        GgmlDType::Q4_1 => Blocks::Q4_1Rows8(source.repacked(rows, per_row, Q4_1Rows8::new)?),
        GgmlDType::Q4K => Blocks::Q4KRows8(source.repacked(rows, per_row, Q4KRows8::new)?),
        GgmlDType::Q6K => Blocks::Q6KRows8(source.repacked(rows, per_row, Q6KRows8::new)?),
        other => {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "{other:?} rows are not repacked"
            ))));
        }
    })
}

enum Blocks {
    Q4_0(Storage<Q4_0Block>),
    Q4_1(Storage<Q4_1Block>),
    Q5_0(Storage<Q5_0Block>),
    Q5_1(Storage<Q5_1Block>),
    Q8_0(Storage<Q8_0Block>),
    Q4K(Storage<Q4KBlock>),
    Q5K(Storage<Q5KBlock>),
    Q6K(Storage<Q6KBlock>),
    /// Q5_0 or Q8_0 rows repacked eight at a time, values held plus `offset`.
    Rows8 {
        tiles: Vec<Rows8>,
        offset: u8,
    },
    Q4_1Rows8(Vec<Q4_1Rows8>),
    Q4KRows8(Vec<Q4KRows8>),
    Q6KRows8(Vec<Q6KRows8>),
}

/// `$body` with `$b` bound to the blocks as stored, a slice, whatever their format; or
/// `$tiled` with `$tiles` and `$offset` bound to repacked rows.
macro_rules! each_format {
    ($blocks:expr, $b:ident => $body:expr, ($tiles:ident, $offset:ident) => $tiled:expr) => {
        match $blocks {
            Blocks::Rows8 {
                tiles: $tiles,
                offset: $offset,
            } => $tiled,
            Blocks::Q4_1Rows8($tiles) => {
                let $offset = &0u8;
                $tiled
            }
            Blocks::Q4KRows8($tiles) => {
                let $offset = &0u8;
                $tiled
            }
            Blocks::Q6KRows8($tiles) => {
                let $offset = &0u8;
                $tiled
            }
            Blocks::Q4_0(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q4_1(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q5_0(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q5_1(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q8_0(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q4K(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q5K(s) => {
                let $b = s.blocks();
                $body
            }
            Blocks::Q6K(s) => {
                let $b = s.blocks();
                $body
            }
        }
    };
}

impl Blocks {
    /// `n` blocks of `dtype` from `source`; `None` for formats not held here.
    fn load(dtype: GgmlDType, n: usize, source: &mut impl Source) -> Result<Option<Blocks>> {
        Ok(Some(match dtype {
            GgmlDType::Q4_0 => Blocks::Q4_0(source.storage(n)?),
            GgmlDType::Q4_1 => Blocks::Q4_1(source.storage(n)?),
            GgmlDType::Q5_0 => Blocks::Q5_0(source.storage(n)?),
            GgmlDType::Q5_1 => Blocks::Q5_1(source.storage(n)?),
            GgmlDType::Q8_0 => Blocks::Q8_0(source.storage(n)?),
            GgmlDType::Q4K => Blocks::Q4K(source.storage(n)?),
            GgmlDType::Q5K => Blocks::Q5K(source.storage(n)?),
            GgmlDType::Q6K => Blocks::Q6K(source.storage(n)?),
            _ => return Ok(None),
        }))
    }
}

/// Whether the engine holds `dtype`.
fn held(dtype: GgmlDType) -> bool {
    matches!(
        dtype,
        GgmlDType::Q4_0
            | GgmlDType::Q4_1
            | GgmlDType::Q5_0
            | GgmlDType::Q5_1
            | GgmlDType::Q8_0
            | GgmlDType::Q4K
            | GgmlDType::Q5K
            | GgmlDType::Q6K
    )
}

/// A quantized matrix, rows × columns, in blocks as the file stores them.
pub(crate) struct QuantMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

impl QuantMatrix {
    /// Takes a copy of a tensor in one of the formats held here; `None` for any other type.
    #[cfg(test)]
    fn from_qtensor(t: &candle_core::quantized::QTensor) -> Result<Option<QuantMatrix>> {
        let info = TensorInfo {
            ggml_dtype: t.dtype(),
            shape: t.shape().clone(),
            offset: 0,
        };
        QuantMatrix::read(&info, &mut std::io::Cursor::new(t.data()?), 0)
    }

    /// Whether tensor `info` is repacked when read (Q4_1, Q5_0, Q8_0, Q4_K and Q6_K matrices of
    /// whole groups of eight rows, where the kernels of repacked rows are vectorised), and so is
    /// better read than mapped: a mapped file's pages, once read, count in the process's memory
    /// beside the repacked copy.
    pub fn repacked(info: &TensorInfo) -> bool {
        let rows = info.shape.dims2().map_or(0, |(rows, _)| rows);
        crate::cpu::kernels().tiles.repack
            && rows.is_multiple_of(ROWS)
            && matches!(
                info.ggml_dtype,
                GgmlDType::Q4_1
                    | GgmlDType::Q5_0
                    | GgmlDType::Q8_0
                    | GgmlDType::Q4K
                    | GgmlDType::Q6K
            )
    }

    /// Copies tensor `info` of a GGUF file (whose tensor data start at `data_offset`) from
    /// `reader`, repacked where [`QuantMatrix::repacked`] says; `None` for types other than
    /// those held here.
    pub fn read<R: Read + Seek>(
        info: &TensorInfo,
        reader: &mut R,
        data_offset: u64,
    ) -> Result<Option<QuantMatrix>> {
        let Some((rows, cols, n)) = Self::shape(info)? else {
            return Ok(None);
        };
        let io = |e: std::io::Error| EngineError::Inference(candle_core::Error::Io(e));
        reader
            .seek(SeekFrom::Start(data_offset + info.offset))
            .map_err(io)?;
        let mut source = Copied(reader);
        let per_row = cols / info.ggml_dtype.block_size();
        let blocks = if Self::repacked(info) {
            Some(repacked(info.ggml_dtype, rows, per_row, &mut source)?)
        } else {
            Blocks::load(info.ggml_dtype, n, &mut source)?
        };
        Ok(blocks.map(|blocks| QuantMatrix { rows, cols, blocks }))
    }

    /// Tensor `info` read in place from the mapped file `file`, or repacked from it where
    /// [`QuantMatrix::repacked`] says; `None` for types other than those held here.
    pub fn map(
        info: &TensorInfo,
        file: &Arc<Mmap>,
        data_offset: u64,
    ) -> Result<Option<QuantMatrix>> {
        let Some((rows, cols, n)) = Self::shape(info)? else {
            return Ok(None);
        };
        let start = usize::try_from(data_offset + info.offset).map_err(|_| {
            EngineError::Inference(candle_core::Error::Msg(
                "a tensor offset past memory".into(),
            ))
        })?;
        let mut source = InPlace { file, start };
        let blocks = if Self::repacked(info) {
            let per_row = cols / info.ggml_dtype.block_size();
            Some(repacked(info.ggml_dtype, rows, per_row, &mut source)?)
        } else {
            Blocks::load(info.ggml_dtype, n, &mut source)?
        };
        Ok(blocks.map(|blocks| QuantMatrix { rows, cols, blocks }))
    }

    /// Rows, columns and blocks of tensor `info`, if its type is held here.
    fn shape(info: &TensorInfo) -> Result<Option<(usize, usize, usize)>> {
        let dtype = info.ggml_dtype;
        if !held(dtype) {
            return Ok(None);
        }
        let (rows, cols) = info.shape.dims2()?;
        let values = dtype.block_size();
        if cols % values != 0 {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "a {dtype:?} tensor of {rows}×{cols}: rows are not whole blocks"
            ))));
        }
        Ok(Some((rows, cols, rows * cols / values)))
    }

    /// The rows `ids` of the matrix, dequantized as llama.cpp does: an embedding table's
    /// lookup, so that a tied output layer and the embedding share one copy.
    pub fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let id = id as usize;
            if id >= self.rows {
                return Err(EngineError::InvalidRequest(format!(
                    "token id {id} is outside the vocabulary of {}",
                    self.rows
                )));
            }
            each_format!(&self.blocks, b => {
                let per_row = b.len() / self.rows;
                for w in &b[id * per_row..(id + 1) * per_row] {
                    w.dequantize(&mut out);
                }
            }, (tiles, offset) => {
                let per_row = tiles.len() / (self.rows / ROWS);
                for tile in &tiles[id / ROWS * per_row..][..per_row] {
                    tile.dequantize(id % ROWS, *offset, &mut out);
                }
            })
        }
        Ok(Tensor::from_vec(out, (ids.len(), self.cols), &Device::Cpu)?)
    }

    /// `x · Wᵀ` for `x` of shape (…, cols): the result has shape (…, rows).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut out = Self::forward_together(&[self], x)?;
        Ok(out.remove(0))
    }

    /// `x · Wᵀ` for each matrix of `matrices` (all of as many columns as `x`'s last
    /// dimension): one pass over the thread pool for all of them, where a token decoded alone
    /// would otherwise wait at the pool's barrier once per matrix (a layer's query, key and
    /// value projections; its gate and up projections).
    pub fn forward_together(matrices: &[&QuantMatrix], x: &Tensor) -> Result<Vec<Tensor>> {
        let dims = x.dims().to_vec();
        let Some((&cols, lead)) = dims.split_last() else {
            return Err(EngineError::InvalidRequest("a scalar input".into()));
        };
        if let Some(m) = matrices.iter().find(|m| m.cols != cols) {
            return Err(EngineError::Inference(candle_core::Error::Msg(format!(
                "input of width {cols} for a matrix of {} columns",
                m.cols
            ))));
        }
        let n: usize = lead.iter().product();
        let input = x.flatten_all()?.to_vec1::<f32>()?;
        let jobs = matrices
            .iter()
            .map(|m| m.job(&input, n))
            .collect::<Result<Vec<_>>>()?;
        let outs = run_together(&jobs, n)?;
        outs.into_iter()
            .zip(matrices)
            .map(|(out, m)| {
                let mut shape = lead.to_vec();
                shape.push(m.rows);
                Ok(Tensor::from_vec(out, shape, &Device::Cpu)?)
            })
            .collect()
    }

    /// The matrix's share of a multiplication by the `n` rows of `input`, whose activations
    /// are quantized here, once.
    fn job(&self, input: &[f32], n: usize) -> Result<Job<'_>> {
        each_format!(
            &self.blocks,
            b => self.stored_job(b, input, n),
            (tiles, offset) => self.tiled_job(tiles, *offset, input, n)
        )
    }

    /// Rows as stored: each weight row meets every activation row.
    fn stored_job<'a, F: Format>(
        &self,
        blocks: &'a [F],
        input: &[f32],
        n: usize,
    ) -> Result<Job<'a>> {
        let activations = quantize_rows(input, n, F::VALUES, F::quantize)?;
        let per_row = self.cols / F::VALUES;
        let kernel = F::kernel(crate::cpu::kernels());
        Ok(Job {
            rows: self.rows,
            fill: Box::new(move |rows, out, stride| {
                for (c, r) in rows.enumerate() {
                    row_times(
                        kernel,
                        &blocks[r * per_row..(r + 1) * per_row],
                        &activations,
                        n,
                        &mut out[c..],
                        stride,
                    );
                }
            }),
        })
    }

    /// Rows repacked eight at a time (`tiles`, values held plus `offset`).
    fn tiled_job<'a, G: Group>(
        &self,
        tiles: &'a [G],
        offset: u8,
        input: &[f32],
        n: usize,
    ) -> Result<Job<'a>> {
        let activations = quantize_rows(input, n, G::VALUES, G::quantize)?;
        let per_row = self.cols / G::VALUES;
        let kernel = G::kernel(crate::cpu::kernels());
        Ok(Job {
            rows: self.rows,
            fill: Box::new(move |rows, out, stride| {
                let mut groups: [&[G]; BAND / ROWS] = [&[]; BAND / ROWS];
                let mut count = 0;
                for (group, r) in groups.iter_mut().zip(rows.step_by(ROWS)) {
                    *group = &tiles[r / ROWS * per_row..][..per_row];
                    count += 1;
                }
                group_times(
                    kernel,
                    &groups[..count],
                    offset,
                    &activations,
                    n,
                    out,
                    stride,
                );
            }),
        })
    }
}

/// One matrix's share of a multiplication: `fill(rows, out, stride)` puts weight rows `rows`
/// (whole groups of eight where the rows are repacked) by the activation rows in `out`,
/// activation row `k`'s results at `out[k · stride..]`.
struct Job<'a> {
    rows: usize,
    fill: Box<Fill<'a>>,
}

/// Weight rows a job fills at once: at most this many go to [`Job::fill`].
const BAND: usize = 16;

/// What fills a job's rows.
type Fill<'a> = dyn Fn(Range<usize>, &mut [f32], usize) + Sync + 'a;

/// Every job's weight rows against the `n` activation rows, the rows of all of them split in
/// bands of 16 over candle's thread pool in one pass; each result is row-major, `n × rows`.
fn run_together(jobs: &[Job<'_>], n: usize) -> Result<Vec<Vec<f32>>> {
    if n == 0 {
        return Ok(jobs.iter().map(|_| Vec::new()).collect());
    }
    // The first band of each job, and the total.
    let mut firsts = Vec::with_capacity(jobs.len());
    let mut bands = 0;
    for job in jobs {
        firsts.push(bands);
        bands += job.rows.div_ceil(BAND);
    }
    let parts: Mutex<Vec<(usize, usize, Vec<f32>)>> = Mutex::new(Vec::new());
    crate::parallel::for_each_range(bands, |range| {
        let mut band = range.start;
        while band < range.end {
            // The job this band belongs to, and the bands of it in this range.
            let j = firsts.partition_point(|&first| first <= band) - 1;
            let job = &jobs[j];
            let last = (firsts[j] + job.rows.div_ceil(BAND)).min(range.end);
            let start = (band - firsts[j]) * BAND;
            let end = ((last - firsts[j]) * BAND).min(job.rows);
            let width = end - start;
            let mut part = vec![0f32; n * width];
            // A band at a time, so that a prompt's activation rows meet weights still in
            // the cache.
            for from in (start..end).step_by(BAND) {
                let to = (from + BAND).min(end);
                (job.fill)(from..to, &mut part[from - start..], width);
            }
            if let Ok(mut parts) = parts.lock() {
                parts.push((j, start, part));
            }
            band = last;
        }
    });
    let mut outs: Vec<Vec<f32>> = jobs.iter().map(|job| vec![0f32; n * job.rows]).collect();
    let mut filled = vec![0usize; jobs.len()];
    for (j, start, part) in parts.into_inner().unwrap_or_default() {
        let rows = jobs[j].rows;
        let width = part.len() / n;
        for i in 0..n {
            outs[j][i * rows + start..i * rows + start + width]
                .copy_from_slice(&part[i * width..(i + 1) * width]);
        }
        filled[j] += width;
    }
    if jobs
        .iter()
        .zip(&filled)
        .any(|(job, &filled)| filled != job.rows)
    {
        return Err(EngineError::Inference(candle_core::Error::Msg(
            "a matrix multiplication worker failed".into(),
        )));
    }
    Ok(outs)
}

/// The `n` rows of `input` quantized by `quantize`, `values` at a time, several rows at once
/// split over candle's thread pool (a prompt's rows are otherwise quantized while the other
/// threads wait).
fn quantize_rows<A: Send>(
    input: &[f32],
    n: usize,
    values: usize,
    quantize: fn(&[f32]) -> A,
) -> Result<Vec<A>> {
    if n < 2 * ROWS_AT_ONCE {
        return Ok(input.chunks_exact(values).map(quantize).collect());
    }
    let per_row = input.len() / n;
    let parts = Mutex::new(Vec::new());
    candle_core::utils::barrier_pool().execute_chunked(n, |rows| {
        let part: Vec<A> = input[rows.start * per_row..rows.end * per_row]
            .chunks_exact(values)
            .map(quantize)
            .collect();
        if let Ok(mut parts) = parts.lock() {
            parts.push((rows.start, part));
        }
    });
    let mut parts = parts.into_inner().unwrap_or_default();
    parts.sort_unstable_by_key(|(start, _)| *start);
    let activations: Vec<A> = parts.into_iter().flat_map(|(_, part)| part).collect();
    if activations.len() * values != input.len() {
        return Err(EngineError::Inference(candle_core::Error::Msg(
            "a quantization worker failed".into(),
        )));
    }
    Ok(activations)
}

#[cfg(test)]
mod tests {
    use super::*;

    use candle_core::quantized::QTensor;

    /// Every format the engine holds.
    const HELD_TYPES: [GgmlDType; 8] = [
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
        GgmlDType::Q8_0,
        GgmlDType::Q4K,
        GgmlDType::Q5K,
        GgmlDType::Q6K,
    ];

    fn matches_dequantized_weights_within_activation_rounding(dtype: GgmlDType) {
        // 37 rows stay as stored; 40 are repacked eight at a time where the CPU allows.
        for rows in [37, 40] {
            matches_dequantized_weights(dtype, rows);
        }
    }

    fn matches_dequantized_weights(dtype: GgmlDType, rows: usize) {
        let cols = 512;
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
        let x = Tensor::from_vec(
            (0..5 * cols)
                .map(|i| (i as f32 * 0.37).sin())
                .collect::<Vec<f32>>(),
            (5, cols),
            &Device::Cpu,
        )
        .unwrap();
        let ours = m.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        let exact = x
            .matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(ours.len(), 5);
        assert_eq!(ours[0].len(), rows);
        for (a, b) in ours.iter().flatten().zip(exact.iter().flatten()) {
            // Rounding 512 activations to 8 bits moves a sum of this size by up to ~0.1; a
            // value read from the wrong place moves it by whole units.
            assert!((a - b).abs() < 0.2, "{dtype:?}: {a} vs {b}");
        }
    }

    #[test]
    fn q4_1_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q4_1);
    }

    #[test]
    fn q5_0_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q5_0);
    }

    #[test]
    fn q5_1_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q5_1);
    }

    #[test]
    fn q8_0_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q8_0);
    }

    #[test]
    fn q4_0_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q4_0);
    }

    #[test]
    fn q4_k_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q4K);
    }

    #[test]
    fn q5_k_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q5K);
    }

    #[test]
    fn q6_k_matches_dequantized_weights_within_activation_rounding() {
        matches_dequantized_weights_within_activation_rounding(GgmlDType::Q6K);
    }

    #[test]
    fn looked_up_rows_are_candles_dequantized_rows() {
        for rows in [9, 16] {
            looked_up_rows(rows);
        }
    }

    fn looked_up_rows(rows: usize) {
        let cols = 256;
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        for dtype in HELD_TYPES {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let ids = [3u32, 0, 8, 3, rows as u32 - 1];
            let ours = m.rows(&ids).unwrap().to_vec2::<f32>().unwrap();
            let all = q
                .dequantize(&Device::Cpu)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            for (row, &id) in ours.iter().zip(&ids) {
                assert_eq!(row, &all[id as usize], "{dtype:?} row {id}");
            }
            assert!(m.rows(&[rows as u32]).is_err(), "outside the vocabulary");
        }
    }

    #[test]
    fn a_matrix_read_in_place_or_in_pieces_is_the_same_matrix() {
        // More blocks than one megabyte's read, so that several reads are joined.
        let (rows, cols) = (300, 4096);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for dtype in [GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::Q6K] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            // The tensor at byte 64 of the data, which start at byte 32 of the file; an odd
            // start cannot be read in place and is copied.
            for (data_offset, offset) in [(32u64, 64u64), (33, 64)] {
                let mut file = vec![7u8; (data_offset + offset) as usize];
                file.extend_from_slice(&q.data().unwrap());
                let path = dir.path().join("m.bin");
                std::fs::write(&path, &file).unwrap();
                let info = TensorInfo {
                    ggml_dtype: dtype,
                    shape: (rows, cols).into(),
                    offset,
                };
                let mapped =
                    Arc::new(crate::mapped::map(&std::fs::File::open(&path).unwrap()).unwrap());
                let in_place = QuantMatrix::map(&info, &mapped, data_offset)
                    .unwrap()
                    .unwrap();
                let mut reader = std::io::Cursor::new(file);
                let read = QuantMatrix::read(&info, &mut reader, data_offset)
                    .unwrap()
                    .unwrap();
                let copied = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
                let ids: Vec<u32> = (0..rows as u32).step_by(37).collect();
                let expected = copied.rows(&ids).unwrap().to_vec2::<f32>().unwrap();
                for m in [&in_place, &read] {
                    assert_eq!(m.rows(&ids).unwrap().to_vec2::<f32>().unwrap(), expected);
                }
                let x = Tensor::ones((2, cols), candle_core::DType::F32, &Device::Cpu).unwrap();
                assert_eq!(
                    in_place.forward(&x).unwrap().to_vec2::<f32>().unwrap(),
                    copied.forward(&x).unwrap().to_vec2::<f32>().unwrap(),
                    "{dtype:?}"
                );
                let short = TensorInfo {
                    offset: offset + 1,
                    ..info
                };
                let mut reader = std::io::Cursor::new(reader.into_inner());
                assert!(
                    QuantMatrix::read(&short, &mut reader, data_offset).is_err(),
                    "a cut file"
                );
                assert!(
                    QuantMatrix::map(&short, &mapped, data_offset).is_err(),
                    "a cut file"
                );
            }
        }
    }

    #[test]
    fn many_rows_at_once_give_each_rows_own_result_exactly() {
        // A prompt's rows go through a weight row four at a time; a token decoded alone must
        // get the very same numbers (the prefix cache continues from either). 19 rows stay as
        // stored, 24 are repacked eight at a time where the CPU allows.
        for rows in [19, 24] {
            rows_alone_and_together(rows);
        }
    }

    fn rows_alone_and_together(rows: usize) {
        let cols = 512;
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
        let n = 11;
        let x: Vec<f32> = (0..n * cols).map(|i| (i as f32 * 0.37).sin()).collect();
        let all = Tensor::from_vec(x.clone(), (n, cols), &Device::Cpu).unwrap();
        for dtype in HELD_TYPES {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let together = m.forward(&all).unwrap().to_vec2::<f32>().unwrap();
            for (i, row) in together.iter().enumerate() {
                let alone = Tensor::from_vec(
                    x[i * cols..(i + 1) * cols].to_vec(),
                    (1, cols),
                    &Device::Cpu,
                )
                .unwrap();
                let alone = m.forward(&alone).unwrap().to_vec2::<f32>().unwrap();
                assert_eq!(&alone[0], row, "{dtype:?}, row {i}");
            }
        }
    }

    #[test]
    fn matrices_multiplied_together_give_what_each_gives_alone() {
        // Several matrices share one pass over the thread pool (a layer's projections); each
        // must get exactly its own numbers, stored or repacked, whatever the bands' split.
        let cols = 512;
        let shapes = [
            (GgmlDType::Q4K, 24),
            (GgmlDType::Q6K, 40),
            (GgmlDType::Q8_0, 19),
            (GgmlDType::Q4_1, 8),
        ];
        let matrices: Vec<QuantMatrix> = shapes
            .iter()
            .map(|&(dtype, rows)| {
                let values: Vec<f32> = (0..rows * cols)
                    .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                    .collect();
                let w = Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap();
                QuantMatrix::from_qtensor(&QTensor::quantize(&w, dtype).unwrap())
                    .unwrap()
                    .unwrap()
            })
            .collect();
        for n in [1, 6] {
            let x: Vec<f32> = (0..n * cols).map(|i| (i as f32 * 0.37).sin()).collect();
            let x = Tensor::from_vec(x, (n, cols), &Device::Cpu).unwrap();
            let all: Vec<&QuantMatrix> = matrices.iter().collect();
            let together = QuantMatrix::forward_together(&all, &x).unwrap();
            for (m, together) in matrices.iter().zip(together) {
                assert_eq!(
                    together.to_vec2::<f32>().unwrap(),
                    m.forward(&x).unwrap().to_vec2::<f32>().unwrap()
                );
            }
        }
        let narrow = Tensor::zeros((1, 256), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(QuantMatrix::forward_together(&[&matrices[0]], &narrow).is_err());
    }

    #[test]
    fn blocks_are_the_files_bytes() {
        let sizes = [
            (GgmlDType::Q4_0, size_of::<Q4_0Block>()),
            (GgmlDType::Q4_1, size_of::<Q4_1Block>()),
            (GgmlDType::Q5_0, size_of::<Q5_0Block>()),
            (GgmlDType::Q5_1, size_of::<Q5_1Block>()),
            (GgmlDType::Q8_0, size_of::<Q8_0Block>()),
            (GgmlDType::Q4K, size_of::<Q4KBlock>()),
            (GgmlDType::Q5K, size_of::<Q5KBlock>()),
            (GgmlDType::Q6K, size_of::<Q6KBlock>()),
        ];
        for (dtype, size) in sizes {
            assert_eq!(size, dtype.type_size(), "{dtype:?}");
            assert!(held(dtype));
        }
    }

    #[test]
    fn other_formats_are_left_to_candle() {
        let w = Tensor::zeros((4, 256), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q2K).unwrap();
        assert!(QuantMatrix::from_qtensor(&q).unwrap().is_none());
    }
}
