//! fastText's `.bin` model format (version 12), written for subword models so that fastText
//! itself and gensim's `load_facebook_model` load them, and read back for vectors of any
//! word.
//!
//! Layout (little-endian, as fastText writes it on x86): magic `793712314` and version `12`
//! (i32); the arguments (`dim ws epoch minCount neg wordNgrams loss model bucket minn maxn
//! lrUpdateRate`, i32 each, then `t` as f64); the dictionary (`size nwords nlabels` i32,
//! `ntokens` i64, `pruneidx_size` i64 = −1, then per entry its bytes, a NUL, its count i64
//! and its type i8: 0 for the words, then 1 for the labels of a classifier); `quant_input`
//! (u8 = 0); the input matrix (`m n` i64, then `m × n` f32: the word rows, then the bucket
//! rows); `qout` (u8 = 0); the output matrix (a row per word, or per label of a classifier).

use crate::bytes::Cursor;
use crate::error::{Error, Result};
use crate::files::AtomicFile;
use crate::linalg::{seq_dot, seq_norm};
use crate::quantize::QuantMatrix;
use crate::subword::{vocab_vectors, word_vector, SubwordParams};
use std::io::Write;
use std::path::Path;

pub const MAGIC: i32 = 793_712_314;
pub const VERSION: i32 = 12;

/// What a `.bin` holds that the vectors of words (seen or not) need.
#[derive(Debug, Clone, PartialEq)]
pub struct FastTextModel {
    pub dim: usize,
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    /// A classifier's labels (fastText's `supervised`, [`crate::classifier`]) with their
    /// counts; empty for word vectors.
    pub labels: Vec<String>,
    pub label_counts: Vec<u64>,
    pub params: SubwordParams,
    /// Word rows, then bucket rows (empty when `quant` holds the input matrix).
    pub input: Vec<f32>,
    /// Empty when `quant` holds a quantized output matrix.
    pub output: Vec<f32>,
    /// A pruned classifier's kept n-gram buckets (fastText's `pruneidx`: bucket → its row
    /// among the n-gram rows, which follow the word rows); `None` when every bucket has a
    /// row.
    pub pruneidx: Option<Vec<(u32, u32)>>,
    /// A quantized classifier's matrices (fastText's `.ftz`).
    pub quant: Option<Box<Quantized>>,
    /// Training arguments stored in the file (ws, epoch, minCount, neg, loss, model, t).
    pub args: TrainArgs,
}

/// The matrices of a quantized model: the input always, the output with `-qout`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    pub input: QuantMatrix,
    pub output: Option<QuantMatrix>,
}

/// The training arguments fastText stores beside the matrices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainArgs {
    pub ws: i32,
    pub epoch: i32,
    pub min_count: i32,
    pub neg: i32,
    /// fastText's loss: 1 hierarchical softmax, 2 negative sampling, 3 softmax, 4
    /// one-vs-all.
    pub loss: i32,
    /// fastText's model: 1 CBOW, 2 skip-gram, 3 supervised (a classifier).
    pub model: i32,
    pub t: f64,
    pub ntokens: i64,
    /// fastText's `wordNgrams` and `lrUpdateRate`, kept as read (written as 1 and 100 by
    /// this program's training, fastText's defaults for word vectors).
    pub word_ngrams: i32,
    pub lr_update_rate: i32,
}

impl FastTextModel {
    /// The vector of `word`: the mean of its own row (if in the vocabulary) and its
    /// n-gram rows, as fastText's `getWordVector`; `None` with neither.
    pub fn vector(&self, word: &str, id: Option<u32>) -> Option<Vec<f32>> {
        word_vector(
            &self.input,
            self.dim,
            self.words.len(),
            &self.params,
            id,
            word,
        )
    }

    /// Every vocabulary word's id.
    pub fn ids(&self) -> std::collections::HashMap<&str, u32> {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i as u32))
            .collect()
    }

    /// fastText's `print-ngrams` (`getNgramVectors`): the word's own row when it is in the
    /// vocabulary (`id`, listed under the word itself), then each of its n-grams with its
    /// bucket row, in fastText's order.
    pub fn ngram_vectors(&self, word: &str, id: Option<u32>) -> Vec<(String, Vec<f32>)> {
        let row = |r: usize| self.input[r * self.dim..(r + 1) * self.dim].to_vec();
        let own = id.map(|i| (word.to_string(), row(i as usize)));
        own.into_iter()
            .chain(
                self.params
                    .ngrams(word)
                    .into_iter()
                    .map(|(g, b)| (g, row(self.words.len() + b as usize))),
            )
            .collect()
    }

    /// Every vocabulary word's vector, row-major.
    pub fn word_vectors(&self) -> Vec<f32> {
        vocab_vectors(&self.input, self.dim, &self.words, &self.params)
    }

    /// fastText's `nn` and `analogies` over this model, computed as fastText computes them.
    pub fn neighbours(&self) -> Neighbours<'_> {
        let dim = self.dim;
        let mut unit = self.word_vectors();
        for row in unit.chunks_mut(dim.max(1)) {
            let norm = seq_norm(row);
            // fastText: wordVectors.addVectorToRow(vec, i, 1.0 / norm) into a zero row.
            if norm > 0.0 {
                let a = (1.0 / norm as f64) as f32;
                row.iter_mut().for_each(|x| *x *= a);
            } else {
                row.fill(0.0);
            }
        }
        let ids = self.ids();
        Neighbours {
            model: self,
            unit,
            ids,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        let io = |e: std::io::Error| Error::io(path, e);
        let w = f.writer();
        let i32s = |w: &mut dyn Write, v: &[i32]| -> std::io::Result<()> {
            for x in v {
                w.write_all(&x.to_le_bytes())?;
            }
            Ok(())
        };
        let a = &self.args;
        i32s(w, &[MAGIC, VERSION]).map_err(io)?;
        i32s(
            w,
            &[
                self.dim as i32,
                a.ws,
                a.epoch,
                a.min_count,
                a.neg,
                a.word_ngrams,
                a.loss,
                a.model,
                self.params.bucket as i32,
                self.params.minn as i32,
                self.params.maxn as i32,
                a.lr_update_rate,
            ],
        )
        .map_err(io)?;
        w.write_all(&a.t.to_le_bytes()).map_err(io)?;
        let (n, l) = (self.words.len() as i32, self.labels.len() as i32);
        i32s(w, &[n + l, n, l]).map_err(io)?;
        w.write_all(&a.ntokens.to_le_bytes()).map_err(io)?;
        let pruned = self.pruneidx.as_ref().map_or(-1, |p| p.len() as i64);
        w.write_all(&pruned.to_le_bytes()).map_err(io)?;
        let entries = (self.words.iter().zip(&self.counts).map(|e| (e, 0u8)))
            .chain(self.labels.iter().zip(&self.label_counts).map(|e| (e, 1u8)));
        for ((word, &c), kind) in entries {
            w.write_all(word.as_bytes()).map_err(io)?;
            w.write_all(&[0]).map_err(io)?;
            w.write_all(&(c as i64).to_le_bytes()).map_err(io)?;
            w.write_all(&[kind]).map_err(io)?;
        }
        for &(bucket, row) in self.pruneidx.iter().flatten() {
            i32s(w, &[bucket as i32, row as i32]).map_err(io)?;
        }
        let q = self.quant.as_deref();
        let quantized = [q.map(|q| &q.input), q.and_then(|q| q.output.as_ref())];
        for (m, quant) in [&self.input, &self.output].into_iter().zip(quantized) {
            if let Some(qm) = quant {
                w.write_all(&[1]).map_err(io)?;
                qm.write(w).map_err(io)?;
                continue;
            }
            let rows = m.len() / self.dim.max(1);
            w.write_all(&[0]).map_err(io)?; // not quantised
            w.write_all(&(rows as i64).to_le_bytes()).map_err(io)?;
            w.write_all(&(self.dim as i64).to_le_bytes()).map_err(io)?;
            w.write_all(bytemuck::cast_slice(m)).map_err(io)?;
        }
        f.commit()
    }

    /// Reads a `.bin` written by fastText (word vectors or a classifier, not quantised) or by
    /// [`write`].
    ///
    /// [`write`]: FastTextModel::write
    pub fn read(path: &Path) -> Result<FastTextModel> {
        let data = crate::files::read_model_bytes(path, "a fastText .bin model")?;
        FastTextModel::from_bytes(path, &data)
    }

    /// Parses the bytes of a `.bin` (see [`read`]); `path` names the file in errors.
    ///
    /// [`read`]: FastTextModel::read
    pub fn from_bytes(path: &Path, data: &[u8]) -> Result<FastTextModel> {
        Self::parse(path, data, false)
    }

    /// [`from_bytes`] that also reads fastText's quantized models (`.ftz`: a pruned
    /// dictionary, quantized matrices), which only a classifier's predictions use.
    ///
    /// [`from_bytes`]: FastTextModel::from_bytes
    pub fn from_bytes_quantized(path: &Path, data: &[u8]) -> Result<FastTextModel> {
        Self::parse(path, data, true)
    }

    fn parse(path: &Path, data: &[u8], quantized: bool) -> Result<FastTextModel> {
        let bad = |m: &str| Error::input(path, format!("not a usable fastText .bin model: {m}"));
        let mut r = Cursor {
            data,
            at: 0,
            bad: &bad,
        };
        if r.i32()? != MAGIC {
            return Err(bad(
                "wrong magic number (a word2vec file? use it as --vectors directly)",
            ));
        }
        let version = r.i32()?;
        if version != VERSION {
            return Err(bad(&format!(
                "version {version}; this reader knows {VERSION}"
            )));
        }
        let mut a = [0i32; 12];
        for x in a.iter_mut() {
            *x = r.i32()?;
        }
        let [dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn, lr_update_rate] =
            a;
        let t = f64::from_le_bytes(r.array()?);
        let size = r.i32()?;
        let nwords = r.i32()?;
        let nlabels = r.i32()?;
        let ntokens = r.i64()?;
        let pruneidx = r.i64()?;
        if dim <= 0 || bucket < 0 || minn < 0 || maxn < minn.min(maxn) || size < 0 {
            return Err(bad("impossible arguments in the header"));
        }
        if nwords < 0 || nlabels < 0 || nwords.checked_add(nlabels) != Some(size) {
            return Err(bad("the dictionary's word and label counts do not add up"));
        }
        if pruneidx >= 0 && !quantized {
            return Err(bad(
                "a pruned, quantized model (.ftz): only predict and test read those; use the .bin",
            ));
        }
        // Every entry takes at least 10 bytes (a NUL, its count, its type): no capacity the
        // file cannot fill, whatever the header says.
        let entries = (size as usize).min(data.len() / 10);
        let mut words = Vec::with_capacity(entries);
        let mut counts = Vec::with_capacity(entries);
        let (mut labels, mut label_counts) = (Vec::new(), Vec::new());
        for i in 0..size {
            let word = r.cstr()?;
            let count = r.i64()?.max(0) as u64;
            // fastText sorts its dictionary by type: every word (0), then every label (1).
            match (r.take(1)?[0], i < nwords) {
                (0, true) => {
                    words.push(word);
                    counts.push(count);
                }
                (1, false) => {
                    labels.push(word);
                    label_counts.push(count);
                }
                _ => return Err(bad("a dictionary entry of the wrong type or out of order")),
            }
        }
        let pruneidx = if pruneidx >= 0 {
            if pruneidx as u64 > (r.left() / 8) as u64 {
                return Err(bad("more pruned n-grams than the file holds"));
            }
            let mut p = Vec::with_capacity(pruneidx as usize);
            for _ in 0..pruneidx {
                let (b, row) = (r.i32()?, r.i32()?);
                if b < 0 || row < 0 || b >= bucket || row >= pruneidx as i32 {
                    return Err(bad("a pruned n-gram out of range"));
                }
                p.push((b as u32, row as u32));
            }
            Some(p)
        } else {
            None
        };
        let (quant_in, (mi, ni, input)) = r.matrix("input", quantized)?;
        let (quant_out, (mo, no, output)) = r.matrix("output", quantized)?;
        let quant = match (quant_in, quant_out) {
            (None, None) => None,
            (Some(input), output) => Some(Box::new(Quantized { input, output })),
            (None, Some(_)) => return Err(bad("a quantized output with a plain input matrix")),
        };
        let dim = dim as usize;
        let (nwords, nlabels) = (nwords as usize, nlabels as usize);
        let ngram_rows = pruneidx.as_ref().map_or(bucket as usize, Vec::len);
        // A classifier has an output row per label, word vectors one per word.
        let outputs_ok = if model == 3 {
            mo == nlabels && nlabels > 0
        } else {
            nlabels == 0 && mo >= nwords
        };
        if ni != dim || mi != nwords + ngram_rows || no != dim || !outputs_ok {
            return Err(bad("matrix shapes do not match the dictionary"));
        }
        if quant.is_some() && model != 3 {
            return Err(bad("a quantized model that is not a classifier"));
        }
        Ok(FastTextModel {
            dim,
            words,
            counts,
            labels,
            label_counts,
            params: SubwordParams {
                minn: minn as usize,
                maxn: maxn as usize,
                bucket: bucket as usize,
            },
            input,
            output,
            pruneidx,
            quant,
            args: TrainArgs {
                ws,
                epoch,
                min_count,
                neg,
                loss,
                model,
                t,
                ntokens,
                word_ngrams,
                lr_update_rate,
            },
        })
    }
}

/// A dense matrix as read: rows, columns, values (none for a quantized matrix).
type Dense = (usize, usize, Vec<f32>);

/// The `.bin`-only reads ([`Cursor`] is shared with the other model readers).
impl Cursor<'_> {
    /// A NUL-terminated word (bytes decoded as the vocabulary stores them).
    fn cstr(&mut self) -> Result<String> {
        let rest = self.data.get(self.at..).unwrap_or(&[]);
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| (self.bad)("a dictionary word without its NUL end"))?;
        let w = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.at += nul + 1;
        Ok(w)
    }

    /// A matrix: the quantisation flag, then a dense matrix (rows, columns (i64), the f32s)
    /// or, where `quantized` is allowed, a quantized one (its shape, no values).
    fn matrix(&mut self, what: &str, quantized: bool) -> Result<(Option<QuantMatrix>, Dense)> {
        match self.take(1)?[0] {
            0 => {}
            1 if quantized => {
                let q = QuantMatrix::read(self)?;
                let shape = (q.m, q.n, Vec::new());
                return Ok((Some(q), shape));
            }
            1 => {
                return Err((self.bad)(&format!(
                    "the {what} matrix is quantized (.ftz): only predict and test read those; use the .bin"
                )))
            }
            _ => return Err((self.bad)(&format!("the {what} matrix has a bad quantization flag"))),
        }
        let m = self.i64()?;
        let n = self.i64()?;
        let len = (m as u64)
            .checked_mul(n as u64)
            .filter(|&l| m >= 0 && n >= 0 && l <= (self.data.len() as u64) / 4)
            .ok_or_else(|| {
                (self.bad)(&format!("the {what} matrix's shape does not fit the file"))
            })? as usize;
        let v = self.f32s(len)?;
        Ok((None, (m as usize, n as usize, v)))
    }
}

/// Whether the file starts with fastText's magic number.
pub fn is_fasttext_bin(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && i32::from_le_bytes(head) == MAGIC
}

/// fastText's sentence vector of an unsupervised model (`FastText::getSentenceVector`,
/// `print-sentence-vectors`): every word vector with a nonzero norm divided by its norm (the
/// factor computed in double and rounded to float, as fastText's `mul(1.0 / norm)`), summed
/// in order, the sum multiplied by 1 / their count; zero when no word has a vector. Float
/// arithmetic step for step as fastText's, so the vectors print as fastText prints them.
pub fn sentence_vector<'v>(dim: usize, words: impl IntoIterator<Item = &'v [f32]>) -> Vec<f32> {
    let mut sum = vec![0.0f32; dim];
    let mut count = 0u32;
    for v in words {
        let norm = seq_norm(v);
        if norm > 0.0 {
            let a = (1.0 / norm as f64) as f32;
            sum.iter_mut().zip(v).for_each(|(s, x)| *s += x * a);
            count += 1;
        }
    }
    if count > 0 {
        let a = (1.0 / count as f64) as f32;
        sum.iter_mut().for_each(|s| *s *= a);
    }
    sum
}

/// fastText's nearest-neighbour queries (`FastText::getNN`, `getAnalogies`) with its float
/// arithmetic step for step, so that the scores print as fastText prints them: every
/// vocabulary vector divided by its norm, a query's scores its dot products with them (summed
/// in order) divided by the query's norm, the k best (score, word) pairs in descending order.
pub struct Neighbours<'m> {
    model: &'m FastTextModel,
    unit: Vec<f32>,
    ids: std::collections::HashMap<&'m str, u32>,
}

impl Neighbours<'_> {
    /// The vector of `word` as fastText's `getWordVector` gives it (zero without a row or an
    /// n-gram).
    fn word_vector(&self, word: &str) -> Vec<f32> {
        self.model
            .vector(word, self.ids.get(word).copied())
            .unwrap_or_else(|| vec![0.0; self.model.dim])
    }

    /// fastText's `nn`: the `k` nearest words to `word`, itself left out.
    pub fn nn(&self, word: &str, k: usize) -> Vec<(String, f32)> {
        self.nearest(&self.word_vector(word), k, &[word])
    }

    /// fastText's `analogies` (`getAnalogies`): the `k` words nearest `a - b + c`, each of
    /// the three vectors divided by its norm + 1e-8 (in double, the factor rounded to
    /// float) and added into a zero query in order; the three words left out.
    pub fn analogies(&self, a: &str, b: &str, c: &str, k: usize) -> Vec<(String, f32)> {
        let mut query = vec![0.0f32; self.model.dim];
        for (word, sign) in [(a, 1.0f64), (b, -1.0), (c, 1.0)] {
            let v = self.word_vector(word);
            let s = (sign / (seq_norm(&v) as f64 + 1e-8)) as f32;
            query.iter_mut().zip(&v).for_each(|(q, x)| *q += s * x);
        }
        self.nearest(&query, k, &[a, b, c])
    }

    fn nearest(&self, query: &[f32], k: usize, ban: &[&str]) -> Vec<(String, f32)> {
        let mut norm = seq_norm(query);
        if norm.abs() < 1e-8 {
            norm = 1.0;
        }
        let dim = self.model.dim.max(1);
        let mut scored: Vec<(f32, &str)> = self
            .unit
            .chunks(dim)
            .zip(&self.model.words)
            .filter(|(_, w)| !ban.contains(&w.as_str()))
            .map(|(row, w)| (seq_dot(row, query) / norm, w.as_str()))
            .collect();
        // Descending by (score, word), as fastText's heap of pairs leaves them.
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| y.1.cmp(x.1)));
        scored
            .into_iter()
            .take(k)
            .map(|(s, w)| (w.to_string(), s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FastTextModel {
        let params = SubwordParams {
            minn: 3,
            maxn: 5,
            bucket: 50,
        };
        let (v, dim) = (3usize, 4usize);
        FastTextModel {
            dim,
            words: vec!["the".into(), "café".into(), "zebra".into()],
            counts: vec![30, 20, 10],
            labels: Vec::new(),
            label_counts: Vec::new(),
            pruneidx: None,
            quant: None,
            params,
            input: (0..(v + 50) * dim)
                .map(|i| (i as f32 * 0.37).sin())
                .collect(),
            output: (0..v * dim).map(|i| i as f32).collect(),
            args: TrainArgs {
                ws: 5,
                epoch: 1,
                min_count: 5,
                neg: 5,
                loss: 2,
                model: 2,
                t: 1e-4,
                ntokens: 60,
                word_ngrams: 1,
                lr_update_rate: 100,
            },
        }
    }

    #[test]
    fn round_trip_and_vectors_of_unseen_words() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        let m = sample();
        m.write(&p).unwrap();
        assert!(is_fasttext_bin(&p));
        let back = FastTextModel::read(&p).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.word_vectors().len(), 3 * 4);
        assert!(m.vector("zebras", None).is_some());
        // Every truncation is an error, never a panic.
        let bytes = std::fs::read(&p).unwrap();
        for n in (0..bytes.len()).step_by(7) {
            std::fs::write(&p, &bytes[..n]).unwrap();
            assert!(FastTextModel::read(&p).is_err(), "truncated at {n}");
        }
    }
}
