//! word2vec.c's query tools: `compute-accuracy`, with its arithmetic and its output byte for
//! byte, so that `compute-accuracy vectors.bin 30000 < questions-words.txt` scripts keep
//! working (and keep their numbers) after switching; `distance` and `word-analogy`, with
//! their prompts and tables.

use crate::io::Embeddings;
use crate::linalg::{seq_dot, seq_norm};
use std::fmt::Write as _;

/// word2vec.c's vocabulary entries hold at most this many bytes (`max_w`).
const MAX_W: usize = 50;

/// C's `%.2f` of a float as glibc prints it on x86 (a NaN from 0/0 carries the sign bit).
fn c_percent(x: f32) -> String {
    if x.is_nan() {
        "-nan".to_string()
    } else {
        format!("{:.2}", x as f64)
    }
}

/// The rows word2vec.c's tools work on: the words as bytes (at most [`MAX_W`], upper-cased
/// for compute-accuracy) and the vectors divided by their norm (squares summed in f32).
struct UnitRows {
    words: Vec<Vec<u8>>,
    dim: usize,
    m: Vec<f32>,
}

impl UnitRows {
    fn new(emb: &Embeddings, n: usize, upper: bool) -> UnitRows {
        let dim = emb.dim;
        let words = emb.words[..n]
            .iter()
            .map(|w| {
                let mut u: Vec<u8> = w.bytes().collect();
                if upper {
                    u.make_ascii_uppercase();
                }
                u.truncate(MAX_W);
                u
            })
            .collect();
        let mut m = emb.vectors[..n * dim].to_vec();
        for row in m.chunks_mut(dim.max(1)) {
            let len = seq_norm(row);
            row.iter_mut().for_each(|x| *x /= len);
        }
        UnitRows { words, dim, m }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.m[i * self.dim..(i + 1) * self.dim]
    }

    /// The first row spelt `w` (C searches from row 0).
    fn find(&self, w: &[u8]) -> Option<usize> {
        self.words.iter().position(|x| x == w)
    }
}

/// word2vec.c's `distance` and `word-analogy`: an answer per line of standard input,
/// computed and printed as those tools do.
pub struct Interactive {
    rows: UnitRows,
}

/// How many answers `distance` and `word-analogy` print (word2vec.c's `N`).
const SHOWN: usize = 40;

impl Interactive {
    pub fn new(emb: &Embeddings) -> Interactive {
        Interactive {
            rows: UnitRows::new(emb, emb.words.len(), false),
        }
    }

    /// `distance`'s prompt.
    pub const DISTANCE_PROMPT: &'static str = "Enter word or sentence (EXIT to break): ";
    /// `word-analogy`'s prompt.
    pub const ANALOGY_PROMPT: &'static str = "Enter three words (EXIT to break): ";

    /// The line's words (split at single spaces, as word2vec.c splits them), each printed
    /// with its row; `None` after the first one outside the vocabulary (`analogy`: row 0
    /// counts as outside too, as in word2vec.c's word-analogy).
    fn words(&self, line: &str, out: &mut String, analogy: bool) -> Option<Vec<usize>> {
        let mut ids = Vec::new();
        for w in line.split(' ') {
            let id = self.rows.find(w.as_bytes()).filter(|&b| !analogy || b != 0);
            let shown = match id {
                Some(b) => b as i64,
                None if analogy => 0,
                None => -1,
            };
            let _ = write!(out, "\nWord: {w}  Position in vocabulary: {shown}\n");
            match id {
                Some(b) => ids.push(b),
                None => {
                    out.push_str("Out of dictionary word!\n");
                    return None;
                }
            }
        }
        Some(ids)
    }

    /// The 40 rows with the largest dot product with `vec` (normalised here), `skip` left
    /// out, scores above `floor` only, printed as `%50s\t\t%f`.
    fn nearest(&self, mut vec: Vec<f32>, skip: &[usize], floor: f32, out: &mut String) {
        let len = seq_norm(&vec);
        vec.iter_mut().for_each(|x| *x /= len);
        let mut best: Vec<(f32, &[u8])> = vec![(floor, b""); SHOWN];
        for (c, word) in self.rows.words.iter().enumerate() {
            if skip.contains(&c) {
                continue;
            }
            let dist = seq_dot(&vec, self.rows.row(c));
            if let Some(a) = best.iter().position(|b| dist > b.0) {
                best.insert(a, (dist, word));
                best.truncate(SHOWN);
            }
        }
        for (d, w) in best {
            let pad = 50usize.saturating_sub(w.len());
            let _ = writeln!(
                out,
                "{}{}\t\t{:.6}",
                " ".repeat(pad),
                String::from_utf8_lossy(w),
                d as f64
            );
        }
    }

    /// `distance`: the words nearest the (normalised) sum of the line's words.
    pub fn distance(&self, line: &str) -> String {
        let mut out = String::new();
        let Some(ids) = self.words(line, &mut out, false) else {
            return out;
        };
        out.push_str("\n                                              Word       Cosine distance\n------------------------------------------------------------------------\n");
        let mut vec = vec![0.0f32; self.rows.dim];
        for &b in &ids {
            vec.iter_mut()
                .zip(self.rows.row(b))
                .for_each(|(v, x)| *v += x);
        }
        self.nearest(vec, &ids, -1.0, &mut out);
        out
    }

    /// `word-analogy`: `a b c` answered by the words nearest b − a + c.
    pub fn analogy(&self, line: &str) -> String {
        let mut out = String::new();
        let cn = line.split(' ').count();
        if cn < 3 {
            let _ = writeln!(out, "Only {cn} words were entered.. three words are needed at the input to perform the calculation");
            return out;
        }
        let Some(ids) = self.words(line, &mut out, true) else {
            return out;
        };
        out.push_str("\n                                              Word              Distance\n------------------------------------------------------------------------\n");
        let (a, b, c) = (
            self.rows.row(ids[0]),
            self.rows.row(ids[1]),
            self.rows.row(ids[2]),
        );
        let vec = (0..self.rows.dim).map(|d| b[d] - a[d] + c[d]).collect();
        self.nearest(vec, &ids[..3], 0.0, &mut out);
        out
    }
}

/// `compute-accuracy FILE [threshold] < questions`: the first `threshold` rows of `emb` (all
/// with 0) upper-cased byte by byte (ASCII, as C's `toupper`) and divided by their f32 norm;
/// each question `a b c d` answered by the row with the largest dot product with
/// `(b − a) + c` (the three rows themselves left out, the first of equal scores kept, none
/// scoring above 0 an empty answer), counted right when that row's word is `d`; questions
/// with a word outside the rows skipped but counted in the total. Sections (`: name` lines)
/// print their accuracy and the running totals, the first five counted as semantic and the
/// rest as syntactic, as word2vec.c does. Returns the text word2vec.c prints.
pub fn compute_accuracy(emb: &Embeddings, threshold: usize, questions: &str) -> String {
    let n = if threshold > 0 {
        threshold.min(emb.words.len())
    } else {
        emb.words.len()
    };
    let upper = |w: &str| -> Vec<u8> { w.bytes().map(|b| b.to_ascii_uppercase()).collect() };
    let UnitRows {
        words: vocab,
        dim,
        m,
    } = UnitRows::new(emb, n, true);
    // The first row of each word (C searches from row 0).
    let mut index: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for (i, w) in vocab.iter().enumerate().rev() {
        index.insert(w.as_slice(), i);
    }
    let row = |i: usize| &m[i * dim..(i + 1) * dim];
    let mut out = String::new();
    let (mut tcn, mut ccn, mut tacn, mut cacn) = (0i32, 0i32, 0i32, 0i32);
    let (mut secn, mut sycn, mut seac, mut syac) = (0i32, 0i32, 0i32, 0i32);
    let (mut qid, mut tq, mut tqs) = (0i32, 0i32, 0i32);
    let mut tokens = questions.split_ascii_whitespace();
    let report = |out: &mut String, tcn: &mut i32, ccn: i32, tot: [i32; 6]| {
        let [cacn, tacn, seac, secn, syac, sycn] = tot;
        if *tcn == 0 {
            *tcn = 1;
        }
        let _ = writeln!(
            out,
            "ACCURACY TOP1: {} %  ({} / {})",
            c_percent(ccn as f32 / *tcn as f32 * 100.0),
            ccn,
            tcn
        );
        let _ = writeln!(
            out,
            "Total accuracy: {} %   Semantic accuracy: {} %   Syntactic accuracy: {} % ",
            c_percent(cacn as f32 / tacn as f32 * 100.0),
            c_percent(seac as f32 / secn as f32 * 100.0),
            c_percent(syac as f32 / sycn as f32 * 100.0)
        );
    };
    loop {
        let st1 = tokens.next().map(upper);
        let at_end = st1.is_none();
        if at_end || st1.as_deref() == Some(b":") || st1.as_deref() == Some(b"EXIT") {
            if qid != 0 {
                report(
                    &mut out,
                    &mut tcn,
                    ccn,
                    [cacn, tacn, seac, secn, syac, sycn],
                );
            }
            qid += 1;
            match tokens.next() {
                Some(name) if !at_end => {
                    let _ = writeln!(out, "{name}:");
                }
                _ => break,
            }
            tcn = 0;
            ccn = 0;
            continue;
        }
        let st1 = st1.unwrap_or_default();
        let rest: Vec<Vec<u8>> = (0..3)
            .map(|_| tokens.next().map(upper).unwrap_or_default())
            .collect();
        let (st2, st3, st4) = (&rest[0], &rest[1], &rest[2]);
        tq += 1;
        let find = |w: &[u8]| index.get(w).copied();
        let (Some(b1), Some(b2), Some(b3), Some(_)) = (find(&st1), find(st2), find(st3), find(st4))
        else {
            continue;
        };
        let vec: Vec<f32> = (0..dim)
            .map(|a| (row(b2)[a] - row(b1)[a]) + row(b3)[a])
            .collect();
        tqs += 1;
        let (mut best, mut best_word): (f32, &[u8]) = (0.0, b"");
        for (c, word) in vocab.iter().enumerate() {
            if c == b1 || c == b2 || c == b3 {
                continue;
            }
            let dist = seq_dot(&vec, row(c));
            if dist > best {
                best = dist;
                best_word = word;
            }
        }
        if st4.as_slice() == best_word {
            ccn += 1;
            cacn += 1;
            if qid <= 5 {
                seac += 1;
            } else {
                syac += 1;
            }
        }
        if qid <= 5 {
            secn += 1;
        } else {
            sycn += 1;
        }
        tcn += 1;
        tacn += 1;
    }
    let _ = writeln!(
        out,
        "Questions seen / total: {} {}   {} % ",
        tqs,
        tq,
        c_percent(tqs as f32 / tq as f32 * 100.0)
    );
    out
}
