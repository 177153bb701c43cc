//! Weight rows repacked eight at a time, for kernels whose eight float lanes are eight weight
//! rows: a block of activations is read once for all eight, four values at a time are
//! broadcast against four values of every row, and the sums come out in place, with no
//! horizontal sum per row. llama.cpp repacks its CPU weights in the same spirit (its `repack`
//! buffers); a prompt's tokens then go through a group of rows several at a time, the group's
//! values staying in the first-level cache.
//!
//! The rows are repacked when a model loads, only where the x86 kernels run (`x86::rows8`);
//! elsewhere the blocks stay as the file stores them.

use bytemuck::{Pod, Zeroable};

use super::blocks::{BLOCK, Q5_0Block, Q8_0Block, Q8Block};
use super::{Format, widen};

/// Weight rows in one group.
pub(super) const ROWS: usize = 8;

/// Block `b` of eight weight rows `8t..8t + 8`: each row's scale widened to f32, and its 32
/// values as unsigned bytes `u` (the value is `d · (u − offset)`), interleaved four at a
/// time: bytes `32g + 4r .. 32g + 4r + 4` are values `4g .. 4g + 4` of row `r`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct Rows8 {
    pub d: [f32; ROWS],
    pub qs: [u8; ROWS * BLOCK],
}

/// A format of 32 values per block whose values are `d · q` for small signed integers `q`:
/// held repacked as `q + OFFSET` in [`Rows8`].
pub(super) trait Offset: Format<Activation = Q8Block> {
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

    /// The values of row `r`, appended: `d · (u − offset)`, as the stored block gives them.
    pub fn dequantize(&self, r: usize, offset: u8, out: &mut Vec<f32>) {
        let d = self.d[r];
        out.extend((0..BLOCK).map(|i| {
            let u = self.qs[32 * (i / 4) + 4 * r + i % 4];
            d * (i32::from(u) - i32::from(offset)) as f32
        }));
    }
}

/// The eight rows of a group (`w`, one tile per block) by one row of activations, plainly,
/// block by block: what the x86 kernels compute, summed in the same order.
pub(super) fn rows8_plain(w: &[Rows8], offset: u8, a: &[Q8Block]) -> [f32; ROWS] {
    let mut sums = [0f32; ROWS];
    for (tile, a) in w.iter().zip(a) {
        for (r, sum) in sums.iter_mut().enumerate() {
            let dot: i32 = (0..BLOCK)
                .map(|i| i32::from(tile.qs[32 * (i / 4) + 4 * r + i % 4]) * i32::from(a.qs[i]))
                .sum();
            let dot = dot - i32::from(offset) * a.sum;
            *sum = (dot as f32).mul_add(tile.d[r] * a.d, *sum);
        }
    }
    sums
}
