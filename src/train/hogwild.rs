//! The Hogwild CPU trainer: word2vec.c's threads over disjoint ranges of the id stream,
//! sharing the matrices without locks. It keeps its own threads (that is what makes it
//! fast) and reports through the run state's pieces (loss log rule, progress, divergence,
//! stop, checkpoints).
//!
//! Pause/park/snapshot contract: to checkpoint, the monitor sets `pause`; each thread, at
//! its next batch boundary, stores its cursor under the `parked` lock, counts itself parked
//! and waits on `wake` until `pause` is cleared; once every thread is parked or finished,
//! the monitor copies the matrices (nothing writes them then), saves, clears `pause` and
//! wakes them. A stop request sets `quit` after that snapshot; a diverged batch sets
//! `quit` at once and no checkpoint is written from it.

use super::run_state::{
    check_divergence, check_model_finite, progress_message, stop_requested, LossLog, DIVERGED_LOSS,
};
use super::{Checkpointer, TrainReport};
use crate::backend::cpu::{Hogwild, Worker};
use crate::backend::{KernelParams, StepLoss};
use crate::batch::{split_ranges, Batch, Batcher, Cursor};
use crate::config::TrainConfig;
use crate::corpus::Corpus;
use crate::error::Result;
use crate::loss::SigmoidTable;
use crate::model::Model;
use crate::progress::Reporter;
use crate::sampling::{AliasTable, Subsampler};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    let tree = cfg
        .hs
        .then(|| crate::huffman::HuffmanTree::new(corpus.vocab.counts()));
    let subwords = cfg
        .active_subwords()
        .map(|p| crate::subword::SubwordTable::new(corpus.vocab.words(), &p));
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
    let pairs = AtomicU64::new(0);
    let bar = reporter.bar(total);
    let start = Instant::now();
    let hog = Hogwild::new(model);
    // The run state's loss log, fed by every thread after each batch (the same rule as
    // the pipeline: curve points every 1%, the tail from 90% of the run on).
    let log = std::sync::Mutex::new(LossLog::default());
    // The log's total at the monitor's last look (the progress display's recent loss).
    let mut last = StepLoss::default();
    std::thread::scope(|s| {
        for (t, range) in ranges.into_iter().enumerate() {
            let (sub, alias, sig, hog, tree) = (&sub, &alias, &sig, &hog, tree.as_ref());
            let subwords = subwords.as_ref();
            let (done, finished, pairs, diverged_at) = (&done, &finished, &pairs, &diverged_at);
            let (pause, quit, parked, wake) = (&pause, &quit, &parked, &wake);
            let start_cursor = resume.as_ref().and_then(|c| c.cursors.get(t).copied());
            let log = &log;
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
                worker.tree = tree;
                worker.subwords = subwords;
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
                    log.lock().unwrap_or_else(|p| p.into_inner()).add(
                        StepLoss {
                            sum: st.loss,
                            terms: st.terms,
                        },
                        d,
                        total,
                    );
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
        while finished.load(Ordering::Acquire) < threads {
            std::thread::sleep(Duration::from_millis(100));
            let d = done.load(Ordering::Relaxed);
            let now = log.lock().unwrap_or_else(|p| p.into_inner()).total;
            let recent = StepLoss {
                sum: now.sum - last.sum,
                terms: now.terms - last.terms,
            }
            .mean();
            last = now;
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
    let log = log.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(TrainReport {
        words,
        train_seconds: secs,
        words_per_second: words as f64 / secs.max(1e-9),
        final_loss: log.tail.mean(),
        backend: "cpu".into(),
        adapter: None,
        pairs: Some(pairs.load(Ordering::Relaxed)),
        threads,
        loss_curve: log.curve,
        interrupted,
        ..TrainReport::default()
    })
}
