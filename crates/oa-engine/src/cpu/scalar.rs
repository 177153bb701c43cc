//! The two scalar conversions every kernel and plain loop shares: an f16 scale widened to f32
//! exactly, and an f32 rounded to the nearest integer as llama.cpp rounds activations.

use half::f16;

/// `v` rounded to the nearest integer, halves to even, for |v| < 2²²: adding 1.5·2²³ leaves
/// the integer in the low mantissa bits (llama.cpp's `nearest_int`). `f32::round_ties_even`
/// is a library call on CPUs without SSE4.1, which a portable build must assume, and took a
/// tenth of a prompt's time.
pub(crate) fn nearest_int(v: f32) -> i32 {
    let shifted = v + 12_582_912.0;
    (shifted.to_bits() & 0x007F_FFFF) as i32 - 0x0040_0000
}

/// `h` as f32, exactly, in plain arithmetic: the magnitude's bits moved into f32's places and
/// rebiased by multiplying by 2¹¹² (exact for normal and subnormal values alike), the sign put
/// back. The kernels widen a scale per block; F16C's instruction, as compiled, merged into a
/// register that carried the running sum and so made every block wait for the last (a fifth
/// of the decoding speed), and `half`'s conversion checks the CPU on every call. Inlined
/// always: as a call, it made the AVX2 kernels save and restore their registers every block.
#[inline(always)]
pub(crate) fn widen(h: f16) -> f32 {
    let bits = u32::from(h.to_bits());
    let magnitude = bits & 0x7FFF;
    if magnitude >= 0x7C00 {
        // Infinities and NaNs, which no sound scale is.
        return h.to_f32();
    }
    let value = f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000);
    f32::from_bits(value.to_bits() | ((bits & 0x8000) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_a_scale_is_exact_for_every_f16() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            let (ours, theirs) = (widen(h), h.to_f32());
            assert!(
                ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
                "{bits:#06x}: {ours} vs {theirs}"
            );
        }
    }
}
