//! Random blocks and activations for the kernels' tests, and the test that holds the one-row
//! kernels of every table this CPU can run (AVX2 with and without VNNI on x86-64, NEON with
//! and without `sdot` on aarch64) to their plain loops.

use half::f16;

use super::blocks::{Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block};
use super::k_quants::{Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock, scales_and_mins};
use super::plain::dot as plain;
use super::scalar::widen;
use super::{Format, Kernels, ROWS_AT_ONCE, RowKernel};

/// A deterministic stream of pseudo-random numbers (xorshift).
pub(crate) struct Noise(pub u64);

impl Noise {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn scale(&mut self) -> f32 {
        (self.next() % 20_000) as f32 / 10_000.0 - 1.0
    }

    pub(crate) fn half(&mut self) -> f16 {
        f16::from_f32(self.scale())
    }

    pub(crate) fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// An activation in −127..=127, the extremes whenever `extreme` says.
    pub(crate) fn activation(&mut self, extreme: usize) -> i8 {
        match extreme % 61 {
            0 => 127,
            1 => -127,
            _ => (self.next() % 255) as i8 / 2 + (self.next() % 2) as i8,
        }
    }

    /// `n` blocks of random Q4_0 weights.
    pub(crate) fn q4_0(&mut self, n: usize) -> Vec<Q4_0Block> {
        (0..n)
            .map(|_| Q4_0Block {
                d: self.half(),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q4_1 weights.
    pub(crate) fn q4_1(&mut self, n: usize) -> Vec<Q4_1Block> {
        (0..n)
            .map(|_| Q4_1Block {
                d: self.half(),
                m: self.half(),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q5_0 weights.
    pub(crate) fn q5_0(&mut self, n: usize) -> Vec<Q5_0Block> {
        (0..n)
            .map(|_| Q5_0Block {
                d: self.half(),
                qh: std::array::from_fn(|_| self.byte()),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q5_1 weights.
    pub(crate) fn q5_1(&mut self, n: usize) -> Vec<Q5_1Block> {
        (0..n)
            .map(|_| Q5_1Block {
                d: self.half(),
                m: self.half(),
                qh: std::array::from_fn(|_| self.byte()),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q8_0 weights, with −128 among them.
    pub(crate) fn q8_0(&mut self, n: usize) -> Vec<Q8_0Block> {
        (0..n)
            .map(|i| Q8_0Block {
                d: self.half(),
                qs: std::array::from_fn(|j| match (i + j) % 29 {
                    0 => -128,
                    _ => self.byte() as i8,
                }),
            })
            .collect()
    }

    /// `n` blocks of random Q4_K weights.
    pub(crate) fn q4_k(&mut self, n: usize) -> Vec<Q4KBlock> {
        (0..n)
            .map(|_| Q4KBlock {
                d: self.half(),
                dmin: self.half(),
                scales: std::array::from_fn(|_| self.byte()),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q5_K weights.
    pub(crate) fn q5_k(&mut self, n: usize) -> Vec<Q5KBlock> {
        (0..n)
            .map(|_| Q5KBlock {
                d: self.half(),
                dmin: self.half(),
                scales: std::array::from_fn(|_| self.byte()),
                qh: std::array::from_fn(|_| self.byte()),
                qs: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }

    /// `n` blocks of random Q6_K weights, with the scale −128 among them.
    pub(crate) fn q6_k(&mut self, n: usize) -> Vec<Q6KBlock> {
        (0..n)
            .map(|i| Q6KBlock {
                d: self.half(),
                scales: std::array::from_fn(|j| match (i + j) % 5 {
                    0 => -128,
                    _ => self.byte() as i8,
                }),
                ql: std::array::from_fn(|_| self.byte()),
                qh: std::array::from_fn(|_| self.byte()),
            })
            .collect()
    }
}

pub(crate) fn q8(noise: &mut Noise, n: usize) -> Vec<Q8Block> {
    (0..n)
        .map(|i| {
            let qs: [i8; 32] = std::array::from_fn(|j| noise.activation(i + j));
            Q8Block {
                d: noise.scale(),
                s: noise.scale(),
                sum: qs.iter().map(|&q| i32::from(q)).sum(),
                qs,
            }
        })
        .collect()
}

pub(crate) fn q8k(noise: &mut Noise, n: usize) -> Vec<Q8KBlock> {
    (0..n)
        .map(|i| {
            let qs: [i8; 256] = std::array::from_fn(|j| noise.activation(i + j));
            let bsums: [i16; 16] = std::array::from_fn(|j| {
                qs[16 * j..16 * j + 16].iter().map(|&q| i16::from(q)).sum()
            });
            Q8KBlock {
                d: noise.scale(),
                sums32: std::array::from_fn(|j| bsums[2 * j] + bsums[2 * j + 1]),
                bsums,
                qs,
            }
        })
        .collect()
}

/// Checks `kernel` of `F` against its plain loop on [`ROWS_AT_ONCE`] activation rows: equal up
/// to the order of float additions, well below a unit in the last place of `magnitude`
/// (a bound on the sum of the magnitudes of the block terms); and one row alone gives
/// what it gave among the others.
fn agrees<F: Format>(
    name: &str,
    kernel: &RowKernel<F, F::Activation>,
    w: &[F],
    rows: &[Vec<F::Activation>],
    plain: fn(&[F], &[F::Activation]) -> f32,
    magnitude: impl Fn(&F, &F::Activation) -> f32,
) {
    let several: [&[F::Activation]; ROWS_AT_ONCE] = std::array::from_fn(|k| rows[k].as_slice());
    let fast = (kernel.several)(w, several);
    for (row, a) in rows.iter().enumerate() {
        let bound: f32 = w.iter().zip(a).map(|(w, a)| magnitude(w, a)).sum();
        let plain = plain(w, a);
        assert!(
            (fast[row] - plain).abs() <= bound * 1e-5,
            "{name}, {} blocks: {} vs {plain}",
            w.len(),
            fast[row]
        );
        assert_eq!((kernel.one)(w, [a.as_slice()])[0], fast[row], "{name}");
    }
}

#[test]
fn every_tables_kernels_agree_with_the_plain_ones_for_one_and_several_rows() {
    for (features, kernels) in Kernels::every_choice() {
        eprintln!("{features:?}");
        one_row_kernels_agree_with_the_plain_ones(&kernels);
    }
}

fn one_row_kernels_agree_with_the_plain_ones(kernels: &Kernels) {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let bits = 32.0 * 128.0 * 127.0;
    for blocks in [1, 2, 7, 64] {
        let rows: Vec<Vec<Q8Block>> = (0..ROWS_AT_ONCE).map(|_| q8(&mut noise, blocks)).collect();
        let q4_0 = noise.q4_0(blocks);
        agrees(
            "Q4_0",
            &kernels.dot.q4_0,
            &q4_0,
            &rows,
            plain::q4_0,
            |w, a| (widen(w.d) * a.d).abs() * bits,
        );
        let q4_1 = noise.q4_1(blocks);
        agrees(
            "Q4_1",
            &kernels.dot.q4_1,
            &q4_1,
            &rows,
            plain::q4_1,
            |w, a| (widen(w.d) * a.d).abs() * bits + (widen(w.m) * a.s).abs(),
        );
        let q5_0 = noise.q5_0(blocks);
        agrees(
            "Q5_0",
            &kernels.dot.q5_0,
            &q5_0,
            &rows,
            plain::q5_0,
            |w, a| (widen(w.d) * a.d).abs() * bits,
        );
        let q5_1 = noise.q5_1(blocks);
        agrees(
            "Q5_1",
            &kernels.dot.q5_1,
            &q5_1,
            &rows,
            plain::q5_1,
            |w, a| (widen(w.d) * a.d).abs() * bits + (widen(w.m) * a.s).abs(),
        );
        let q8_0 = noise.q8_0(blocks);
        agrees(
            "Q8_0",
            &kernels.dot.q8_0,
            &q8_0,
            &rows,
            plain::q8_0,
            |w, a| (widen(w.d) * a.d).abs() * bits,
        );

        let rows: Vec<Vec<Q8KBlock>> = (0..ROWS_AT_ONCE).map(|_| q8k(&mut noise, blocks)).collect();
        let k_bound = |d: f16, dmin: f16, packed: &[u8; 12], a: &Q8KBlock| {
            let (scales, mins) = scales_and_mins(packed);
            let s: f32 = scales.iter().map(|&s| f32::from(s)).sum();
            let m: f32 = mins.iter().map(|&m| f32::from(m)).sum();
            let (d, dmin) = (widen(d), widen(dmin));
            (d * a.d).abs() * s * 32.0 * 31.0 * 127.0 + (dmin * a.d).abs() * m * 32.0 * 127.0
        };
        let q4_k = noise.q4_k(blocks);
        agrees(
            "Q4_K",
            &kernels.dot.q4_k,
            &q4_k,
            &rows,
            plain::q4_k,
            |w, a| k_bound(w.d, w.dmin, &w.scales, a),
        );
        let q5_k = noise.q5_k(blocks);
        agrees(
            "Q5_K",
            &kernels.dot.q5_k,
            &q5_k,
            &rows,
            plain::q5_k,
            |w, a| k_bound(w.d, w.dmin, &w.scales, a),
        );
        let q6_k = noise.q6_k(blocks);
        agrees(
            "Q6_K",
            &kernels.dot.q6_k,
            &q6_k,
            &rows,
            plain::q6_k,
            |w, a| {
                let s: f32 = w.scales.iter().map(|&s| f32::from(s).abs()).sum();
                (widen(w.d) * a.d).abs() * s * 16.0 * 32.0 * 127.0
            },
        );
    }
}
