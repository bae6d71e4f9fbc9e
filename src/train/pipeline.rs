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
    /// What a worker thread does to an item after [`WorkSource::fill`] (see
    /// [`WorkSource::finisher`]).
    type Finisher: Finish<W>;
    /// Fills `w` with the next item; `false` at the end of the run.
    fn fill(&mut self, w: &mut W) -> bool;
    /// Where an item's work is mostly not sequential, `fill` only takes its place in the run
    /// (its share of the corpus, its random seed) and a finisher, one per worker thread,
    /// does the rest; items reach the engine in the order `fill` made them, so the workers
    /// change nothing but the speed. `None`: `fill` does all the work.
    fn finisher(&self) -> Option<Self::Finisher> {
        None
    }
}

/// The part of an item's making that worker threads do, in any order.
pub trait Finish<W>: Send {
    fn finish(&mut self, w: &mut W);
}

/// The finisher of sources whose `fill` does everything.
pub struct Filled;

impl<W> Finish<W> for Filled {
    fn finish(&mut self, _: &mut W) {}
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

/// A minibatch and what it is built from: the centre words `centres` of `tokens` (a copy of
/// the batch's tokens around them: every context word they can reach) and the seed of the
/// builder's random numbers (window shrinks, noise words).
#[derive(Default)]
pub struct MinibatchWork {
    pub tokens: Vec<u32>,
    pub centres: std::ops::Range<usize>,
    pub seed: u64,
    pub mb: Minibatch,
}

impl Work for MinibatchWork {
    fn words(&self) -> u64 {
        self.mb.words
    }
    fn cursors(&self) -> &[Cursor] {
        &self.mb.cursors
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
    Streams::new(whole, cfg.stepped_streams())
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
    type Finisher = Filled;
    fn fill(&mut self, w: &mut SgdWork) -> bool {
        if !self.batcher.next_batch(&mut w.batch) {
            return false;
        }
        w.cursors = self.batcher.cursors();
        true
    }
}

/// Minibatches of `batch_size` centre words cut from the batcher's batches. The producer
/// thread cuts them and draws each one's seed from one sequential stream; the examples
/// (windows, noise words) are built by [`MinibatchFinisher`]s on worker threads from that
/// seed alone, so a minibatch is the same however many workers build it.
pub struct MinibatchSource<'a> {
    batcher: Streams<'a>,
    /// Cloned into each worker's finisher.
    builder: MinibatchBuilder,
    alias: &'a AliasTable,
    /// The minibatches' seeds, one draw per minibatch (its state is the checkpoints'
    /// `builder_rng`).
    seeds: Rng,
    batch_size: usize,
    window: usize,
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
        let mut seeds = Rng::new(cfg.seed ^ 0x5ba7_5e00);
        let mut skip = 0;
        // The first cursor also holds the minibatch position inside the batch.
        if let Some(c) = start {
            batcher.restore(c);
            if let Some(first) = c.first() {
                seeds = Rng::from_state(first.builder_rng);
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
            seeds,
            batch_size: cfg.batch_size(),
            window: cfg.window,
            batch: Batch::default(),
            centres: Vec::new(),
            before: Vec::new(),
            groups: 0,
            next: 0,
            skip,
        }
    }
}

impl<'a> WorkSource<MinibatchWork> for MinibatchSource<'a> {
    type Finisher = MinibatchFinisher<'a>;

    fn fill(&mut self, w: &mut MinibatchWork) -> bool {
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
        w.mb.clear();
        w.tokens.clear();
        w.centres = 0..0;
        let lo = g * self.batch_size;
        let hi = ((g + 1) * self.batch_size).min(n);
        if lo < hi {
            // The centres and every word their windows can reach.
            let toks = &self.batch.tokens;
            let (first, last) = (self.centres[lo], self.centres[hi - 1]);
            let from = first.saturating_sub(self.window);
            let to = (last + self.window + 1).min(toks.len());
            w.tokens.extend_from_slice(&toks[from..to]);
            w.centres = first - from..last + 1 - from;
        }
        w.seed = self.seeds.next_u64();
        w.mb.words = words_at(hi) - if n == 0 { 0 } else { words_at(lo) };
        w.mb.cursors.clear();
        w.mb.cursors.extend_from_slice(&self.before);
        if let Some(first) = w.mb.cursors.first_mut() {
            first.group = g as u64 + 1;
            first.builder_rng = self.seeds.state();
        }
        true
    }

    fn finisher(&self) -> Option<MinibatchFinisher<'a>> {
        Some(MinibatchFinisher {
            builder: self.builder.clone(),
            alias: self.alias,
        })
    }
}

/// Builds a minibatch's examples from its tokens and seed, on a worker thread.
pub struct MinibatchFinisher<'a> {
    builder: MinibatchBuilder,
    alias: &'a AliasTable,
}

impl Finish<MinibatchWork> for MinibatchFinisher<'_> {
    fn finish(&mut self, w: &mut MinibatchWork) {
        if !w.centres.is_empty() {
            let mut rng = Rng::new(w.seed);
            let centres = w.centres.clone();
            self.builder
                .add(&w.tokens, centres, &mut rng, self.alias, &mut w.mb);
            self.builder.finish(&mut w.mb);
        }
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
    /// Positions (tokens, sentence ends included) and steps this process trained.
    pub positions: u64,
    pub steps: u64,
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
            positions: 0,
            steps: 0,
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
        self.positions += w.batch.tokens.len() as u64;
        self.steps += 1;
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

impl Engine<MinibatchWork> for MinibatchEngine<'_> {
    fn step(&mut self, w: &MinibatchWork, rate: Rate, _step: u64) -> Result<bool> {
        let mb = &w.mb;
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
/// producer/consumer loop of every stepped engine. A producer thread fills items in corpus
/// order; where the source has a [`WorkSource::finisher`], `workers` threads finish them
/// (in any order) and the engine takes them back in the producer's order. About `queued`
/// items wait ready for the engine. Returns the device's busy seconds, where measured.
pub fn run_pipeline<W: Work, S: WorkSource<W>, E: Engine<W>>(
    engine: &mut E,
    mut source: S,
    run: &mut RunState<'_>,
    ck: &mut Checkpointer,
    workers: usize,
    queued: usize,
    mut dist: Option<&mut EngineSync>,
) -> Result<Option<f64>> {
    let finishers: Vec<S::Finisher> = (0..workers.max(1))
        .map_while(|_| source.finisher())
        .collect();
    // Items in circulation: each worker's, those queued for the workers and for the
    // engine, and the one the engine applies.
    let buffers = queued + 2 * finishers.len() + 2;
    let mut flow = Flow::Continue;
    let result: Result<()> = std::thread::scope(|s| {
        // Items numbered in fill order, finished or not, for the engine's reordering.
        let (done_tx, done_rx) = mpsc::sync_channel::<(u64, W)>(buffers);
        let (empty_tx, empty_rx) = mpsc::channel::<W>();
        for _ in 0..buffers {
            let _ = empty_tx.send(W::default());
        }
        let to_workers = if finishers.is_empty() {
            None
        } else {
            let (todo_tx, todo_rx) = mpsc::sync_channel::<(u64, W)>(finishers.len());
            let todo_rx = std::sync::Mutex::new(todo_rx);
            let todo_rx = std::sync::Arc::new(todo_rx);
            for mut f in finishers {
                let (todo_rx, done_tx) = (todo_rx.clone(), done_tx.clone());
                s.spawn(move || loop {
                    // The lock is held while waiting only; another worker finishes meanwhile.
                    let next = todo_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((k, mut w))) = next else { break };
                    f.finish(&mut w);
                    if done_tx.send((k, w)).is_err() {
                        break;
                    }
                });
            }
            Some(todo_tx)
        };
        s.spawn(move || {
            let mut k = 0u64;
            while let Ok(mut w) = empty_rx.recv() {
                if !source.fill(&mut w) {
                    break;
                }
                let sent = match &to_workers {
                    Some(tx) => tx.send((k, w)).is_ok(),
                    None => done_tx.send((k, w)).is_ok(),
                };
                if !sent {
                    break;
                }
                k += 1;
            }
        });
        let mut next = 0u64;
        let mut early = std::collections::BTreeMap::<u64, W>::new();
        loop {
            let t = Instant::now();
            let w = loop {
                if let Some(w) = early.remove(&next) {
                    break Some(w);
                }
                match done_rx.recv() {
                    Ok((k, w)) => {
                        early.insert(k, w);
                    }
                    Err(_) => break None,
                }
            };
            let Some(w) = w else { break };
            next += 1;
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
    let kernel_seconds = run_pipeline(&mut engine, source, &mut run, ck, 1, 3, sync.as_mut())?;
    // Atomic adds per word this process trained (every add is atomic only with
    // `--gpu-updates atomic`).
    let adds = match cfg.gpu_updates {
        crate::config::Updates::Atomic => engine.backend.matrix_adds()?,
        _ => None,
    };
    let in_flight = engine.backend.workgroups_in_flight_peak()?;
    let trained = run.done.saturating_sub(run.start_done).max(1);
    let mut report = TrainReport {
        atomic_adds_per_word: adds.map(|a| a as f64 / trained as f64),
        workgroups_in_flight_peak: in_flight,
        upload_bytes_per_word: Some(engine.uploaded as f64 / run.done.max(1) as f64),
        positions_per_step: Some(engine.positions as f64 / engine.steps.max(1) as f64),
        kernel_seconds,
        pairs: cfg.count_pairs.then_some(engine.pairs),
        streams: Some(cfg.stepped_streams()),
        ..run.finish()
    };
    finish_distributed(&mut report, sync, dist)?;
    Ok(report)
}

/// A minibatch engine over the corpus: a host thread cuts the subsampled corpus into
/// minibatches of `--batch-size` centre words and `builders` threads build their examples
/// (windows and noise words) while the engine runs the previous ones. SGD keeps word2vec's
/// linear decay (`--deterministic`); the adaptive methods use a constant rate. `subwords`:
/// the corpus vocabulary's subword table when `cfg` trains subwords (built once by the
/// caller, which sizes the engine by it).
#[allow(clippy::too_many_arguments)]
pub fn train_minibatches(
    engine: &mut dyn SparseBackend,
    corpus: &Corpus,
    cfg: &TrainConfig,
    subwords: Option<crate::subword::SubwordTable>,
    alias: &AliasTable,
    builders: usize,
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
    run_pipeline(
        &mut mb_engine,
        source,
        &mut run,
        ck,
        builders,
        4,
        sync.as_mut(),
    )?;
    let mut report = run.finish();
    let steps = run.steps;
    let examples = mb_engine.examples;
    reporter.note(&format!(
        "{steps} optimizer steps, {:.0} examples per step",
        examples as f64 / steps.max(1) as f64
    ));
    report.pairs = Some(examples);
    report.streams = Some(cfg.stepped_streams());
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
                Box::new(move |w| clock.lr(cfg, w, global_total, factor))
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
        let s = cfg.stepped_streams();
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
            streams: Some(streams),
            ..TrainConfig::default()
        };
        let sub = Subsampler::new(corpus.vocab.counts(), cfg.sample);
        let alias = AliasTable::unigram(corpus.vocab.counts(), 0.75);
        let run = |start: Option<&[Cursor]>| {
            let mut src = MinibatchSource::new(&corpus, &cfg, &sub, &alias, start, None);
            let mut fin = src.finisher().unwrap();
            let mut out = Vec::new();
            let mut w = MinibatchWork::default();
            while src.fill(&mut w) {
                fin.finish(&mut w);
                let mb = &w.mb;
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

    /// Items finished by several workers, each taking its own time, reach the engine in the
    /// order the producer filled them, every one once.
    #[test]
    fn workers_finish_in_any_order_and_the_engine_takes_fill_order() {
        #[derive(Default)]
        struct Item {
            k: u64,
            squared: u64,
            cursors: Vec<Cursor>,
        }
        impl Work for Item {
            fn words(&self) -> u64 {
                1
            }
            fn cursors(&self) -> &[Cursor] {
                &self.cursors
            }
        }
        struct Numbers(u64, std::sync::atomic::AtomicU64);
        struct Square(Rng);
        impl Finish<Item> for Square {
            fn finish(&mut self, w: &mut Item) {
                std::thread::sleep(std::time::Duration::from_micros(self.0.below(300) as u64));
                w.squared = w.k * w.k;
            }
        }
        impl WorkSource<Item> for Numbers {
            type Finisher = Square;
            fn fill(&mut self, w: &mut Item) -> bool {
                w.k = self.0;
                w.squared = 0;
                self.0 += 1;
                self.0 <= 200
            }
            fn finisher(&self) -> Option<Square> {
                // Each worker sleeps its own fixed sequence of times.
                let worker = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(Square(Rng::new(worker)))
            }
        }
        struct Record(Vec<(u64, u64)>);
        impl Engine<Item> for Record {
            fn step(&mut self, w: &Item, _: Rate, _: u64) -> Result<bool> {
                self.0.push((w.k, w.squared));
                Ok(true)
            }
            fn take_loss(&mut self) -> Result<Option<StepLoss>> {
                Ok(None)
            }
            fn snapshot(&mut self) -> Result<(Model, Option<OptimState>)> {
                unreachable!("no checkpoints in this run")
            }
            fn finish(&mut self) -> Result<Option<f64>> {
                Ok(None)
            }
        }
        let corpus = crate::corpus::synthetic_zipf(50, 1_000, 1);
        let cfg = TrainConfig::default();
        let reporter = Reporter::quiet();
        for workers in [1, 4] {
            let mut ck = Checkpointer::new(&cfg, &corpus, "test", &reporter).unwrap();
            let mut run = RunState::new(&cfg, 200, None, &reporter, Box::new(|_| 0.025));
            let mut engine = Record(Vec::new());
            let numbers = Numbers(0, Default::default());
            run_pipeline(&mut engine, numbers, &mut run, &mut ck, workers, 4, None).unwrap();
            let want: Vec<(u64, u64)> = (0..200).map(|k| (k, k * k)).collect();
            assert_eq!(engine.0, want, "{workers} workers");
        }
    }
}
