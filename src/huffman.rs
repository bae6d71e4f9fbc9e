//! word2vec.c's Huffman tree over the vocabulary, for hierarchical softmax (`--hs`).
//!
//! Built exactly as word2vec.c's `CreateBinaryTree`: the vocabulary is sorted by count
//! (most frequent first), the two cheapest nodes are merged repeatedly with a two-pointer
//! walk over the leaves (from the rarest up) and the inner nodes (in creation order), the
//! second node of each merge gets code bit 1. A word's path runs from the root down: inner
//! node `points[k]` (a row of the hierarchical-softmax matrix, `V − 1` rows, the root is
//! row `V − 2`) with the bit `codes[k]` the word's leaf lies under.

/// Codes and inner-node paths of every word, stored flat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuffmanTree {
    /// `offsets[w]..offsets[w + 1]` indexes word `w`'s entries in `codes` and `points`.
    offsets: Vec<usize>,
    codes: Vec<u8>,
    points: Vec<u32>,
}

impl HuffmanTree {
    /// The tree of a vocabulary whose counts are sorted in non-increasing order (as
    /// `Vocab` keeps them). A vocabulary of one word gets an empty path (nothing to train).
    pub fn new(counts: &[u64]) -> HuffmanTree {
        let v = counts.len();
        let mut offsets = vec![0usize; v + 1];
        if v < 2 {
            return HuffmanTree {
                offsets,
                codes: Vec::new(),
                points: Vec::new(),
            };
        }
        // Nodes 0..v are the leaves, v..2v-1 the inner nodes in creation order.
        let mut count: Vec<u64> = counts.to_vec();
        count.resize(2 * v, u64::MAX);
        let mut parent = vec![0usize; 2 * v];
        let mut binary = vec![0u8; 2 * v];
        // pos1 walks the leaves from the rarest (v-1) down; pos2 the inner nodes up.
        let mut pos1 = v as isize - 1;
        let mut pos2 = v;
        for a in 0..v - 1 {
            let mut pick = || {
                if pos1 >= 0 && count[pos1 as usize] < count[pos2] {
                    pos1 -= 1;
                    (pos1 + 1) as usize
                } else {
                    pos2 += 1;
                    pos2 - 1
                }
            };
            let min1 = pick();
            let min2 = pick();
            count[v + a] = count[min1].saturating_add(count[min2]);
            parent[min1] = v + a;
            parent[min2] = v + a;
            binary[min2] = 1;
        }
        let root = 2 * v - 2;
        let mut codes = Vec::new();
        let mut points = Vec::new();
        let mut path_codes = Vec::new();
        let mut path_nodes = Vec::new();
        for (w, off) in offsets.iter_mut().enumerate().skip(1) {
            // Walk leaf → root, then store root → leaf.
            path_codes.clear();
            path_nodes.clear();
            let mut b = w - 1;
            while b != root {
                path_codes.push(binary[b]);
                b = parent[b];
                path_nodes.push((b - v) as u32);
            }
            codes.extend(path_codes.iter().rev());
            points.extend(path_nodes.iter().rev());
            *off = codes.len();
        }
        HuffmanTree {
            offsets,
            codes,
            points,
        }
    }

    /// Word `w`'s path: (inner node, code bit) from the root down.
    pub fn path(&self, w: u32) -> (&[u32], &[u8]) {
        let (lo, hi) = (self.offsets[w as usize], self.offsets[w as usize + 1]);
        (&self.points[lo..hi], &self.codes[lo..hi])
    }

    /// Rows of the hierarchical-softmax matrix (inner nodes): vocabulary size − 1.
    pub fn inner_nodes(&self) -> usize {
        self.offsets.len().saturating_sub(2)
    }

    /// The paths as the GPU's hierarchical-softmax kernel reads them (`shaders/hs.wgsl`):
    /// `V + 1` indices into the same array (word `w`'s entries are `out[out[w]..out[w + 1]]`),
    /// then every path's entries, root first, each `(inner node << 1) | code`.
    pub fn gpu_words(&self) -> Vec<u32> {
        let v = self.offsets.len();
        let mut out: Vec<u32> = self.offsets.iter().map(|&o| (v + o) as u32).collect();
        out.extend(
            self.points
                .iter()
                .zip(&self.codes)
                .map(|(&p, &c)| (p << 1) | u32::from(c)),
        );
        out
    }

    /// The longest path.
    pub fn max_depth(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// word2vec.c's CreateBinaryTree, transcribed line by line (signed positions, the
    /// 1e15 sentinel, `point[0] = vocab_size - 2` and `point[i - b] = point[b] - vocab_size`),
    /// returning each word's (points, codes).
    fn word2vec_c(cn: &[u64]) -> Vec<(Vec<u32>, Vec<u8>)> {
        let vocab_size = cn.len() as i64;
        let mut count = vec![0i64; (vocab_size * 2 + 1) as usize];
        let mut binary = vec![0i64; (vocab_size * 2 + 1) as usize];
        let mut parent_node = vec![0i64; (vocab_size * 2 + 1) as usize];
        for a in 0..vocab_size {
            count[a as usize] = cn[a as usize] as i64;
        }
        for a in vocab_size..vocab_size * 2 {
            count[a as usize] = 1_000_000_000_000_000;
        }
        let mut pos1 = vocab_size - 1;
        let mut pos2 = vocab_size;
        let (mut min1i, mut min2i);
        for a in 0..vocab_size - 1 {
            if pos1 >= 0 {
                if count[pos1 as usize] < count[pos2 as usize] {
                    min1i = pos1;
                    pos1 -= 1;
                } else {
                    min1i = pos2;
                    pos2 += 1;
                }
            } else {
                min1i = pos2;
                pos2 += 1;
            }
            if pos1 >= 0 {
                if count[pos1 as usize] < count[pos2 as usize] {
                    min2i = pos1;
                    pos1 -= 1;
                } else {
                    min2i = pos2;
                    pos2 += 1;
                }
            } else {
                min2i = pos2;
                pos2 += 1;
            }
            count[(vocab_size + a) as usize] = count[min1i as usize] + count[min2i as usize];
            parent_node[min1i as usize] = vocab_size + a;
            parent_node[min2i as usize] = vocab_size + a;
            binary[min2i as usize] = 1;
        }
        let mut out = Vec::new();
        for a in 0..vocab_size {
            let mut b = a;
            let mut i = 0usize;
            let mut code = [0i64; 64];
            let mut point = [0i64; 64];
            loop {
                code[i] = binary[b as usize];
                point[i] = b;
                i += 1;
                b = parent_node[b as usize];
                if b == vocab_size * 2 - 2 {
                    break;
                }
            }
            let mut vcode = vec![0u8; i];
            let mut vpoint = vec![0i64; i + 1];
            vpoint[0] = vocab_size - 2;
            for b in 0..i {
                vcode[i - b - 1] = code[b] as u8;
                vpoint[i - b] = point[b] - vocab_size;
            }
            out.push((vpoint[..i].iter().map(|&p| p as u32).collect(), vcode));
        }
        out
    }

    #[test]
    fn equals_word2vec_c_tree() {
        let zipf: Vec<u64> = (1..=500u64).map(|r| 100_000 / r + 5).collect();
        let ties = vec![7u64; 33];
        let small = vec![10, 3];
        let steps: Vec<u64> = (0..64u64).map(|i| 1000 - i * 15).collect();
        for counts in [zipf, ties, small, steps] {
            let tree = HuffmanTree::new(&counts);
            let reference = word2vec_c(&counts);
            for (w, (points, codes)) in reference.iter().enumerate() {
                let (p, c) = tree.path(w as u32);
                assert_eq!(p, &points[..], "points of word {w}");
                assert_eq!(c, &codes[..], "codes of word {w}");
            }
            assert_eq!(tree.inner_nodes(), counts.len() - 1);
        }
    }

    /// The GPU's flat layout holds every path as `path` gives it.
    #[test]
    fn gpu_words_hold_every_path() {
        let counts: Vec<u64> = (1..=300u64).map(|r| 50_000 / r + 1).collect();
        let tree = HuffmanTree::new(&counts);
        let flat = tree.gpu_words();
        for w in 0..counts.len() {
            let (a, b) = (flat[w] as usize, flat[w + 1] as usize);
            let (points, codes) = tree.path(w as u32);
            let got: Vec<(u32, u8)> = flat[a..b]
                .iter()
                .map(|&e| (e >> 1, (e & 1) as u8))
                .collect();
            let want: Vec<(u32, u8)> = points.iter().copied().zip(codes.iter().copied()).collect();
            assert_eq!(got, want, "word {w}");
        }
        assert_eq!(flat[counts.len()] as usize, flat.len());
    }

    #[test]
    fn codes_are_a_prefix_code_and_frequent_words_are_shallow() {
        let counts: Vec<u64> = (1..=200u64).map(|r| 1_000_000 / r).collect();
        let tree = HuffmanTree::new(&counts);
        let mut seen = std::collections::HashSet::new();
        for w in 0..counts.len() as u32 {
            let (p, c) = tree.path(w);
            assert_eq!(p[0] as usize, counts.len() - 2, "paths start at the root");
            assert!(p.iter().all(|&n| (n as usize) < tree.inner_nodes()));
            assert!(seen.insert(c.to_vec()), "codes are distinct");
        }
        // No code is a prefix of another (a leaf is never an inner node).
        for a in 0..counts.len() as u32 {
            for b in 0..counts.len() as u32 {
                let (ca, cb) = (tree.path(a).1, tree.path(b).1);
                assert!(a == b || !cb.starts_with(ca));
            }
        }
        assert!(tree.path(0).1.len() < tree.path(199).1.len());
        // Kraft equality for a full binary tree.
        let kraft: f64 = (0..200u32)
            .map(|w| 0.5f64.powi(tree.path(w).1.len() as i32))
            .sum();
        assert!((kraft - 1.0).abs() < 1e-12);
        assert_eq!(HuffmanTree::new(&[5]).path(0).0.len(), 0);
    }
}
