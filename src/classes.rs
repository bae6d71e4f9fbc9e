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

/// The class of every row of `vectors` (`rows × dim`, row-major).
pub fn kmeans(vectors: &[f32], dim: usize, k: usize) -> Vec<u32> {
    let rows = vectors.len() / dim.max(1);
    let k = k.max(1);
    let mut cl: Vec<u32> = (0..rows).map(|a| (a % k) as u32).collect();
    let mut cent = vec![0.0f32; k * dim];
    let mut count = vec![0u32; k];
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
        for (c, row) in vectors.chunks_exact(dim).enumerate() {
            let (mut best, mut best_id) = (-10.0f32, 0u32);
            for (d, centroid) in cent.chunks_exact(dim).enumerate() {
                let x: f32 = centroid.iter().zip(row).map(|(a, b)| a * b).sum();
                if x > best {
                    best = x;
                    best_id = d as u32;
                }
            }
            cl[c] = best_id;
        }
    }
    cl
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
        let cl = kmeans(&v, 3, 2);
        for i in 0..40 {
            let same = (0..40).filter(|&j| (j % 3 == 0) == (i % 3 == 0));
            assert!(same.into_iter().all(|j| cl[j] == cl[i]), "{cl:?}");
        }
        assert_ne!(cl[0], cl[1]);
        // One class: everything in class 0.
        assert!(kmeans(&v, 3, 1).iter().all(|&c| c == 0));
    }
}
