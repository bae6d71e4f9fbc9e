//! The device layout of `--precision f16` matrices (shaders/access_f16.wgsl): a row of `dim`
//! (even) weights is `dim / 2` 32-bit words, word `k` holding dimension `k` in its low half
//! and dimension `k + dim / 2` in its high half. Uploads round to the nearest half; reading
//! back is exact.

use half::f16;

/// `rows` (row after row of `dim` f32 weights, `dim` even) as device words.
pub fn pack(rows: &[f32], dim: usize) -> Vec<u32> {
    let h = dim / 2;
    let mut out = Vec::with_capacity(rows.len() / 2);
    for row in rows.chunks_exact(dim) {
        let (lo, hi) = row.split_at(h);
        out.extend(lo.iter().zip(hi).map(|(&a, &b)| {
            u32::from(f16::from_f32(a).to_bits()) | (u32::from(f16::from_f32(b).to_bits()) << 16)
        }));
    }
    out
}

/// Device words (rows of `dim / 2` words) back as rows of `dim` f32 weights.
pub fn unpack(words: &[u32], dim: usize) -> Vec<f32> {
    let h = dim / 2;
    let mut out = vec![0f32; words.len() * 2];
    for (row, w) in out.chunks_exact_mut(dim).zip(words.chunks_exact(h)) {
        let (lo, hi) = row.split_at_mut(h);
        for ((a, b), &w) in lo.iter_mut().zip(hi.iter_mut()).zip(w) {
            *a = f16::from_bits(w as u16).to_f32();
            *b = f16::from_bits((w >> 16) as u16).to_f32();
        }
    }
    out
}

/// Each weight rounded to the nearest half, as the upload stores it.
pub fn round(rows: &[f32]) -> Vec<f32> {
    rows.iter().map(|&x| f16::from_f32(x).to_f32()).collect()
}

/// The spacing of IEEE halves at |x| (2^-24 below the smallest normal half): how far one
/// rounding to a half may move `x`.
pub fn ulp(x: f32) -> f32 {
    let a = x.abs();
    if a < 2f32.powi(-14) {
        2f32.powi(-24)
    } else {
        2f32.powi(a.log2().floor() as i32 - 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_pair_dimension_d_with_d_plus_half() {
        // Two rows of dim 4, values exact in f16.
        let rows = [1.0, 2.0, -0.5, 0.25, 3.0, 4.0, 5.0, 6.0];
        let words = pack(&rows, 4);
        assert_eq!(words.len(), 4);
        // Word 0: dimension 0 (1.0 = 0x3c00) low, dimension 2 (-0.5 = 0xb800) high.
        assert_eq!(words[0], 0x3c00 | (0xb800 << 16));
        // Word 1: dimension 1 (2.0 = 0x4000), dimension 3 (0.25 = 0x3400).
        assert_eq!(words[1], 0x4000 | (0x3400 << 16));
        assert_eq!(unpack(&words, 4), rows);
    }

    #[test]
    fn upload_rounds_to_nearest_half() {
        let rows = [0.1f32, -0.3, 1e-6, 70000.0];
        let back = unpack(&pack(&rows, 2), 2);
        assert_eq!(back, round(&rows));
        for (a, b) in rows.iter().zip(&back).take(2) {
            assert!((a - b).abs() <= a.abs() * 2f32.powi(-11), "{a} -> {b}");
        }
        assert!(back[3].is_infinite());
    }

    #[test]
    fn ulp_is_the_spacing_of_halves() {
        // Halves (normal and subnormal): the next half up is one spacing away.
        for x in [1.0f32, 1.5, 0.25, -7.0, 2048.0, 6.0e-5, 1.0e-6] {
            let h = half::f16::from_f32(x.abs());
            let next = half::f16::from_bits(h.to_bits() + 1).to_f32();
            assert_eq!(next - h.to_f32(), ulp(h.to_f32()), "{x}");
        }
        assert_eq!(ulp(1.0), 2f32.powi(-10));
        assert_eq!(ulp(0.0), 2f32.powi(-24));
    }
}
