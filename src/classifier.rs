//! Text classification as fastText's `supervised` mode: a document (one line, its labels the
//! tokens that start with `__label__`) is the mean of its words' input rows (with word
//! n-grams and character n-grams when asked), and a linear layer over the labels is trained
//! with fastText's losses — softmax (its default here), negative sampling, hierarchical
//! softmax over a Huffman tree of the labels, or one-vs-all — on Hogwild CPU threads.
//!
//! Everything a fastText user's pipeline depends on follows fastText's code: the tokens
//! (whitespace-separated, each newline a `</s>` word), the dictionary (sorted words, then
//! labels; `-minCount`, `-minCountLabel`), word n-gram hashing (`h = h·116049371 + h'`, over
//! sign-extended word hashes, modulo `-bucket`), character n-grams (`-minn -maxn`), the
//! update (the gradient divided by the number of input rows), the learning rate falling
//! linearly with the tokens processed, the sigmoid and log tables, the predictions (top
//! `k` over `threshold`, scores as log-probabilities) and the precision/recall counting of
//! `test`. The model is written in fastText's `.bin` format, so fastText's own `predict`
//! and `test` read it, and models fastText trained are read here.

use crate::classify_batch::{CellLoss, ClassifyStep};
use crate::config::BackendKind;
use crate::dist::sync::SharedMatrix;
use crate::error::{readable, Error, Result};
use crate::fasttext::{FastTextModel, TrainArgs};
use crate::quantize::QuantMatrix;
use crate::sampling::{splitmix64, AliasTable, Rng};
use crate::subword::{fasttext_hash, SubwordParams, EOS};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// fastText's model code of a classifier (`model_name::sup`).
pub const SUPERVISED: i32 = 3;

/// fastText's losses for a classifier, with fastText's codes in the `.bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Hierarchical softmax over a Huffman tree of the labels' counts.
    Hs,
    /// Negative sampling: the label against `neg` labels drawn ∝ count^0.5.
    Ns,
    /// Softmax over every label (fastText's default for `supervised`).
    Softmax,
    /// One independent binary classifier per label (multi-label data).
    Ova,
}

impl Loss {
    pub fn code(self) -> i32 {
        match self {
            Loss::Hs => 1,
            Loss::Ns => 2,
            Loss::Softmax => 3,
            Loss::Ova => 4,
        }
    }

    pub fn from_code(c: i32) -> Option<Loss> {
        [Loss::Hs, Loss::Ns, Loss::Softmax, Loss::Ova]
            .into_iter()
            .find(|l| l.code() == c)
    }

    /// fastText's name of the loss (as `dump args` prints it).
    pub fn name(self) -> &'static str {
        match self {
            Loss::Hs => "hs",
            Loss::Ns => "ns",
            Loss::Softmax => "softmax",
            Loss::Ova => "one-vs-all",
        }
    }

    /// fastText's `-loss` names (`ova` and `one-vs-all` are the same).
    pub fn parse(s: &str) -> Option<Loss> {
        match s {
            "hs" => Some(Loss::Hs),
            "ns" => Some(Loss::Ns),
            "softmax" => Some(Loss::Softmax),
            "ova" | "one-vs-all" => Some(Loss::Ova),
            _ => None,
        }
    }
}

/// A classifier's training settings, named and defaulted as fastText's `supervised`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupConfig {
    pub input: PathBuf,
    /// The prefix that makes a token a label (`-label`).
    pub label: String,
    pub dim: usize,
    pub lr: f32,
    /// Tokens between updates of the shared progress (and so of the rate).
    pub lr_update_rate: u64,
    /// Stored in the model as fastText does; a classifier has no context window.
    pub ws: usize,
    /// Passes over the text; 0 writes the model untrained, as fastText does.
    pub epoch: usize,
    pub min_count: u64,
    pub min_count_label: u64,
    pub neg: usize,
    pub word_ngrams: usize,
    pub loss: Loss,
    /// Rows for word and character n-grams (fastText's rule: none when there are neither).
    pub bucket: usize,
    pub minn: usize,
    pub maxn: usize,
    pub threads: usize,
    /// Stored in the model as fastText does; a classifier keeps every token.
    pub t: f64,
    pub seed: u64,
    /// Word vectors (word2vec text or binary) that the input rows of their words start from.
    pub pretrained: Option<PathBuf>,
    /// Training stops at this moment with [`Error::Interrupted`] (autotune's time budget).
    pub deadline: Option<Instant>,
    /// Where training runs: the CPU threads or a GPU adapter, and the GPU steps' shape.
    pub device: SupDevice,
}

/// Where a classifier trains (`-backend`, `-adapter`) and how the GPU engine cuts the text
/// into steps (`-gpuLines`, `-gpuLabelBlock`, `-gpuRowCap`): `supervised`'s flags, and
/// `quantize -retrain`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct SupDevice {
    /// The Hogwild CPU threads, or a GPU adapter (`auto` keeps the CPU until the kernels
    /// are measured on hardware).
    pub backend: crate::config::BackendKind,
    /// The GPU adapter's index among those of `backend` (`-adapter`).
    pub adapter: Option<usize>,
    /// Lines per GPU step (`-gpuLines`): each line of a step reads the input matrix as it
    /// was before the step, as that many Hogwild threads would. None: [`auto_gpu_lines`].
    pub gpu_lines: Option<usize>,
    /// Lines whose output-layer updates the GPU computes together (`-gpuLabelBlock`; 1:
    /// line after line, fastText's order).
    pub gpu_label_block: u32,
    /// The most lines' worth of update an input row takes per GPU step (`-gpuRowCap`; 0, the
    /// default: none): a row in m > cap lines of a step gets their summed gradient times
    /// cap / m (steadies steps of many lines at a high rate, slows learning at a low one).
    pub gpu_row_cap: u32,
}

impl Default for SupDevice {
    fn default() -> Self {
        SupDevice {
            backend: crate::config::BackendKind::Cpu,
            adapter: None,
            gpu_lines: None,
            gpu_label_block: DEFAULT_GPU_LABEL_BLOCK,
            gpu_row_cap: 0,
        }
    }
}

impl SupDevice {
    /// The flags that set these fields, as `supervised` and `quantize` take them.
    pub const FLAGS: [&'static str; 5] = [
        "-backend",
        "-adapter",
        "-gpuLines",
        "-gpuLabelBlock",
        "-gpuRowCap",
    ];

    /// Sets the field of `flag` (one of [`SupDevice::FLAGS`]) from `text`.
    pub fn set(&mut self, flag: &str, text: &str) -> Result<()> {
        use crate::config::BackendKind as B;
        let bad = || Error::usage(flag, format!("{text:?} is not a valid value"));
        let size = || text.parse::<usize>().map_err(|_| bad());
        match flag {
            "-backend" => {
                let kinds = [B::Cpu, B::Vulkan, B::Metal, B::Dx12, B::Gl, B::Auto];
                self.backend = kinds
                    .into_iter()
                    .find(|k| k.name() == text)
                    .ok_or_else(|| {
                        Error::usage(
                            flag,
                            format!("{text:?}: one of cpu, vulkan, metal, dx12, gl, auto"),
                        )
                    })?
            }
            "-adapter" => self.adapter = Some(size()?),
            "-gpuLines" => self.gpu_lines = Some(size()?),
            "-gpuLabelBlock" => self.gpu_label_block = text.parse().map_err(|_| bad())?,
            "-gpuRowCap" => self.gpu_row_cap = text.parse().map_err(|_| bad())?,
            _ => return Err(Error::usage(flag, "is not a device flag")),
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |flag: &str, m: &str| Err(Error::usage(flag, m.to_string()));
        if self.gpu_lines == Some(0) {
            return bad("-gpuLines", "must be at least 1");
        }
        if self.gpu_label_block == 0 {
            return bad("-gpuLabelBlock", "must be at least 1 (1: line after line)");
        }
        if let Some(why) = self.backend.unavailable_here() {
            return bad("-backend", &why);
        }
        Ok(())
    }
}

impl Default for SupConfig {
    fn default() -> Self {
        SupConfig {
            input: PathBuf::new(),
            label: "__label__".into(),
            dim: 100,
            lr: 0.1,
            lr_update_rate: 100,
            ws: 5,
            epoch: 5,
            min_count: 1,
            min_count_label: 0,
            neg: 5,
            word_ngrams: 1,
            loss: Loss::Softmax,
            bucket: 2_000_000,
            minn: 0,
            maxn: 0,
            threads: 12,
            t: 1e-4,
            seed: 0,
            pretrained: None,
            deadline: None,
            device: SupDevice::default(),
        }
    }
}

/// The most lines per GPU step unless `-gpuLines` says otherwise: each line of a step reads
/// the input rows as they were before it, and the one stale sum of a frequent word's
/// gradients over a step made one-vs-all diverge in steps of 167 lines at `-lr 0.5`
/// (128 and 64 trained; BENCHMARKS.md "The classifier on the GPU").
pub const DEFAULT_GPU_LINES: usize = 64;

/// Lines whose output-layer updates the GPU computes together unless `-gpuLabelBlock` says
/// otherwise: 16 lines make 16× fewer rounds of the one workgroup that runs the output
/// layer, and scored as line after line did (BENCHMARKS.md "The classifier on the GPU").
pub const DEFAULT_GPU_LABEL_BLOCK: u32 = 16;

/// Lines per GPU step for a text of `lines` lines at rate `lr` without `-gpuLines`: 64, at
/// most 32 / lr (the stale sum grows with lines × rate: one-vs-all diverged at 64 lines at
/// `-lr 1.0` and at 167 at 0.5, trained at 32 and 128), and few enough that an epoch takes
/// at least 100 steps (AG News' 6,000 lines scored 1.7 points lower P@1 in steps of 256
/// than of 64); BENCHMARKS.md "The classifier on the GPU".
pub fn auto_gpu_lines(lines: usize, lr: f32) -> usize {
    let by_rate = (32.0 / lr.max(1e-6) as f64)
        .floor()
        .min(DEFAULT_GPU_LINES as f64) as usize;
    (lines / 100).min(by_rate).clamp(1, DEFAULT_GPU_LINES)
}

impl SupConfig {
    /// The bucket rows the model has: fastText's `Args::parseArgs` drops them when there are
    /// no word n-grams and no character n-grams.
    pub fn buckets(&self) -> usize {
        if self.word_ngrams <= 1 && self.maxn == 0 {
            0
        } else {
            self.bucket
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |flag: &str, m: &str| Err(Error::usage(flag, m.to_string()));
        if self.dim == 0 {
            return bad("-dim", "must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(
                "-lr",
                "must be a positive number (fastText's default is 0.1)",
            );
        }
        if self.threads == 0 {
            return bad("-thread", "must be at least 1");
        }
        self.device.validate()?;
        if self.lr_update_rate == 0 {
            return bad("-lrUpdateRate", "must be at least 1");
        }
        if self.word_ngrams == 0 {
            return bad("-wordNgrams", "must be at least 1 (1: words alone)");
        }
        if self.label.is_empty() {
            return bad("-label", "the label prefix cannot be empty");
        }
        if self.maxn > 0 && self.minn > self.maxn {
            return bad("-minn", "is larger than -maxn; give -minn ≤ -maxn");
        }
        if self.maxn > 0 && self.minn == 0 {
            return bad("-minn", "must be at least 1 when -maxn is set");
        }
        if self.loss == Loss::Ns && self.neg == 0 {
            return bad("-neg", "must be at least 1 with -loss ns");
        }
        if self.bucket == 0 && (self.word_ngrams > 1 || self.maxn > 0) {
            return bad(
                "-bucket",
                "is 0, but -wordNgrams > 1 or -maxn > 0 need bucket rows (fastText's default is 2000000)",
            );
        }
        if self.bucket > i32::MAX as usize {
            return bad(
                "-bucket",
                "must fit fastText's 32-bit ids (at most 2147483647)",
            );
        }
        Ok(())
    }
}

/// fastText's sigmoid and log tables (`Loss::sigmoid`, `Loss::log`: 512 steps over
/// [-8, 8] and [0, 1]), which its training and its ns/ova predictions use.
struct Tables {
    sigmoid: Vec<f32>,
    log: Vec<f32>,
}

impl Tables {
    fn new() -> Tables {
        let sigmoid = (0..=512)
            .map(|i| {
                let x = (i * 16) as f32 / 512.0 - 8.0;
                (1.0 / (1.0 + (-x).exp() as f64)) as f32
            })
            .collect();
        let log = (0..=512)
            .map(|i| (((i as f64 + 1e-5) / 512.0) as f32).ln())
            .collect();
        Tables { sigmoid, log }
    }

    #[inline]
    fn sigmoid(&self, x: f32) -> f32 {
        if x < -8.0 {
            0.0
        } else if x > 8.0 {
            1.0
        } else {
            self.sigmoid[((x + 8.0) * 512.0 / 8.0 / 2.0) as usize]
        }
    }

    #[inline]
    fn log(&self, x: f32) -> f32 {
        if x > 1.0 {
            0.0
        } else {
            self.log[((x * 512.0) as usize).min(512)]
        }
    }
}

/// fastText's `std_log`: the log of a probability as predictions score it. `x + 1e-5`
/// adds a `double` in C++, so the sum and its log are taken in double precision and the
/// result rounded to a float.
#[inline]
fn std_log(x: f32) -> f32 {
    (f64::from(x) + 1e-5).ln() as f32
}

/// fastText's Huffman tree over the labels (`HierarchicalSoftmaxLoss::buildTree`): leaves
/// are labels in dictionary order (counts falling), inner node `i` has output row `i − L`.
struct Tree {
    left: Vec<i32>,
    right: Vec<i32>,
    paths: Vec<Vec<u32>>,
    codes: Vec<Vec<bool>>,
}

impl Tree {
    fn new(counts: &[u64]) -> Tree {
        let osz = counts.len();
        let n = 2 * osz - 1;
        let mut count: Vec<i64> = vec![1_000_000_000_000_000; n];
        let (mut parent, mut left, mut right) = (vec![-1i32; n], vec![-1i32; n], vec![-1i32; n]);
        let mut binary = vec![false; n];
        // Below fastText's 1e15 for nodes not built yet, so that a damaged model's counts
        // cannot make a node its own parent.
        for (c, &k) in count.iter_mut().zip(counts) {
            *c = k.min(999_999_999_999_999) as i64;
        }
        let (mut leaf, mut node) = (osz as i64 - 1, osz);
        for i in osz..n {
            let mut mini = [0usize; 2];
            for m in &mut mini {
                if leaf >= 0 && count[leaf as usize] < count[node] {
                    *m = leaf as usize;
                    leaf -= 1;
                } else {
                    *m = node;
                    node += 1;
                }
            }
            left[i] = mini[0] as i32;
            right[i] = mini[1] as i32;
            count[i] = count[mini[0]] + count[mini[1]];
            parent[mini[0]] = i as i32;
            parent[mini[1]] = i as i32;
            binary[mini[1]] = true;
        }
        let (mut paths, mut codes) = (Vec::with_capacity(osz), Vec::with_capacity(osz));
        for i in 0..osz {
            let (mut path, mut code) = (Vec::new(), Vec::new());
            let mut j = i;
            while parent[j] != -1 {
                path.push(parent[j] as u32 - osz as u32);
                code.push(binary[j]);
                j = parent[j] as usize;
            }
            paths.push(path);
            codes.push(code);
        }
        Tree {
            left,
            right,
            paths,
            codes,
        }
    }
}

/// A trained (or loaded) classifier: the fastText model and what reading text needs.
pub struct Classifier {
    pub model: FastTextModel,
    /// Words `0..nwords`, labels after them (fastText's dictionary ids).
    ids: HashMap<String, u32>,
    /// Each word's input rows (its own, then its character n-grams') when `maxn > 0`:
    /// offsets (`words + 1`) and rows.
    subwords: Option<(Vec<usize>, Vec<u32>)>,
    /// A pruned model's kept buckets (fastText's `pruneidx`): bucket → n-gram row.
    prune: Option<HashMap<u32, u32>>,
    /// The prefix of labels not in the dictionary (fastText's default: its `.bin` does not
    /// store `-label`).
    label_prefix: String,
    loss: Loss,
    tree: Option<Tree>,
    tables: Tables,
}

/// The tokens of one line as fastText's `readWord` splits them (space, tab, CR, VT, FF and
/// NUL separate; the newline is handled by the caller).
fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c | 0))
        .filter(|t| !t.is_empty())
}

/// The lines of a text as fastText reads them: each with whether a newline ended it (and
/// so a `</s>` token closes it).
pub fn lines(text: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                Some((line, true))
            }
            None => {
                let line = rest;
                rest = &[];
                Some((line, false))
            }
        }
    })
}

/// A line's tokens, `</s>` last when a newline ended it.
fn line_tokens(line: &[u8], eos: bool) -> impl Iterator<Item = &[u8]> {
    tokens(line).chain(eos.then_some(EOS.as_bytes()))
}

/// What a line holds for the model: its input rows (words, then word n-grams) and labels.
#[derive(Debug, Default, Clone)]
pub struct Features {
    pub rows: Vec<u32>,
    pub labels: Vec<u32>,
    hashes: Vec<i32>,
    grams: Vec<u32>,
}

impl Classifier {
    /// The classifier of a fastText `.bin` model (written here or by fastText).
    pub fn from_model(model: FastTextModel, path: &Path) -> Result<Classifier> {
        if model.args.model != SUPERVISED || model.labels.is_empty() {
            return Err(Error::input(
                path,
                "is a word vectors model, not a classifier; train one with `w2v-gpu supervised -input FILE -output MODEL`",
            ));
        }
        let loss = Loss::from_code(model.args.loss).ok_or_else(|| {
            Error::input(
                path,
                format!("has an unknown loss code {}", model.args.loss),
            )
        })?;
        let mut ids = HashMap::with_capacity(model.words.len() + model.labels.len());
        for (i, w) in model.words.iter().chain(&model.labels).enumerate() {
            ids.entry(w.clone()).or_insert(i as u32);
        }
        let prune: Option<HashMap<u32, u32>> =
            model.pruneidx.as_ref().map(|p| p.iter().copied().collect());
        let nwords = model.words.len() as u32;
        // fastText's `initNgrams`: a word's own row, then its n-grams' kept rows.
        let subwords = (model.params.maxn > 0 && model.params.bucket > 0).then(|| {
            let (mut offsets, mut rows, mut grams) = (vec![0], Vec::new(), Vec::new());
            for (i, w) in model.words.iter().enumerate() {
                rows.push(i as u32);
                grams.clear();
                model.params.ngram_buckets(w, &mut grams);
                rows.extend(
                    grams
                        .iter()
                        .filter_map(|&b| bucket_row(prune.as_ref(), nwords, b)),
                );
                offsets.push(rows.len());
            }
            (offsets, rows)
        });
        let tree = (loss == Loss::Hs).then(|| Tree::new(&model.label_counts));
        Ok(Classifier {
            ids,
            subwords,
            prune,
            label_prefix: "__label__".into(),
            loss,
            tree,
            tables: Tables::new(),
            model,
        })
    }

    /// Reads a classifier's `.bin`.
    pub fn read(path: &Path) -> Result<Classifier> {
        if path.is_file() && !crate::fasttext::is_fasttext_bin(path) {
            return Err(Error::input(
                path,
                "is not a fastText .bin model; predict and test need a classifier's .bin (or .ftz), as `w2v-gpu supervised` (or fastText's) writes it",
            ));
        }
        let data = crate::files::read_model_bytes(path, "a fastText .bin or .ftz model")?;
        Classifier::from_model(FastTextModel::from_bytes_quantized(path, &data)?, path)
    }

    /// Whether every weight of both matrices is a number (a diverged run's are not).
    fn is_finite(&self) -> bool {
        self.model
            .input
            .iter()
            .chain(&self.model.output)
            .all(|x| x.is_finite())
    }

    pub fn labels(&self) -> &[String] {
        &self.model.labels
    }

    /// fastText's `Dictionary::getLine` for one line: each word's rows (its own and its
    /// character n-grams'; an unknown word's n-grams alone), each known label, then the
    /// word n-grams over all words (known or not). Returns the tokens read.
    pub fn features(&self, line: &[u8], eos: bool, f: &mut Features) -> u64 {
        f.rows.clear();
        f.labels.clear();
        f.hashes.clear();
        let nwords = self.model.words.len() as u32;
        let mut n = 0;
        for tok in line_tokens(line, eos) {
            n += 1;
            let word = String::from_utf8_lossy(tok);
            let id = self.ids.get(&*word).copied();
            let is_label = match id {
                Some(i) => i >= nwords,
                None => word.starts_with(&self.label_prefix),
            };
            if is_label {
                if let Some(i) = id {
                    f.labels.push(i - nwords);
                }
                continue;
            }
            match (id, &self.subwords) {
                (Some(w), Some((offsets, rows))) => {
                    let w = w as usize;
                    f.rows.extend_from_slice(&rows[offsets[w]..offsets[w + 1]]);
                }
                (Some(w), None) => f.rows.push(w),
                (None, Some(_)) if tok != EOS.as_bytes() => {
                    f.grams.clear();
                    self.model.params.ngram_buckets(&word, &mut f.grams);
                    for &b in &f.grams {
                        f.rows.extend(self.bucket_row(b));
                    }
                }
                (None, _) => {}
            }
            f.hashes.push(fasttext_hash(tok) as i32);
        }
        let ngrams = self.model.args.word_ngrams.max(1) as usize;
        let bucket = self.model.params.bucket as u64;
        if ngrams > 1 && bucket > 0 {
            for i in 0..f.hashes.len() {
                // fastText widens each int32 hash to uint64 by sign extension.
                let mut h = f.hashes[i] as i64 as u64;
                for j in i + 1..f.hashes.len().min(i + ngrams) {
                    h = h
                        .wrapping_mul(116_049_371)
                        .wrapping_add(f.hashes[j] as i64 as u64);
                    f.rows.extend(self.bucket_row((h % bucket) as u32));
                }
            }
        }
        n
    }

    /// The input row of n-gram bucket `b` (fastText's `pushHash`): none when a pruned
    /// model dropped it.
    fn bucket_row(&self, b: u32) -> Option<u32> {
        bucket_row(self.prune.as_ref(), self.model.words.len() as u32, b)
    }

    /// The dot product of `hidden` with output row `i` (quantized in a `-qout` model).
    fn output_dot(&self, i: usize, hidden: &[f32]) -> f32 {
        match self.model.quant.as_ref().and_then(|q| q.output.as_ref()) {
            Some(q) => q.dot_row(hidden, i),
            None => {
                let dim = self.model.dim;
                crate::linalg::seq_dot(&self.model.output[i * dim..(i + 1) * dim], hidden)
            }
        }
    }

    /// The mean of the input rows (fastText's `computeHidden`).
    fn hidden(&self, rows: &[u32], hidden: &mut [f32]) {
        let dim = self.model.dim;
        hidden.fill(0.0);
        for &r in rows {
            match &self.model.quant {
                Some(q) => q.input.add_row(hidden, r as usize),
                None => {
                    let row = &self.model.input[r as usize * dim..(r as usize + 1) * dim];
                    hidden.iter_mut().zip(row).for_each(|(h, x)| *h += x);
                }
            }
        }
        let inv = 1.0 / rows.len() as f32;
        hidden.iter_mut().for_each(|h| *h *= inv);
    }

    /// fastText's `predict`: the `k` best labels (all with `k = None`) whose probability
    /// is at least `threshold`, best first, as (log-probability, label index). No rows, no
    /// predictions.
    pub fn predict(&self, rows: &[u32], k: Option<usize>, threshold: f32) -> Vec<(f32, u32)> {
        if rows.is_empty() {
            return Vec::new();
        }
        let dim = self.model.dim;
        let nl = self.model.labels.len();
        let k = k.unwrap_or(nl);
        let mut hidden = vec![0.0f32; dim];
        self.hidden(rows, &mut hidden);
        let mut heap: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
        match self.loss {
            Loss::Hs => {
                let tree = self.tree.as_ref().expect("an hs classifier has its tree");
                self.dfs(tree, k, threshold, 2 * nl - 2, 0.0, &hidden, &mut heap);
            }
            Loss::Softmax | Loss::Ns | Loss::Ova => {
                let mut out: Vec<f32> = (0..nl).map(|i| self.output_dot(i, &hidden)).collect();
                if self.loss == Loss::Softmax {
                    softmax(&mut out);
                } else {
                    out.iter_mut().for_each(|o| *o = self.tables.sigmoid(*o));
                }
                // fastText's `findKBest`.
                for (i, &p) in out.iter().enumerate() {
                    if p < threshold || (heap.len() == k && std_log(p) < heap[0].0) {
                        continue;
                    }
                    heap_push(&mut heap, (std_log(p), i as u32), k);
                }
            }
        }
        heap::sort(&mut heap);
        heap
    }

    /// fastText's `HierarchicalSoftmaxLoss::dfs`: every leaf whose path probability passes
    /// the threshold (and could still be among the `k` best).
    #[allow(clippy::too_many_arguments)]
    fn dfs(
        &self,
        tree: &Tree,
        k: usize,
        threshold: f32,
        node: usize,
        score: f32,
        hidden: &[f32],
        best: &mut Vec<(f32, u32)>,
    ) {
        if score < std_log(threshold) {
            return;
        }
        let nl = self.model.labels.len();
        if best.len() == k && score < best[0].0 {
            return;
        }
        if tree.left[node] == -1 && tree.right[node] == -1 {
            heap_push(best, (score, node as u32), k);
            return;
        }
        let f = self.output_dot(node - nl, hidden);
        // fastText's `1. / (1 + std::exp(-f))`: a float sum, a double quotient.
        let f = (1.0 / f64::from(1.0 + (-f).exp())) as f32;
        let (l, rt) = (tree.left[node] as usize, tree.right[node] as usize);
        self.dfs(
            tree,
            k,
            threshold,
            l,
            score + std_log(1.0 - f),
            hidden,
            best,
        );
        self.dfs(tree, k, threshold, rt, score + std_log(f), hidden, best);
    }

    /// Every word's vector as fastText's `.vec` of a classifier holds it (`getWordVector`:
    /// the mean of the word's own and its n-grams' rows), from plain or quantized rows.
    pub fn word_vectors(&self) -> Vec<f32> {
        let dim = self.model.dim;
        let mut out = vec![0.0; self.model.words.len() * dim];
        for (i, v) in out.chunks_mut(dim).enumerate() {
            match &self.subwords {
                Some((offsets, rows)) => self.hidden(&rows[offsets[i]..offsets[i + 1]], v),
                None => self.hidden(&[i as u32], v),
            }
        }
        out
    }

    /// fastText's sentence vector of a classifier's line (`getSentenceVector` for a
    /// supervised model): the mean of its input rows, zero without any.
    pub fn sentence_vector(&self, rows: &[u32]) -> Vec<f32> {
        let mut v = vec![0.0; self.model.dim];
        if !rows.is_empty() {
            self.hidden(rows, &mut v);
        }
        v
    }
}

/// Adds a prediction to fastText's heap of the `k` best (worst first), dropping the worst
/// when there are more, as `findKBest` and `dfs` do.
fn heap_push(h: &mut Vec<(f32, u32)>, p: (f32, u32), k: usize) {
    h.push(p);
    heap::push(h);
    if h.len() > k {
        heap::pop(h);
        h.pop();
    }
}

/// libstdc++'s `push_heap`, `pop_heap` and `sort_heap` under fastText's `comparePairs`
/// (a greater score is "less"), step for step: which of two equal scores fastText keeps
/// and prints first is decided by these algorithms, and the table sigmoid of the ns and
/// one-vs-all losses makes equal scores common.
mod heap {
    type P = (f32, u32);

    fn less(a: &P, b: &P) -> bool {
        a.0 > b.0
    }

    /// `std::__push_heap`: moves `v` up from `hole` towards `top`.
    fn up(h: &mut [P], mut hole: usize, top: usize, v: P) {
        while hole > top {
            let parent = (hole - 1) / 2;
            if !less(&h[parent], &v) {
                break;
            }
            h[hole] = h[parent];
            hole = parent;
        }
        h[hole] = v;
    }

    /// `std::__adjust_heap` over `h` (its whole length).
    fn adjust(h: &mut [P], mut hole: usize, v: P) {
        let len = h.len();
        let top = hole;
        let mut second = hole;
        while second < (len - 1) / 2 {
            second = 2 * (second + 1);
            if less(&h[second], &h[second - 1]) {
                second -= 1;
            }
            h[hole] = h[second];
            hole = second;
        }
        if len & 1 == 0 && second == (len - 2) / 2 {
            second = 2 * (second + 1);
            h[hole] = h[second - 1];
            hole = second - 1;
        }
        up(h, hole, top, v);
    }

    /// `std::push_heap`: the last element joins the heap.
    pub fn push(h: &mut [P]) {
        let n = h.len();
        up(h, n - 1, 0, h[n - 1]);
    }

    /// `std::pop_heap`: the heap's front moves to the end.
    pub fn pop(h: &mut [P]) {
        let n = h.len();
        if n > 1 {
            let v = h[n - 1];
            h[n - 1] = h[0];
            adjust(&mut h[..n - 1], 0, v);
        }
    }

    /// `std::sort_heap`: best first.
    pub fn sort(h: &mut [P]) {
        for n in (2..=h.len()).rev() {
            pop(&mut h[..n]);
        }
    }
}

/// The input row of n-gram bucket `b` after `nwords` word rows: the bucket's own, or in a
/// pruned model its kept row, if any.
fn bucket_row(prune: Option<&HashMap<u32, u32>>, nwords: u32, b: u32) -> Option<u32> {
    match prune {
        None => Some(nwords + b),
        Some(p) => p.get(&b).map(|r| nwords + r),
    }
}

/// fastText's `SoftmaxLoss::computeOutput`, in place.
fn softmax(out: &mut [f32]) {
    let max = out.iter().copied().fold(out[0], f32::max);
    let mut z = 0.0f32;
    for o in out.iter_mut() {
        // C++'s unqualified `exp` there is C's double `exp`.
        *o = f64::from(*o - max).exp() as f32;
        z += *o;
    }
    out.iter_mut().for_each(|o| *o /= z);
}

/// fastText's `Meter`: precision and recall of the predictions, over all labels and per
/// label, and (for autotune's `precisionAtRecall` and `recallAtPrecision` metrics) every
/// prediction's probability with whether it was right.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    pub examples: u64,
    gold: u64,
    predicted: u64,
    predicted_gold: u64,
    /// Per label: gold, predicted, predicted and gold.
    per_label: Vec<[u64; 3]>,
    /// Per label: (probability, whether the label was gold) of each prediction
    /// (fastText's `scoreVsTrue`; its `Meter(true)` also logs a gold label not predicted
    /// with a score of -1, which ends every walk below before it is reached, so no curve
    /// or metric depends on them and they are not kept here).
    score_vs_true: Vec<Vec<(f32, bool)>>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

impl Meter {
    pub fn new(labels: usize) -> Meter {
        Meter {
            per_label: vec![[0; 3]; labels],
            score_vs_true: vec![Vec::new(); labels],
            ..Meter::default()
        }
    }

    /// `predictions`: (log probability, label), as `Classifier::predict` gives them.
    pub fn log(&mut self, labels: &[u32], predictions: &[(f32, u32)]) {
        self.examples += 1;
        self.gold += labels.len() as u64;
        self.predicted += predictions.len() as u64;
        for &(logp, p) in predictions {
            let score = logp.exp().min(1.0);
            self.per_label[p as usize][1] += 1;
            let gold = labels.contains(&p);
            if gold {
                self.per_label[p as usize][2] += 1;
                self.predicted_gold += 1;
            }
            self.score_vs_true[p as usize].push((score, gold));
        }
        for &l in labels {
            self.per_label[l as usize][0] += 1;
        }
    }

    /// Correct predictions over predictions (NaN without any).
    pub fn precision(&self) -> f64 {
        ratio(self.predicted_gold, self.predicted)
    }

    /// Correct predictions over gold labels (NaN without any).
    pub fn recall(&self) -> f64 {
        ratio(self.predicted_gold, self.gold)
    }

    pub fn label_precision(&self, l: usize) -> f64 {
        let [_, p, pg] = self.per_label[l];
        ratio(pg, p)
    }

    pub fn label_recall(&self, l: usize) -> f64 {
        let [g, _, pg] = self.per_label[l];
        ratio(pg, g)
    }

    pub fn label_f1(&self, l: usize) -> f64 {
        let [g, p, pg] = self.per_label[l];
        ratio(2 * pg, p + g)
    }

    /// fastText's `getPositiveCounts`: walking the predictions of one label (`None`: all)
    /// from the most probable down, the (true, false) positives counted so far, one entry
    /// per distinct probability.
    fn positive_counts(&self, label: Option<usize>) -> Vec<(u64, u64)> {
        let mut v: Vec<(f32, bool)> = match label {
            None => self.score_vs_true.concat(),
            Some(l) => self.score_vs_true[l].clone(),
        };
        // C++'s `sort` of (score, gold) pairs, gold 0 before 1 (a total order, so a
        // diverged model's NaN cannot upset it).
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut counts: Vec<(u64, u64)> = Vec::new();
        let mut last = None;
        for &(score, gold) in v.iter().rev() {
            if gold {
                tp += 1;
            } else {
                fp += 1;
            }
            match counts.last_mut() {
                Some(c) if last == Some(score) => *c = (tp, fp),
                _ => counts.push((tp, fp)),
            }
            last = Some(score);
        }
        counts
    }

    /// fastText's `precisionRecallCurve`: (precision, recall) at each probability
    /// threshold, from the most probable prediction until every gold label is found, then
    /// (1, 0).
    pub fn precision_recall_curve(&self, label: Option<usize>) -> Vec<(f64, f64)> {
        let counts = self.positive_counts(label);
        if counts.is_empty() {
            return Vec::new();
        }
        let golds = match label {
            None => self.gold,
            Some(l) => self.per_label[l][0],
        };
        // `lower_bound` on the true positives, then one past it.
        let full = counts.partition_point(|c| c.0 < golds);
        let end = (full + 1).min(counts.len());
        let mut curve: Vec<(f64, f64)> = counts[..end]
            .iter()
            .map(|&(tp, fp)| {
                let precision = if tp + fp != 0 {
                    tp as f64 / (tp + fp) as f64
                } else {
                    0.0
                };
                (precision, ratio(tp, golds))
            })
            .collect();
        curve.push((1.0, 0.0));
        curve
    }

    /// fastText's `precisionAtRecall`: the best precision at a recall of at least `recall`
    /// (a fraction), over one label or all.
    pub fn precision_at_recall(&self, label: Option<usize>, recall: f64) -> f64 {
        self.precision_recall_curve(label)
            .iter()
            .filter(|&&(_, r)| r >= recall)
            .fold(0.0, |best, &(p, _)| f64::max(best, p))
    }

    /// fastText's `recallAtPrecision`: the best recall at a precision of at least
    /// `precision` (a fraction), over one label or all.
    pub fn recall_at_precision(&self, label: Option<usize>, precision: f64) -> f64 {
        self.precision_recall_curve(label)
            .iter()
            .filter(|&&(p, _)| p >= precision)
            .fold(0.0, |best, &(_, r)| f64::max(best, r))
    }
}

/// Runs `test` over a text: every line with a known label and an input row is predicted
/// and counted, as fastText's `test` does.
pub fn test(c: &Classifier, text: &[u8], k: Option<usize>, threshold: f32) -> Meter {
    let mut meter = Meter::new(c.labels().len());
    let mut f = Features::default();
    for (line, eos) in lines(text) {
        c.features(line, eos, &mut f);
        if !f.labels.is_empty() && !f.rows.is_empty() {
            let p = c.predict(&f.rows, k, threshold);
            meter.log(&f.labels, &p);
        }
    }
    meter
}

/// What a training run did.
#[derive(Debug, Clone)]
pub struct SupReport {
    pub words: usize,
    pub labels: usize,
    pub lines: usize,
    /// Tokens in the input (fastText's `ntokens`: words, labels and `</s>`).
    pub tokens: u64,
    pub seconds: f64,
    /// Tokens processed per second per thread (fastText's `words/sec/thread`); on a GPU,
    /// per second.
    pub words_per_second_per_thread: f64,
    /// Where it trained: `N threads`, or the GPU adapter and its step.
    pub engine: String,
    pub on_gpu: bool,
    pub avg_loss: f64,
}

impl SupReport {
    /// The report of a run of `c` over `lines` lines of `tokens` tokens on `engine` that
    /// took `seconds` at `rate` tokens/s (per thread on the CPU) and summed `loss` over
    /// `examples` lines.
    fn of(
        c: &Classifier,
        (lines, tokens): (usize, u64),
        (engine, on_gpu): (String, bool),
        (seconds, rate): (f64, f64),
        (loss, examples): (f64, u64),
    ) -> SupReport {
        SupReport {
            engine,
            on_gpu,
            words: c.model.words.len(),
            labels: c.model.labels.len(),
            lines,
            tokens,
            seconds,
            words_per_second_per_thread: rate,
            avg_loss: if examples > 0 {
                loss / examples as f64
            } else {
                0.0
            },
        }
    }
}

/// A dictionary entry: the token, its count, whether it is a label.
type Entry = (String, u64, bool);

/// The dictionary of a training text: its entries in fastText's order (words by falling
/// count, then labels) after `-minCount` and `-minCountLabel`, and the tokens read.
fn dictionary(
    cfg: &SupConfig,
    text: &[u8],
    pretrained: Option<&crate::io::Embeddings>,
) -> (Vec<Entry>, u64) {
    let mut index: HashMap<Cow<str>, usize> = HashMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut ntokens = 0u64;
    let mut add = |w: Cow<'_, str>, entries: &mut Vec<Entry>| {
        ntokens += 1;
        match index.get(&*w) {
            Some(&i) => entries[i].1 += 1,
            None => {
                let label = w.starts_with(&cfg.label);
                entries.push((w.to_string(), 1, label));
                index.insert(Cow::Owned(w.into_owned()), entries.len() - 1);
            }
        }
    };
    for (line, eos) in lines(text) {
        for tok in line_tokens(line, eos) {
            add(String::from_utf8_lossy(tok), &mut entries);
        }
    }
    // fastText adds every word of the pretrained vectors to the dictionary.
    for w in pretrained.iter().flat_map(|e| &e.words) {
        add(Cow::Borrowed(w), &mut entries);
    }
    // fastText: words before labels, each by falling count; then the thresholds (with
    // pretrained vectors every word of them stays, as fastText's `threshold(1, 0)`).
    entries.sort_by(|a, b| a.2.cmp(&b.2).then(b.1.cmp(&a.1)));
    let keep_word = if pretrained.is_some() {
        1
    } else {
        cfg.min_count
    };
    entries.retain(|(_, c, label)| {
        *c >= if *label {
            cfg.min_count_label
        } else {
            keep_word
        }
    });
    (entries, ntokens)
}

/// The training lines as rows and labels, flat.
struct Lines {
    rows: Vec<u32>,
    row_starts: Vec<usize>,
    labels: Vec<u32>,
    label_starts: Vec<usize>,
    tokens: Vec<u32>,
}

impl Lines {
    /// Every line of `text` read once into rows and labels (fastText reads the file again
    /// each epoch).
    fn read(c: &Classifier, text: &[u8]) -> Lines {
        let mut data = Lines {
            rows: Vec::new(),
            row_starts: vec![0],
            labels: Vec::new(),
            label_starts: vec![0],
            tokens: Vec::new(),
        };
        let mut f = Features::default();
        for (line, eos) in lines(text) {
            let n = c.features(line, eos, &mut f);
            data.rows.extend_from_slice(&f.rows);
            data.labels.extend_from_slice(&f.labels);
            data.row_starts.push(data.rows.len());
            data.label_starts.push(data.labels.len());
            data.tokens.push(n.min(u32::MAX as u64) as u32);
        }
        data
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }

    fn get(&self, i: usize) -> (&[u32], &[u32], u64) {
        (
            &self.rows[self.row_starts[i]..self.row_starts[i + 1]],
            &self.labels[self.label_starts[i]..self.label_starts[i + 1]],
            self.tokens[i] as u64,
        )
    }
}

/// Trains a classifier on `cfg.input` (fastText's `supervised`).
pub fn train(
    cfg: &SupConfig,
    progress: &crate::progress::Reporter,
) -> Result<(Classifier, SupReport)> {
    cfg.validate()?;
    let bytes = crate::files::read_bytes(&cfg.input)?;
    crate::files::check_text(&cfg.input, &bytes)?;
    let pretrained = match &cfg.pretrained {
        Some(p) => {
            let e = crate::io::read_vectors(p, None)?;
            if e.dim != cfg.dim {
                return Err(Error::input(
                    p,
                    format!(
                        "has vectors of dimension {}, but -dim is {}; give -dim {}",
                        e.dim, cfg.dim, e.dim
                    ),
                ));
            }
            Some(e)
        }
        None => None,
    };
    let (entries, ntokens) = dictionary(cfg, &bytes, pretrained.as_ref());
    let nwords = entries.iter().filter(|e| !e.2).count();
    let nlabels = entries.len() - nwords;
    if nwords == 0 {
        return Err(Error::input(
            &cfg.input,
            "has no words left (empty, or -minCount is higher than every word's count)",
        ));
    }
    if nlabels == 0 {
        return Err(Error::input(
            &cfg.input,
            format!(
                "has no labels: each line of a classifier's training text needs one, a token starting with {:?} (as in `{}positive great film`; -label sets the prefix{})",
                cfg.label,
                cfg.label,
                if cfg.min_count_label > 0 { ", and -minCountLabel may be too high" } else { "" }
            ),
        ));
    }
    let dim = cfg.dim;
    let bucket = cfg.buckets();
    let in_rows = nwords + bucket;
    if (in_rows as u64)
        .checked_mul(dim as u64)
        .is_none_or(|n| n > (isize::MAX as u64) / 8)
    {
        return Err(Error::usage(
            "-bucket",
            format!("{in_rows} input rows of dimension {dim} do not fit in memory; lower -bucket or -dim"),
        ));
    }
    progress.note(&format!(
        "Read {}M words\nNumber of words:  {nwords}\nNumber of labels: {nlabels}",
        ntokens / 1_000_000
    ));
    // fastText's initialisation: input rows uniform in [-1/dim, 1/dim], output rows zero.
    let mut rng = Rng::new(splitmix64(cfg.seed ^ 0x5e9_0000_0000_0001));
    let late = || {
        if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::Interrupted("the time given ran out".into()));
        }
        Ok(())
    };
    late()?;
    let mut input = Vec::with_capacity(in_rows * dim);
    // A million values at a time, so that a deadline stops a large allocation too.
    while input.len() < in_rows * dim {
        let n = (in_rows * dim - input.len()).min(1 << 20);
        input.extend((0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) / dim as f32));
        late()?;
    }
    let (words, counts): (Vec<String>, Vec<u64>) =
        entries[..nwords].iter().map(|e| (e.0.clone(), e.1)).unzip();
    let (labels, label_counts): (Vec<String>, Vec<u64>) =
        entries[nwords..].iter().map(|e| (e.0.clone(), e.1)).unzip();
    if let Some(e) = &pretrained {
        let ids: HashMap<&str, usize> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i))
            .collect();
        for (j, w) in e.words.iter().enumerate() {
            if let Some(&i) = ids.get(w.as_str()) {
                input[i * dim..(i + 1) * dim].copy_from_slice(e.row(j));
            }
        }
    }
    let model = FastTextModel {
        dim,
        words,
        counts,
        labels,
        label_counts,
        params: SubwordParams {
            minn: cfg.minn,
            maxn: cfg.maxn,
            bucket,
        },
        input,
        output: vec![0.0; nlabels * dim],
        pruneidx: None,
        quant: None,
        args: TrainArgs {
            ws: cfg.ws as i32,
            epoch: cfg.epoch.min(i32::MAX as usize) as i32,
            min_count: cfg.min_count.min(i32::MAX as u64) as i32,
            neg: cfg.neg.min(i32::MAX as usize) as i32,
            loss: cfg.loss.code(),
            model: SUPERVISED,
            t: cfg.t,
            ntokens: ntokens as i64,
            word_ngrams: cfg.word_ngrams.min(i32::MAX as usize) as i32,
            lr_update_rate: cfg.lr_update_rate.min(i32::MAX as u64) as i32,
        },
    };
    let mut c = Classifier::from_model(model, &cfg.input)?;
    c.label_prefix = cfg.label.clone();

    let data = Lines::read(&c, &bytes);
    drop(bytes);
    let report = run_on(cfg, &mut c, &data, ntokens, "-bucket", progress)?;
    Ok((c, report))
}

/// Trains `c` on `data` where `cfg.device` says: the CPU threads or a GPU (where
/// `rows_flag` is named if the input rows do not fit its bindings).
fn run_on(
    cfg: &SupConfig,
    c: &mut Classifier,
    data: &Lines,
    ntokens: u64,
    rows_flag: &'static str,
    progress: &crate::progress::Reporter,
) -> Result<SupReport> {
    match cfg.device.backend {
        BackendKind::Cpu => run_threads(cfg, c, data, ntokens, progress),
        BackendKind::Auto => {
            progress.note("-backend auto: the classifier trains on the CPU threads (its GPU kernels are not measured on hardware yet; -backend vulkan|metal|dx12|gl runs them)");
            run_threads(cfg, c, data, ntokens, progress)
        }
        _ => run_gpu(cfg, c, data, ntokens, rows_flag, progress),
    }
}

/// fastText's `quantize` options.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantArgs {
    /// Keep this many input rows (words and n-grams of largest norm; 0: all).
    pub cutoff: usize,
    /// Train the kept rows again on the text (`-input`) after the cut.
    pub retrain: bool,
    /// Quantize each row's norm apart from its direction.
    pub qnorm: bool,
    /// Quantize the output matrix too.
    pub qout: bool,
    /// Values per sub-vector.
    pub dsub: usize,
    pub epoch: usize,
    pub lr: f32,
    pub threads: usize,
    /// Where `-retrain` trains (`supervised`'s `-backend`, `-adapter`, `-gpu…` flags).
    pub device: SupDevice,
}

impl Default for QuantArgs {
    fn default() -> Self {
        QuantArgs {
            cutoff: 0,
            retrain: false,
            qnorm: false,
            qout: false,
            dsub: 2,
            epoch: 5,
            lr: 0.05,
            threads: 12,
            device: SupDevice::default(),
        }
    }
}

/// fastText's `quantize`: the `cutoff` input rows of largest norm kept (`</s>` first; the
/// dictionary pruned to the kept words, the kept n-gram buckets renumbered), retrained on
/// `text` with `retrain` (where `q.device` says; its report returned), then the input
/// matrix (and with `qout` the output matrix) product-quantized. The result is written as
/// a `.ftz`.
pub fn quantize(
    mut c: Classifier,
    q: &QuantArgs,
    text: Option<&[u8]>,
    progress: &crate::progress::Reporter,
) -> Result<(Classifier, Option<SupReport>)> {
    let usage = |flag: &str, m: String| Err(Error::usage(flag, m));
    if c.model.quant.is_some() {
        return usage("-output", "names a model that is quantized already".into());
    }
    if q.dsub == 0 {
        return usage("-dsub", "must be at least 1".into());
    }
    let dim = c.model.dim;
    let rows = c.model.input.len() / dim;
    let mut report = None;
    if q.cutoff > 0 && q.cutoff < rows {
        let nwords = c.model.words.len();
        let norms: Vec<f32> = c
            .model
            .input
            .chunks(dim)
            .map(crate::linalg::seq_norm)
            .collect();
        let eos = c.ids.get(EOS).map(|&e| e as usize).filter(|&e| e < nwords);
        let mut idx: Vec<usize> = (0..rows).collect();
        idx.sort_by(|&a, &b| {
            (Some(b) == eos)
                .cmp(&(Some(a) == eos))
                .then(norms[b].total_cmp(&norms[a]))
                .then(a.cmp(&b))
        });
        idx.truncate(q.cutoff);
        let mut words: Vec<usize> = idx.iter().copied().filter(|&i| i < nwords).collect();
        words.sort_unstable();
        let grams: Vec<usize> = idx.iter().copied().filter(|&i| i >= nwords).collect();
        let m = &c.model;
        let mut input = Vec::with_capacity(q.cutoff * dim);
        for &i in words.iter().chain(&grams) {
            input.extend_from_slice(&m.input[i * dim..(i + 1) * dim]);
        }
        let model = FastTextModel {
            words: words.iter().map(|&i| m.words[i].clone()).collect(),
            counts: words.iter().map(|&i| m.counts[i]).collect(),
            input,
            pruneidx: Some(
                grams
                    .iter()
                    .enumerate()
                    .map(|(j, &g)| ((g - nwords) as u32, j as u32))
                    .collect(),
            ),
            ..m.clone()
        };
        let prefix = std::mem::take(&mut c.label_prefix);
        c = Classifier::from_model(model, Path::new("-output"))?;
        c.label_prefix = prefix;
        if q.retrain {
            let text = text.expect("-retrain comes with -input");
            let data = Lines::read(&c, text);
            let cfg = SupConfig {
                epoch: q.epoch,
                lr: q.lr,
                threads: q.threads,
                lr_update_rate: c.model.args.lr_update_rate.max(1) as u64,
                device: q.device.clone(),
                ..SupConfig::default()
            };
            let ntokens = c.model.args.ntokens.max(1) as u64;
            // The input rows here are the -cutoff rows kept.
            report = Some(run_on(&cfg, &mut c, &data, ntokens, "-cutoff", progress)?);
        }
    }
    let rows = c.model.input.len() / dim;
    let labels = c.model.labels.len();
    if rows < crate::quantize::KSUB || (q.qout && labels < crate::quantize::KSUB) {
        let (what, n) = if rows < crate::quantize::KSUB {
            ("input rows", rows)
        } else {
            ("labels (for -qout)", labels)
        };
        return usage(
            if what.starts_with("input") { "-cutoff" } else { "-qout" },
            format!(
                "the model has {n} {what}; quantization needs at least {} (fastText's 256 centroids per sub-vector)",
                crate::quantize::KSUB
            ),
        );
    }
    let m = &mut c.model;
    let input = QuantMatrix::new(&m.input, rows, dim, q.dsub, q.qnorm, q.threads);
    let output = q
        .qout
        .then(|| QuantMatrix::new(&m.output, labels, dim, 2, q.qnorm, q.threads));
    m.input = Vec::new();
    if output.is_some() {
        m.output = Vec::new();
    }
    m.quant = Some(Box::new(crate::fasttext::Quantized { input, output }));
    Ok((c, report))
}

/// The Hogwild training loop over `data` (each thread a contiguous share of the lines,
/// every epoch), then the divergence check.
fn run_threads(
    cfg: &SupConfig,
    c: &mut Classifier,
    data: &Lines,
    ntokens: u64,
    progress: &crate::progress::Reporter,
) -> Result<SupReport> {
    let dim = c.model.dim;
    let nl = c.model.labels.len();
    let total = (cfg.epoch as u64 * ntokens).max(1);
    let threads = cfg.threads.min(data.len()).max(1);
    let per = data.len().div_ceil(threads);
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let late = AtomicBool::new(false);
    let noise = (c.loss == Loss::Ns).then(|| AliasTable::unigram(&c.model.label_counts, 0.5));
    let started = Instant::now();
    let bar = progress.bar(total);
    let shared = Shared {
        input: SharedMatrix {
            ptr: c.model.input.as_mut_ptr(),
            rows: c.model.input.len() / dim,
            dim,
        },
        output: SharedMatrix {
            ptr: c.model.output.as_mut_ptr(),
            rows: nl,
            dim,
        },
    };
    let c: &Classifier = c;
    let results: Vec<(f64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (done, failed, late, bar, noise) = (&done, &failed, &late, &bar, &noise);
                let shared = &shared;
                let share = t * per..((t + 1) * per).min(data.len());
                s.spawn(move || {
                    let mut st = State {
                        hidden: vec![0.0; dim],
                        grad: vec![0.0; dim],
                        out: vec![0.0; nl],
                        rng: Rng::new(splitmix64(cfg.seed.wrapping_add(t as u64 + 1))),
                        loss: 0.0,
                        examples: 0,
                    };
                    let mut local = 0u64;
                    'epochs: for _ in 0..cfg.epoch {
                        for i in share.clone() {
                            let (rows, labels, n) = data.get(i);
                            let progress = done.load(Ordering::Relaxed) as f64 / total as f64;
                            let lr = (cfg.lr as f64 * (1.0 - progress).max(0.0)) as f32;
                            local += n;
                            if !labels.is_empty() && !rows.is_empty() {
                                // SAFETY: Hogwild, as `backend::cpu::Hogwild` documents:
                                // the matrices outlive the scope, rows are in bounds (ids
                                // come from this model's dictionary and buckets), and f32
                                // has no invalid bit patterns.
                                let l = unsafe {
                                    update(c, shared, noise.as_ref(), rows, labels, lr, &mut st)
                                };
                                if !l.is_finite() {
                                    failed.store(true, Ordering::Relaxed);
                                }
                            }
                            if local > cfg.lr_update_rate {
                                let now = done.fetch_add(local, Ordering::Relaxed) + local;
                                bar.set_position(now.min(total));
                                local = 0;
                                if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
                                    late.store(true, Ordering::Relaxed);
                                }
                                if failed.load(Ordering::Relaxed) || late.load(Ordering::Relaxed) {
                                    break 'epochs;
                                }
                            }
                        }
                    }
                    done.fetch_add(local, Ordering::Relaxed);
                    (st.loss, st.examples)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a classifier thread panicked"))
            .collect()
    });
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if late.load(Ordering::Relaxed) {
        return Err(Error::Interrupted("the time given ran out".into()));
    }
    if failed.load(Ordering::Relaxed) || !c.is_finite() {
        return Err(Error::Diverged(format!(
            "training diverged (a loss or a vector stopped being a number) at -lr {}; nothing was written; use a smaller -lr (e.g. {})",
            readable(cfg.lr),
            readable(cfg.lr / 4.0)
        )));
    }
    let (loss, examples) = results
        .iter()
        .fold((0.0, 0), |(l, e), &(a, b)| (l + a, e + b));
    let rate = total as f64 / seconds.max(1e-9) / threads as f64;
    let engine = format!("{threads} thread{}", if threads == 1 { "" } else { "s" });
    Ok(SupReport::of(
        c,
        (data.len(), ntokens),
        (engine, false),
        (seconds, rate),
        (loss, examples),
    ))
}

/// The GPU batcher: the lines as `lines` streams side by side (stream j reads the j-th
/// share of the text, as fastText's threads start at their share), step s taking the s-th
/// line of every stream; per line the target label drawn as fastText draws it and the
/// cells its loss scores; the rate falling with the tokens of the steps before.
struct GpuBatcher<'a> {
    c: &'a Classifier,
    data: &'a Lines,
    noise: Option<AliasTable>,
    streams: usize,
    per: usize,
    rng: Rng,
    label_block: u32,
}

impl<'a> GpuBatcher<'a> {
    fn new(
        c: &'a Classifier,
        data: &'a Lines,
        (lines, label_block): (usize, u32),
        seed: u64,
    ) -> GpuBatcher<'a> {
        let streams = lines.min(data.len()).max(1);
        GpuBatcher {
            c,
            data,
            noise: (c.loss == Loss::Ns).then(|| AliasTable::unigram(&c.model.label_counts, 0.5)),
            streams,
            per: data.len().div_ceil(streams),
            rng: Rng::new(splitmix64(seed.wrapping_add(1))),
            label_block: label_block.max(1),
        }
    }

    /// The lines of step `s` (of `per` steps an epoch).
    fn step_lines(&self, s: usize) -> impl Iterator<Item = usize> + 'static {
        let (per, n) = (self.per, self.data.len());
        (0..self.streams)
            .map(move |j| j * per + s)
            .filter(move |&i| i < n)
    }

    /// The most cells a line of this classifier's loss can have.
    fn cells_per_line(&self) -> usize {
        let nl = self.c.model.labels.len();
        match self.c.loss {
            Loss::Softmax | Loss::Ova => nl,
            Loss::Ns => {
                1 + if nl > 1 {
                    self.c.model.args.neg.max(0) as usize
                } else {
                    0
                }
            }
            Loss::Hs => self.c.tree.as_ref().map_or(1, |t| {
                t.paths.iter().map(Vec::len).max().unwrap_or(1).max(1)
            }),
        }
    }

    /// The buffers a step needs: its lines, its most input rows, its most cells.
    fn limits(&self) -> crate::backend::gpu::classify::StepLimits {
        let rows = (0..self.per)
            .map(|s| {
                self.step_lines(s)
                    .map(|i| self.data.get(i).0.len())
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        crate::backend::gpu::classify::StepLimits {
            lines: self.streams,
            rows: rows.max(1),
            cells: self.streams * self.cells_per_line(),
        }
    }

    /// Fills `step` with step `s`'s lines at rate `lr`; returns the tokens they hold.
    fn fill(&mut self, s: usize, lr: f32, step: &mut ClassifyStep) -> u64 {
        step.clear();
        step.lr = lr;
        step.label_block = self.label_block;
        let mut tokens = 0;
        let nl = self.c.model.labels.len() as u32;
        for i in self.step_lines(s) {
            let (rows, labels, n) = self.data.get(i);
            tokens += n;
            if rows.is_empty() || labels.is_empty() {
                continue;
            }
            let rng = &mut self.rng;
            match self.c.loss {
                Loss::Ova => step.push(rows, (0..nl).map(|l| (l, labels.contains(&l)))),
                Loss::Softmax => {
                    let t = labels[rng.below(labels.len() as u32) as usize];
                    step.push(rows, (0..nl).map(|l| (l, l == t)));
                }
                Loss::Ns => {
                    let t = labels[rng.below(labels.len() as u32) as usize];
                    let mut cells = vec![(t, true)];
                    let noise = self.noise.as_ref().expect("ns has its noise table");
                    if nl > 1 {
                        for _ in 0..self.c.model.args.neg {
                            let neg = loop {
                                let n = noise.sample(rng.next_u32(), rng.next_u32());
                                if n != t {
                                    break n;
                                }
                            };
                            cells.push((neg, false));
                        }
                    }
                    step.push(rows, cells);
                }
                Loss::Hs => {
                    let t = labels[rng.below(labels.len() as u32) as usize] as usize;
                    let tree = self.c.tree.as_ref().expect("an hs classifier has its tree");
                    // One label: an empty path, nothing to train (as on the CPU threads).
                    if tree.paths[t].is_empty() {
                        continue;
                    }
                    let cells = tree.paths[t]
                        .iter()
                        .copied()
                        .zip(tree.codes[t].iter().copied());
                    step.push(rows, cells);
                }
            }
        }
        tokens
    }
}

/// Trains on a GPU (`-backend vulkan|metal|dx12|gl`): steps of `-gpuLines` lines, each
/// line of a step reading the matrices as they were before it (the kernels' reference is
/// `classify_batch::reference_step`).
fn run_gpu(
    cfg: &SupConfig,
    c: &mut Classifier,
    data: &Lines,
    ntokens: u64,
    rows_flag: &'static str,
    progress: &crate::progress::Reporter,
) -> Result<SupReport> {
    use crate::backend::gpu::classify::GpuClassifier;
    let ctx =
        crate::backend::gpu::GpuContext::open(cfg.device.backend, cfg.device.adapter, progress)?
            .ok_or_else(|| Error::Gpu("no GPU adapter was opened".into()))?;
    let total = (cfg.epoch as u64 * ntokens).max(1);
    let lines = cfg
        .device
        .gpu_lines
        .unwrap_or_else(|| auto_gpu_lines(data.len(), cfg.lr));
    let mut batcher = GpuBatcher::new(c, data, (lines, cfg.device.gpu_label_block), cfg.seed);
    let loss = if c.loss == Loss::Softmax {
        CellLoss::Softmax
    } else {
        CellLoss::Sigmoid
    };
    let limits = batcher.limits();
    let mut gpu = GpuClassifier::new(
        ctx,
        c.model.dim,
        (&c.model.input, &c.model.output),
        loss,
        limits,
        crate::backend::gpu::classify::ClassifierOptions {
            rows_flag: Some(rows_flag),
            ..Default::default()
        },
    )?;
    gpu.set_row_cap(cfg.device.gpu_row_cap);
    let (adapter, atomics, reduce, out) = gpu.describe();
    let engine = format!(
        "{adapter}, {} lines a step, the output layer in blocks of {} line{} ({out}), atomics {atomics}, reduction {reduce}",
        batcher.streams,
        batcher.label_block,
        if batcher.label_block == 1 { "" } else { "s" }
    );
    let started = Instant::now();
    let bar = progress.bar(total);
    let mut step = ClassifyStep::default();
    let (mut done, mut trained) = (0u64, 0u64);
    'epochs: for _ in 0..cfg.epoch {
        for s in 0..batcher.per {
            let lr = (cfg.lr as f64 * (1.0 - done as f64 / total as f64).max(0.0)) as f32;
            done += batcher.fill(s, lr, &mut step);
            trained += step.lines.len() as u64;
            gpu.step(&step)?;
            bar.set_position(done.min(total));
            if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
                break 'epochs;
            }
        }
        // A diverged run stops at the end of its epoch (the loss is a sum over every line:
        // one non-finite loss keeps it non-finite).
        if !gpu.loss()?.0.is_finite() {
            break;
        }
    }
    // The device's count of lines is an f32 sum; the host's is exact.
    let (loss_sum, examples) = (gpu.loss()?.0, trained);
    let streams = batcher.streams;
    drop(batcher);
    // Straight into the model's matrices (no second copy of a matrix of buckets in memory).
    gpu.download(&mut c.model.input, &mut c.model.output)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(Error::Interrupted("the time given ran out".into()));
    }
    if !loss_sum.is_finite() || !c.is_finite() {
        return Err(Error::Diverged(format!(
            "training diverged on the GPU (a loss or a vector stopped being a number) at -lr {} with -gpuLines {}; nothing was written; use a smaller -lr (e.g. {}) or -gpuLines",
            readable(cfg.lr),
            streams,
            readable(cfg.lr / 4.0)
        )));
    }
    let rate = total as f64 / seconds.max(1e-9);
    Ok(SupReport::of(
        c,
        (data.len(), ntokens),
        (engine, true),
        (seconds, rate),
        (loss_sum, examples),
    ))
}

/// The two matrices the training threads update together (Hogwild).
struct Shared {
    input: SharedMatrix,
    output: SharedMatrix,
}

// SAFETY: concurrent unsynchronised f32 updates are the intended (Hogwild) behaviour, as in
// `backend::cpu::Hogwild`; the pointers stay valid while the training scope lasts.
unsafe impl Sync for Shared {}

/// One thread's scratch vectors and loss.
struct State {
    hidden: Vec<f32>,
    grad: Vec<f32>,
    out: Vec<f32>,
    rng: Rng,
    loss: f64,
    examples: u64,
}

/// fastText's `Model::update` for one line: the hidden vector, the loss's forward and
/// backward pass (the output rows updated as it goes), then the gradient divided by the
/// number of input rows added to each of them. Returns the line's loss.
///
/// # Safety
/// Hogwild: `input` and `output` point at this classifier's matrices, which stay
/// allocated; other threads may write the same rows concurrently (plain f32 stores).
unsafe fn update(
    c: &Classifier,
    m: &Shared,
    noise: Option<&AliasTable>,
    rows: &[u32],
    labels: &[u32],
    lr: f32,
    st: &mut State,
) -> f32 {
    let (input, output) = (&m.input, &m.output);
    let State {
        hidden,
        grad,
        out,
        rng,
        ..
    } = st;
    hidden.fill(0.0);
    for &r in rows {
        hidden
            .iter_mut()
            .zip(input.row(r as usize).iter())
            .for_each(|(h, x)| *h += x);
    }
    let inv = 1.0 / rows.len() as f32;
    hidden.iter_mut().for_each(|h| *h *= inv);
    grad.fill(0.0);
    let t = &c.tables;
    // fastText's BinaryLogisticLoss::binaryLogistic.
    let logistic = |row: usize, positive: bool, grad: &mut [f32]| -> f32 {
        let wo = output.row(row);
        let score = t.sigmoid(crate::linalg::seq_dot(wo, hidden));
        let alpha = lr * (positive as u8 as f32 - score);
        crate::linalg::axpy2::<false>(grad, wo, alpha, hidden);
        if positive {
            -t.log(score)
        } else {
            -t.log(1.0 - score)
        }
    };
    let target = |rng: &mut Rng| labels[rng.below(labels.len() as u32) as usize];
    let loss = match c.loss {
        Loss::Softmax => {
            let target = target(rng);
            for (i, o) in out.iter_mut().enumerate() {
                *o = crate::linalg::seq_dot(output.row(i), hidden);
            }
            softmax(out);
            for (i, &p) in out.iter().enumerate() {
                let wo = output.row(i);
                let alpha = lr * ((i as u32 == target) as u8 as f32 - p);
                crate::linalg::axpy2::<false>(grad, wo, alpha, hidden);
            }
            -t.log(out[target as usize])
        }
        Loss::Ns => {
            let target = target(rng);
            let mut l = logistic(target as usize, true, grad);
            let noise = noise.expect("ns has its noise table");
            // With one label there is nothing to draw against it (fastText would loop).
            if out.len() > 1 {
                for _ in 0..c.model.args.neg {
                    let neg = loop {
                        let n = noise.sample(rng.next_u32(), rng.next_u32());
                        if n != target {
                            break n;
                        }
                    };
                    l += logistic(neg as usize, false, grad);
                }
            }
            l
        }
        Loss::Hs => {
            let target = target(rng) as usize;
            let tree = c.tree.as_ref().expect("an hs classifier has its tree");
            let mut l = 0.0;
            for (&node, &code) in tree.paths[target].iter().zip(&tree.codes[target]) {
                l += logistic(node as usize, code, grad);
            }
            l
        }
        Loss::Ova => (0..out.len())
            .map(|i| logistic(i, labels.contains(&(i as u32)), grad))
            .sum(),
    };
    st.loss += loss as f64;
    st.examples += 1;
    grad.iter_mut().for_each(|g| *g *= inv);
    for &r in rows {
        input
            .row(r as usize)
            .iter_mut()
            .zip(grad.iter())
            .for_each(|(x, g)| *x += g);
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes told apart by their words, with noise words shared by both.
    fn corpus(lines: usize, seed: u64) -> String {
        let mut rng = Rng::new(seed);
        let sports = ["goal", "match", "team", "coach", "league", "score"];
        let money = ["bank", "stock", "market", "price", "shares", "profit"];
        let shared = ["the", "a", "of", "today", "new", "big"];
        let mut s = String::new();
        for _ in 0..lines {
            let sport = rng.below(2) == 0;
            s.push_str(if sport {
                "__label__sports"
            } else {
                "__label__money"
            });
            let own = if sport { &sports } else { &money };
            for _ in 0..8 {
                let w = if rng.below(3) == 0 {
                    shared[rng.below(6) as usize]
                } else {
                    own[rng.below(6) as usize]
                };
                s.push(' ');
                s.push_str(w);
            }
            s.push('\n');
        }
        s
    }

    fn trained(loss: Loss, extra: impl FnOnce(&mut SupConfig)) -> (Classifier, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.txt");
        std::fs::write(&p, corpus(400, 1)).unwrap();
        let mut cfg = SupConfig {
            input: p,
            dim: 10,
            threads: 1,
            loss,
            ..SupConfig::default()
        };
        extra(&mut cfg);
        let (c, _) = train(&cfg, &crate::progress::Reporter::quiet()).unwrap();
        (c, dir)
    }

    #[test]
    fn every_loss_learns_two_topics() {
        let held_out = corpus(200, 2);
        for loss in [Loss::Softmax, Loss::Ns, Loss::Hs, Loss::Ova] {
            let (c, _d) = trained(loss, |_| {});
            let m = test(&c, held_out.as_bytes(), Some(1), 0.0);
            assert_eq!(m.examples, 200);
            assert!(m.precision() > 0.95, "{loss:?}: P@1 {}", m.precision());
        }
        // Word bigrams and character n-grams too.
        let (c, _d) = trained(Loss::Softmax, |c| {
            c.word_ngrams = 2;
            c.minn = 2;
            c.maxn = 4;
            c.bucket = 1000;
        });
        let m = test(&c, held_out.as_bytes(), Some(1), 0.0);
        assert!(m.precision() > 0.95, "n-grams: P@1 {}", m.precision());
        // An unseen inflection still has character n-grams in common with its word.
        let mut f = Features::default();
        c.features(b"goals", false, &mut f);
        assert!(!f.rows.is_empty());
    }

    /// `c` written to `p` reads back equal and predicts `line` as before; its features.
    fn reads_back(c: &Classifier, p: &Path, line: &[u8]) -> Features {
        c.model.write(p).unwrap();
        let back = Classifier::read(p).unwrap();
        assert_eq!(back.model, c.model);
        let mut f = Features::default();
        c.features(line, true, &mut f);
        assert_eq!(
            c.predict(&f.rows, None, 0.0),
            back.predict(&f.rows, None, 0.0)
        );
        f
    }

    #[test]
    fn one_thread_is_deterministic_and_the_model_round_trips() {
        let (a, dir) = trained(Loss::Softmax, |_| {});
        let (b, _d) = trained(Loss::Softmax, |_| {});
        assert_eq!(a.model, b.model);
        let f = reads_back(&a, &dir.path().join("m.bin"), b"stock market price");
        let p = a.predict(&f.rows, None, 0.0);
        assert_eq!(a.labels()[p[0].1 as usize], "__label__money");
        let total: f32 = p.iter().map(|x| x.0.exp()).sum();
        assert!(
            (total - 1.0).abs() < 1e-3,
            "softmax probabilities sum to {total}"
        );
    }

    #[test]
    fn lines_and_word_ngrams_follow_fasttext() {
        let (c, _d) = trained(Loss::Softmax, |c| {
            c.word_ngrams = 3;
        });
        let nwords = c.model.words.len() as u32;
        let id = |w: &str| c.ids[w];
        let mut f = Features::default();
        // Known words, an unknown word, a label, then `</s>`: 4 words → 3 + 2 n-grams.
        let n = c.features(b"goal zzz __label__money bank", true, &mut f);
        assert_eq!(n, 5);
        assert_eq!(&f.rows[..3], &[id("goal"), id("bank"), id("</s>")]);
        assert_eq!(f.rows.len(), 3 + 3 + 2);
        assert_eq!(f.labels, vec![id("__label__money") - nwords]);
        // fastText's hash chain for "goal zzz": sign-extended int32 hashes.
        let h = |w: &str| fasttext_hash(w.as_bytes()) as i32 as i64 as u64;
        let g = h("goal").wrapping_mul(116_049_371).wrapping_add(h("zzz"));
        assert_eq!(f.rows[3], nwords + (g % 2_000_000) as u32);
        // No newline, no `</s>`.
        assert_eq!(c.features(b"goal", false, &mut f), 1);
        // The dictionary: words by falling count, then labels.
        assert_eq!(c.model.words[0], "</s>");
        assert!(c.model.counts.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(c.labels().len(), 2);
    }

    #[test]
    fn quantized_models_predict_as_before_and_round_trip() {
        let (c, dir) = trained(Loss::Softmax, |c| {
            c.word_ngrams = 2;
            c.bucket = 500;
        });
        let held_out = corpus(200, 2);
        let before = test(&c, held_out.as_bytes(), Some(1), 0.0).precision();
        let text = corpus(400, 1);
        let q = QuantArgs {
            cutoff: 300,
            retrain: true,
            qnorm: true,
            threads: 2,
            ..QuantArgs::default()
        };
        let (c, retrained) = quantize(
            c,
            &q,
            Some(text.as_bytes()),
            &crate::progress::Reporter::quiet(),
        )
        .unwrap();
        let r = retrained.expect("-retrain reports its training");
        assert!(
            !r.on_gpu && r.lines == 400 && r.avg_loss.is_finite(),
            "{r:?}"
        );
        assert!(c.model.input.is_empty() && c.model.words.len() <= 300);
        // `</s>` (the largest norm or not) is always kept, and the kept buckets renumbered.
        assert_eq!(c.model.words[0], "</s>");
        let kept = c.model.pruneidx.as_ref().unwrap();
        assert_eq!(c.model.words.len() + kept.len(), 300);
        let after = test(&c, held_out.as_bytes(), Some(1), 0.0).precision();
        assert!(after > 0.95 && before > 0.95, "P@1 {before} → {after}");
        let p = dir.path().join("m.ftz");
        reads_back(&c, &p, b"stock market goal price");
        // The vectors commands refuse a quantized model by name.
        let e = FastTextModel::read(&p).unwrap_err().to_string();
        assert!(e.contains(".ftz"), "{e}");
        // Too few rows for 256 centroids.
        let (small, _d) = trained(Loss::Softmax, |_| {});
        let e = quantize(
            small,
            &QuantArgs::default(),
            None,
            &crate::progress::Reporter::quiet(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("at least 256"), "{e}");
    }

    #[test]
    fn hs_tree_is_fasttexts() {
        // Counts 5, 3, 2, 1: fastText pairs 1+2, then 3+3, then 5+6.
        let t = Tree::new(&[5, 3, 2, 1]);
        assert_eq!(t.paths[3], vec![0, 1, 2]);
        assert_eq!(t.codes[3], vec![false, false, true]);
        assert_eq!(t.paths[0], vec![2]);
        assert_eq!(t.codes[0], vec![false]);
    }

    #[test]
    fn meter_counts_as_fasttext() {
        let mut m = Meter::new(3);
        m.log(&[0], &[(0.0, 0)]);
        m.log(&[1, 2], &[(0.0, 1), (-1.0, 0)]);
        assert_eq!(m.examples, 2);
        assert!((m.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.label_f1(0) - 2.0 / 3.0).abs() < 1e-12);
        assert!(m.label_precision(2).is_nan());
        assert_eq!(m.label_recall(2), 0.0);
    }

    /// fastText's precision-recall curve, worked by hand: probabilities walked from the
    /// highest, tied ones squeezed into one point, the walk cut one past full recall, then
    /// (1, 0) appended.
    #[test]
    fn precision_recall_curves_follow_fasttexts_meter() {
        // (gold label, probability, predicted label) of six one-label lines.
        let lines = [(0, 0.9f32, 0), (1, 0.8, 0), (1, 0.6, 1)];
        let more = [(0, 0.6f32, 2), (2, 0.3, 2), (1, 0.1, 2)];
        let mut all = Meter::new(3);
        for (gold, p, label) in lines.into_iter().chain(more) {
            all.log(&[gold], &[(p.ln(), label)]);
        }
        let close = |got: Vec<(f64, f64)>, want: &[(f64, f64)]| {
            assert_eq!(got.len(), want.len(), "{got:?}");
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g.0 - w.0).abs() < 1e-6 && (g.1 - w.1).abs() < 1e-6,
                    "{got:?}"
                );
            }
        };
        let sixth = 1.0 / 6.0;
        let curve = [
            (1.0, sixth),
            (0.5, sixth),
            (0.5, 2.0 * sixth),
            (0.6, 0.5),
            (0.5, 0.5),
            (1.0, 0.0),
        ];
        close(all.precision_recall_curve(None), &curve);
        for (recall, p) in [(0.5, 0.6), (0.4, 0.6), (0.1, 1.0), (0.7, 0.0), (0.0, 1.0)] {
            assert!(
                (all.precision_at_recall(None, recall) - p).abs() < 1e-6,
                "{recall}"
            );
        }
        for (precision, r) in [(0.55, 0.5), (0.9, sixth), (0.4, 0.5)] {
            assert!((all.recall_at_precision(None, precision) - r).abs() < 1e-6);
        }
        // Label 2: cut one past full recall (its one gold found at 0.3; 0.1 is dropped).
        close(
            all.precision_recall_curve(Some(2)),
            &[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)],
        );
        // Label 1: predicted once (right), gold three times: the walk ends at recall 1/3.
        close(
            all.precision_recall_curve(Some(1)),
            &[(1.0, 1.0 / 3.0), (1.0, 0.0)],
        );
        assert_eq!(all.precision_at_recall(Some(1), 0.5), 0.0);
        assert!(Meter::new(2).precision_recall_curve(None).is_empty());
    }

    /// The GPU's lines per step: 64, at most 32 / lr, at most 1% of the lines, at least 1.
    #[test]
    fn gpu_steps_shrink_with_the_rate_and_small_texts() {
        assert_eq!(auto_gpu_lines(6_000, 0.5), 60);
        assert_eq!(auto_gpu_lines(16_747, 0.1), 64);
        assert_eq!(auto_gpu_lines(16_747, 0.5), 64);
        assert_eq!(auto_gpu_lines(16_747, 1.0), 32);
        assert_eq!(auto_gpu_lines(1_000_000, 2.0), 16);
        assert_eq!(auto_gpu_lines(50, 0.1), 1);
        assert_eq!(auto_gpu_lines(1_000_000, 1e9), 1);
    }

    #[test]
    fn bad_settings_and_texts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, "no labels here\n").unwrap();
        let cfg = SupConfig {
            input: p.clone(),
            threads: 1,
            ..SupConfig::default()
        };
        let e = train(&cfg, &crate::progress::Reporter::quiet())
            .err()
            .unwrap();
        assert!(e.to_string().contains("no labels"), "{e}");
        for bad in [
            SupConfig {
                minn: 4,
                maxn: 3,
                ..cfg.clone()
            },
            SupConfig {
                word_ngrams: 2,
                bucket: 0,
                ..cfg.clone()
            },
            SupConfig {
                dim: 0,
                ..cfg.clone()
            },
            SupConfig {
                lr: f32::NAN,
                ..cfg.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // A rate that makes the weights overflow fails loudly.
        std::fs::write(&p, corpus(300, 3)).unwrap();
        let e = train(
            &SupConfig {
                lr: 1e30,
                ..cfg.clone()
            },
            &crate::progress::Reporter::quiet(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, Error::Diverged(_)), "{e}");
    }
}
