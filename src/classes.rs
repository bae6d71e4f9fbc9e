//! Word classes by k-means, as word2vec.c's `-classes K` computes and writes them: classes
//! start round-robin (`word i` in class `i mod K`), then 10 iterations of: centroid = mean of
//! the class's vectors (the count starts at 1, as in word2vec.c), normalised to unit length;
//! each word joins the class whose centroid has the largest dot product with its (raw)
//! vector. The file has one `word class` line per vocabulary word, most frequent first.

use crate::error::{Error, Result};
use crate::files::AtomicFile;
use std::io::Write;
use std::path::Path;

/// word2vec.c's k-means iterations.
pub const ITERATIONS: usize = 10;

/// The class of every row of `vectors` (`rows × dim`, row-major), `threads` threads
/// assigning the words (each word's class depends only on the centroids, so the result is
/// the same for any thread count).
pub fn kmeans(vectors: &[f32], dim: usize, k: usize, threads: usize) -> Vec<u32> {
    let rows = vectors.len() / dim.max(1);
    let k = k.max(1);
    let mut cl: Vec<u32> = (0..rows).map(|a| (a % k) as u32).collect();
    let mut cent = vec![0.0f32; k * dim];
    let mut count = vec![0u32; k];
    // Without a pool (it could not start) the assignment runs on this thread.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .ok();
    for _ in 0..ITERATIONS {
        cent.iter_mut().for_each(|x| *x = 0.0);
        count.iter_mut().for_each(|c| *c = 1);
        for (c, row) in vectors.chunks_exact(dim).enumerate() {
            let b = cl[c] as usize;
            for (x, v) in cent[b * dim..(b + 1) * dim].iter_mut().zip(row) {
                *x += v;
            }
            count[b] += 1;
        }
        for (b, centroid) in cent.chunks_exact_mut(dim).enumerate() {
            let mut norm = 0.0f32;
            for x in centroid.iter_mut() {
                *x /= count[b] as f32;
                norm += *x * *x;
            }
            let norm = norm.sqrt();
            centroid.iter_mut().for_each(|x| *x /= norm);
        }
        // The assignment is the cost (rows × k dot products): the centroids transposed in
        // blocks of 8 (each word scored against 8 at once), blocks of words in parallel.
        let ct = crate::linalg::transpose8(&cent, dim);
        let assign = |(block, out): (usize, &mut [u32])| {
            let first = block * ASSIGN_BLOCK;
            for (o, row) in out.iter_mut().zip(vectors[first * dim..].chunks_exact(dim)) {
                *o = nearest(&ct, k, dim, row);
            }
        };
        match &pool {
            Some(p) => p.install(|| {
                use rayon::prelude::*;
                cl.par_chunks_mut(ASSIGN_BLOCK).enumerate().for_each(assign)
            }),
            None => cl.chunks_mut(ASSIGN_BLOCK).enumerate().for_each(assign),
        }
    }
    cl
}

/// Words per parallel task of the assignment step.
const ASSIGN_BLOCK: usize = 256;

/// The class whose (unit) centroid has the largest dot product with `row`; the lowest index
/// on ties, as word2vec.c's strict `>`. A class left empty has a NaN centroid (0/0, as in
/// word2vec.c) and is never chosen.
fn nearest(ct: &[f32], k: usize, dim: usize, row: &[f32]) -> u32 {
    let (mut best, mut best_id) = (-10.0f32, 0u32);
    for (b, block) in ct.chunks_exact(dim * 8).enumerate() {
        let scores = crate::linalg::block_scores(row, block);
        for (j, &x) in scores.iter().enumerate().take(k - b * 8) {
            if x > best {
                best = x;
                best_id = (b * 8 + j) as u32;
            }
        }
    }
    best_id
}

/// Writes `word class` lines (atomically).
pub fn write_classes(path: &Path, words: &[String], classes: &[u32]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    let w = f.writer();
    let res = (|| -> std::io::Result<()> {
        for (word, c) in words.iter().zip(classes) {
            writeln!(w, "{word} {c}")?;
        }
        Ok(())
    })();
    res.map_err(|e| Error::io(path, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_centroid_over_blocks_of_eight_is_the_argmax() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let dim = 37;
        for k in [1, 7, 8, 13, 64] {
            let cent: Vec<f32> = (0..k * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            let ct = crate::linalg::transpose8(&cent, dim);
            for _ in 0..50 {
                let row: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
                let score = |c: usize| -> f64 {
                    let r = &cent[c * dim..(c + 1) * dim];
                    r.iter().zip(&row).map(|(a, b)| *a as f64 * *b as f64).sum()
                };
                let mut by = (0..k).collect::<Vec<_>>();
                by.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
                if k > 1 && score(by[0]) - score(by[1]) < 1e-4 {
                    continue; // a near-tie: rounding may pick either
                }
                assert_eq!(nearest(&ct, k, dim, &row), by[0] as u32, "k {k}");
            }
        }
    }

    #[test]
    fn classes_do_not_depend_on_the_thread_count() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let dim = 10;
        // Several blocks of ASSIGN_BLOCK words, so the threads share the work.
        let v: Vec<f32> = (0..(5 * ASSIGN_BLOCK + 17) * dim)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let one = kmeans(&v, dim, 13, 1);
        assert_eq!(kmeans(&v, dim, 13, 3), one);
        assert!(one.iter().any(|&c| c != one[0]), "more than one class");
    }

    #[test]
    fn separates_clusters_and_follows_word2vec_c_start() {
        // Two directions, rows alternating, so the round-robin start mixes them.
        let mut v = Vec::new();
        for i in 0..40 {
            let s = 1.0 + (i as f32) * 0.01;
            if i % 3 == 0 {
                v.extend_from_slice(&[s, 0.1, 0.0]);
            } else {
                v.extend_from_slice(&[0.0, 0.1, s]);
            }
        }
        let cl = kmeans(&v, 3, 2, 1);
        for i in 0..40 {
            let same = (0..40).filter(|&j| (j % 3 == 0) == (i % 3 == 0));
            assert!(same.into_iter().all(|j| cl[j] == cl[i]), "{cl:?}");
        }
        assert_ne!(cl[0], cl[1]);
        // One class: everything in class 0.
        assert!(kmeans(&v, 3, 1, 2).iter().all(|&c| c == 0));
    }
}
