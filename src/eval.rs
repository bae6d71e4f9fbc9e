//! Nearest neighbours, analogies and similarity benchmarks, computed as gensim 4 computes
//! them (`most_similar`, `evaluate_word_analogies`, `evaluate_word_pairs`), with batched
//! dot products over unit-normalised vectors.

use crate::error::{Error, Result};
use crate::io::Embeddings;
use crate::linalg::dot;
use crate::vocab::FxMap;
use std::path::Path;

/// Unit-normalised vectors and a lookup by word.
///
/// Two lookups, documented in the README:
/// * [`Space::find`] (the benchmarks of `eval`): with `case_insensitive`, words are looked up
///   lower-cased and the first (most frequent) spelling wins, as gensim's evaluations do.
/// * [`Space::lookup`] (`similar`, `analogy`): the exact spelling wins when the file has it;
///   the case-folded match is only the fallback (so `king` never answers for `King`).
pub struct Space {
    pub words: Vec<String>,
    pub dim: usize,
    pub unit: Vec<f32>,
    index: FxMap<String, u32>,
    /// Exact spellings (first occurrence), when `index` is case-folded.
    exact: Option<FxMap<String, u32>>,
    case_insensitive: bool,
    /// Rows that may answer `similar` and `analogy` (the vocabulary): rows after it are
    /// query words built from subwords (see [`Space::add_query_rows`]).
    candidates: usize,
}

impl Space {
    pub fn new(emb: &Embeddings, case_insensitive: bool) -> Space {
        let dim = emb.dim;
        let mut unit = emb.vectors.clone();
        for row in unit.chunks_exact_mut(dim) {
            normalize(row);
        }
        let mut index = FxMap::default();
        let mut exact = case_insensitive.then(FxMap::default);
        for (i, w) in emb.words.iter().enumerate() {
            if let Some(e) = exact.as_mut() {
                e.entry(w.clone()).or_insert(i as u32);
            }
            let key = if case_insensitive {
                w.to_lowercase()
            } else {
                w.clone()
            };
            index.entry(key).or_insert(i as u32);
        }
        Space {
            words: emb.words.clone(),
            dim,
            unit,
            index,
            exact,
            case_insensitive,
            candidates: emb.words.len(),
        }
    }

    /// Adds rows for words the vocabulary lacks (vectors from a subword model's n-grams):
    /// they can be looked up and asked about, but never answer a query.
    pub fn add_query_rows(&mut self, rows: Vec<(String, Vec<f32>)>) {
        for (w, mut v) in rows {
            normalize(&mut v);
            let i = self.words.len() as u32;
            if let Some(e) = self.exact.as_mut() {
                e.entry(w.clone()).or_insert(i);
            }
            let key = self.key(&w);
            self.index.entry(key).or_insert(i);
            self.words.push(w);
            self.unit.extend_from_slice(&v);
        }
    }

    /// The row of `word` for `similar` and `analogy`: its exact spelling if present, else
    /// (case-insensitive space) the most frequent spelling that folds to the same word.
    pub fn lookup(&self, word: &str) -> Option<u32> {
        self.exact
            .as_ref()
            .and_then(|e| e.get(word).copied())
            .or_else(|| self.find(word, self.len()))
    }

    fn key(&self, w: &str) -> String {
        if self.case_insensitive {
            w.to_lowercase()
        } else {
            w.to_string()
        }
    }

    /// The row of `word`, if it is among the first `limit` rows.
    pub fn find(&self, word: &str, limit: usize) -> Option<u32> {
        self.index
            .get(&self.key(word))
            .copied()
            .filter(|&i| (i as usize) < limit)
    }

    pub fn row(&self, i: u32) -> &[f32] {
        &self.unit[i as usize * self.dim..(i as usize + 1) * self.dim]
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn unknown(&self, word: &str) -> Error {
        Error::usage("WORD", format!("{word:?} is not in the vectors file"))
    }

    /// The `k` words most cosine-similar to `word` (excluding itself).
    pub fn similar(&self, word: &str, k: usize) -> Result<Vec<(String, f32)>> {
        let i = self.lookup(word).ok_or_else(|| self.unknown(word))?;
        let q = self.row(i).to_vec();
        Ok(self.top_k(&q, k, &[i], self.candidates))
    }

    /// The `k` rows most cosine-similar to the vector `q` (any length but zero), as
    /// gensim's `most_similar([vector])`.
    pub fn nearest(&self, q: &[f32], k: usize) -> Vec<(String, f32)> {
        let mut q = q.to_vec();
        normalize(&mut q);
        self.top_k(&q, k, &[], self.candidates)
    }

    /// gensim's `most_similar(positive, negative)`: the `k` words nearest the unit vector of
    /// the sum of the `positive` words' unit vectors minus the `negative` ones', the query
    /// words left out.
    pub fn most_similar(
        &self,
        positive: &[String],
        negative: &[String],
        k: usize,
    ) -> Result<Vec<(String, f32)>> {
        let mut ids = Vec::with_capacity(positive.len() + negative.len());
        let mut q = vec![0.0f32; self.row(0).len()];
        for (words, sign) in [(positive, 1.0f32), (negative, -1.0)] {
            for w in words {
                let i = self.lookup(w).ok_or_else(|| self.unknown(w))?;
                q.iter_mut()
                    .zip(self.row(i))
                    .for_each(|(a, x)| *a += sign * x);
                ids.push(i);
            }
        }
        normalize(&mut q);
        Ok(self.top_k(&q, k, &ids, self.candidates))
    }

    /// "a is to b as c is to ?" by 3CosAdd (`cosmul = false`: argmax cos(x, b − a + c) over
    /// unit vectors) or 3CosMul (Levy & Goldberg 2014: argmax cos'(x,b)·cos'(x,c)/(cos'(x,a)+ε)
    /// with cos' = (1+cos)/2), excluding a, b and c.
    pub fn analogy(
        &self,
        a: &str,
        b: &str,
        c: &str,
        k: usize,
        cosmul: bool,
    ) -> Result<Vec<(String, f32)>> {
        let ids: Vec<u32> = [a, b, c]
            .iter()
            .map(|w| self.lookup(w).ok_or_else(|| self.unknown(w)))
            .collect::<Result<_>>()?;
        let (ra, rb, rc) = (self.row(ids[0]), self.row(ids[1]), self.row(ids[2]));
        if !cosmul {
            let q = unit_query(ra, rb, rc);
            return Ok(self.top_k(&q, k, &ids, self.candidates));
        }
        let mut scored: Vec<(u32, f32)> = (0..self.candidates as u32)
            .filter(|i| !ids.contains(i))
            .map(|i| {
                let r = self.row(i);
                let s = |v: &[f32]| (1.0 + dot::<false>(r, v)) / 2.0;
                (i, s(rb) * s(rc) / (s(ra) + 1e-6))
            })
            .collect();
        scored.sort_by(|x, y| y.1.total_cmp(&x.1));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(i, s)| (self.words[i as usize].clone(), s))
            .collect())
    }

    fn top_k(&self, q: &[f32], k: usize, exclude: &[u32], limit: usize) -> Vec<(String, f32)> {
        let mut scored: Vec<(u32, f32)> = (0..limit.min(self.len()) as u32)
            .filter(|i| !exclude.contains(i))
            .map(|i| (i, dot::<false>(self.row(i), q)))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |x, y| y.1.total_cmp(&x.1));
        scored.truncate(k);
        scored.sort_by(|x, y| y.1.total_cmp(&x.1));
        scored
            .into_iter()
            .map(|(i, s)| (self.words[i as usize].clone(), s))
            .collect()
    }
}

/// unit(unit(b) − unit(a) + unit(c)): gensim's `most_similar(positive=[b, c], negative=[a])`.
fn unit_query(a: &[f32], b: &[f32], c: &[f32]) -> Vec<f32> {
    let mut q: Vec<f32> = (0..a.len()).map(|d| b[d] - a[d] + c[d]).collect();
    normalize(&mut q);
    q
}

/// gensim's `KeyedVectors.n_similarity(ws1, ws2)`: the cosine between the means of two
/// sets of raw (not normalized) vectors; with one vector each, `similarity(w1, w2)`. An
/// empty set has no mean: `None`.
pub fn n_similarity(a: &[Vec<f32>], b: &[Vec<f32>]) -> Option<f32> {
    Some(dot::<false>(&unit_mean(a)?, &unit_mean(b)?))
}

/// The mean of `set`, divided by its norm (gensim's `unitvec(get_mean_vector(...))`);
/// `None` for an empty set.
fn unit_mean(set: &[Vec<f32>]) -> Option<Vec<f32>> {
    let mut m = vec![0.0f32; set.first()?.len()];
    for v in set {
        m.iter_mut().zip(v).for_each(|(m, x)| *m += x);
    }
    m.iter_mut().for_each(|x| *x /= set.len() as f32);
    normalize(&mut m);
    Some(m)
}

/// gensim's `KeyedVectors.rank_by_centrality(words)`: each word's unit vector against the
/// normalized mean of them all, most central first (ties: the later word first, as
/// Python's reverse sort of (score, word) pairs); the last is `doesnt_match`'s answer.
pub fn rank_by_centrality(words: &[String], vectors: &[Vec<f32>]) -> Vec<(String, f32)> {
    let units: Vec<Vec<f32>> = vectors
        .iter()
        .map(|v| {
            let mut u = v.clone();
            normalize(&mut u);
            u
        })
        .collect();
    let Some(mean) = unit_mean(&units) else {
        return Vec::new();
    };
    let mut ranked: Vec<(String, f32)> = words
        .iter()
        .zip(&units)
        .map(|(w, u)| (w.clone(), dot::<false>(u, &mean)))
        .collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| y.0.cmp(&x.0)));
    ranked
}

/// Divides `v` by its norm (a zero vector stays zero).
fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Accuracy of one section of an analogy file.
#[derive(Debug, Clone, Default)]
pub struct SectionScore {
    pub name: String,
    pub correct: usize,
    pub total: usize,
    /// Questions skipped because a word is outside the (restricted) vocabulary.
    pub oov: usize,
}

impl SectionScore {
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Result of an analogy file: sections and the total over answered questions (gensim's
/// "Total accuracy").
#[derive(Debug, Clone, Default)]
pub struct AnalogyScore {
    pub file: String,
    pub sections: Vec<SectionScore>,
    pub total: SectionScore,
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Analogy accuracy as gensim's `evaluate_word_analogies(restrict_vocab, case_insensitive)`:
/// questions with a word outside the first `restrict` rows are skipped (counted as OOV),
/// the answer is the 3CosAdd argmax over those rows excluding the three question words.
/// Accepts `: section` headers (questions-words.txt) or plain 4-word lines, `#` comments.
pub fn evaluate_analogies(space: &Space, path: &Path, restrict: usize) -> Result<AnalogyScore> {
    let text = read_text(path)?;
    let mut sections: Vec<SectionScore> = Vec::new();
    let mut questions: Vec<([u32; 4], usize)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            sections.push(SectionScore {
                name: name.trim().to_string(),
                ..Default::default()
            });
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() != 4 {
            return Err(Error::input(
                path,
                format!(
                    "line {}: expected 4 words (a b c expected), found {}",
                    n + 1,
                    words.len()
                ),
            ));
        }
        if sections.is_empty() {
            sections.push(SectionScore {
                name: "all".into(),
                ..Default::default()
            });
        }
        let s = sections.len() - 1;
        let ids: Option<Vec<u32>> = words.iter().map(|w| space.find(w, restrict)).collect();
        match ids {
            Some(ids) => questions.push(([ids[0], ids[1], ids[2], ids[3]], s)),
            None => sections[s].oov += 1,
        }
    }
    let limit = restrict.min(space.len());
    let answers = answer_batch(space, &questions, limit);
    for ((q, s), got) in questions.iter().zip(answers) {
        sections[*s].total += 1;
        if got == Some(q[3]) {
            sections[*s].correct += 1;
        }
    }
    let mut total = SectionScore {
        name: "total".into(),
        ..Default::default()
    };
    for s in &sections {
        total.correct += s.correct;
        total.total += s.total;
        total.oov += s.oov;
    }
    Ok(AnalogyScore {
        file: path.display().to_string(),
        sections,
        total,
    })
}

/// The 3CosAdd answer of each question among the first `limit` rows, excluding the
/// question words (any spelling of them when case-insensitive). Questions are scored in
/// blocks of 8 against each vocabulary row, on all cores.
fn answer_batch(space: &Space, qs: &[([u32; 4], usize)], limit: usize) -> Vec<Option<u32>> {
    let dim = space.dim;
    // Canonical id of each row: the row its lookup key maps to.
    let canon: Vec<u32> = (0..limit)
        .map(|i| {
            space
                .index
                .get(&space.key(&space.words[i]))
                .copied()
                .unwrap_or(i as u32)
        })
        .collect();
    let queries: Vec<f32> = qs
        .iter()
        .flat_map(|(q, _)| unit_query(space.row(q[0]), space.row(q[1]), space.row(q[2])))
        .collect();
    let threads = crate::config::all_threads();
    let per = qs.len().div_ceil(threads).max(8).next_multiple_of(8);
    let mut out = vec![None; qs.len()];
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(per).enumerate() {
            let (canon, queries) = (&canon, &queries);
            s.spawn(move || {
                let base = t * per;
                let mut qt = vec![0.0f32; dim * 8];
                for (b, block) in chunk.chunks_mut(8).enumerate() {
                    let q0 = base + b * 8;
                    let nq = block.len();
                    // The block's queries transposed (dim × 8): one 8-wide multiply-add per
                    // vocabulary element scores all 8 questions at once.
                    qt.fill(0.0);
                    for k in 0..nq {
                        for d in 0..dim {
                            qt[d * 8 + k] = queries[(q0 + k) * dim + d];
                        }
                    }
                    let mut best = [(f32::NEG_INFINITY, u32::MAX); 8];
                    for (w, &c) in canon.iter().enumerate() {
                        let scores = crate::linalg::block_scores(space.row(w as u32), &qt);
                        for k in 0..nq {
                            let sc = scores[k];
                            if sc > best[k].0 {
                                let ex = qs[q0 + k].0;
                                if c != ex[0] && c != ex[1] && c != ex[2] {
                                    best[k] = (sc, w as u32);
                                }
                            }
                        }
                    }
                    for k in 0..nq {
                        block[k] = (best[k].1 != u32::MAX).then_some(best[k].1);
                    }
                }
            });
        }
    });
    out
}

/// Word-pair similarity: Spearman ρ (average ranks for ties) and Pearson r between the
/// gold scores and cosine similarities, over the pairs whose words are both known.
#[derive(Debug, Clone, Default)]
pub struct SimilarityScore {
    pub file: String,
    pub spearman: f64,
    pub pearson: f64,
    pub pairs: usize,
    pub oov: usize,
}

/// As gensim's `evaluate_word_pairs` (restrict_vocab 300000, case-insensitive): tab- or
/// space-separated `word1 word2 score` lines; `#` comments and a non-numeric header line
/// are skipped.
pub fn evaluate_similarity(space: &Space, path: &Path, restrict: usize) -> Result<SimilarityScore> {
    let text = read_text(path)?;
    let mut gold = Vec::new();
    let mut model = Vec::new();
    let mut oov = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let score = parts.get(2).and_then(|s| s.parse::<f64>().ok());
        let (Some(score), true) = (score, parts.len() >= 3) else {
            if gold.is_empty() && oov == 0 {
                continue; // header line
            }
            return Err(Error::input(
                path,
                format!("line {}: expected `word1 word2 score`", n + 1),
            ));
        };
        match (
            space.find(parts[0], restrict),
            space.find(parts[1], restrict),
        ) {
            (Some(a), Some(b)) => {
                gold.push(score);
                model.push(dot::<false>(space.row(a), space.row(b)) as f64);
            }
            _ => oov += 1,
        }
    }
    Ok(SimilarityScore {
        file: path.display().to_string(),
        spearman: pearson(&ranks(&gold), &ranks(&model)),
        pearson: pearson(&gold, &model),
        pairs: gold.len(),
        oov,
    })
}

/// Ranks starting at 1, ties sharing their average rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        // Orthogonal-ish toy space where king - man + woman = queen exactly.
        let words = ["man", "woman", "king", "queen", "apple", "Man"];
        let v: Vec<[f32; 4]> = vec![
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [1.0, 0.0, 1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
            [1.0, 0.1, 0.0, 0.0],
        ];
        let emb = Embeddings {
            words: words.iter().map(|s| s.to_string()).collect(),
            dim: 4,
            vectors: v.into_iter().flatten().collect(),
        };
        Space::new(&emb, true)
    }

    #[test]
    fn analogy_and_neighbours() {
        let s = space();
        let r = s.analogy("man", "king", "woman", 1, false).unwrap();
        assert_eq!(r[0].0, "queen");
        let r = s.analogy("man", "king", "woman", 1, true).unwrap();
        assert_eq!(r[0].0, "queen");
        let n = s.similar("king", 2).unwrap();
        assert_eq!(n[0].0, "man");
        assert!(s.similar("zebra", 2).is_err());
        // case-insensitive: "MAN" finds the first spelling.
        assert_eq!(s.find("MAN", 10), Some(0));
    }

    /// `most_similar(positive=[b, c], negative=[a])` is 3CosAdd's analogy a : b :: c : ?
    /// (gensim's own definition), on a trained space; one positive word is `similar`.
    #[test]
    fn most_similar_sums_unit_vectors() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/text8_2000.bin"
        ));
        let sp = Space::new(&crate::io::read_vectors(path, None).unwrap(), true);
        let s = |w: &[&str]| w.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for (a, b, c) in [
            ("man", "king", "woman"),
            ("france", "paris", "germany"),
            ("he", "his", "she"),
        ] {
            let want = sp.analogy(a, b, c, 5, false).unwrap();
            let got = sp.most_similar(&s(&[b, c]), &s(&[a]), 5).unwrap();
            assert_eq!(got.len(), 5);
            for ((w1, s1), (w2, s2)) in want.iter().zip(&got) {
                assert_eq!(w1, w2);
                assert!((s1 - s2).abs() < 1e-6, "{s1} vs {s2}");
            }
        }
        let one = sp.most_similar(&s(&["king"]), &[], 4).unwrap();
        for ((w1, s1), (w2, s2)) in one.iter().zip(&sp.similar("king", 4).unwrap()) {
            assert_eq!(w1, w2);
            assert!((s1 - s2).abs() < 1e-6, "{s1} vs {s2}");
        }
        // The toy space: king + woman - man is queen.
        let toy = space();
        let r = toy
            .most_similar(&s(&["king", "woman"]), &s(&["man"]), 1)
            .unwrap();
        assert_eq!(r[0].0, "queen");
        assert!(toy.most_similar(&s(&["nope"]), &[], 1).is_err());
    }

    #[test]
    fn exact_spelling_wins_over_case_folding() {
        // "King" is more frequent (row 0) than "king" (row 2): gensim-style folding maps
        // "king" to row 0, but similar/analogy must answer for the word asked.
        let emb = Embeddings {
            words: ["King", "Hamlet", "king", "queen", "Queen"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            dim: 2,
            vectors: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9, 0.8, 0.2],
        };
        let s = Space::new(&emb, true);
        assert_eq!(s.find("king", 10), Some(0), "eval keeps gensim's folding");
        assert_eq!(s.lookup("king"), Some(2));
        assert_eq!(s.lookup("King"), Some(0));
        assert_eq!(s.lookup("KING"), Some(0), "no exact match: folded fallback");
        assert_eq!(s.similar("king", 1).unwrap()[0].0, "queen");
        assert_eq!(s.similar("King", 1).unwrap()[0].0, "Hamlet");
        let r = s.analogy("King", "Hamlet", "king", 1, false).unwrap();
        assert_ne!(r[0].0, "king");
    }

    #[test]
    fn analogy_file_counts_oov_and_sections() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.txt");
        std::fs::write(&p, ": royal\nman king woman queen\nMan King Woman Queen\nman king zebra queen\n: fruit\nman woman king apple\n").unwrap();
        let r = evaluate_analogies(&space(), &p, 30000).unwrap();
        assert_eq!(r.sections.len(), 2);
        assert_eq!(
            (
                r.sections[0].correct,
                r.sections[0].total,
                r.sections[0].oov
            ),
            (2, 2, 1)
        );
        assert_eq!((r.sections[1].correct, r.sections[1].total), (0, 1));
        assert_eq!((r.total.correct, r.total.total, r.total.oov), (2, 3, 1));
        // restrict to 2 rows: everything is OOV
        let r = evaluate_analogies(&space(), &p, 2).unwrap();
        assert_eq!(r.total.total, 0);
    }

    #[test]
    fn spearman_uses_average_ranks() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        let rho = pearson(&ranks(&[1.0, 2.0, 3.0, 4.0]), &ranks(&[1.0, 3.0, 2.0, 4.0]));
        assert!((rho - 0.8).abs() < 1e-12);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ws.txt");
        std::fs::write(&p, "# comment\nWord 1\tWord 2\tHuman (mean)\r\nking\tqueen\t8\r\nman\twoman\t7\r\nking\tapple\t1\r\nman\tzebra\t3\r\n").unwrap();
        let r = evaluate_similarity(&space(), &p, 300000).unwrap();
        assert_eq!((r.pairs, r.oov), (3, 1));
        assert!(r.spearman.is_finite());
    }
}
