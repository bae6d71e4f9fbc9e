//! Checkpoints of a run: when they are due, what identifies the run (the fingerprint a
//! resume must match), and the arguments `--resume DIR` alone continues with.

use crate::batch::Cursor;
use crate::checkpoint::Checkpoint;
use crate::config::{CheckpointEvery, TrainConfig};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::{OptimState, OptimizerKind};
use crate::progress::Reporter;
use std::time::Instant;

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
    if cfg.hs {
        more.insert("hs".into(), true.into());
    }
    if let Some(p) = cfg.active_subwords() {
        more.insert(
            "subwords".into(),
            serde_json::json!({"minn": p.minn, "maxn": p.maxn, "bucket": p.bucket}),
        );
    }
    if cfg.normalize.lowercase {
        more.insert("lowercase".into(), true.into());
    }
    if cfg.normalize.strip_punctuation {
        more.insert("strip_punctuation".into(), true.into());
    }
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
