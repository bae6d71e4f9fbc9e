//! The training run: corpus → vocabulary → engine → vectors file.
//!
//! * `plan`: which engine trains (Hogwild CPU, GPU SGD, minibatch CPU/GPU).
//! * `run_state`: the schedule, words done, loss log, progress, stop and divergence checks
//!   every engine shares.
//! * `pipeline`: the producer → engine loop, written once for every stepped engine (its
//!   `Engine` and `WorkSource` traits).
//! * `hogwild`: the CPU threads of word2vec.c's trainer and their park/snapshot contract.
//! * `checkpointer`: when checkpoints are due, the run's fingerprint, resume.
//! * `report`: what a run did (`--json`).
//!
//! The submodules are the engine's internals; this module's re-exports are the API.

pub(crate) mod checkpointer;
pub(crate) mod engine_sync;
pub(crate) mod hogwild;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod run_state;

pub use crate::progress::Reporter;
pub use checkpointer::{fingerprint, stored_args, Checkpointer};
pub use hogwild::train_cpu;
pub use pipeline::{count_window_pairs, train_minibatches, train_with_backend};
pub use plan::{load_corpus, train_corpus, train_model};
pub use report::{peak_rss_bytes, TrainReport};
pub use run_state::{
    check_divergence, check_model_finite, install_signal_handlers, request_stop, stop_requested,
    DIVERGED_LOSS,
};

use crate::config::TrainConfig;
use crate::error::{Error, Result};

/// Reads the corpus, trains, writes the vectors. The whole `train` subcommand.
pub fn train(cfg: &TrainConfig, reporter: &Reporter) -> Result<TrainReport> {
    // train_model validates the configuration (once per run).
    let (model, corpus, report) = train_model(cfg, reporter)?;
    match crate::dist::initialized().filter(|c| c.size() > 1) {
        // Every rank ends the same way: rank 0 writes, the others wait for its outcome (a
        // rank that exits first with an error would make mpirun stop rank 0 mid-write).
        Some(c) => crate::dist::agree(c, finish(cfg, model, &corpus, report, c.rank())),
        None => finish(cfg, model, &corpus, report, 0),
    }
}

/// The checks after training, and on rank 0 the outputs; the interrupted error.
fn finish(
    cfg: &TrainConfig,
    mut model: crate::model::Model,
    corpus: &crate::corpus::Corpus,
    mut report: TrainReport,
    rank: usize,
) -> Result<TrainReport> {
    if let Some(l) = report.final_loss {
        check_divergence(l, report.words, cfg)?;
    }
    check_model_finite(&model, cfg)?;
    // With subwords a word's vector is the mean of its own row and its n-gram rows, as
    // fastText writes its .vec. The matrices move into fastText's layout (word rows, then
    // bucket rows) rather than being copied: the buckets alone can be gigabytes.
    // `--subwords --maxn 0 --fasttext-bin F` (fastText's `-maxn 0`): a word-only model in
    // fastText's format, with no buckets as fastText writes it.
    let word_only = cfg
        .subwords
        .filter(|_| cfg.fasttext_bin.is_some())
        .map(|p| crate::subword::SubwordParams {
            maxn: 0,
            bucket: 0,
            ..p
        });
    let sub_model = cfg.active_subwords().or(word_only).map(|p| {
        let mut input = std::mem::take(&mut model.input);
        input.append(&mut model.subwords);
        crate::fasttext::FastTextModel {
            dim: model.dim,
            words: corpus.vocab.words().to_vec(),
            counts: corpus.vocab.counts().to_vec(),
            labels: Vec::new(),
            label_counts: Vec::new(),
            pruneidx: None,
            quant: None,
            params: p,
            input,
            output: std::mem::take(&mut model.output),
            args: crate::fasttext::TrainArgs {
                ws: cfg.window as i32,
                epoch: cfg.epochs as i32,
                min_count: cfg.min_count.min(i32::MAX as u64) as i32,
                neg: cfg.negative as i32,
                loss: if cfg.negative == 0 { 1 } else { 2 },
                model: match cfg.model {
                    crate::config::ModelKind::Cbow => 1,
                    crate::config::ModelKind::SkipGram => 2,
                },
                t: cfg.sample,
                ntokens: corpus.tokens_read as i64,
                word_ngrams: 1,
                lr_update_rate: 100,
            },
        }
    });
    // In a distributed run every rank ends with the same model; rank 0 writes it.
    if rank != 0 {
        report.vocab_size = corpus.vocab.len();
        if report.interrupted {
            return Err(Error::Interrupted(format!(
                "interrupted (rank {rank}); rank 0 wrote the vectors so far and says how to resume"
            )));
        }
        return Ok(report);
    }
    let word_vectors = match &sub_model {
        Some(m) => std::borrow::Cow::Owned(m.word_vectors()),
        None => std::borrow::Cow::Borrowed(&model.input),
    };
    if let (Some(m), Some(p)) = (&sub_model, &cfg.fasttext_bin) {
        m.write(p)?;
    }
    if cfg.classes > 0 {
        let cl = crate::classes::kmeans(&word_vectors, model.dim, cfg.classes, cfg.threads);
        crate::classes::write_classes(&cfg.output, corpus.vocab.words(), &cl)?;
    } else {
        crate::io::write_vectors(
            &cfg.output,
            corpus.vocab.words(),
            model.dim,
            &word_vectors,
            cfg.output_format(),
        )?;
    }
    if let Some(p) = &cfg.save_context {
        // The output matrix moved into the subword model when there is one.
        let output = sub_model.as_ref().map_or(&model.output, |m| &m.output);
        crate::io::write_vectors(
            p,
            corpus.vocab.words(),
            model.dim,
            output,
            cfg.output_format(),
        )?;
    }
    report.vocab_size = corpus.vocab.len();
    if report.interrupted {
        let total = match report.run_words {
            0 => corpus.words() * cfg.epochs as u64,
            n => n,
        };
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
