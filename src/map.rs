//! A 2-D map of the embedding space: PCA or t-SNE projection to a labelled SVG or PNG
//! scatter plot, and the TensorBoard projector's `vectors.tsv` + `metadata.tsv`.

use crate::error::{Error, Result};
use crate::io::{AtomicFile, Embeddings};
use std::io::Write;
use std::path::Path;

/// The rows to plot: the listed words (each must exist) or the `top` most frequent.
pub fn select(emb: &Embeddings, words: Option<&[String]>, top: usize) -> Result<Vec<usize>> {
    match words {
        Some(list) => list
            .iter()
            .map(|w| {
                emb.words.iter().position(|x| x == w).ok_or_else(|| {
                    Error::usage("--words", format!("{w:?} is not in the vectors file"))
                })
            })
            .collect(),
        None => Ok((0..top.min(emb.len())).collect()),
    }
}

/// Projects unit-normalised rows onto their first two principal components (power
/// iteration with deflation on the D×D covariance matrix, f64 accumulation).
pub fn pca_2d(emb: &Embeddings, rows: &[usize]) -> Vec<[f64; 2]> {
    pca_2d_explained(emb, rows).0
}

/// [`pca_2d`] and the fraction of the total variance each of the two axes explains
/// (eigenvalue over the covariance matrix's trace).
pub fn pca_2d_explained(emb: &Embeddings, rows: &[usize]) -> (Vec<[f64; 2]>, [f64; 2]) {
    let d = emb.dim;
    let n = rows.len().max(1);
    let data = unit_rows(emb, rows);
    let mean: Vec<f64> = (0..d)
        .map(|j| data.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let centred: Vec<Vec<f64>> = data
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let mut cov = vec![0.0f64; d * d];
    for r in &centred {
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += r[i] * r[j];
            }
        }
    }
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        let mut v: Vec<f64> = (0..d)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 * 0.1)
            .collect();
        for _ in 0..300 {
            let mut w: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| cov[i * d + j] * v[j]).sum())
                .collect();
            for p in &comps {
                let dot: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(p).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-300 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        comps.push(v);
    }
    let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let explained = |v: &Vec<f64>| {
        let cv: f64 = (0..d)
            .map(|i| v[i] * (0..d).map(|j| cov[i * d + j] * v[j]).sum::<f64>())
            .sum();
        if trace > 0.0 {
            cv / trace
        } else {
            0.0
        }
    };
    let fractions = [explained(&comps[0]), explained(&comps[1])];
    let points = centred
        .iter()
        .map(|r| {
            let p = |c: &Vec<f64>| r.iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
            [p(&comps[0]), p(&comps[1])]
        })
        .collect();
    (points, fractions)
}

/// Which labels to draw: in the given order (most frequent first), each label is placed to
/// the right, left, above or below its dot where its box overlaps no label placed before
/// and stays inside the image; labels that fit nowhere are left out (their dots stay).
/// `char_w`/`char_h`: the font's cell in pixels. Returns the label's top-left corner.
fn place_labels(
    labels: &[&str],
    pts: &[(f64, f64)],
    char_w: f64,
    char_h: f64,
) -> Vec<Option<(f64, f64)>> {
    let mut boxes: Vec<[f64; 4]> = Vec::new();
    let overlaps =
        |a: &[f64; 4], b: &[f64; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    labels
        .iter()
        .zip(pts)
        .map(|(l, &(x, y))| {
            let w = l.chars().count() as f64 * char_w;
            let candidates = [
                (x + 5.0, y - char_h / 2.0),
                (x - 5.0 - w, y - char_h / 2.0),
                (x - w / 2.0, y - 5.0 - char_h),
                (x - w / 2.0, y + 5.0),
            ];
            for (lx, ly) in candidates {
                let b = [lx, ly, lx + w, ly + char_h];
                let inside =
                    lx >= 2.0 && ly >= 40.0 && b[2] <= WIDTH - 2.0 && b[3] <= HEIGHT - 30.0;
                if inside && !boxes.iter().any(|o| overlaps(o, &b)) {
                    boxes.push(b);
                    return Some((lx, ly));
                }
            }
            None
        })
        .collect()
}

/// Unit-normalised copies of `rows` of `emb`, in f64.
fn unit_rows(emb: &Embeddings, rows: &[usize]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|&r| {
            let v = emb.row(r);
            let norm = v
                .iter()
                .map(|x| (*x as f64).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            v.iter().map(|&x| x as f64 / norm).collect()
        })
        .collect()
}

/// Iterations of [`tsne_2d`], the first [`EXAGGERATED`] with the affinities exaggerated.
const TSNE_ITERATIONS: usize = 1000;
const EXAGGERATED: usize = 250;
const EXAGGERATION: f64 = 12.0;

/// Barnes-Hut's accuracy: a quadtree cell of width w at distance d from a point stands for
/// all its points when w / d < THETA (scikit-learn's `angle`, bhtsne's `theta`).
pub const THETA: f64 = 0.5;

/// How [`tsne_2d`] computes the affinities and the gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsneMethod {
    /// Every pair: the input affinities over all words, the repulsion between every two
    /// points (O(n²) per iteration).
    Exact,
    /// van der Maaten 2014: input affinities over each word's ⌊3·perplexity⌋ + 1 nearest
    /// neighbours only, the repulsion approximated with a quadtree at [`THETA`]
    /// (O(n log n) per iteration).
    BarnesHut,
}

/// t-SNE (van der Maaten & Hinton 2008) of unit-normalised rows, exact or Barnes-Hut
/// (`method`), spread over rayon's threads: Gaussian affinities whose widths match
/// `perplexity` (at most (n − 1) / 3), symmetrised; a Student-t kernel in 2-D; gradient
/// descent with momentum (0.5, then 0.8) and per-coordinate gains, the affinities
/// multiplied by 12 for the first 250 of 1,000 iterations, the rate max(n / 48, 50)
/// (scikit-learn's `learning_rate="auto"`). It starts from the PCA projection scaled to a
/// standard deviation of 1e-4 (scikit-learn's `init="pca"`), and sums in a fixed order, so
/// the map is deterministic whatever the thread count. Returns the 2-D points and the final
/// Kullback-Leibler divergence KL(P‖Q) (Barnes-Hut: over the neighbour pairs, with Q's
/// normaliser from the quadtree, as scikit-learn reports it).
pub fn tsne_2d(
    emb: &Embeddings,
    rows: &[usize],
    perplexity: f64,
    method: TsneMethod,
) -> (Vec<[f64; 2]>, f64) {
    let n = rows.len();
    if n < 2 {
        return (vec![[0.0, 0.0]; n], 0.0);
    }
    let x = unit_rows(emb, rows);
    let perplexity = perplexity.min((n - 1) as f64 / 3.0).max(1.0);
    let p = match method {
        TsneMethod::Exact => Affinities::Dense(dense_affinities(&x, perplexity)),
        TsneMethod::BarnesHut => Affinities::Sparse(sparse_affinities(&x, perplexity)),
    };
    // PCA start, scaled to standard deviation 1e-4.
    let (start, _) = pca_2d_explained(emb, rows);
    let sd = (start.iter().map(|q| q[0] * q[0]).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-12);
    let mut y: Vec<[f64; 2]> = start
        .iter()
        .map(|q| [q[0] / sd * 1e-4, q[1] / sd * 1e-4])
        .collect();
    let mut velocity = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f64; 2]; n];
    let rate = (n as f64 / EXAGGERATION / 4.0).max(50.0);
    for it in 0..TSNE_ITERATIONS {
        let exaggeration = if it < EXAGGERATED { EXAGGERATION } else { 1.0 };
        let momentum = if it < EXAGGERATED { 0.5 } else { 0.8 };
        let (grad, _) = p.gradient(&y, exaggeration, false);
        for i in 0..n {
            for k in 0..2 {
                let g = grad[i][k];
                gains[i][k] = if (g > 0.0) != (velocity[i][k] > 0.0) {
                    gains[i][k] + 0.2
                } else {
                    (gains[i][k] * 0.8).max(0.01)
                };
                velocity[i][k] = momentum * velocity[i][k] - rate * gains[i][k] * g;
                y[i][k] += velocity[i][k];
            }
        }
    }
    let (_, kl) = p.gradient(&y, 1.0, true);
    (y, kl.unwrap_or(0.0))
}

/// Joint input affinities: dense (n × n, zero diagonal) or sparse (each row's nonzero
/// entries as (column, value), columns ascending).
enum Affinities {
    Dense(Vec<f64>),
    Sparse(Vec<Vec<(usize, f64)>>),
}

impl Affinities {
    /// The t-SNE gradient at `y` with the affinities multiplied by `exaggeration`, and
    /// KL(P‖Q) at `y` where `kl` asks for it (a logarithm per pair: only at the end).
    fn gradient(
        &self,
        y: &[[f64; 2]],
        exaggeration: f64,
        kl: bool,
    ) -> (Vec<[f64; 2]>, Option<f64>) {
        match self {
            Affinities::Dense(p) => tsne_gradient(p, y, exaggeration, kl),
            Affinities::Sparse(p) => barnes_hut_gradient(p, y, exaggeration, kl),
        }
    }
}

/// The squared Euclidean distance between `a` and `b`.
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// Squared Euclidean distances from row `i` to every row.
fn unit_distances(x: &[Vec<f64>], i: usize) -> Vec<f64> {
    x.iter().map(|xj| squared_distance(&x[i], xj)).collect()
}

/// The exact method's joint affinities: p(j|i) over all words, P = (p(j|i) + p(i|j)) / 2n,
/// at least 1e-12 off the diagonal.
fn dense_affinities(x: &[Vec<f64>], perplexity: f64) -> Vec<f64> {
    use rayon::prelude::*;
    let n = x.len();
    // Conditional affinities p(j|i), each row's width found by bisection on its precision.
    let cond: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| affinities_at_perplexity(&unit_distances(x, i), Some(i), perplexity))
        .collect();
    let mut p = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                p[i * n + j] = ((cond[i][j] + cond[j][i]) / (2.0 * n as f64)).max(1e-12);
            }
        }
    }
    p
}

/// Barnes-Hut's joint affinities: p(j|i) over row i's ⌊3·perplexity⌋ + 1 nearest
/// neighbours (ties broken by index), P = (p(j|i) + p(i|j)) / 2n on the union of the
/// neighbour pairs (scikit-learn's and bhtsne's).
fn sparse_affinities(x: &[Vec<f64>], perplexity: f64) -> Vec<Vec<(usize, f64)>> {
    use rayon::prelude::*;
    let n = x.len();
    let k = ((3.0 * perplexity) as usize + 1).min(n - 1);
    let cond: Vec<Vec<(usize, f64)>> = nearest_neighbours(x, k)
        .into_par_iter()
        .enumerate()
        .map(|(i, order)| {
            let dk: Vec<f64> = order
                .iter()
                .map(|&j| squared_distance(&x[i], &x[j]))
                .collect();
            let pk = affinities_at_perplexity(&dk, None, perplexity);
            order.into_iter().zip(pk).collect()
        })
        .collect();
    // p(i|j) for every row i, listed by j ascending (rows visited in order).
    let mut incoming: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (j, row) in cond.iter().enumerate() {
        for &(i, v) in row {
            incoming[i].push((j, v));
        }
    }
    // Row i: the union of its neighbours and the rows it is a neighbour of, ascending,
    // p(j|i) + p(i|j) where both are there.
    let norm = 1.0 / (2.0 * n as f64);
    cond.into_iter()
        .zip(incoming)
        .map(|(out, inc)| {
            let mut row = Vec::with_capacity(out.len() + inc.len());
            let (mut a, mut b) = (out.into_iter().peekable(), inc.into_iter().peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) if x.0 == y.0 => {
                        let (j, v) = a.next().unwrap();
                        (j, v + b.next().unwrap().1)
                    }
                    (Some(x), Some(y)) if x.0 < y.0 => a.next().unwrap(),
                    (Some(_), Some(_)) => b.next().unwrap(),
                    (Some(_), None) => a.next().unwrap(),
                    (None, Some(_)) => b.next().unwrap(),
                    (None, None) => break,
                };
                row.push((next.0, next.1 * norm));
            }
            row
        })
        .collect()
}

/// The `k` nearest rows of every unit row of `x` (itself left out), ascending by index:
/// the largest dot products (for unit rows, the smallest distances), computed in f32 for 8
/// rows at once against every row ([`crate::linalg::block_scores`]), ties broken by the
/// lower index. Exact up to f32 rounding; O(n²·dim), spread over rayon's threads with the
/// same result for any thread count.
fn nearest_neighbours(x: &[Vec<f64>], k: usize) -> Vec<Vec<usize>> {
    // A kept neighbour: its score's key and index, ordered so that the max-heap's top is
    // the worst kept (lowest score, then highest index).
    type Candidate = Reverse<(u32, Reverse<usize>)>;
    use rayon::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let n = x.len();
    let dim = x.first().map_or(0, Vec::len);
    let rows: Vec<f32> = x.iter().flatten().map(|&v| v as f32).collect();
    let blocks = crate::linalg::transpose8(&rows, dim);
    // A score's bits as an unsigned key with the same order (larger = nearer).
    let key = |s: f32| {
        let b = s.to_bits();
        if b >> 31 == 1 {
            !b
        } else {
            b | 1 << 31
        }
    };
    blocks
        .par_chunks(dim.max(1) * 8)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            let live = (n - b * 8).min(8);
            // Per query, the k best (key, Reverse(index)) so far, the worst on top.
            let mut best: Vec<BinaryHeap<Candidate>> = (0..live)
                .map(|_| BinaryHeap::with_capacity(k + 1))
                .collect();
            for (j, row) in rows.chunks_exact(dim.max(1)).enumerate() {
                let scores = crate::linalg::block_scores(row, block);
                for (q, heap) in best.iter_mut().enumerate() {
                    if b * 8 + q == j {
                        continue;
                    }
                    let c = Reverse((key(scores[q]), Reverse(j)));
                    if heap.len() < k {
                        heap.push(c);
                    } else if heap.peek().is_some_and(|worst| c < *worst) {
                        heap.pop();
                        heap.push(c);
                    }
                }
            }
            best.into_iter().map(|heap| {
                let mut ids: Vec<usize> =
                    heap.into_iter().map(|Reverse((_, Reverse(j)))| j).collect();
                ids.sort_unstable();
                ids
            })
        })
        .collect()
}

/// A point-region quadtree over 2-D points: every node's point count and centre of mass,
/// leaves listing their points (one, or several at one place).
struct QuadTree {
    nodes: Vec<QuadNode>,
    /// The points, ordered so that every node's are a contiguous range.
    order: Vec<usize>,
}

struct QuadNode {
    com: [f64; 2],
    count: usize,
    /// The cell's width.
    width: f64,
    /// The node's points in `order`.
    first: usize,
    /// Children (u32::MAX where a quadrant is empty); none for a leaf.
    children: Option<[u32; 4]>,
}

impl QuadTree {
    fn new(y: &[[f64; 2]]) -> QuadTree {
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for q in y {
            for k in 0..2 {
                lo[k] = lo[k].min(q[k]);
                hi[k] = hi[k].max(q[k]);
            }
        }
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let width = (hi[0] - lo[0]).max(hi[1] - lo[1]) * (1.0 + 1e-9) + 1e-12;
        let mut t = QuadTree {
            nodes: Vec::with_capacity(2 * y.len()),
            order: (0..y.len()).collect(),
        };
        t.build(y, 0, y.len(), centre, width, 0);
        t
    }

    /// Builds the node of points order[first..end] in the cell at `centre` of `width`;
    /// returns its index.
    fn build(
        &mut self,
        y: &[[f64; 2]],
        first: usize,
        end: usize,
        centre: [f64; 2],
        width: f64,
        depth: usize,
    ) -> u32 {
        let count = end - first;
        let mut com = [0.0; 2];
        for &k in &self.order[first..end] {
            com[0] += y[k][0];
            com[1] += y[k][1];
        }
        com = [com[0] / count as f64, com[1] / count as f64];
        let id = self.nodes.len();
        self.nodes.push(QuadNode {
            com,
            count,
            width,
            first,
            children: None,
        });
        // A leaf: one point, or points too close to tell apart.
        if count <= 1 || depth >= 48 {
            return id as u32;
        }
        let quadrant =
            |q: &[f64; 2]| usize::from(q[0] >= centre[0]) + 2 * usize::from(q[1] >= centre[1]);
        self.order[first..end].sort_by_key(|&k| quadrant(&y[k]));
        let mut children = [u32::MAX; 4];
        let mut at = first;
        for (c, child) in children.iter_mut().enumerate() {
            let stop = at
                + self.order[at..end]
                    .iter()
                    .take_while(|&&k| quadrant(&y[k]) == c)
                    .count();
            if stop > at {
                let h = width / 4.0;
                let cc = [
                    centre[0] + if c & 1 == 1 { h } else { -h },
                    centre[1] + if c & 2 == 2 { h } else { -h },
                ];
                *child = self.build(y, at, stop, cc, width / 2.0, depth + 1);
            }
            at = stop;
        }
        self.nodes[id].children = Some(children);
        id as u32
    }

    /// The repulsion on point `i` at `y[i]`: Σ_j w_ij² (y_i − y_j) and Σ_j w_ij (j ≠ i,
    /// w = 1 / (1 + ‖y_i − y_j‖²)), a cell of width w at distance d from y_i taken as one
    /// point of its count at its centre of mass when w / d < THETA.
    fn repulsion(&self, y: &[[f64; 2]], i: usize) -> ([f64; 2], f64) {
        let yi = y[i];
        let (mut f, mut z) = ([0.0f64; 2], 0.0f64);
        // Depth-first; a node's children pushed in reverse so that they are visited in
        // order. The tree is at most 48 levels deep, so 4 per level bounds the stack.
        let mut stack = [0u32; 4 * 49];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            let d = [yi[0] - node.com[0], yi[1] - node.com[1]];
            let d2 = d[0] * d[0] + d[1] * d[1];
            match node.children {
                Some(children) if node.width * node.width >= THETA * THETA * d2 => {
                    for &c in children.iter().rev().filter(|&&c| c != u32::MAX) {
                        stack[top] = c;
                        top += 1;
                    }
                }
                Some(_) => {
                    let w = 1.0 / (1.0 + d2);
                    let c = node.count as f64;
                    z += c * w;
                    f[0] += c * w * w * d[0];
                    f[1] += c * w * w * d[1];
                }
                None => {
                    for &k in &self.order[node.first..node.first + node.count] {
                        if k != i {
                            let d = [yi[0] - y[k][0], yi[1] - y[k][1]];
                            let w = 1.0 / (1.0 + d[0] * d[0] + d[1] * d[1]);
                            z += w;
                            f[0] += w * w * d[0];
                            f[1] += w * w * d[1];
                        }
                    }
                }
            }
        }
        (f, z)
    }
}

/// The Barnes-Hut gradient at `y` for the sparse joint affinities `p` multiplied by
/// `exaggeration`: the attraction over `p`'s pairs exactly, the repulsion and Q's
/// normaliser Z from the quadtree; and, where `want_kl`, KL(P‖Q) over `p`'s pairs with
/// that Z.
fn barnes_hut_gradient(
    p: &[Vec<(usize, f64)>],
    y: &[[f64; 2]],
    exaggeration: f64,
    want_kl: bool,
) -> (Vec<[f64; 2]>, Option<f64>) {
    use rayon::prelude::*;
    let tree = QuadTree::new(y);
    // The points in the tree's order (neighbours in the plane one after another, so that
    // consecutive traversals touch the same nodes), each result put back at its point.
    let mut rep = vec![([0.0f64; 2], 0.0f64); y.len()];
    let by_tree: Vec<([f64; 2], f64)> = tree
        .order
        .par_iter()
        .map(|&i| tree.repulsion(y, i))
        .collect();
    for (&i, r) in tree.order.iter().zip(by_tree) {
        rep[i] = r;
    }
    let z = rep.iter().map(|r| r.1).sum::<f64>().max(1e-300);
    let per_row: Vec<([f64; 2], f64)> = (0..y.len())
        .into_par_iter()
        .map(|i| {
            let (mut a, mut kl) = ([0.0f64; 2], 0.0);
            for &(j, pij) in &p[i] {
                let d = [y[i][0] - y[j][0], y[i][1] - y[j][1]];
                let w = 1.0 / (1.0 + d[0] * d[0] + d[1] * d[1]);
                a[0] += pij * w * d[0];
                a[1] += pij * w * d[1];
                if want_kl {
                    kl += pij * (pij / (w / z).max(1e-12)).ln();
                }
            }
            let f = rep[i].0;
            (
                [
                    4.0 * (exaggeration * a[0] - f[0] / z),
                    4.0 * (exaggeration * a[1] - f[1] / z),
                ],
                kl,
            )
        })
        .collect();
    let kl = want_kl.then(|| per_row.iter().map(|r| r.1).sum());
    (per_row.into_iter().map(|r| r.0).collect(), kl)
}

/// The t-SNE gradient at `y` for the joint affinities `p` (n × n, zero diagonal) multiplied
/// by `exaggeration`, and, where `want_kl`, the Kullback-Leibler divergence KL(P‖Q) at `y`.
fn tsne_gradient(
    p: &[f64],
    y: &[[f64; 2]],
    exaggeration: f64,
    want_kl: bool,
) -> (Vec<[f64; 2]>, Option<f64>) {
    use rayon::prelude::*;
    let n = y.len();
    let kernel = |i: usize, j: usize| {
        let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
        1.0 / (1.0 + dx * dx + dy * dy)
    };
    // Q's normaliser: the Student-t kernel summed over all pairs (rows in parallel, then
    // added in order, so that the map does not depend on the thread count).
    let z: f64 = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..n)
                .filter(|&j| j != i)
                .map(|j| kernel(i, j))
                .sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum::<f64>()
        .max(1e-300);
    let per_row: Vec<([f64; 2], f64)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut g = [0.0f64; 2];
            let mut kl = 0.0;
            for j in (0..n).filter(|&j| j != i) {
                let w = kernel(i, j);
                let pij = p[i * n + j];
                let q = (w / z).max(1e-12);
                let m = 4.0 * (exaggeration * pij - q) * w;
                g[0] += m * (y[i][0] - y[j][0]);
                g[1] += m * (y[i][1] - y[j][1]);
                if want_kl {
                    kl += pij * (pij / q).ln();
                }
            }
            (g, kl)
        })
        .collect();
    let kl = want_kl.then(|| per_row.iter().map(|r| r.1).sum());
    (per_row.into_iter().map(|r| r.0).collect(), kl)
}

/// Conditional affinities p(j|i) = exp(−β·d_j) / Σ from squared distances `d` (entry
/// `skip`, the row's own, gets 0), with β found by bisection so that the distribution's
/// perplexity (e to the power of its entropy in nats) is `perplexity`, to 1e-5 in entropy.
fn affinities_at_perplexity(d: &[f64], skip: Option<usize>, perplexity: f64) -> Vec<f64> {
    let target = perplexity.ln();
    // Distances shifted by the smallest, so that exp never underflows to all zeros.
    let dmin = d
        .iter()
        .enumerate()
        .filter(|&(j, _)| Some(j) != skip)
        .map(|(_, &x)| x)
        .fold(f64::INFINITY, f64::min);
    let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0f64);
    let mut p = vec![0.0f64; d.len()];
    for _ in 0..200 {
        let mut sum = 0.0;
        for (j, (pj, &dj)) in p.iter_mut().zip(d).enumerate() {
            *pj = if Some(j) == skip {
                0.0
            } else {
                (-beta * (dj - dmin)).exp()
            };
            sum += *pj;
        }
        // Entropy in nats: H = ln Σ + β·E[d − dmin].
        let mean = p
            .iter()
            .zip(d)
            .map(|(pj, dj)| pj * (dj - dmin))
            .sum::<f64>()
            / sum;
        let h = sum.ln() + beta * mean;
        p.iter_mut().for_each(|pj| *pj /= sum);
        if (h - target).abs() < 1e-5 {
            break;
        }
        // Too flat (entropy too high): sharpen (larger β); too peaked: widen.
        if h > target {
            lo = beta;
            beta = if hi.is_finite() {
                (beta + hi) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            hi = beta;
            beta = (beta + lo) / 2.0;
        }
    }
    p
}

/// PCA's axis captions: which component and how much of the variance it explains.
pub fn pca_captions(explained: [f64; 2]) -> [String; 2] {
    [
        format!("PC1 ({:.1}% of variance)", 100.0 * explained[0]),
        format!("PC2 ({:.1}% of variance)", 100.0 * explained[1]),
    ]
}

/// Dot radius: smaller when many words are plotted, so thousands of dots stay apart.
fn dot_radius(n: usize) -> f64 {
    if n > 2000 {
        1.0
    } else if n > 300 {
        2.0
    } else {
        3.0
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 800.0;
const MARGIN: f64 = 50.0;

/// Points scaled into the plot area (room left on the right for labels), y pointing down.
fn layout(points: &[[f64; 2]]) -> Vec<(f64, f64)> {
    let (w, h, m) = (WIDTH, HEIGHT, MARGIN);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let sx = (w - 2.0 * m - 80.0) / (x1 - x0).max(1e-12);
    let sy = (h - 2.0 * m - 20.0) / (y1 - y0).max(1e-12);
    points
        .iter()
        .map(|p| (m + (p[0] - x0) * sx, h - m - (p[1] - y0) * sy))
        .collect()
}

/// Writes a labelled scatter plot as PNG (atomically): dots, 8×8-pixel labels placed without
/// collisions, and axis captions with the variance each component explains.
pub fn write_png(
    path: &Path,
    title: &str,
    labels: &[&str],
    points: &[[f64; 2]],
    captions: &[String; 2],
) -> Result<()> {
    use font8x8::UnicodeFonts;
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut img = vec![255u8; w * h * 3];
    let mut put = |x: i64, y: i64, rgb: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            let i = (y as usize * w + x as usize) * 3;
            img[i..i + 3].copy_from_slice(&rgb);
        }
    };
    let text = |put: &mut dyn FnMut(i64, i64, [u8; 3]), s: &str, x: i64, y: i64, scale: i64| {
        for (n, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::BASIC_FONTS.get('?'));
            let Some(glyph) = glyph else { continue };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                put(
                                    x + (n as i64 * 8 + col) * scale + dx,
                                    y + row as i64 * scale + dy,
                                    [0x33, 0x33, 0x33],
                                );
                            }
                        }
                    }
                }
            }
        }
    };
    // The title at double size where it fits the width, else at the font's own size.
    let room = (w as f64 - 2.0 * MARGIN) as usize;
    let scale = if title.chars().count() * 16 <= room {
        2
    } else {
        1
    };
    text(&mut put, title, MARGIN as i64, 20, scale);
    let pts = layout(points);
    let r = dot_radius(pts.len()) as i64;
    for &(x, y) in &pts {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    put(cx + dx, cy + dy, [0x1f, 0x77, 0xb4]);
                }
            }
        }
    }
    for (label, at) in labels.iter().zip(place_labels(labels, &pts, 8.0, 8.0)) {
        if let Some((lx, ly)) = at {
            text(&mut put, label, lx.round() as i64, ly.round() as i64, 1);
        }
    }
    let [cx, cy] = captions;
    let bottom = HEIGHT as i64 - 18;
    for x in MARGIN as i64..(WIDTH - MARGIN) as i64 {
        put(x, bottom - 6, [0x99, 0x99, 0x99]);
    }
    text(&mut put, cx, (WIDTH / 2.0) as i64 - 80, bottom, 1);
    for y in 40..bottom - 6 {
        put(8, y, [0x99, 0x99, 0x99]);
    }
    text(&mut put, cy, 12, 40, 1);
    let mut f = AtomicFile::create(path)?;
    let res = (|| -> std::result::Result<(), png::EncodingError> {
        let mut enc = png::Encoder::new(f.writer(), w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&img)?;
        writer.finish()
    })();
    res.map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    f.commit()
}

/// Writes a labelled scatter plot as SVG (atomically): labels placed without collisions,
/// axis captions with the variance each component explains.
pub fn write_svg(
    path: &Path,
    title: &str,
    labels: &[&str],
    points: &[[f64; 2]],
    captions: &[String; 2],
) -> Result<()> {
    let (w, h, m) = (WIDTH, HEIGHT, MARGIN);
    let mut f = AtomicFile::create(path)?;
    let out = f.writer();
    let res = (|| -> std::io::Result<()> {
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
        )?;
        writeln!(
            out,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        )?;
        writeln!(
            out,
            r##"<text x="{m}" y="30" font-size="16" fill="#222">{}</text>"##,
            escape(title)
        )?;
        let pts = layout(points);
        let r = dot_radius(pts.len());
        for &(x, y) in &pts {
            writeln!(
                out,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="#1f77b4"/>"##
            )?;
        }
        // 12 px sans-serif: about 7 px per character, 12 px high (baseline at the bottom).
        for (label, at) in labels.iter().zip(place_labels(labels, &pts, 7.0, 12.0)) {
            if let Some((lx, ly)) = at {
                writeln!(
                    out,
                    r##"<text x="{lx:.1}" y="{:.1}" font-size="12" fill="#333">{}</text>"##,
                    ly + 10.0,
                    escape(label)
                )?;
            }
        }
        let [cx, cy] = captions;
        let bottom = h - 12.0;
        writeln!(
            out,
            r##"<line x1="{m}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
            bottom - 14.0,
            w - m,
            bottom - 14.0
        )?;
        writeln!(
            out,
            r##"<text x="{:.1}" y="{bottom:.1}" font-size="13" fill="#555" text-anchor="middle">{}</text>"##,
            w / 2.0,
            escape(cx)
        )?;
        writeln!(
            out,
            r##"<line x1="18" y1="40" x2="18" y2="{:.1}" stroke="#999"/>"##,
            bottom - 14.0
        )?;
        writeln!(
            out,
            r##"<text x="14" y="{:.1}" font-size="13" fill="#555" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"##,
            h / 2.0,
            h / 2.0,
            escape(cy)
        )?;
        writeln!(out, "</svg>")
    })();
    res.map_err(|e| Error::io(path, e))?;
    f.commit()
}

/// Writes `vectors.tsv` and `metadata.tsv` for projector.tensorflow.org into `dir`.
pub fn write_projector(dir: &Path, emb: &Embeddings, rows: &[usize]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vp = dir.join("vectors.tsv");
    let mut v = AtomicFile::create(&vp)?;
    let mp = dir.join("metadata.tsv");
    let mut md = AtomicFile::create(&mp)?;
    for &r in rows {
        let line: Vec<String> = emb.row(r).iter().map(|x| format!("{x}")).collect();
        writeln!(v.writer(), "{}", line.join("\t")).map_err(|e| Error::io(&vp, e))?;
        writeln!(md.writer(), "{}", emb.words[r]).map_err(|e| Error::io(&mp, e))?;
    }
    v.commit()?;
    md.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_separates_two_clusters_along_the_first_axis() {
        let mut vectors = Vec::new();
        let mut words = Vec::new();
        for i in 0..10 {
            let s = if i < 5 { 1.0 } else { -1.0 };
            vectors.extend_from_slice(&[s, 0.1 * i as f32, 0.05, 0.3]);
            words.push(format!("w{i}"));
        }
        let emb = Embeddings {
            words,
            dim: 4,
            vectors,
        };
        let rows: Vec<usize> = (0..10).collect();
        let (p, explained) = pca_2d_explained(&emb, &rows);
        // The clusters differ along one direction: the first axis explains most variance.
        assert!(
            explained[0] > 0.9 && explained[0] + explained[1] <= 1.0 + 1e-9,
            "{explained:?}"
        );
        let left = p[..5].iter().all(|q| q[0] < 0.0) && p[5..].iter().all(|q| q[0] > 0.0);
        let right = p[..5].iter().all(|q| q[0] > 0.0) && p[5..].iter().all(|q| q[0] < 0.0);
        assert!(left || right, "{p:?}");
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("m.svg");
        let labels: Vec<&str> = emb.words.iter().map(|s| s.as_str()).collect();
        write_svg(&svg, "t <&>", &labels, &p, &pca_captions(explained)).unwrap();
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(s.contains("<svg") && s.contains("w9") && s.contains("t &lt;&amp;&gt;"));
        assert!(s.contains("PC1 (") && s.contains("% of variance)"));
        let png_path = dir.path().join("m.png");
        write_png(&png_path, "title", &labels, &p, &pca_captions(explained)).unwrap();
        let bytes = std::fs::read(&png_path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        write_projector(&dir.path().join("proj"), &emb, &rows).unwrap();
        let meta = std::fs::read_to_string(dir.path().join("proj/metadata.tsv")).unwrap();
        assert_eq!(meta.lines().count(), 10);
    }

    /// Fraction of points whose nearest other point lies in the same group (`group[i]`).
    fn neighbour_purity(pts: &[[f64; 2]], group: &[usize]) -> f64 {
        let same = (0..pts.len())
            .filter(|&i| {
                let nearest = (0..pts.len())
                    .filter(|&j| j != i)
                    .min_by(|&a, &b| {
                        let d = |j: usize| {
                            (pts[i][0] - pts[j][0]).powi(2) + (pts[i][1] - pts[j][1]).powi(2)
                        };
                        d(a).total_cmp(&d(b))
                    })
                    .unwrap();
                group[nearest] == group[i]
            })
            .count();
        same as f64 / pts.len() as f64
    }

    /// Sixteen groups of 15 words around the orthogonal directions of a 16-D space, and
    /// each word's group.
    fn sixteen_groups() -> (Embeddings, Vec<usize>) {
        let (groups, per, dim) = (16, 15, 16);
        let mut rng = crate::sampling::Rng::new(3);
        let mut vectors = Vec::new();
        let mut group = Vec::new();
        for g in 0..groups {
            for _ in 0..per {
                for d in 0..dim {
                    let centre = if d == g { 1.0 } else { 0.0 };
                    vectors.push(centre + (rng.next_f32() - 0.5) * 0.6);
                }
                group.push(g);
            }
        }
        let n = groups * per;
        let emb = Embeddings {
            words: (0..n).map(|i| format!("w{i}")).collect(),
            dim,
            vectors,
        };
        (emb, group)
    }

    /// The sixteen groups ([`sixteen_groups`]): two
    /// principal components cannot show sixteen equal directions (most groups fall on each
    /// other near the origin: measured nearest-neighbour purity 0.22), t-SNE keeps every
    /// group together (1.0); and it repeats exactly.
    #[test]
    fn tsne_keeps_groups_that_pca_cannot_show() {
        let (emb, group) = sixteen_groups();
        let rows: Vec<usize> = (0..group.len()).collect();
        let pca = neighbour_purity(&pca_2d(&emb, &rows), &group);
        let (points, kl) = tsne_2d(&emb, &rows, 30.0, TsneMethod::Exact);
        let tsne = neighbour_purity(&points, &group);
        assert!(pca < 0.7, "PCA neighbour purity {pca}");
        assert!(tsne > 0.97, "t-SNE neighbour purity {tsne}, KL {kl}");
        assert!(kl.is_finite() && kl > 0.0 && kl < 2.0, "KL {kl}");
        assert_eq!(
            tsne_2d(&emb, &rows, 30.0, TsneMethod::Exact).0,
            points,
            "deterministic"
        );
    }

    /// Barnes-Hut on the same sixteen groups: every group kept together, a KL near the exact
    /// method's, and the map repeats exactly.
    #[test]
    fn barnes_hut_tsne_keeps_the_groups_as_exact_does() {
        let (emb, group) = sixteen_groups();
        let rows: Vec<usize> = (0..group.len()).collect();
        let (points, kl) = tsne_2d(&emb, &rows, 10.0, TsneMethod::BarnesHut);
        let (_, exact_kl) = tsne_2d(&emb, &rows, 10.0, TsneMethod::Exact);
        let purity = neighbour_purity(&points, &group);
        assert!(
            purity > 0.97,
            "Barnes-Hut neighbour purity {purity}, KL {kl}"
        );
        assert!(
            kl.is_finite() && kl > 0.0 && (kl - exact_kl).abs() < 0.25 * exact_kl,
            "KL {kl}, exact {exact_kl}"
        );
        assert_eq!(
            tsne_2d(&emb, &rows, 10.0, TsneMethod::BarnesHut).0,
            points,
            "deterministic"
        );
    }

    /// The quadtree's repulsion and normaliser against the sums over every pair, cells
    /// summarised at THETA: Z within 2%, the forces within 3% together (15% the worst
    /// point's); every node's count is its points'.
    #[test]
    fn quadtree_repulsion_approximates_the_pairwise_sums() {
        let mut rng = crate::sampling::Rng::new(5);
        // Clumps and a duplicate point, so that leaves at the depth limit hold several.
        let mut y: Vec<[f64; 2]> = (0..600)
            .map(|i| {
                let c = (i % 5) as f64 * 3.0;
                [c + rng.next_f32() as f64, c - 2.0 * rng.next_f32() as f64]
            })
            .collect();
        y.push(y[7]);
        let tree = QuadTree::new(&y);
        assert_eq!(tree.nodes[0].count, y.len());
        for node in &tree.nodes {
            if let Some(children) = node.children {
                let sum: usize = children
                    .iter()
                    .filter(|&&c| c != u32::MAX)
                    .map(|&c| tree.nodes[c as usize].count)
                    .sum();
                assert_eq!(sum, node.count);
            }
        }
        let (mut z_bh, mut z, mut err2, mut norm2) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..y.len() {
            let (f_bh, zi_bh) = tree.repulsion(&y, i);
            let (mut f, mut zi) = ([0.0f64; 2], 0.0);
            for j in (0..y.len()).filter(|&j| j != i) {
                let d = [y[i][0] - y[j][0], y[i][1] - y[j][1]];
                let w = 1.0 / (1.0 + d[0] * d[0] + d[1] * d[1]);
                zi += w;
                f[0] += w * w * d[0];
                f[1] += w * w * d[1];
            }
            let norm = (f[0] * f[0] + f[1] * f[1]).sqrt().max(1e-3 * zi);
            let err = ((f_bh[0] - f[0]).powi(2) + (f_bh[1] - f[1]).powi(2)).sqrt();
            assert!(err < 0.15 * norm, "point {i}: {f_bh:?} vs {f:?}");
            err2 += err * err;
            norm2 += norm * norm;
            z_bh += zi_bh;
            z += zi;
        }
        assert!(err2.sqrt() < 0.03 * norm2.sqrt(), "{err2} vs {norm2}");
        assert!((z_bh - z).abs() < 0.02 * z, "Z {z_bh} vs {z}");
    }

    /// Barnes-Hut's input affinities: symmetric, summing to 1, each word's nearest
    /// neighbours among them.
    #[test]
    fn sparse_affinities_are_symmetric_and_sum_to_one() {
        let x = random_unit_rows(300, 8, 9);
        let p = sparse_affinities(&x, 5.0);
        let total: f64 = p.iter().flatten().map(|e| e.1).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        for (i, row) in p.iter().enumerate() {
            assert!(row.len() >= 16, "row {i}: {} entries", row.len());
            for &(j, v) in row {
                let back = p[j].iter().find(|e| e.0 == i).expect("symmetric").1;
                assert!((back - v).abs() < 1e-15 && j != i);
            }
            let d = unit_distances(&x, i);
            let nearest = (0..x.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| d[a].total_cmp(&d[b]))
                .unwrap();
            assert!(row.iter().any(|e| e.0 == nearest));
        }
    }

    /// `n` random unit rows of `dim` values.
    fn random_unit_rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = crate::sampling::Rng::new(seed);
        (0..n)
            .map(|_| {
                let v: Vec<f64> = (0..dim).map(|_| rng.next_f32() as f64 - 0.5).collect();
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                v.into_iter().map(|a| a / norm).collect()
            })
            .collect()
    }

    /// The blocked f32 neighbour search finds the same neighbours as sorting every row's
    /// f64 distances, row counts and dimensions off the blocks' multiples of 8 and 4 included;
    /// a neighbour may differ only where two distances tie within f32 rounding (1e-5).
    #[test]
    fn nearest_neighbours_are_the_nearest_rows() {
        for (n, dim, k) in [(203, 13, 10), (64, 100, 63), (9, 3, 4)] {
            let x = random_unit_rows(n, dim, n as u64);
            let found = nearest_neighbours(&x, k);
            assert_eq!(found.len(), n);
            for (i, ids) in found.iter().enumerate() {
                let d = unit_distances(&x, i);
                let mut order: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                order.sort_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
                let mut want = order[..k].to_vec();
                want.sort_unstable();
                assert_eq!(ids.len(), k);
                assert!(ids.windows(2).all(|w| w[0] < w[1]) && !ids.contains(&i));
                if *ids != want {
                    // Only a near-tie at the k-th distance may swap.
                    let kth = d[order[k - 1]];
                    for j in ids.iter().filter(|j| !want.contains(j)) {
                        assert!(
                            (d[*j] - kth).abs() < 1e-5,
                            "{n}/{dim}: row {i}: {ids:?} vs {want:?}"
                        );
                    }
                }
            }
        }
    }

    /// The bisection finds each row's width: the affinities' perplexity is the one asked.
    #[test]
    fn affinities_have_the_perplexity_asked() {
        let d: Vec<f64> = (0..200)
            .map(|j| (j as f64 * 0.37).sin().abs() * 3.0)
            .collect();
        for perplexity in [2.0, 10.0, 30.0, 60.0] {
            let p = affinities_at_perplexity(&d, Some(5), perplexity);
            assert_eq!(p[5], 0.0);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let h: f64 = -p
                .iter()
                .filter(|&&x| x > 0.0)
                .map(|x| x * x.ln())
                .sum::<f64>();
            assert!(
                (h.exp() - perplexity).abs() < 1e-3 * perplexity,
                "{perplexity}: {}",
                h.exp()
            );
        }
    }

    #[test]
    fn labels_never_overlap_and_crowded_ones_are_left_out() {
        // 500 dots on top of each other: only a few labels fit, none overlapping.
        let pts: Vec<(f64, f64)> = (0..500).map(|i| (500.0 + (i % 3) as f64, 400.0)).collect();
        let names: Vec<String> = (0..500).map(|i| format!("word{i}")).collect();
        let labels: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let placed = place_labels(&labels, &pts, 7.0, 12.0);
        let boxes: Vec<[f64; 4]> = placed
            .iter()
            .zip(&labels)
            .filter_map(|(p, l)| p.map(|(x, y)| [x, y, x + 7.0 * l.len() as f64, y + 12.0]))
            .collect();
        assert!(boxes.len() >= 2 && boxes.len() <= 8, "{}", boxes.len());
        assert!(placed[0].is_some(), "the most frequent word gets its label");
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(!(a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]));
            }
        }
    }
}
