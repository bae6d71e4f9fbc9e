//! The training run: corpus → vocabulary → engine → vectors file. Backend-agnostic: the
//! learning-rate schedule, progress and the summary are the same for every engine.

use crate::backend::cpu::{Hogwild, Worker};
use crate::backend::cpu_sparse::CpuSparse;
use crate::backend::{gpu, Backend, KernelParams, Rate, SparseBackend, StepLoss};
use crate::batch::{split_ranges, Batch, Batcher};
use crate::checkpoint::{Checkpoint, Cursor};
use crate::config::CheckpointEvery;
use crate::config::{BackendKind, TrainConfig};
use crate::corpus::{self, Corpus, SENTENCE_END};
use crate::error::Error;
use crate::error::Result;
use crate::loss::SigmoidTable;
use crate::minibatch::{Minibatch, MinibatchBuilder};
use crate::model::Model;
use crate::optim::{OptimState, OptimizerKind};
pub use crate::progress::Reporter;
use crate::sampling::{step_key, AliasTable, Subsampler};
use crate::vocab::Vocab;
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a run did; printed as the summary and as `--json`.
#[derive(Debug, Clone, Default)]
pub struct TrainReport {
    /// In-vocabulary corpus words processed, all epochs.
    pub words: u64,
    /// Seconds of training, excluding reading the corpus and building the vocabulary.
    pub train_seconds: f64,
    pub words_per_second: f64,
    pub vocab_size: usize,
    /// Mean loss per term over the last 10% of training words.
    pub final_loss: Option<f64>,
    pub backend: String,
    pub adapter: Option<String>,
    /// The GPU kernel variant that ran (GPU SGD only).
    pub kernel: Option<String>,
    /// `native` or `cas`: how the GPU kernel made its atomic float adds.
    pub atomics: Option<String>,
    /// Why that kernel and those atomics: a flag, or the adapter's features.
    pub kernel_reason: Option<String>,
    pub corpus_seconds: f64,
    pub tokens_read: u64,
    /// Skip-gram pairs or CBOW centre predictions (CPU trainer only).
    pub pairs: Option<u64>,
    /// Bytes written to the device per corpus word (GPU only).
    pub upload_bytes_per_word: Option<f64>,
    /// Fraction of the GPU loop's wall time spent waiting for the batcher (GPU only).
    pub batcher_wait_fraction: Option<f64>,
    /// Seconds the device spent in training kernels (GPU with timestamp queries).
    pub kernel_seconds: Option<f64>,
    pub threads: usize,
    /// `sgd`, `adagrad`, `adam` or `rmsprop`.
    pub optimizer: String,
    /// Bytes of the two matrices and of the optimizer state.
    pub model_bytes: u64,
    pub state_bytes: u64,
    /// (words done, mean loss per term since the previous point), about every 1% of the run.
    pub loss_curve: Vec<(u64, f64)>,
    /// Stopped early by SIGINT/SIGTERM.
    pub interrupted: bool,
    /// Words already done by the checkpoint this run resumed from.
    pub resumed_from: Option<u64>,
}

impl TrainReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "words": self.words,
            "train_seconds": self.train_seconds,
            "words_per_second": self.words_per_second,
            "vocab_size": self.vocab_size,
            "final_loss": self.final_loss,
            "backend": self.backend,
            "adapter": self.adapter,
            "kernel": self.kernel,
            "atomics": self.atomics,
            "kernel_reason": self.kernel_reason,
            "corpus_seconds": self.corpus_seconds,
            "tokens_read": self.tokens_read,
            "pairs": self.pairs,
            "upload_bytes_per_word": self.upload_bytes_per_word,
            "batcher_wait_fraction": self.batcher_wait_fraction,
            "kernel_seconds": self.kernel_seconds,
            "gpu_busy_fraction": self.kernel_seconds.map(|k| k / self.train_seconds.max(1e-9)),
            "threads": self.threads,
            "optimizer": self.optimizer,
            "model_bytes": self.model_bytes,
            "state_bytes": self.state_bytes,
            "loss_curve": self.loss_curve,
            "interrupted": self.interrupted,
            "resumed_from": self.resumed_from,
            "peak_rss_bytes": peak_rss_bytes(),
        })
    }
}

/// The process's peak resident memory so far (`VmHWM` on Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Mean loss per term above which a run counts as diverged. A fresh model starts at ln 2 ≈
/// 0.69 per term and healthy runs fall below it; 20 per term means logits of ±20, vectors
/// that have blown up (measured: `--alpha 0.5` reaches millions, `--alpha 1` NaN).
pub const DIVERGED_LOSS: f64 = 20.0;

/// Fails when the loss says training has diverged: not a number, infinite, or above
/// [`DIVERGED_LOSS`] per term.
pub fn check_divergence(mean_loss: f64, done: u64, cfg: &TrainConfig) -> Result<()> {
    if mean_loss.is_finite() && mean_loss <= DIVERGED_LOSS {
        return Ok(());
    }
    Err(diverged(
        &format!("the loss per term reached {mean_loss} after {done} words"),
        cfg,
    ))
}

/// The divergence error: names the cause, the way out, and what was kept.
fn diverged(cause: &str, cfg: &TrainConfig) -> Error {
    let kept = match &cfg.checkpoint_dir {
        Some(d) => format!("the newest checkpoint in {} is from before; ", d.display()),
        None => String::new(),
    };
    Error::Diverged(format!(
        "training diverged: {cause} (learning rate --alpha {} with --optimizer {}). Nothing was written to {}; {kept}use a smaller --alpha (e.g. {})",
        cfg.start_alpha(),
        cfg.optimizer.name(),
        cfg.output.display(),
        cfg.start_alpha() / 4.0
    ))
}

/// Fails when either matrix holds a non-finite value (checked before writing vectors).
pub fn check_model_finite(model: &Model, cfg: &TrainConfig) -> Result<()> {
    for (name, m) in [("input", &model.input), ("output", &model.output)] {
        if let Some(i) = m.iter().position(|x| !x.is_finite()) {
            return Err(diverged(
                &format!(
                    "the {name} vector of word {} holds {}",
                    i / model.dim.max(1),
                    m[i]
                ),
                cfg,
            ));
        }
    }
    Ok(())
}

/// Loss bookkeeping: everything, and the tail (last 10% of words) for `final_loss`.
#[derive(Default)]
struct LossLog {
    tail: StepLoss,
    curve: Vec<(u64, f64)>,
    pending: StepLoss,
}

impl LossLog {
    /// Whether 1% of the run has passed since the last curve point.
    fn due(&self, done: u64, total: u64) -> bool {
        let last = self.curve.last().map_or(0, |p| p.0);
        (done - last) * 100 >= total
    }

    fn add(&mut self, l: StepLoss, done: u64, total: u64) {
        self.pending.sum += l.sum;
        self.pending.terms += l.terms;
        let last = self.curve.last().map_or(0, |p| p.0);
        if (done - last) * 100 >= total || done >= total {
            if let Some(m) = self.pending.mean() {
                self.curve.push((done, m));
            }
            self.pending = StepLoss::default();
        }
        if done * 10 >= total * 9 {
            self.tail.sum += l.sum;
            self.tail.terms += l.terms;
        }
    }
}

/// Reads the corpus, trains, writes the vectors. The whole `train` subcommand.
pub fn train(cfg: &TrainConfig, reporter: &Reporter) -> Result<TrainReport> {
    cfg.validate()?;
    let (model, corpus, mut report) = train_model(cfg, reporter)?;
    if let Some(l) = report.final_loss {
        check_divergence(l, report.words, cfg)?;
    }
    check_model_finite(&model, cfg)?;
    crate::io::write_vectors(
        &cfg.output,
        corpus.vocab.words(),
        model.dim,
        &model.input,
        cfg.output_format(),
    )?;
    report.vocab_size = corpus.vocab.len();
    if report.interrupted {
        let total = corpus.words() * cfg.epochs as u64;
        let how = match &cfg.checkpoint_dir {
            Some(d) => format!(
                "a checkpoint is in {}; continue with the same command plus --resume {}",
                d.display(),
                d.display()
            ),
            None => "no --checkpoint-dir was given, so the run cannot be resumed; next time add --checkpoint-dir DIR".to_string(),
        };
        let done = report.resumed_from.unwrap_or(0) + report.words;
        return Err(Error::Interrupted(format!(
            "interrupted after {done} of {total} words ({:.1}%); the vectors so far are in {}; {how}",
            100.0 * done as f64 / total.max(1) as f64,
            cfg.output.display()
        )));
    }
    Ok(report)
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks every running trainer to stop after its current step (what SIGINT/SIGTERM do).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// SIGINT/SIGTERM: the first asks the trainer to finish its step, checkpoint, write the
/// vectors and exit; a second exits at once (130). Every file is written to a temporary
/// name and renamed, so exiting at any moment leaves earlier outputs and checkpoints whole.
pub fn install_signal_handlers() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\nsecond interrupt: exiting now; earlier outputs and checkpoints are intact"
            );
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current step, then saving (interrupt again to exit at once)");
    });
}

/// The `train` arguments stored in the newest checkpoint of `dir` (what `--resume DIR`
/// alone continues with).
pub fn stored_args(dir: &std::path::Path) -> Result<Vec<String>> {
    let c = Checkpoint::load_latest(dir, &|_| {})?;
    let args = c.fingerprint["args"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if args.is_empty() {
        return Err(Error::usage(
            "--resume",
            format!(
                "the checkpoints in {} do not record their settings (written by an older version); give the original --input, --output and flags with --resume",
                dir.display()
            ),
        ));
    }
    Ok(args
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect())
}

/// Identity of a run for `--resume`: the corpus (path, size, tokens, vocabulary) and every
/// setting that changes what is trained. A resume must match it exactly.
pub fn fingerprint(cfg: &TrainConfig, corpus: &Corpus, engine: &str) -> serde_json::Value {
    let mut vocab = Vec::new();
    for (w, c) in corpus.vocab.words().iter().zip(corpus.vocab.counts()) {
        vocab.extend_from_slice(w.as_bytes());
        vocab.extend_from_slice(&c.to_le_bytes());
    }
    let input = cfg
        .input
        .canonicalize()
        .unwrap_or_else(|_| cfg.input.clone());
    let opt = cfg.optim_params();
    let mut more = serde_json::Map::new();
    if !cfg.more_inputs.is_empty() {
        let canon = |p: &std::path::PathBuf| p.canonicalize().unwrap_or_else(|_| p.clone());
        more.insert(
            "more_inputs".into(),
            cfg.more_inputs
                .iter()
                .map(|p| canon(p).display().to_string())
                .collect::<Vec<_>>()
                .into(),
        );
    }
    let mut fp = serde_json::json!({
        "input": input.display().to_string(),
        "input_bytes": std::fs::metadata(&cfg.input).map(|m| m.len()).ok(),
        "tokens": corpus.tokens_read,
        "vocab_size": corpus.vocab.len(),
        "vocab_checksum": format!("{:016x}", crate::checkpoint::checksum(&vocab)),
        "model": cfg.model.name(),
        "dim": cfg.dim,
        "window": cfg.window,
        "negative": cfg.negative,
        "sample": cfg.sample,
        "ns_exponent": cfg.ns_exponent,
        "init": if cfg.uniform_init { "uniform" } else { "word2vec" },
        "epochs": cfg.epochs,
        "alpha": cfg.start_alpha(),
        "min_alpha": cfg.min_alpha,
        "seed": cfg.seed,
        "optimizer": cfg.optimizer.name(),
        "batch_size": cfg.minibatches().then(|| cfg.batch_size()),
        "beta1": (cfg.optimizer == OptimizerKind::Adam).then_some(opt.beta1),
        "beta2": cfg.beta2.map(|_| opt.beta2),
        "eps": cfg.eps,
        "engine": engine,
    });
    if let Some(o) = fp.as_object_mut() {
        o.extend(more);
    }
    fp
}

/// Periodic checkpoints for a run, and the checkpoint it resumes from.
pub struct Checkpointer<'a> {
    dir: Option<std::path::PathBuf>,
    every: CheckpointEvery,
    fingerprint: serde_json::Value,
    /// The `train` arguments of this run, stored beside the fingerprint so that
    /// `--resume DIR` alone can continue with them.
    args: Vec<String>,
    corpus: &'a Corpus,
    last_time: Instant,
    last_words: u64,
    reporter: &'a Reporter,
    /// The checkpoint being resumed, taken by the trainer at start.
    pub resume: Option<Checkpoint>,
}

impl<'a> Checkpointer<'a> {
    /// Loads the newest checkpoint of `--resume` (refusing a different corpus or config).
    pub fn new(
        cfg: &TrainConfig,
        corpus: &'a Corpus,
        engine: &str,
        reporter: &'a Reporter,
    ) -> Result<Checkpointer<'a>> {
        let fingerprint = fingerprint(cfg, corpus, engine);
        let resume = match &cfg.resume {
            None => None,
            Some(dir) => {
                let c = Checkpoint::load_latest(dir, &|m| reporter.note(m))?;
                let diff: Vec<String> = fingerprint
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| c.fingerprint.get(k.as_str()) != Some(v))
                    .map(|(k, v)| {
                        format!(
                            "{k}: checkpoint {}, this run {v}",
                            c.fingerprint
                                .get(k.as_str())
                                .unwrap_or(&serde_json::Value::Null)
                        )
                    })
                    .collect();
                if !diff.is_empty() {
                    return Err(Error::usage(
                        "--resume",
                        format!(
                            "{} was written by a different run; use the same corpus and settings. Differences: {}",
                            dir.display(),
                            diff.join("; ")
                        ),
                    ));
                }
                reporter.note(&format!(
                    "resuming from {} words done ({})",
                    c.words_done,
                    dir.display()
                ));
                Some(c)
            }
        };
        Ok(Checkpointer {
            dir: cfg.checkpoint_dir.clone(),
            every: cfg.checkpoint_every,
            fingerprint,
            args: cfg.command_line.clone(),
            corpus,
            last_time: Instant::now(),
            last_words: resume.as_ref().map_or(0, |c| c.words_done),
            reporter,
            resume,
        })
    }

    /// Whether a checkpoint is due after `done` words (never without a directory).
    pub fn due(&self, done: u64) -> bool {
        self.dir.is_some()
            && match self.every {
                CheckpointEvery::Seconds(s) => self.last_time.elapsed().as_secs() >= s,
                CheckpointEvery::Words(w) => done - self.last_words >= w,
            }
    }

    pub fn enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Writes a checkpoint (no-op without a directory).
    pub fn save(
        &mut self,
        done: u64,
        steps: u64,
        cursors: Vec<Cursor>,
        model: Model,
        state: Option<OptimState>,
    ) -> Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let mut fingerprint = self.fingerprint.clone();
        if let Some(o) = fingerprint.as_object_mut() {
            // Not compared on resume (only the keys of a new run's fingerprint are).
            o.insert("args".into(), self.args.clone().into());
        }
        let c = Checkpoint {
            fingerprint,
            words_done: done,
            steps,
            cursors,
            words: self.corpus.vocab.words().to_vec(),
            counts: self.corpus.vocab.counts().to_vec(),
            model,
            state,
        };
        let path = c.save(dir)?;
        self.reporter
            .note(&format!("checkpoint: {}", path.display()));
        self.last_time = Instant::now();
        self.last_words = done;
        Ok(())
    }
}

/// Trains and returns the model without writing it (the library entry point for tests
/// and benchmarks).
pub fn train_model(cfg: &TrainConfig, reporter: &Reporter) -> Result<(Model, Corpus, TrainReport)> {
    cfg.validate()?;
    // Open the GPU first: a missing adapter should fail before minutes of corpus reading.
    let engine = match cfg.backend {
        BackendKind::Cpu => None,
        kind => gpu::GpuContext::open(kind, cfg.adapter, reporter)?,
    };
    let t0 = Instant::now();
    let fixed = match &cfg.read_vocab {
        Some(p) => Some(Vocab::load(p, cfg.min_count, cfg.max_vocab)?),
        None => None,
    };
    let mut inputs = vec![cfg.input.clone()];
    inputs.extend(cfg.more_inputs.iter().cloned());
    let corpus = corpus::load_all(&inputs, cfg.min_count, cfg.max_vocab, fixed)?;
    if let Some(p) = &cfg.save_vocab {
        corpus.vocab.save(p)?;
    }
    let corpus_seconds = t0.elapsed().as_secs_f64();
    reporter.note(&format!(
        "corpus: {} tokens, vocabulary {} words, {} training words per epoch ({:.1}s)",
        corpus.tokens_read,
        corpus.vocab.len(),
        corpus.words(),
        corpus_seconds
    ));
    let (model, mut report) = train_corpus(&corpus, engine, cfg, reporter).map_err(|e| match (e, &cfg.checkpoint_dir) {
        // What can be saved is on disk already: point at it.
        (Error::Gpu(m), Some(dir)) if crate::checkpoint::list(dir).is_ok_and(|l| !l.is_empty()) => Error::Gpu(format!(
            "{m}\nThe newest checkpoint in {} is intact: rerun the same command with --resume {} to continue from it.",
            dir.display(),
            dir.display()
        )),
        (e, _) => e,
    })?;
    report.corpus_seconds = corpus_seconds;
    Ok((model, corpus, report))
}

/// Trains on an already encoded corpus with the given engine (`None`: the CPU trainer),
/// resuming from `cfg.resume` and checkpointing into `cfg.checkpoint_dir` when set.
pub fn train_corpus(
    corpus: &Corpus,
    engine: Option<gpu::GpuContext>,
    cfg: &TrainConfig,
    reporter: &Reporter,
) -> Result<(Model, TrainReport)> {
    let params = KernelParams {
        model: cfg.model,
        dim: cfg.dim,
        window: cfg.window,
        negative: cfg.negative,
    };
    let cpu_threads = cfg.threads.min(corpus.ids.len().max(1));
    let engine_name = if cfg.minibatches() {
        "minibatch".to_string()
    } else if engine.is_some() {
        format!("gpu-sgd, --gpu-batch {}", cfg.gpu_batch)
    } else {
        format!("hogwild, {cpu_threads} threads")
    };
    let mut ck = Checkpointer::new(cfg, corpus, &engine_name, reporter)?;
    let resumed_from = ck.resume.as_ref().map(|c| c.words_done);
    let mut model = match ck.resume.as_mut() {
        Some(c) => std::mem::replace(&mut c.model, Model::new(0, 1, 0)),
        None if cfg.uniform_init => Model::new_uniform(corpus.vocab.len(), cfg.dim, cfg.seed),
        None => Model::new(corpus.vocab.len(), cfg.dim, cfg.seed),
    };
    if cfg.minibatches() {
        let (model, mut r) =
            train_sparse_corpus(corpus, engine, cfg, params, model, reporter, &mut ck)?;
        r.resumed_from = resumed_from;
        return Ok((model, r));
    }
    let mut report = match engine {
        None => train_cpu(corpus, cfg, &params, &mut model, reporter, &mut ck)?,
        Some(ctx) => {
            let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
            let mut gpu = gpu::GpuBackend::new(ctx, &model, params, &alias, cfg)?;
            reporter.note(&format!(
                "training on {} (kernel: {})",
                gpu.describe(),
                gpu.kernel_name()
            ));
            let mut r = train_with_backend(&mut gpu, corpus, cfg, reporter, &mut ck)?;
            model = gpu.download()?;
            r.adapter = Some(gpu.describe());
            r.kernel = Some(gpu.kernel_name());
            r.atomics = Some(gpu.atomics().name().to_string());
            r.kernel_reason = Some(gpu.kernel_reason().to_string());
            r.backend = gpu.backend_name().to_string();
            r
        }
    };
    report.tokens_read = corpus.tokens_read;
    report.vocab_size = corpus.vocab.len();
    report.optimizer = cfg.optimizer.name().into();
    report.model_bytes = model.bytes();
    report.resumed_from = resumed_from;
    Ok((model, report))
}

/// The adaptive optimizers: prints the memory the model and its state need, then trains
/// minibatches on the CPU or the GPU.
fn train_sparse_corpus(
    corpus: &Corpus,
    engine: Option<gpu::GpuContext>,
    cfg: &TrainConfig,
    params: KernelParams,
    model: Model,
    reporter: &Reporter,
    ck: &mut Checkpointer,
) -> Result<(Model, TrainReport)> {
    let opt = cfg.optim_params();
    let vocab = corpus.vocab.len();
    let state_bytes = OptimState::bytes_for(opt.kind, vocab, cfg.dim);
    let model_bytes = model.bytes();
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    reporter.note(&format!(
        "memory: model {:.1} MiB (2 × {vocab} × {} f32) + {} state {:.1} MiB = {:.1} MiB",
        mib(model_bytes),
        cfg.dim,
        opt.kind.name(),
        mib(state_bytes),
        mib(model_bytes + state_bytes)
    ));
    let state = match ck.resume.as_mut().and_then(|c| c.state.take()) {
        Some(s) if s.kind == opt.kind => s,
        _ => OptimState::new(opt.kind, vocab, cfg.dim),
    };
    let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
    let mut engine: Box<dyn SparseBackend> = match engine {
        None => Box::new(CpuSparse::new(model, state, opt).with_threads(cfg.threads)),
        Some(ctx) => Box::new(gpu::sparse::GpuSparse::new(
            ctx,
            &model,
            &state,
            params,
            opt,
            cfg.batch_size(),
            cfg.max_binding_bytes,
        )?),
    };
    reporter.note(&format!(
        "training on {} with {} (lazy{}), minibatches of {} centre words, lr {}",
        engine.describe(),
        opt.kind.name(),
        if opt.dense {
            ": off, dense updates"
        } else {
            ""
        },
        cfg.batch_size(),
        cfg.start_alpha()
    ));
    let mut report = train_minibatches(engine.as_mut(), corpus, cfg, &alias, reporter, ck)?;
    let (model, _state) = engine.download()?;
    report.backend = engine.backend_name().into();
    if cfg.backend == BackendKind::Cpu {
        report.threads = cfg.threads;
    }
    if cfg.backend != BackendKind::Cpu {
        report.adapter = Some(engine.describe());
    }
    report.tokens_read = corpus.tokens_read;
    report.vocab_size = vocab;
    report.optimizer = opt.kind.name().into();
    report.model_bytes = model_bytes;
    report.state_bytes = state_bytes;
    Ok((model, report))
}

/// Drives a [`SparseBackend`]: a host thread cuts the subsampled corpus into minibatches of
/// `--batch-size` centre words (with their windows and noise words) while the engine runs
/// the previous one.
pub fn train_minibatches(
    engine: &mut dyn SparseBackend,
    corpus: &Corpus,
    cfg: &TrainConfig,
    alias: &AliasTable,
    reporter: &Reporter,
    ck: &mut Checkpointer,
) -> Result<TrainReport> {
    let counts = corpus.vocab.counts();
    let sub = Subsampler::new(counts, cfg.sample);
    let total = corpus.words() * cfg.epochs as u64;
    let start_lr = cfg.start_alpha();
    // Minibatch SGD keeps word2vec's linear decay; the adaptive methods use a constant rate.
    let decay = cfg.optimizer == OptimizerKind::Sgd;
    let lr_at = |done: u64| {
        if decay {
            cfg.lr_at(done, total)
        } else {
            start_lr
        }
    };
    let batch_size = cfg.batch_size();
    let bar = reporter.bar(total);
    let start = Instant::now();
    let resume = ck.resume.take();
    let (mut done, mut steps) = resume.as_ref().map_or((0, 0), |c| (c.words_done, c.steps));
    let start_done = done;
    let start_cursor = resume.as_ref().and_then(|c| c.cursors.first().copied());
    let mut last_cursor = start_cursor.unwrap_or_default();
    let mut examples = 0u64;
    let mut interrupted = false;
    let mut wait = Duration::ZERO;
    let mut log = LossLog::default();
    let mut last_report = Instant::now();
    let mut recent = None;
    let result: Result<()> = std::thread::scope(|s| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Minibatch>(4);
        let (empty_tx, empty_rx) = mpsc::channel::<Minibatch>();
        for _ in 0..6 {
            let _ = empty_tx.send(Minibatch::default());
        }
        let sub = &sub;
        s.spawn(move || {
            let mut batcher = Batcher::new(
                &corpus.ids,
                0..corpus.ids.len(),
                cfg.epochs,
                sub,
                cfg.sample > 0.0,
                cfg.seed ^ 0xb47c,
                1 << 16,
            );
            let mut builder =
                MinibatchBuilder::new(cfg.model, cfg.window, cfg.negative, corpus.vocab.len());
            let mut rng = crate::sampling::Rng::new(cfg.seed ^ 0x5ba7_5e00);
            let mut skip = 0;
            if let Some(c) = start_cursor {
                batcher.restore(&c);
                rng = crate::sampling::Rng::from_state(c.builder_rng);
                skip = c.group as usize;
            }
            let mut batch = Batch::default();
            let mut centres = Vec::new();
            loop {
                let before = batcher.cursor();
                if !batcher.next_batch(&mut batch) {
                    break;
                }
                centres.clear();
                centres
                    .extend((0..batch.tokens.len()).filter(|&i| batch.tokens[i] != SENTENCE_END));
                let n = centres.len();
                let groups = n.div_ceil(batch_size).max(1);
                // Words per group: a telescoping split of the batch's words.
                let words_at = |c: usize| {
                    if n == 0 {
                        batch.words
                    } else {
                        batch.words * c as u64 / n as u64
                    }
                };
                for g in std::mem::take(&mut skip)..groups {
                    let Ok(mut mb) = empty_rx.recv() else { return };
                    mb.clear();
                    let lo = g * batch_size;
                    let hi = ((g + 1) * batch_size).min(n);
                    if lo < hi {
                        let range = centres[lo]..centres[hi - 1] + 1;
                        builder.add(&batch.tokens, range, &mut rng, alias, &mut mb);
                        builder.finish(&mut mb);
                    }
                    mb.words = words_at(hi) - if n == 0 { 0 } else { words_at(lo) };
                    mb.cursor = Cursor {
                        group: g as u64 + 1,
                        builder_rng: rng.state(),
                        ..before
                    };
                    if full_tx.send(mb).is_err() {
                        return;
                    }
                }
            }
        });
        loop {
            let t = Instant::now();
            let Ok(mb) = full_rx.recv() else { break };
            wait += t.elapsed();
            if mb.examples() > 0 {
                engine.step(&mb, lr_at(done))?;
                steps += 1;
                examples += mb.examples() as u64;
            }
            done += mb.words;
            last_cursor = mb.cursor;
            let _ = empty_tx.send(mb);
            let stop = stop_requested();
            if ck.due(done) || (stop && ck.enabled()) {
                let (model, state) = engine.download()?;
                // A diverged model never replaces the newest good checkpoint.
                check_model_finite(&model, cfg)?;
                ck.save(done, steps, vec![last_cursor], model, Some(state))?;
            }
            if stop {
                interrupted = true;
                break;
            }
            if last_report.elapsed() > Duration::from_millis(500) || log.due(done, total) {
                if let Some(l) = engine.take_loss()? {
                    log.add(l, done, total);
                    recent = l.mean().or(recent);
                    if let Some(m) = l.mean() {
                        check_divergence(m, done, cfg)?;
                    }
                }
                progress_message(&bar, done, start, recent, lr_at(done));
                last_report = Instant::now();
            }
        }
        drop(empty_tx);
        if let Some(l) = engine.take_loss()? {
            log.add(l, done, total);
        }
        Ok(())
    });
    result?;
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    reporter.note(&format!(
        "{steps} optimizer steps, {:.0} examples per step",
        examples as f64 / steps.max(1) as f64
    ));
    Ok(TrainReport {
        words: done - start_done,
        train_seconds: secs,
        words_per_second: (done - start_done) as f64 / secs.max(1e-9),
        final_loss: log.tail.mean(),
        loss_curve: log.curve,
        batcher_wait_fraction: Some(wait.as_secs_f64() / secs.max(1e-9)),
        pairs: Some(examples),
        threads: 1,
        interrupted,
        ..TrainReport::default()
    })
}

fn progress_message(bar: &ProgressBar, done: u64, start: Instant, loss: Option<f64>, alpha: f32) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let loss = loss.map_or("-".to_string(), |l| format!("{l:.4}"));
    bar.set_position(done);
    bar.set_message(format!(
        "{:.0}k words/s  loss {loss}  lr {alpha:.5}",
        done as f64 / secs / 1e3
    ));
}

/// word2vec.c's multi-threaded trainer: each thread takes a range of the id stream and runs
/// all epochs over it, sharing the matrices Hogwild-style; the learning rate follows the
/// words done by all threads together.
pub fn train_cpu(
    corpus: &Corpus,
    cfg: &TrainConfig,
    params: &KernelParams,
    model: &mut Model,
    reporter: &Reporter,
    ck: &mut Checkpointer,
) -> Result<TrainReport> {
    let counts = corpus.vocab.counts();
    let sub = Subsampler::new(counts, cfg.sample);
    let alias = AliasTable::unigram(counts, cfg.ns_exponent);
    let sig = SigmoidTable::default();
    let total = corpus.words() * cfg.epochs as u64;
    let threads = cfg.threads.min(corpus.ids.len().max(1));
    let ranges = split_ranges(corpus.ids.len(), threads);
    let resume = ck.resume.take();
    let start_done = resume.as_ref().map_or(0, |c| c.words_done);
    let done = AtomicU64::new(start_done);
    let finished = AtomicUsize::new(0);
    // Pausing the threads at batch boundaries for a checkpoint: the flag, then the
    // threads' cursors and how many are parked, under one lock.
    let pause = AtomicBool::new(false);
    let quit = AtomicBool::new(false);
    let parked = std::sync::Mutex::new((0usize, vec![Cursor::default(); threads]));
    let wake = std::sync::Condvar::new();
    let mut interrupted = false;
    let mut ck_result: Result<()> = Ok(());
    // The first batch loss per term that showed divergence (non-finite or exploding).
    let diverged_at = std::sync::Mutex::new(None::<f64>);
    // Loss in micro-units, all and tail, plus term counts.
    let loss_all = AtomicU64::new(0);
    let terms_all = AtomicU64::new(0);
    let loss_tail = AtomicU64::new(0);
    let terms_tail = AtomicU64::new(0);
    let pairs = AtomicU64::new(0);
    let bar = reporter.bar(total);
    let start = Instant::now();
    let hog = Hogwild::new(model);
    let mut curve = Vec::new();
    std::thread::scope(|s| {
        for (t, range) in ranges.into_iter().enumerate() {
            let (sub, alias, sig, hog) = (&sub, &alias, &sig, &hog);
            let (done, finished, pairs, diverged_at) = (&done, &finished, &pairs, &diverged_at);
            let (pause, quit, parked, wake) = (&pause, &quit, &parked, &wake);
            let start_cursor = resume.as_ref().and_then(|c| c.cursors.get(t).copied());
            let (loss_all, terms_all, loss_tail, terms_tail) =
                (&loss_all, &terms_all, &loss_tail, &terms_tail);
            s.spawn(move || {
                let seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(t as u64);
                let mut batcher = Batcher::new(
                    &corpus.ids,
                    range,
                    cfg.epochs,
                    sub,
                    cfg.sample > 0.0,
                    seed ^ 0xb47c,
                    4096,
                );
                let mut worker = Worker::new(seed, alias, sig, params);
                worker.shared_negatives = cfg.shared_negatives;
                if let Some(c) = start_cursor {
                    batcher.restore(&c);
                    worker.rng = crate::sampling::Rng::from_state(c.builder_rng);
                }
                let cursor = |b: &Batcher, w: &Worker| Cursor {
                    builder_rng: w.rng.state(),
                    ..b.cursor()
                };
                let mut batch = Batch::default();
                while !quit.load(Ordering::Relaxed) && batcher.next_batch(&mut batch) {
                    let d = done.load(Ordering::Relaxed);
                    let alpha = cfg.lr_at(d, total);
                    let st = worker.train_batch(hog, &batch, alpha);
                    let d = done.fetch_add(batch.words, Ordering::Relaxed) + batch.words;
                    if !st.loss.is_finite()
                        || (st.terms > 0 && st.loss / st.terms as f64 > DIVERGED_LOSS)
                    {
                        let mut first = diverged_at.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert(st.loss / st.terms.max(1) as f64);
                        quit.store(true, Ordering::Relaxed);
                    }
                    let micro = (st.loss * 1e6) as u64;
                    loss_all.fetch_add(micro, Ordering::Relaxed);
                    terms_all.fetch_add(st.terms, Ordering::Relaxed);
                    if d * 10 >= total * 9 {
                        loss_tail.fetch_add(micro, Ordering::Relaxed);
                        terms_tail.fetch_add(st.terms, Ordering::Relaxed);
                    }
                    pairs.fetch_add(st.pairs, Ordering::Relaxed);
                    if pause.load(Ordering::Acquire) {
                        let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
                        g.1[t] = cursor(&batcher, &worker);
                        g.0 += 1;
                        wake.notify_all();
                        while pause.load(Ordering::Acquire) {
                            g = wake.wait(g).unwrap_or_else(|p| p.into_inner());
                        }
                        g.0 -= 1;
                    }
                }
                let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
                g.1[t] = cursor(&batcher, &worker);
                finished.fetch_add(1, Ordering::Release);
                wake.notify_all();
            });
        }
        let (mut last_l, mut last_t) = (0u64, 0u64);
        while finished.load(Ordering::Acquire) < threads {
            std::thread::sleep(Duration::from_millis(100));
            let d = done.load(Ordering::Relaxed);
            let (l, t) = (
                loss_all.load(Ordering::Relaxed),
                terms_all.load(Ordering::Relaxed),
            );
            let recent = (t > last_t).then(|| (l - last_l) as f64 / 1e6 / (t - last_t) as f64);
            let last_d = curve.last().map_or(0, |p: &(u64, f64)| p.0);
            if (d - last_d) * 100 >= total {
                if let Some(m) = recent {
                    curve.push((d, m));
                }
            }
            (last_l, last_t) = (l, t);
            progress_message(&bar, d, start, recent, cfg.lr_at(d, total));
            let stop = stop_requested();
            if ck.due(d) || stop {
                // Park every thread at a batch boundary, snapshot, release.
                pause.store(true, Ordering::Release);
                let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
                while g.0 + finished.load(Ordering::Acquire) < threads {
                    g = wake.wait(g).unwrap_or_else(|p| p.into_inner());
                }
                if ck.enabled() && ck_result.is_ok() {
                    // SAFETY: every worker is parked or finished, so nothing writes the
                    // matrices while they are copied.
                    let snapshot = unsafe { hog.snapshot() };
                    let cursors = g.1.clone();
                    // A diverged model never replaces the newest good checkpoint.
                    ck_result = check_model_finite(&snapshot, cfg).and_then(|()| {
                        ck.save(done.load(Ordering::Relaxed), 0, cursors, snapshot, None)
                    });
                }
                if stop || ck_result.is_err() {
                    quit.store(true, Ordering::Relaxed);
                    interrupted = stop;
                }
                pause.store(false, Ordering::Release);
                wake.notify_all();
            }
        }
    });
    bar.finish_and_clear();
    let words = done.load(Ordering::Relaxed) - start_done;
    let first_bad = *diverged_at.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = first_bad {
        check_divergence(l, start_done + words, cfg)?;
    }
    ck_result?;
    let secs = start.elapsed().as_secs_f64();
    let (lt, tt) = (
        loss_tail.load(Ordering::Relaxed),
        terms_tail.load(Ordering::Relaxed),
    );
    Ok(TrainReport {
        words,
        train_seconds: secs,
        words_per_second: words as f64 / secs.max(1e-9),
        final_loss: (tt > 0).then(|| lt as f64 / 1e6 / tt as f64),
        backend: "cpu".into(),
        adapter: None,
        pairs: Some(pairs.load(Ordering::Relaxed)),
        threads,
        loss_curve: curve,
        interrupted,
        ..TrainReport::default()
    })
}

/// Drives a [`Backend`] with one batcher thread that prepares step n+1 while the engine
/// runs step n; batches and their buffers circulate through two bounded channels.
pub fn train_with_backend(
    backend: &mut dyn Backend,
    corpus: &Corpus,
    cfg: &TrainConfig,
    reporter: &Reporter,
    ck: &mut Checkpointer,
) -> Result<TrainReport> {
    let counts = corpus.vocab.counts();
    let sub = Subsampler::new(counts, cfg.sample);
    let total = corpus.words() * cfg.epochs as u64;
    let bar = reporter.bar(total);
    let start = Instant::now();
    let resume = ck.resume.take();
    let mut done = resume.as_ref().map_or(0, |c| c.words_done);
    let start_done = done;
    let start_cursor = resume.as_ref().and_then(|c| c.cursors.first().copied());
    let mut last_cursor = start_cursor.unwrap_or_default();
    let mut interrupted = false;
    let mut uploaded = 0u64;
    let mut wait = Duration::ZERO;
    let mut log = LossLog::default();
    let mut last_report = Instant::now();
    let mut recent = None;
    let mut step = resume.as_ref().map_or(0, |c| c.steps);
    let mut pairs = 0u64;
    let count_pairs = cfg.count_pairs;
    let result: Result<()> = std::thread::scope(|s| {
        let (full_tx, full_rx) = mpsc::sync_channel::<(Batch, Cursor)>(3);
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        for _ in 0..4 {
            let _ = empty_tx.send(Batch::default());
        }
        let sub = &sub;
        s.spawn(move || {
            let mut batcher = Batcher::new(
                &corpus.ids,
                0..corpus.ids.len(),
                cfg.epochs,
                sub,
                cfg.sample > 0.0,
                cfg.seed ^ 0xb47c,
                cfg.gpu_batch,
            );
            if let Some(c) = start_cursor {
                batcher.restore(&c);
            }
            while let Ok(mut b) = empty_rx.recv() {
                if !batcher.next_batch(&mut b) || full_tx.send((b, batcher.cursor())).is_err() {
                    break;
                }
            }
        });
        loop {
            let t = Instant::now();
            let Ok((batch, cursor)) = full_rx.recv() else {
                break;
            };
            wait += t.elapsed();
            let rate = Rate {
                start: cfg.lr_at(done, total),
                end: cfg.lr_at(done + batch.words, total),
            };
            let key = step_key(cfg.seed, step);
            backend.step(&batch, rate, key)?;
            if count_pairs {
                pairs += count_window_pairs(&batch.tokens, key, cfg.window, cfg.model);
            }
            step += 1;
            done += batch.words;
            uploaded += (batch.tokens.len() as u64 + gpu::HEADER_WORDS as u64) * 4;
            let _ = empty_tx.send(batch);
            last_cursor = cursor;
            let stop = stop_requested();
            if ck.due(done) || (stop && ck.enabled()) {
                let model = backend.download()?;
                // A diverged model never replaces the newest good checkpoint.
                check_model_finite(&model, cfg)?;
                ck.save(done, step, vec![last_cursor], model, None)?;
            }
            if stop {
                interrupted = true;
                break;
            }
            if last_report.elapsed() > Duration::from_millis(500) || log.due(done, total) {
                if let Some(l) = backend.take_loss()? {
                    log.add(l, done, total);
                    recent = l.mean().or(recent);
                    if let Some(m) = l.mean() {
                        check_divergence(m, done, cfg)?;
                    }
                }
                progress_message(&bar, done, start, recent, cfg.lr_at(done, total));
                last_report = Instant::now();
            }
        }
        drop(empty_tx);
        if let Some(l) = backend.take_loss()? {
            log.add(l, done, total);
        }
        Ok(())
    });
    result?;
    backend.download_barrier()?;
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let kernel_seconds = backend.device_seconds()?;
    Ok(TrainReport {
        words: done - start_done,
        train_seconds: secs,
        words_per_second: (done - start_done) as f64 / secs.max(1e-9),
        final_loss: log.tail.mean(),
        loss_curve: log.curve,
        upload_bytes_per_word: Some(uploaded as f64 / done.max(1) as f64),
        batcher_wait_fraction: Some(wait.as_secs_f64() / secs.max(1e-9)),
        kernel_seconds,
        pairs: count_pairs.then_some(pairs),
        threads: 1,
        interrupted,
        ..TrainReport::default()
    })
}

/// The (context, centre) pairs (skip-gram) or centre predictions (CBOW) the GPU kernels
/// perform for a batch: the same window draw as `window_at`, counted on the host.
pub fn count_window_pairs(
    tokens: &[u32],
    key: u32,
    window: usize,
    model: crate::config::ModelKind,
) -> u64 {
    use crate::backend::cpu::effective_window;
    use crate::corpus::SENTENCE_END;
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
                crate::config::ModelKind::SkipGram => ctx,
                crate::config::ModelKind::Cbow => u64::from(ctx > 0),
            };
        }
        start = end + 1;
    }
    pairs
}

/// A synthetic corpus for benchmarks: `words` ids drawn from a Zipf(1) law over `vocab`
/// words (the shape of natural text), in sentences of 20 words.
pub fn synthetic_zipf_corpus(vocab: usize, words: usize, seed: u64) -> Corpus {
    use crate::corpus::SENTENCE_END;
    let weights: Vec<f64> = (1..=vocab).map(|r| 1.0 / r as f64).collect();
    let zipf = AliasTable::new(&weights);
    let mut rng = crate::sampling::Rng::new(seed);
    let mut ids = Vec::with_capacity(words + words / 20 + 1);
    let mut counts = vec![0u64; vocab];
    for i in 0..words {
        let id = zipf.draw(&mut rng);
        counts[id as usize] += 1;
        ids.push(id);
        if i % 20 == 19 {
            ids.push(SENTENCE_END);
        }
    }
    // Ids must be in frequency order, as a real vocabulary's are.
    let mut order: Vec<u32> = (0..vocab as u32).collect();
    order.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
    let mut rank = vec![0u32; vocab];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    for id in ids.iter_mut().filter(|i| **i != SENTENCE_END) {
        *id = rank[*id as usize];
    }
    // Zero-padded names sort like ranks, so the vocabulary's tie-break keeps this order.
    let vocab = Vocab::from_counts(
        order
            .iter()
            .enumerate()
            .filter(|(_, &id)| counts[id as usize] > 0)
            .map(|(r, &id)| (format!("w{r:07}"), counts[id as usize])),
        1,
        None,
    );
    let keep = vocab.len() as u32;
    ids.retain(|&i| i == SENTENCE_END || i < keep);
    Corpus {
        vocab,
        ids,
        tokens_read: words as u64,
    }
}
