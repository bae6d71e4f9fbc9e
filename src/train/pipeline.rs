//! The producer → engine pipeline, written once for every engine that applies work step by
//! step (the GPU SGD engine, the minibatch engines on the CPU and the GPU): a producer
//! thread fills work items from a [`WorkSource`] while the engine applies the previous
//! ones; buffers are recycled through a second channel; the [`RunState`] owns the schedule,
//! words done, loss log, progress, stop handling and checkpoint policy. (The Hogwild CPU
//! trainer drives its own threads: see `hogwild.rs`.)

use super::engine_sync::{EngineSync, Flow};
use super::hogwild::DistRun;
use super::run_state::RunState;
use super::{Checkpointer, TrainReport};
use crate::backend::{gpu, Backend, Rate, SparseBackend, StepLoss, SyncRows};
use crate::batch::{Batch, Batcher, Cursor, Streams};
use crate::config::{ModelKind, TrainConfig};
use crate::corpus::{Corpus, SENTENCE_END};
use crate::dist::Clock;
use crate::error::Result;
use crate::minibatch::{Minibatch, MinibatchBuilder};
use crate::model::Model;
use crate::optim::OptimState;
use crate::progress::Reporter;
use crate::sampling::{step_key, AliasTable, Rng, Subsampler};
use std::sync::mpsc;
use std::time::Instant;

/// A unit of work handed from the producer to the engine.
pub trait Work: Default + Send {
    /// Corpus words the item covers (the schedule's unit).
    fn words(&self) -> u64;
    /// Where the producer's streams stood after this item (saved in checkpoints).
    fn cursors(&self) -> &[Cursor];
}

/// Fills work items in corpus order, on the producer thread.
pub trait WorkSource<W>: Send {
    /// Fills `w` with the next item; `false` at the end of the run.
    fn fill(&mut self, w: &mut W) -> bool;
}

/// An engine the pipeline drives: applies work with a learning rate, reports its loss,
/// snapshots its model (and optimizer state) for checkpoints, and says what it is.
pub trait Engine<W> {
    /// Applies `work` with `rate`; `step` counts the steps taken so far (the GPU's random
    /// numbers come from it). Returns whether a step was taken (an empty minibatch is not).
    fn step(&mut self, work: &W, rate: Rate, step: u64) -> Result<bool>;
    /// Loss accumulated since the last call, where measured.
    fn take_loss(&mut self) -> Result<Option<StepLoss>>;
    /// Model and optimizer state, for a checkpoint.
    fn snapshot(&mut self) -> Result<(Model, Option<OptimState>)>;
    /// Waits for submitted work; returns the device's busy seconds where measured.
    fn finish(&mut self) -> Result<Option<f64>>;
    /// The rows a distributed sync reads and writes, where the engine offers them.
    fn rows(&mut self) -> Option<&mut dyn SyncRows> {
        None
    }
}

/// SGD batches with the cursors the streams had after filling them.
#[derive(Default)]
pub struct SgdWork {
    pub batch: Batch,
    pub cursors: Vec<Cursor>,
}

impl Work for SgdWork {
    fn words(&self) -> u64 {
        self.batch.words
    }
    fn cursors(&self) -> &[Cursor] {
        &self.cursors
    }
}

impl Work for Minibatch {
    fn words(&self) -> u64 {
        self.words
    }
    fn cursors(&self) -> &[Cursor] {
        &self.cursors
    }
}

/// The whole id stream in `--streams` parts, all epochs, batches of `batch` positions.
fn corpus_batcher<'a>(
    corpus: &'a Corpus,
    cfg: &TrainConfig,
    sub: &'a Subsampler,
    batch: usize,
) -> Streams<'a> {
    let whole = Batcher::new(
        &corpus.ids,
        0..corpus.ids.len(),
        cfg.epochs,
        sub,
        cfg.sample > 0.0,
        cfg.seed ^ 0xb47c,
        batch,
    );
    Streams::new(whole, cfg.streams)
}

/// The batcher as a work source for the GPU SGD engine.
pub struct BatchSource<'a> {
    batcher: Streams<'a>,
}

impl<'a> BatchSource<'a> {
    pub fn new(
        corpus: &'a Corpus,
        cfg: &TrainConfig,
        sub: &'a Subsampler,
        start: Option<&[Cursor]>,
    ) -> Self {
        let mut batcher = corpus_batcher(corpus, cfg, sub, cfg.gpu_batch);
        if let Some(c) = start {
            batcher.restore(c);
        }
        BatchSource { batcher }
    }
}

impl WorkSource<SgdWork> for BatchSource<'_> {
    fn fill(&mut self, w: &mut SgdWork) -> bool {
        if !self.batcher.next_batch(&mut w.batch) {
            return false;
        }
        w.cursors = self.batcher.cursors();
        true
    }
}

/// Minibatches of `batch_size` centre words cut from the batcher's batches, with their
/// examples (windows, noise words) built on the producer thread.
pub struct MinibatchSource<'a> {
    batcher: Streams<'a>,
    builder: MinibatchBuilder,
    alias: &'a AliasTable,
    rng: Rng,
    batch_size: usize,
    batch: Batch,
    centres: Vec<usize>,
    /// Cursors before the current batch, its groups and the next group to build.
    before: Vec<Cursor>,
    groups: usize,
    next: usize,
    /// Groups of the first batch already trained before a resume.
    skip: usize,
}

impl<'a> MinibatchSource<'a> {
    pub fn new(
        corpus: &'a Corpus,
        cfg: &TrainConfig,
        sub: &'a Subsampler,
        alias: &'a AliasTable,
        start: Option<&[Cursor]>,
        subwords: Option<crate::subword::SubwordTable>,
    ) -> Self {
        debug_assert_eq!(subwords.is_some(), cfg.active_subwords().is_some());
        let mut batcher = corpus_batcher(corpus, cfg, sub, 1 << 16);
        let mut rng = Rng::new(cfg.seed ^ 0x5ba7_5e00);
        let mut skip = 0;
        // The first cursor also holds the minibatch position inside the batch.
        if let Some(c) = start {
            batcher.restore(c);
            if let Some(first) = c.first() {
                rng = Rng::from_state(first.builder_rng);
                skip = first.group as usize;
            }
        }
        let mut builder =
            MinibatchBuilder::new(cfg.model, cfg.window, cfg.negative, corpus.vocab.len());
        if let (Some(p), Some(table)) = (cfg.active_subwords(), subwords) {
            builder = builder.with_subwords(table, p.bucket);
        }
        MinibatchSource {
            batcher,
            builder,
            alias,
            rng,
            batch_size: cfg.batch_size(),
            batch: Batch::default(),
            centres: Vec::new(),
            before: Vec::new(),
            groups: 0,
            next: 0,
            skip,
        }
    }
}

impl WorkSource<Minibatch> for MinibatchSource<'_> {
    fn fill(&mut self, mb: &mut Minibatch) -> bool {
        while self.next >= self.groups {
            self.before = self.batcher.cursors();
            if !self.batcher.next_batch(&mut self.batch) {
                return false;
            }
            let toks = &self.batch.tokens;
            self.centres.clear();
            self.centres
                .extend((0..toks.len()).filter(|&i| toks[i] != SENTENCE_END));
            self.groups = self.centres.len().div_ceil(self.batch_size).max(1);
            self.next = std::mem::take(&mut self.skip);
        }
        let g = self.next;
        self.next += 1;
        let n = self.centres.len();
        // Words per group: a telescoping split of the batch's words.
        let words = self.batch.words;
        let words_at = |c: usize| {
            if n == 0 {
                words
            } else {
                words * c as u64 / n as u64
            }
        };
        mb.clear();
        let lo = g * self.batch_size;
        let hi = ((g + 1) * self.batch_size).min(n);
        if lo < hi {
            let range = self.centres[lo]..self.centres[hi - 1] + 1;
            self.builder
                .add(&self.batch.tokens, range, &mut self.rng, self.alias, mb);
            self.builder.finish(mb);
        }
        mb.words = words_at(hi) - if n == 0 { 0 } else { words_at(lo) };
        mb.cursors.clear();
        mb.cursors.extend_from_slice(&self.before);
        if let Some(first) = mb.cursors.first_mut() {
            first.group = g as u64 + 1;
            first.builder_rng = self.rng.state();
        }
        true
    }
}

/// The GPU SGD engine (any [`Backend`]) in the pipeline: a step's random numbers come from
/// (seed, step); counts upload bytes and, for benchmarks, the pairs the kernel trains.
pub struct SgdEngine<'a> {
    pub backend: &'a mut dyn Backend,
    seed: u64,
    window: usize,
    model: ModelKind,
    count_pairs: bool,
    pub pairs: u64,
    pub uploaded: u64,
}

impl<'a> SgdEngine<'a> {
    pub fn new(backend: &'a mut dyn Backend, cfg: &TrainConfig) -> Self {
        SgdEngine {
            backend,
            seed: cfg.seed,
            window: cfg.window,
            model: cfg.model,
            count_pairs: cfg.count_pairs,
            pairs: 0,
            uploaded: 0,
        }
    }
}

impl Engine<SgdWork> for SgdEngine<'_> {
    fn step(&mut self, w: &SgdWork, rate: Rate, step: u64) -> Result<bool> {
        let key = step_key(self.seed, step);
        self.backend.step(&w.batch, rate, key)?;
        if self.count_pairs {
            self.pairs += count_window_pairs(&w.batch.tokens, key, self.window, self.model);
        }
        self.uploaded += (w.batch.tokens.len() as u64 + gpu::HEADER_WORDS as u64) * 4;
        Ok(true)
    }
    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.backend.take_loss()
    }
    fn snapshot(&mut self) -> Result<(Model, Option<OptimState>)> {
        Ok((self.backend.download()?, None))
    }
    fn finish(&mut self) -> Result<Option<f64>> {
        self.backend.download_barrier()?;
        self.backend.device_seconds()
    }
    fn rows(&mut self) -> Option<&mut dyn SyncRows> {
        Some(&mut *self.backend)
    }
}

/// A minibatch engine (CPU or GPU) in the pipeline: one optimizer step per non-empty
/// minibatch at the rate of its first word.
pub struct MinibatchEngine<'a> {
    pub engine: &'a mut dyn SparseBackend,
    pub examples: u64,
}

impl Engine<Minibatch> for MinibatchEngine<'_> {
    fn step(&mut self, mb: &Minibatch, rate: Rate, _step: u64) -> Result<bool> {
        if mb.examples() == 0 {
            return Ok(false);
        }
        self.engine.step(mb, rate.start)?;
        self.examples += mb.examples() as u64;
        Ok(true)
    }
    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.engine.take_loss()
    }
    fn snapshot(&mut self) -> Result<(Model, Option<OptimState>)> {
        let (m, s) = self.engine.download()?;
        Ok((m, Some(s)))
    }
    fn finish(&mut self) -> Result<Option<f64>> {
        Ok(None)
    }
    fn rows(&mut self) -> Option<&mut dyn SyncRows> {
        Some(&mut *self.engine)
    }
}

/// The rows a distributed sync reads and writes.
fn rows_of<W, E: Engine<W>>(engine: &mut E) -> Result<&mut dyn SyncRows> {
    engine
        .rows()
        .ok_or_else(|| crate::error::Error::Gpu("this engine has no rows to sync".into()))
}

/// Runs `source` through `engine` until the source ends or a stop is requested: the one
/// producer/consumer loop of every stepped engine. `buffers` work items circulate, at most
/// `queued` of them filled and waiting. Returns the device's busy seconds, where measured.
pub fn run_pipeline<W: Work, S: WorkSource<W>, E: Engine<W>>(
    engine: &mut E,
    mut source: S,
    run: &mut RunState<'_>,
    ck: &mut Checkpointer,
    buffers: usize,
    queued: usize,
    mut dist: Option<&mut EngineSync>,
) -> Result<Option<f64>> {
    // Words this process has done in a distributed run, not counting a resumed checkpoint.
    let mut flow = Flow::Continue;
    let result: Result<()> = std::thread::scope(|s| {
        let (full_tx, full_rx) = mpsc::sync_channel::<W>(queued);
        let (empty_tx, empty_rx) = mpsc::channel::<W>();
        for _ in 0..buffers {
            let _ = empty_tx.send(W::default());
        }
        s.spawn(move || {
            while let Ok(mut w) = empty_rx.recv() {
                if !source.fill(&mut w) || full_tx.send(w).is_err() {
                    break;
                }
            }
        });
        loop {
            let t = Instant::now();
            let Ok(w) = full_rx.recv() else { break };
            run.wait += t.elapsed();
            let rate = run.rate(w.words());
            if engine.step(&w, rate, run.steps)? {
                run.steps += 1;
            }
            run.done += w.words();
            run.cursors.clear();
            run.cursors.extend_from_slice(w.cursors());
            let _ = empty_tx.send(w);
            let stop = super::stop_requested();
            let stopping = match dist.as_deref_mut() {
                Some(ds) => {
                    // A sync begun at the last sync point ends now, with this step running.
                    ds.complete(rows_of(engine)?)?;
                    // Rank 0 decides when a checkpoint is due, by the global word count.
                    let want_ck = ds.rank() == 0 && ck.due(ds.clock.global(run.done));
                    if ds.due(run.done) || stop || want_ck {
                        flow = ds.exchange(rows_of(engine)?, run.done, false, stop, want_ck)?;
                        let state = || Ok(engine.snapshot()?.1);
                        flow = ds.save_agreed(flow, ck, &run.cursors, run.steps, run.cfg, state)?;
                    }
                    flow == Flow::Stop
                }
                None => {
                    if ck.due(run.done) || (stop && ck.enabled()) {
                        let (model, state) = engine.snapshot()?;
                        // A diverged model never replaces the newest good checkpoint.
                        super::check_model_finite(&model, run.cfg)?;
                        ck.save(run.done, run.steps, run.cursors.clone(), model, state)?;
                    }
                    stop
                }
            };
            if stopping {
                run.interrupted = true;
                break;
            }
            if run.report_due() {
                let l = engine.take_loss()?;
                run.record_loss(l)?;
            }
        }
        drop(empty_tx);
        if let Some(l) = engine.take_loss()? {
            run.log.add(l, run.done, run.total);
        }
        // This rank's part is done: it takes part in the others' syncs until all are.
        if let Some(ds) = dist {
            while flow == Flow::Continue {
                flow = ds.exchange(rows_of(engine)?, run.done, true, false, false)?;
                // A checkpoint rank 0 or another rank's stop asked for: take part.
                let state = || Ok(engine.snapshot()?.1);
                flow = ds.save_agreed(flow, ck, &run.cursors, run.steps, run.cfg, state)?;
            }
            if flow == Flow::Stop {
                run.interrupted = true;
            }
        }
        Ok(())
    });
    result?;
    engine.finish()
}

/// The (context, centre) pairs (skip-gram) or centre predictions (CBOW) the GPU kernels
/// perform for a batch: the same window draw as `window_at`, counted on the host.
pub fn count_window_pairs(tokens: &[u32], key: u32, window: usize, model: ModelKind) -> u64 {
    use crate::backend::cpu::effective_window;
    let mut pairs = 0u64;
    let (mut start, n) = (0usize, tokens.len());
    while start < n {
        let end = tokens[start..]
            .iter()
            .position(|&t| t == SENTENCE_END)
            .map_or(n, |p| start + p);
        for pos in start..end {
            let eff = effective_window(key, pos, window);
            let lo = pos.saturating_sub(eff).max(start);
            let hi = (pos + eff).min(end - 1);
            let ctx = (hi - lo) as u64;
            pairs += match model {
                ModelKind::SkipGram => ctx,
                ModelKind::Cbow => u64::from(ctx > 0),
            };
        }
        start = end + 1;
    }
    pairs
}

/// The GPU SGD engine over the corpus: batches of `--gpu-batch` positions, each step one
/// upload and one dispatch, the rate falling across each step.
///
/// In a distributed run (`dist`, with the engine's initial `model`), the rate follows the
/// global word count and the ranks sync between steps (`train::engine_sync`).
pub fn train_with_backend(
    backend: &mut dyn Backend,
    corpus: &Corpus,
    cfg: &TrainConfig,
    reporter: &Reporter,
    ck: &mut Checkpointer,
    dist: Option<(&DistRun, &Model)>,
) -> Result<TrainReport> {
    let sub = Subsampler::new(corpus.vocab.counts(), cfg.sample);
    let total = corpus.words() * cfg.epochs as u64;
    let resume = ck.resume.take();
    let clock = Clock::new(dist.map_or(1, |(d, _)| d.comm.size()), 0, 0);
    let start = resume.as_ref().map_or(0, |c| c.words_done);
    let mut sync = dist.map(|(d, m)| EngineSync::new(d, &clock, m, start));
    let dist = dist.map(|(d, _)| d);
    let (mut run, rank_cfg) = rank_run(cfg, total, true, &clock, dist, resume.as_ref(), reporter);
    let source = BatchSource::new(corpus, &rank_cfg, &sub, run.start_cursors.as_deref());
    let mut engine = SgdEngine::new(backend, &rank_cfg);
    let kernel_seconds = run_pipeline(&mut engine, source, &mut run, ck, 4, 3, sync.as_mut())?;
    // Atomic adds per word this process trained (every add is atomic only with
    // `--gpu-updates atomic`).
    let adds = match cfg.gpu_updates {
        crate::config::Updates::Atomic => engine.backend.matrix_adds()?,
        _ => None,
    };
    let trained = run.done.saturating_sub(run.start_done).max(1);
    let mut report = TrainReport {
        atomic_adds_per_word: adds.map(|a| a as f64 / trained as f64),
        upload_bytes_per_word: Some(engine.uploaded as f64 / run.done.max(1) as f64),
        kernel_seconds,
        pairs: cfg.count_pairs.then_some(engine.pairs),
        streams: Some(cfg.streams),
        ..run.finish()
    };
    finish_distributed(&mut report, sync, dist)?;
    Ok(report)
}

/// A minibatch engine over the corpus: a host thread cuts the subsampled corpus into
/// minibatches of `--batch-size` centre words (with their windows and noise words) while
/// the engine runs the previous one. SGD keeps word2vec's linear decay (`--deterministic`);
/// the adaptive methods use a constant rate. `subwords`: the corpus vocabulary's subword
/// table when `cfg` trains subwords (built once by the caller, which sizes the engine by it).
#[allow(clippy::too_many_arguments)]
pub fn train_minibatches(
    engine: &mut dyn SparseBackend,
    corpus: &Corpus,
    cfg: &TrainConfig,
    subwords: Option<crate::subword::SubwordTable>,
    alias: &AliasTable,
    reporter: &Reporter,
    ck: &mut Checkpointer,
    dist: Option<(&DistRun, &Model)>,
) -> Result<TrainReport> {
    let sub = Subsampler::new(corpus.vocab.counts(), cfg.sample);
    let total = corpus.words() * cfg.epochs as u64;
    let decay = cfg.optimizer == crate::optim::OptimizerKind::Sgd;
    let resume = ck.resume.take();
    let clock = Clock::new(dist.map_or(1, |(d, _)| d.comm.size()), 0, 0);
    let start = resume.as_ref().map_or(0, |c| c.words_done);
    let mut sync = dist.map(|(d, m)| EngineSync::new(d, &clock, m, start));
    let dist = dist.map(|(d, _)| d);
    let (mut run, rank_cfg) = rank_run(cfg, total, decay, &clock, dist, resume.as_ref(), reporter);
    let source = MinibatchSource::new(
        corpus,
        &rank_cfg,
        &sub,
        alias,
        run.start_cursors.as_deref(),
        subwords,
    );
    let mut mb_engine = MinibatchEngine {
        engine,
        examples: 0,
    };
    run_pipeline(&mut mb_engine, source, &mut run, ck, 6, 4, sync.as_mut())?;
    let mut report = run.finish();
    let steps = run.steps;
    let examples = mb_engine.examples;
    reporter.note(&format!(
        "{steps} optimizer steps, {:.0} examples per step",
        examples as f64 / steps.max(1) as f64
    ));
    report.pairs = Some(examples);
    report.streams = Some(cfg.streams);
    finish_distributed(&mut report, sync, dist)?;
    Ok(report)
}

/// A stepped engine's run on this rank, continuing `resume`, and this rank's config. Its
/// learning-rate schedule: word2vec's linear decay (`decay`), otherwise the starting rate
/// throughout. Without `dist`, the plain run's. In a distributed run the rate follows the
/// global word count (`clock`) times the ranks' factor (`--sync-lr-scale`), rank r > 0
/// draws its own subsampling and step random numbers (rank 0: the plain run's), and a
/// resumed rank starts from its own cursor (the checkpoint holds every rank's), whose batch
/// counter is its step count.
fn rank_run<'a>(
    cfg: &'a TrainConfig,
    total: u64,
    decay: bool,
    clock: &'a Clock,
    dist: Option<&DistRun>,
    resume: Option<&crate::checkpoint::Checkpoint>,
    reporter: &Reporter,
) -> (RunState<'a>, TrainConfig) {
    let start = cfg.start_alpha();
    let lr: Box<dyn Fn(u64) -> f32 + 'a> = match dist {
        None if decay => Box::new(move |d| cfg.lr_at(d, total)),
        None => Box::new(move |_| start),
        Some(d) => {
            let factor = d.opts.lr_factor(d.comm.size());
            let global_total = d.global_words * cfg.epochs as u64;
            if decay {
                Box::new(move |w| cfg.lr_at(clock.global(w), global_total) * factor)
            } else {
                Box::new(move |_| start * factor)
            }
        }
    };
    let rank_cfg = TrainConfig {
        seed: match dist.map_or(0, |d| d.comm.rank()) {
            0 => cfg.seed,
            r => cfg.seed.wrapping_mul(1_000_003).wrapping_add(r as u64),
        },
        ..cfg.clone()
    };
    let mut run = RunState::new(cfg, total, resume, reporter, lr);
    if let (Some(d), Some(c)) = (dist, resume) {
        // Rank r's streams are slots r·S .. (r+1)·S of the checkpoint's cursors.
        let s = cfg.streams.max(1);
        let r = d.comm.rank();
        run.start_cursors = c.cursors.get(r * s..(r + 1) * s).map(<[Cursor]>::to_vec);
        run.cursors = run.start_cursors.clone().unwrap_or_default();
        run.steps = run.cursors.first().map_or(0, |c| c.step);
    }
    (run, rank_cfg)
}

/// A distributed run's report: every rank's words, the rate over the training wall time,
/// the sync statistics and every rank's model checksum (an error if the ranks differ).
fn finish_distributed(
    report: &mut TrainReport,
    sync: Option<EngineSync>,
    dist: Option<&DistRun>,
) -> Result<()> {
    if let (Some(ds), Some(dr)) = (sync, dist) {
        let (stats, sums) = ds.finish()?;
        let mut w = [report.words];
        dr.comm.sum_u64(&mut w);
        report.words = w[0];
        report.words_per_second = w[0] as f64 / report.train_seconds.max(1e-9);
        report.ranks = dr.comm.size();
        report.sync = Some(stats);
        report.model_checksums = sums;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The minibatch source covers every kept centre word once, in order, splits each
    /// batch's words exactly, and a resume from any item's cursors reproduces the items
    /// that followed it; with one stream and with three.
    #[test]
    fn minibatch_source_covers_the_corpus_and_resumes_exactly() {
        for streams in [1, 3] {
            minibatch_source_resumes(streams);
        }
    }

    fn minibatch_source_resumes(streams: usize) {
        let corpus = crate::corpus::synthetic_zipf(500, 20_000, 3);
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: Some(300),
            sample: 1e-3,
            streams,
            ..TrainConfig::default()
        };
        let sub = Subsampler::new(corpus.vocab.counts(), cfg.sample);
        let alias = AliasTable::unigram(corpus.vocab.counts(), 0.75);
        let run = |start: Option<&[Cursor]>| {
            let mut src = MinibatchSource::new(&corpus, &cfg, &sub, &alias, start, None);
            let mut out = Vec::new();
            let mut mb = Minibatch::default();
            while src.fill(&mut mb) {
                out.push((
                    mb.words,
                    mb.examples(),
                    mb.cursors.clone(),
                    (mb.inputs.clone(), mb.outputs.clone()),
                ));
            }
            out
        };
        let all = run(None);
        let words: u64 = all.iter().map(|m| m.0).sum();
        assert_eq!(words, corpus.words() * 2, "every word of both epochs, once");
        assert!(all.len() >= 2 * 10_000 / 300, "{} items", all.len());
        assert!(all.iter().all(|m| m.1 > 0), "every item has examples");
        for k in [1, all.len() / 3, all.len() - 1] {
            let again = run(Some(&all[k - 1].2));
            assert_eq!(again, all[k..].to_vec(), "resume after item {k}");
        }
    }
}
