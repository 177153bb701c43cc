//! Weight rows repacked eight at a time, for kernels whose eight float lanes are eight weight
//! rows: a block of activations is read once for all eight, four values at a time are
//! broadcast against four values of every row, and the sums come out in place, with no
//! horizontal sum per row. llama.cpp repacks its CPU weights in the same spirit (its `repack`
//! buffers); a prompt's tokens then go through a group of rows several at a time, the group's
//! values staying in the first-level cache.
//!
//! The rows are repacked when a model loads, only where the kernels of these layouts are
//! vectorised (`x86/tiles.rs`; `TileKernels::repack`); elsewhere the blocks stay as the file
//! stores them.

use bytemuck::{Pod, Zeroable};

use half::f16;

use super::blocks::{BLOCK, Q4_1Block, Q5_0Block, Q8_0Block, Q8Block, quantize_q8};
use super::k_quants::{Q4KBlock, Q6KBlock, Q8KBlock, QK_K, quantize_q8k, scales_and_mins};
use super::scalar::widen;
use super::{Format, Kernels, TileKernel};

/// Weight rows in one group.
pub(crate) const ROWS: usize = 8;

/// One block of eight repacked weight rows, with the activations it multiplies.
pub(crate) trait Group: Sized + Sync {
    type Activation: Send + Sync;
    /// Values per row in one block.
    const VALUES: usize;
    fn quantize(x: &[f32]) -> Self::Activation;
    /// Row `r`'s values, appended exactly as the stored blocks give them; `offset` as held.
    fn dequantize(&self, r: usize, offset: u8, out: &mut Vec<f32>);
    /// The layout's kernel in `kernels`.
    fn kernel(kernels: &Kernels) -> &TileKernel<Self, Self::Activation>;
}

/// Block `b` of eight weight rows `8t..8t + 8`: each row's scale widened to f32, and its 32
/// values as unsigned bytes `u` (the value is `d · (u − offset)`), interleaved four at a
/// time: bytes `32g + 4r .. 32g + 4r + 4` are values `4g .. 4g + 4` of row `r`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Rows8 {
    pub d: [f32; ROWS],
    pub qs: [u8; ROWS * BLOCK],
}

/// A format of 32 values per block whose values are `d · q` for small signed integers `q`:
/// held repacked as `q + OFFSET` in [`Rows8`].
pub(crate) trait Offset: Format<Activation = Q8Block> {
    /// What makes every value non-negative.
    const OFFSET: u8;
    /// The block's scale and its values `q + OFFSET`.
    fn unsigned(&self) -> (f32, [u8; BLOCK]);
}

impl Offset for Q5_0Block {
    const OFFSET: u8 = 16;

    fn unsigned(&self) -> (f32, [u8; BLOCK]) {
        let mut out = [0u8; BLOCK];
        for (o, q) in out.iter_mut().zip(self.values()) {
            *o = (q + 16) as u8;
        }
        (widen(self.d), out)
    }
}

impl Offset for Q8_0Block {
    const OFFSET: u8 = 128;

    fn unsigned(&self) -> (f32, [u8; BLOCK]) {
        (widen(self.d), self.qs.map(|q| (q as u8) ^ 0x80))
    }
}

impl Rows8 {
    /// Block `b` of each of the eight rows in `group` (eight rows of `per_row` blocks).
    pub fn new<F: Offset>(group: &[F], per_row: usize, b: usize) -> Rows8 {
        let mut tile = Rows8::zeroed();
        for r in 0..ROWS {
            let (d, values) = group[r * per_row + b].unsigned();
            tile.d[r] = d;
            for (g, four) in values.chunks_exact(4).enumerate() {
                tile.qs[32 * g + 4 * r..32 * g + 4 * r + 4].copy_from_slice(four);
            }
        }
        tile
    }
}

impl Group for Rows8 {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    /// `d · (u − offset)`.
    fn dequantize(&self, r: usize, offset: u8, out: &mut Vec<f32>) {
        let d = self.d[r];
        out.extend((0..BLOCK).map(|i| {
            let u = self.qs[32 * (i / 4) + 4 * r + i % 4];
            d * (i32::from(u) - i32::from(offset)) as f32
        }));
    }

    fn kernel(kernels: &Kernels) -> &TileKernel<Self, Q8Block> {
        &kernels.tiles.rows8
    }
}

/// Block `b` of eight Q4_K rows: each row's `d` and `dmin`, its eight 6-bit sub-block scales and
/// minimums packed in the file's 12 bytes a row (but so that a kernel unpacks all 128 with a
/// few shifts and masks, [`Q4KRows8::unpacked`]), and its 4-bit values interleaved four bytes
/// at a time as the file packs them: as many bytes as the file's.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q4KRows8 {
    pub d: [f16; ROWS],
    pub dmin: [f16; ROWS],
    /// The 128 unpacked bytes `u` in four runs of 32, `u[32q + j]` having its low four bits in
    /// nibble `q % 2` of byte `32(q / 2) + j` and its high two in bits `2q, 2q + 1` of byte
    /// `64 + j`.
    pub scales: [u8; 12 * ROWS],
    /// Bytes `32(8j + g) + 4r .. + 4` are row `r`'s packed bytes `32j + 4g .. + 4`: low
    /// nibbles values `4g..4g + 4` of sub-block `2j`, high nibbles those of sub-block `2j + 1`.
    pub qs: [u8; ROWS * QK_K / 2],
}

/// Where [`Q4KRows8::unpacked`] holds sub-block `s`'s scale for row `r`: eight rows of one
/// sub-block together, to be widened to 32-bit lanes.
pub(crate) fn scale_at(r: usize, s: usize) -> usize {
    8 * s + r
}

/// Where [`Q4KRows8::unpacked`] holds sub-block `s`'s minimum for row `r`: the minimums of
/// sub-blocks `2p` and `2p + 1` of a row side by side, pairs to be widened to 16 bits for a
/// multiply-add against two activation sums.
pub(crate) fn min_at(r: usize, s: usize) -> usize {
    64 + 16 * (s / 2) + 2 * r + s % 2
}

impl Q4KRows8 {
    /// Block `b` of each of the eight rows in `group` (eight rows of `per_row` blocks).
    pub fn new(group: &[Q4KBlock], per_row: usize, b: usize) -> Q4KRows8 {
        let mut tile = Q4KRows8::zeroed();
        let mut unpacked = [0u8; 128];
        for r in 0..ROWS {
            let block = &group[r * per_row + b];
            let (scales, mins) = scales_and_mins(&block.scales);
            tile.d[r] = block.d;
            tile.dmin[r] = block.dmin;
            for s in 0..8 {
                unpacked[scale_at(r, s)] = scales[s];
                unpacked[min_at(r, s)] = mins[s];
            }
            for (k, four) in block.qs.chunks_exact(4).enumerate() {
                tile.qs[32 * k + 4 * r..][..4].copy_from_slice(four);
            }
        }
        for (i, u) in unpacked.into_iter().enumerate() {
            let (q, j) = (i / 32, i % 32);
            tile.scales[32 * (q / 2) + j] |= (u & 0x0F) << (4 * (q % 2));
            tile.scales[64 + j] |= (u >> 4) << (2 * q);
        }
        tile
    }

    /// Byte `i` of the unpacked scales and minimums ([`scale_at`], [`min_at`]).
    pub(crate) fn unpacked(&self, i: usize) -> u8 {
        let (q, j) = (i / 32, i % 32);
        let low = (self.scales[32 * (q / 2) + j] >> (4 * (q % 2))) & 0x0F;
        let high = (self.scales[64 + j] >> (2 * q)) & 3;
        low | (high << 4)
    }

    /// Row `r`'s 4-bit value `i`.
    pub(crate) fn value(&self, r: usize, i: usize) -> u8 {
        let (j, within) = (i / 64, i % 64);
        let byte = self.qs[32 * (8 * j + within % 32 / 4) + 4 * r + within % 4];
        if within < 32 { byte & 0x0F } else { byte >> 4 }
    }
}

impl Group for Q4KRows8 {
    type Activation = Q8KBlock;
    const VALUES: usize = QK_K;

    fn quantize(x: &[f32]) -> Q8KBlock {
        quantize_q8k(x)
    }

    /// `d · scale · q − dmin · min`, as [`Q4KBlock`]'s.
    fn dequantize(&self, r: usize, _offset: u8, out: &mut Vec<f32>) {
        out.extend((0..QK_K).map(|i| {
            let s = i / 32;
            let (scale, min) = (self.unpacked(scale_at(r, s)), self.unpacked(min_at(r, s)));
            widen(self.d[r]) * f32::from(scale) * f32::from(self.value(r, i))
                - widen(self.dmin[r]) * f32::from(min)
        }));
    }

    fn kernel(kernels: &Kernels) -> &TileKernel<Self, Q8KBlock> {
        &kernels.tiles.q4_k
    }
}

/// Block `b` of eight Q6_K rows: each row's `d`, its sixteen scales as 16-bit pairs, and its
/// 6-bit values `q` (the value being `d · scale · (q − 32)`) packed as the file packs them, four
/// low bits and two high bits apart, no more bytes than the file's, but interleaved four values
/// at a time so that a kernel unpacks 32 bytes of eight rows with a shift and a mask.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q6KRows8 {
    pub d: [f16; ROWS],
    /// The scales of sub-blocks (of 16 values) `2p` and `2p + 1` for row `r` at `16p + 2r`
    /// and `16p + 2r + 1`: pairs, widened to 16 bits by the kernels.
    pub scales: [i8; 16 * ROWS],
    /// Run `c` (values `32c .. 32c + 32` of each row) at bytes `192c .. 192c + 192`, read in
    /// order by the kernels: byte `192c + 32k + 4r + l` holds the low four bits of row `r`'s
    /// value `32c + 4k + l` in its low nibble and of value `32c + 16 + 4k + l` in its high
    /// nibble; bits `2k, 2k + 1` of byte `192c + 128 + 32m + 4r + l` are the high two bits of
    /// value `32c + 16m + 4k + l`.
    pub qs: [u8; ROWS * QK_K * 3 / 4],
}

impl Q6KRows8 {
    /// Block `b` of each of the eight rows in `group` (eight rows of `per_row` blocks).
    pub fn new(group: &[Q6KBlock], per_row: usize, b: usize) -> Q6KRows8 {
        let mut tile = Q6KRows8::zeroed();
        for r in 0..ROWS {
            let block = &group[r * per_row + b];
            tile.d[r] = block.d;
            for (s, &scale) in block.scales.iter().enumerate() {
                tile.scales[16 * (s / 2) + 2 * r + s % 2] = scale;
            }
            // Four bytes at a time: each byte's bits stay in that byte.
            for c in 0..8 {
                let (half, run) = (c / 4, c % 4);
                let ql = &block.ql[64 * half + 32 * (run % 2)..][..32];
                let qh = &block.qh[32 * half..][..32];
                let nibbles = |at: usize| {
                    let word = word(ql, at);
                    if run < 2 {
                        word & 0x0F0F_0F0F
                    } else {
                        (word >> 4) & 0x0F0F_0F0F
                    }
                };
                let pairs = |at: usize| (word(qh, at) >> (2 * run)) & 0x0303_0303;
                let out = &mut tile.qs[192 * c..][..192];
                let mut high = [0u32; 2];
                for k in 0..4 {
                    let low = nibbles(4 * k) | (nibbles(16 + 4 * k) << 4);
                    out[32 * k + 4 * r..][..4].copy_from_slice(&low.to_le_bytes());
                    for (m, high) in high.iter_mut().enumerate() {
                        *high |= pairs(16 * m + 4 * k) << (2 * k);
                    }
                }
                for (m, high) in high.iter().enumerate() {
                    out[128 + 32 * m + 4 * r..][..4].copy_from_slice(&high.to_le_bytes());
                }
            }
        }
        tile
    }

    /// Row `r`'s 6-bit value `i`.
    pub(crate) fn value(&self, r: usize, i: usize) -> u8 {
        let (c, m, k, l) = (i / 32, i % 32 / 16, i % 16 / 4, i % 4);
        let low = self.qs[192 * c + 32 * k + 4 * r + l] >> (4 * m);
        let high = self.qs[192 * c + 128 + 32 * m + 4 * r + l] >> (2 * k);
        (low & 0x0F) | ((high & 3) << 4)
    }

    /// Row `r`'s scale of sub-block `s` (of 16 values).
    pub(crate) fn scale(&self, r: usize, s: usize) -> i8 {
        self.scales[16 * (s / 2) + 2 * r + s % 2]
    }
}

impl Group for Q6KRows8 {
    type Activation = Q8KBlock;
    const VALUES: usize = QK_K;

    fn quantize(x: &[f32]) -> Q8KBlock {
        quantize_q8k(x)
    }

    /// `d · scale · (q − 32)`, as [`Q6KBlock`]'s.
    fn dequantize(&self, r: usize, _offset: u8, out: &mut Vec<f32>) {
        out.extend((0..QK_K).map(|i| {
            let q = self.value(r, i);
            widen(self.d[r]) * f32::from(self.scale(r, i / 16)) * (f32::from(q) - 32.0)
        }));
    }

    fn kernel(kernels: &Kernels) -> &TileKernel<Self, Q8KBlock> {
        &kernels.tiles.q6_k
    }
}

/// Bytes `at .. at + 4` of `bytes`, as one little-endian word.
fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Block `b` of eight Q4_1 rows (`value = d · q + m`): scales and minimums as stored, in f16
/// (widened eight at a time by the kernels), and the packed bytes interleaved four at a time:
/// bytes `32g + 4r .. + 4` are row `r`'s bytes `4g .. 4g + 4` (low nibbles values `4g..4g + 4`,
/// high nibbles values `16 + 4g..`). As many bytes as the file's.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(crate) struct Q4_1Rows8 {
    pub d: [f16; ROWS],
    pub m: [f16; ROWS],
    pub qs: [u8; ROWS * BLOCK / 2],
}

impl Q4_1Rows8 {
    /// Block `b` of each of the eight rows in `group` (eight rows of `per_row` blocks).
    pub fn new(group: &[Q4_1Block], per_row: usize, b: usize) -> Q4_1Rows8 {
        let mut tile = Q4_1Rows8::zeroed();
        for r in 0..ROWS {
            let block = &group[r * per_row + b];
            tile.d[r] = block.d;
            tile.m[r] = block.m;
            for (g, four) in block.qs.chunks_exact(4).enumerate() {
                tile.qs[32 * g + 4 * r..][..4].copy_from_slice(four);
            }
        }
        tile
    }

    /// Row `r`'s 4-bit value `i`.
    pub(crate) fn value(&self, r: usize, i: usize) -> u8 {
        let byte = self.qs[32 * (i % 16 / 4) + 4 * r + i % 4];
        if i < 16 { byte & 0x0F } else { byte >> 4 }
    }
}

impl Group for Q4_1Rows8 {
    type Activation = Q8Block;
    const VALUES: usize = BLOCK;

    fn quantize(x: &[f32]) -> Q8Block {
        quantize_q8(x)
    }

    /// `d · q + m`, as [`Q4_1Block`]'s.
    fn dequantize(&self, r: usize, _offset: u8, out: &mut Vec<f32>) {
        let (d, m) = (widen(self.d[r]), widen(self.m[r]));
        out.extend((0..BLOCK).map(|i| d * f32::from(self.value(r, i)) + m));
    }

    fn kernel(kernels: &Kernels) -> &TileKernel<Self, Q8Block> {
        &kernels.tiles.q4_1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repacked_q6_k_rows_hold_the_blocks_values() {
        let mut state = 0x2545_F491_u32;
        let mut byte = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        for _ in 0..20 {
            let per_row = 2;
            let group: Vec<Q6KBlock> = (0..ROWS * per_row)
                .map(|_| Q6KBlock {
                    ql: std::array::from_fn(|_| byte()),
                    qh: std::array::from_fn(|_| byte()),
                    scales: std::array::from_fn(|_| byte() as i8),
                    d: f16::from_f32(f32::from(byte()) / 64.0),
                })
                .collect();
            for b in 0..per_row {
                let tile = Q6KRows8::new(&group, per_row, b);
                for r in 0..ROWS {
                    let block = &group[r * per_row + b];
                    assert_eq!(tile.d[r], block.d);
                    for i in 0..QK_K {
                        assert_eq!(tile.value(r, i), block.value(i), "row {r}, value {i}");
                    }
                    for s in 0..QK_K / 16 {
                        assert_eq!(tile.scale(r, s), block.scales[s], "row {r}, scale {s}");
                    }
                }
            }
        }
    }
}
