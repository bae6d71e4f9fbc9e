//! The vector kernels of the CPU paths: dot products and axpys written so that LLVM
//! vectorises them, with a fused multiply-add variant instantiated inside
//! `target_feature(enable = "fma")` code (see `backend::cpu`).

/// `a · b`, with 16 independent accumulators so that LLVM vectorises it; with `FMA`,
/// fused multiply-adds (only instantiated inside `target_feature(enable = "fma")` code).
#[inline(always)]
pub fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: `FMA` is only instantiated inside `target_feature(enable = "avx2,fma")`
        // code (see the function's documentation), so the CPU has both.
        return unsafe { dot_avx2_fma(a, b) };
    }
    let b = &b[..a.len()];
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] = if FMA {
                x[i].mul_add(y[i], acc[i])
            } else {
                acc[i] + x[i] * y[i]
            };
        }
    }
    reduce16(&acc, ra, rb)
}

/// [`dot`]'s last steps: the 16 accumulators summed pairwise (lane i with lane i + 8, then
/// i with i + 4, ...), plus the tail `ra · rb` summed in order.
#[inline(always)]
fn reduce16(acc: &[f32; 16], ra: &[f32], rb: &[f32]) -> f32 {
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    let mut s8 = [0.0f32; 8];
    for i in 0..8 {
        s8[i] = acc[i] + acc[i + 8];
    }
    let s4 = [s8[0] + s8[4], s8[1] + s8[5], s8[2] + s8[6], s8[3] + s8[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3]) + tail
}

/// [`dot`]'s fused multiply-add variant written with AVX2 intrinsics: LLVM turns the
/// portable loop's 16 accumulators into 2-float loads and 4-wide multiply-adds (measured in
/// the trainers' hot loops), here they are two 8-wide registers. Every lane does the same
/// fused multiply-add in the same order and the sums are reduced as [`dot`] reduces them,
/// so the result is the same bits.
///
/// # Safety
/// The CPU has AVX2 and FMA; only called from code compiled with both.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = a.len();
    let b = &b[..n];
    let full = n / 16 * 16;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i < full {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), lo);
        hi = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i + 8)),
            _mm256_loadu_ps(pb.add(i + 8)),
            hi,
        );
        i += 16;
    }
    let mut acc = [0.0f32; 16];
    _mm256_storeu_ps(acc.as_mut_ptr(), lo);
    _mm256_storeu_ps(acc.as_mut_ptr().add(8), hi);
    reduce16(&acc, &a[full..], &b[full..])
}

/// `a · b` summed in order in f32 (`s += a[i] * b[i]`, no fused multiply-add), as the
/// kernels' reference and the C/C++ tools this project reproduces (word2vec.c's query
/// tools, fastText's `nn`) compute it.
pub fn seq_dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

/// The norm of `v` with its squares summed in order in f32 ([`seq_dot`]), then the square
/// root (fastText's `Vector::norm`, word2vec.c's `len`).
pub fn seq_norm(v: &[f32]) -> f32 {
    seq_dot(v, v).sqrt()
}

/// `y += a · x`.
#[inline(always)]
pub fn axpy<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    let x = &x[..y.len()];
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = if FMA {
            a.mul_add(xi, *yi)
        } else {
            *yi + a * xi
        };
    }
}

/// `e += g · o; o += g · x` in one pass over `o` (word2vec.c's `neu1e` and output-row
/// updates of one noise or positive word): each element does exactly what the two `axpy`
/// calls do, in the same order, so the results are the same bits.
#[inline(always)]
pub fn axpy2<const FMA: bool>(e: &mut [f32], o: &mut [f32], g: f32, x: &[f32]) {
    let n = e.len();
    let (o, x) = (&mut o[..n], &x[..n]);
    for ((ei, oi), &xi) in e.iter_mut().zip(o.iter_mut()).zip(x) {
        let old = *oi;
        if FMA {
            *ei = g.mul_add(old, *ei);
            *oi = g.mul_add(xi, old);
        } else {
            *ei += g * old;
            *oi = old + g * xi;
        }
    }
}

/// Rows `rows` (`k × dim`) in blocks of 8 for [`block_scores`], each block transposed
/// (`dim × 8`, element `d` of row `8b + j` at `b·dim·8 + d·8 + j`); the last block padded
/// with zeros.
pub fn transpose8(rows: &[f32], dim: usize) -> Vec<f32> {
    let k = rows.len() / dim;
    let mut t = vec![0.0f32; k.div_ceil(8) * dim * 8];
    for (c, row) in rows.chunks_exact(dim).enumerate() {
        let base = (c / 8) * dim * 8 + c % 8;
        for (d, &x) in row.iter().enumerate() {
            t[base + d * 8] = x;
        }
    }
    t
}

/// `row · q_k` for 8 vectors `q_k` given transposed as `qt` (`qt[d·8 + k]`, `row.len()` × 8):
/// one 8-wide multiply-add per element of `row` (AVX2 with fused multiply-adds where the CPU
/// has them). Scores analogy questions (`eval`) and k-means centroids (`--classes`).
#[inline]
pub fn block_scores(row: &[f32], qt: &[f32]) -> [f32; 8] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { block_scores_avx2(row, qt) };
        }
    }
    block_scores_impl::<false>(row, qt)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_scores_avx2(row: &[f32], qt: &[f32]) -> [f32; 8] {
    block_scores_impl::<true>(row, qt)
}

#[inline(always)]
fn block_scores_impl<const FMA: bool>(row: &[f32], qt: &[f32]) -> [f32; 8] {
    // Four independent accumulators, so the multiply-adds are not one serial chain.
    let mut acc = [[0.0f32; 8]; 4];
    let mut rows = row.chunks_exact(4);
    let mut qs = qt.chunks_exact(32);
    for (w, q) in (&mut rows).zip(&mut qs) {
        for a in 0..4 {
            for k in 0..8 {
                let x = q[a * 8 + k];
                acc[a][k] = if FMA {
                    w[a].mul_add(x, acc[a][k])
                } else {
                    acc[a][k] + w[a] * x
                };
            }
        }
    }
    for (&w, q) in rows.remainder().iter().zip(qs.remainder().chunks_exact(8)) {
        for k in 0..8 {
            acc[0][k] += w * q[k];
        }
    }
    let mut out = [0.0f32; 8];
    for k in 0..8 {
        out[k] = (acc[0][k] + acc[1][k]) + (acc[2][k] + acc[3][k]);
    }
    out
}
