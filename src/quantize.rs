//! fastText's `quantize`: a classifier's input matrix (and with `-qout` its output matrix)
//! stored as product-quantization codes — each row cut into sub-vectors of `-dsub` values,
//! each sub-vector replaced by the index of the nearest of 256 centroids learned by k-means
//! for that position — optionally with each row's norm quantized apart (`-qnorm`), after
//! keeping only the `-cutoff` rows of largest norm (words and n-grams; `-retrain` trains the
//! kept rows again). The result is fastText's `.ftz` format, which fastText's `predict` and
//! `test` read, as these commands read fastText's.

use crate::bytes::Cursor;
use crate::error::Result;
use crate::sampling::Rng;
use std::io::Write;

/// Centroids per sub-quantizer (fastText's `ksub_`, 8-bit codes).
pub const KSUB: usize = 256;
/// At most this many rows train the k-means of each sub-quantizer (fastText's
/// `max_points_`: 256 per centroid).
const MAX_POINTS: usize = 256 * KSUB;
/// k-means iterations (fastText's `niter_`).
const NITER: usize = 25;
/// The split of an emptied centroid from a full one (fastText's `eps_`).
const EPS: f32 = 1e-7;

/// fastText's `ProductQuantizer`: `nsubq` sub-quantizers of `dsub` dimensions (the last
/// one `lastdsub`), 256 centroids each.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    pub dim: usize,
    pub nsubq: usize,
    pub dsub: usize,
    pub lastdsub: usize,
    pub centroids: Vec<f32>,
}

fn dist_l2(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

impl ProductQuantizer {
    pub fn new(dim: usize, dsub: usize) -> ProductQuantizer {
        let mut nsubq = dim / dsub;
        let mut lastdsub = dim % dsub;
        if lastdsub == 0 {
            lastdsub = dsub;
        } else {
            nsubq += 1;
        }
        ProductQuantizer {
            dim,
            nsubq,
            dsub,
            lastdsub,
            centroids: vec![0.0; dim * KSUB],
        }
    }

    /// Where centroid `i` of sub-quantizer `m` starts, and its width.
    fn at(&self, m: usize, i: usize) -> (usize, usize) {
        if m == self.nsubq - 1 {
            (m * KSUB * self.dsub + i * self.lastdsub, self.lastdsub)
        } else {
            ((m * KSUB + i) * self.dsub, self.dsub)
        }
    }

    fn centroid(&self, m: usize, i: usize) -> &[f32] {
        let (s, d) = self.at(m, i);
        &self.centroids[s..s + d]
    }

    /// The nearest of the 256 centroids that start at `c` (each `d` wide).
    fn assign(x: &[f32], c: &[f32], d: usize) -> u8 {
        let mut best = (dist_l2(x, &c[..d]), 0u8);
        for j in 1..KSUB {
            let dis = dist_l2(x, &c[j * d..(j + 1) * d]);
            if dis < best.0 {
                best = (dis, j as u8);
            }
        }
        best.1
    }

    /// k-means of `n` points of width `d` into the 256 centroids at `c` (fastText's `kmeans`:
    /// random points to start, 25 iterations, an emptied centroid split off a random full
    /// one).
    fn kmeans(x: &[f32], c: &mut [f32], n: usize, d: usize, rng: &mut Rng) {
        let mut perm: Vec<usize> = (0..n).collect();
        shuffle(&mut perm, rng);
        for i in 0..KSUB {
            c[i * d..(i + 1) * d].copy_from_slice(&x[perm[i] * d..(perm[i] + 1) * d]);
        }
        let mut codes = vec![0u8; n];
        for _ in 0..NITER {
            for (i, code) in codes.iter_mut().enumerate() {
                *code = Self::assign(&x[i * d..(i + 1) * d], c, d);
            }
            let mut nelts = vec![0i64; KSUB];
            c[..KSUB * d].fill(0.0);
            for (i, &k) in codes.iter().enumerate() {
                let k = k as usize;
                for j in 0..d {
                    c[k * d + j] += x[i * d + j];
                }
                nelts[k] += 1;
            }
            for k in 0..KSUB {
                if nelts[k] != 0 {
                    let z = nelts[k] as f32;
                    c[k * d..(k + 1) * d].iter_mut().for_each(|v| *v /= z);
                }
            }
            for k in 0..KSUB {
                if nelts[k] == 0 {
                    let mut m = 0;
                    while rng.next_f32() as f64 * (n - KSUB) as f64 >= (nelts[m] - 1) as f64 {
                        m = (m + 1) % KSUB;
                    }
                    c.copy_within(m * d..(m + 1) * d, k * d);
                    for j in 0..d {
                        let sign = ((j % 2) * 2) as f32 - 1.0;
                        c[k * d + j] += sign * EPS;
                        c[m * d + j] -= sign * EPS;
                    }
                    nelts[k] = nelts[m] / 2;
                    nelts[m] -= nelts[k];
                }
            }
        }
    }

    /// Learns the centroids from `n` rows of `x` (at least 256 rows): each sub-quantizer's
    /// k-means on its own generator (seeded from `seed` and its position), so the result is
    /// the same on any number of `threads`.
    pub fn train(&mut self, n: usize, x: &[f32], seed: u64, threads: usize) {
        let np = n.min(MAX_POINTS);
        let (dim, dsub, nsubq, lastdsub) = (self.dim, self.dsub, self.nsubq, self.lastdsub);
        let one = |m: usize, c: &mut [f32]| {
            let d = if m == nsubq - 1 { lastdsub } else { dsub };
            let mut rng = Rng::new(crate::sampling::splitmix64(seed ^ m as u64));
            let mut perm: Vec<usize> = (0..n).collect();
            if np != n {
                shuffle(&mut perm, &mut rng);
            }
            let mut slice = vec![0.0f32; np * d];
            for j in 0..np {
                let row = perm[j] * dim + m * dsub;
                slice[j * d..(j + 1) * d].copy_from_slice(&x[row..row + d]);
            }
            Self::kmeans(&slice, c, np, d, &mut rng);
        };
        // Sub-quantizer m's centroids are one contiguous block (the last one narrower).
        let mut blocks: Vec<(usize, &mut [f32])> = Vec::with_capacity(nsubq);
        let mut rest = &mut self.centroids[..];
        for m in 0..nsubq {
            let d = if m == nsubq - 1 { lastdsub } else { dsub };
            let (block, tail) = rest.split_at_mut(KSUB * d);
            blocks.push((m, block));
            rest = tail;
        }
        let per = nsubq.div_ceil(threads.max(1));
        std::thread::scope(|s| {
            for chunk in blocks.chunks_mut(per) {
                let one = &one;
                s.spawn(move || {
                    for (m, c) in chunk.iter_mut() {
                        one(*m, c);
                    }
                });
            }
        });
    }

    /// The codes of `n` rows of `x` (`nsubq` bytes each).
    pub fn compute_codes(&self, x: &[f32], n: usize) -> Vec<u8> {
        let mut codes = vec![0u8; n * self.nsubq];
        for i in 0..n {
            for m in 0..self.nsubq {
                let (s, d) = self.at(m, 0);
                let v = &x[i * self.dim + m * self.dsub..][..d];
                codes[i * self.nsubq + m] = Self::assign(v, &self.centroids[s..], d);
            }
        }
        codes
    }

    /// `alpha ×` row `t`'s decoded vector added to `x` (fastText's `addcode`).
    fn addcode(&self, x: &mut [f32], codes: &[u8], t: usize, alpha: f32) {
        let code = &codes[self.nsubq * t..self.nsubq * (t + 1)];
        for (m, &c) in code.iter().enumerate() {
            let cen = self.centroid(m, c as usize);
            for (n, v) in cen.iter().enumerate() {
                x[m * self.dsub + n] += alpha * v;
            }
        }
    }

    /// `alpha ×` the dot product of `x` with row `t`'s decoded vector (fastText's
    /// `mulcode`).
    fn mulcode(&self, x: &[f32], codes: &[u8], t: usize, alpha: f32) -> f32 {
        let code = &codes[self.nsubq * t..self.nsubq * (t + 1)];
        let mut res = 0.0f32;
        for (m, &c) in code.iter().enumerate() {
            let cen = self.centroid(m, c as usize);
            for (n, v) in cen.iter().enumerate() {
                res += x[m * self.dsub + n] * v;
            }
        }
        res * alpha
    }

    fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for v in [self.dim, self.nsubq, self.dsub, self.lastdsub] {
            w.write_all(&(v as i32).to_le_bytes())?;
        }
        w.write_all(bytemuck::cast_slice(&self.centroids))
    }

    fn read(r: &mut Cursor) -> Result<ProductQuantizer> {
        let mut v = [0usize; 4];
        for x in v.iter_mut() {
            let i = r.i32()?;
            if i <= 0 {
                return Err((r.bad)("a product quantizer with an impossible shape"));
            }
            *x = i as usize;
        }
        let [dim, nsubq, dsub, lastdsub] = v;
        let fits = (nsubq - 1)
            .checked_mul(dsub)
            .and_then(|a| a.checked_add(lastdsub))
            .is_some_and(|total| total == dim && lastdsub <= dsub);
        if !fits || dim.saturating_mul(KSUB * 4) > r.data.len() {
            return Err((r.bad)("a product quantizer whose shape does not add up"));
        }
        let centroids = r.f32s(dim * KSUB)?;
        Ok(ProductQuantizer {
            dim,
            nsubq,
            dsub,
            lastdsub,
            centroids,
        })
    }
}

/// `std::shuffle`'s effect with this program's generator (a Fisher–Yates shuffle).
fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        v.swap(i, j);
    }
}

/// fastText's `QuantMatrix`: `m` rows of width `n` as codes, with norms quantized apart when
/// `qnorm`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantMatrix {
    pub m: usize,
    pub n: usize,
    pub codes: Vec<u8>,
    pub pq: ProductQuantizer,
    /// With `-qnorm`: each row's norm code and the 1-D quantizer of the norms.
    pub norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl QuantMatrix {
    /// Quantizes the `m × n` matrix `mat` (fastText needs at least 256 rows: the caller
    /// checks).
    pub fn new(
        mat: &[f32],
        m: usize,
        n: usize,
        dsub: usize,
        qnorm: bool,
        threads: usize,
    ) -> QuantMatrix {
        let mut data = mat.to_vec();
        let norms = qnorm.then(|| {
            let norms: Vec<f32> = data
                .chunks_mut(n)
                .map(|row| {
                    let norm = crate::linalg::seq_norm(row);
                    // fastText's `divideRow`, which leaves a zero row as it is.
                    if norm != 0.0 {
                        row.iter_mut().for_each(|x| *x /= norm);
                    }
                    norm
                })
                .collect();
            let mut npq = ProductQuantizer::new(1, 1);
            npq.train(m, &norms, 1235, 1);
            (npq.compute_codes(&norms, m), npq)
        });
        let mut pq = ProductQuantizer::new(n, dsub);
        pq.train(m, &data, 1234, threads);
        let codes = pq.compute_codes(&data, m);
        QuantMatrix {
            m,
            n,
            codes,
            pq,
            norms,
        }
    }

    fn norm(&self, i: usize) -> f32 {
        match &self.norms {
            Some((codes, npq)) => npq.centroid(0, codes[i] as usize)[0],
            None => 1.0,
        }
    }

    /// Row `i` added to `x` (fastText's `addRowToVector`).
    pub fn add_row(&self, x: &mut [f32], i: usize) {
        self.pq.addcode(x, &self.codes, i, self.norm(i));
    }

    /// The dot product of `x` with row `i` (fastText's `dotRow`).
    pub fn dot_row(&self, x: &[f32], i: usize) -> f32 {
        self.pq.mulcode(x, &self.codes, i, self.norm(i))
    }

    pub fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(&[self.norms.is_some() as u8])?;
        w.write_all(&(self.m as i64).to_le_bytes())?;
        w.write_all(&(self.n as i64).to_le_bytes())?;
        w.write_all(&(self.codes.len() as i32).to_le_bytes())?;
        w.write_all(&self.codes)?;
        self.pq.write(w)?;
        if let Some((codes, npq)) = &self.norms {
            w.write_all(codes)?;
            npq.write(w)?;
        }
        Ok(())
    }

    /// Reads a quantized matrix (after its `quant` flag), checking every size against the
    /// file before allocating.
    pub(crate) fn read(r: &mut Cursor) -> Result<QuantMatrix> {
        let qnorm = match r.take(1)?[0] {
            0 => false,
            1 => true,
            _ => return Err((r.bad)("a quantized matrix with a bad norm flag")),
        };
        let (m, n) = (r.i64()?, r.i64()?);
        let size = r.i32()?;
        let left = r.left() as u64;
        let (m, n) = (m.max(-1), n.max(-1));
        if m < 0 || n <= 0 || size < 0 || size as u64 > left || m as u64 > left {
            return Err((r.bad)(
                "a quantized matrix whose shape does not fit the file",
            ));
        }
        let (m, n) = (m as usize, n as usize);
        let codes = r.take(size as usize)?.to_vec();
        let pq = ProductQuantizer::read(r)?;
        if pq.dim != n || codes.len() != m * pq.nsubq {
            return Err((r.bad)(
                "a quantized matrix whose codes do not match its shape",
            ));
        }
        let norms = if qnorm {
            let c = r.take(m)?.to_vec();
            let npq = ProductQuantizer::read(r)?;
            if npq.dim != 1 || npq.nsubq != 1 {
                return Err((r.bad)("a norm quantizer that is not one-dimensional"));
            }
            Some((c, npq))
        } else {
            None
        };
        Ok(QuantMatrix {
            m,
            n,
            codes,
            pq,
            norms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_quantization_reconstructs_rows_and_round_trips() {
        let (m, n) = (600, 10);
        let mut rng = Rng::new(3);
        // Rows near 20 centres: 256 centroids per 2-D sub-space reconstruct them closely.
        let centres: Vec<f32> = (0..20 * n).map(|_| rng.next_f32() - 0.5).collect();
        let mat: Vec<f32> = (0..m)
            .flat_map(|i| {
                let c = (i % 20) * n;
                (0..n)
                    .map(|j| centres[c + j] + (j as f32 * 0.001 * (i as f32).sin()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (dsub, qnorm) in [(2, false), (3, true)] {
            let q = QuantMatrix::new(&mat, m, n, dsub, qnorm, 2);
            assert_eq!(q, QuantMatrix::new(&mat, m, n, dsub, qnorm, 1));
            assert_eq!(q.pq.nsubq, n.div_ceil(dsub));
            let mut worst = 0.0f32;
            for i in 0..m {
                let mut x = vec![0.0; n];
                q.add_row(&mut x, i);
                worst = worst.max(dist_l2(&x, &mat[i * n..(i + 1) * n]).sqrt());
                let unit: Vec<f32> = (0..n).map(|j| (j as f32).cos()).collect();
                let dot = q.dot_row(&unit, i);
                let want: f32 = x.iter().zip(&unit).map(|(a, b)| a * b).sum();
                assert!((dot - want).abs() < 1e-4, "{dot} vs {want}");
            }
            assert!(
                worst < 0.02,
                "dsub {dsub}: a row reconstructed {worst} away"
            );
            let mut bytes = Vec::new();
            q.write(&mut bytes).unwrap();
            let bad = |m: &str| crate::error::Error::usage("test", m.to_string());
            let mut r = Cursor {
                data: &bytes,
                at: 0,
                bad: &bad,
            };
            assert_eq!(QuantMatrix::read(&mut r).unwrap(), q);
            assert_eq!(r.at, bytes.len());
            for cut in (0..bytes.len()).step_by(97) {
                let mut r = Cursor {
                    data: &bytes[..cut],
                    at: 0,
                    bad: &bad,
                };
                assert!(QuantMatrix::read(&mut r).is_err());
            }
        }
    }
}
