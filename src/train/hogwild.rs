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
    batch_diverged, check_divergence, check_model_finite, progress_message, stop_requested, LossLog,
};
use super::{Checkpointer, TrainReport};
use crate::backend::cpu::{Hogwild, Worker};
use crate::backend::{KernelParams, Rate, StepLoss};
use crate::batch::{split_ranges, Batch, Batcher, Cursor, Streams};
use crate::config::TrainConfig;
use crate::corpus::Corpus;
use crate::dist::sync::{RowMarks, Syncer};
use crate::dist::{Clock, Comm, DistOptions};
use crate::error::Result;
use crate::loss::SigmoidTable;
use crate::model::Model;
use crate::progress::Reporter;
use crate::sampling::{AliasTable, Subsampler};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A distributed run as the trainer sees it.
pub struct DistRun<'c> {
    pub comm: &'c dyn Comm,
    pub opts: DistOptions,
    /// Training words per epoch over all ranks.
    pub global_words: u64,
}

/// word2vec.c's multi-threaded trainer: each thread takes a range of the id stream and runs
/// all epochs over it, sharing the matrices Hogwild-style; the learning rate follows the
/// words done by all threads together. In a distributed run (`dist`), by all threads of
/// all ranks, and the monitor thread keeps the ranks' models together (`dist::sync`).
pub fn train_cpu(
    corpus: &Corpus,
    cfg: &TrainConfig,
    params: &KernelParams,
    model: &mut Model,
    reporter: &Reporter,
    ck: &mut Checkpointer,
    dist: Option<&DistRun>,
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
    let (rank, ranks) = dist.map_or((0, 1), |d| (d.comm.rank(), d.comm.size()));
    let epoch_words = dist.map_or_else(|| corpus.words(), |d| d.global_words);
    let total = epoch_words * cfg.epochs as u64;
    // Every rank keeps `cfg.threads` cursor slots in checkpoints (a rank with a tiny part
    // may run fewer threads).
    let threads = cfg.threads.min(corpus.ids.len().max(1));
    let ranges = split_ranges(corpus.ids.len(), threads);
    // Each thread reads its range as `per` parts side by side (`--streams`; one part, as
    // in word2vec.c, without it), each part with its own cursor slot.
    let per = cfg.parts_per_thread();
    let resume = ck.resume.take();
    // Words done: the global count of the checkpoint; this rank's share of it locally.
    let start_global = resume.as_ref().map_or(0, |c| c.words_done);
    let start_done = start_global / ranks as u64;
    let clock = Clock::new(ranks, start_global, start_done);
    let done = AtomicU64::new(start_done);
    let finished = AtomicUsize::new(0);
    // Pausing the threads at batch boundaries for a checkpoint: the flag, then the
    // threads' cursors and how many are parked, under one lock.
    let pause = AtomicBool::new(false);
    let quit = AtomicBool::new(false);
    let parked = std::sync::Mutex::new((0usize, vec![Cursor::default(); threads * per]));
    let wake = std::sync::Condvar::new();
    let mut interrupted = false;
    let mut ck_result: Result<()> = Ok(());
    // The first batch loss per term that showed divergence (non-finite or exploding).
    let diverged_at = std::sync::Mutex::new(None::<f64>);
    let pairs = AtomicU64::new(0);
    let bar = reporter.bar(total);
    let start = Instant::now();
    // A single rank has nobody to exchange with: no marks, no syncs (bit-identical to a
    // run without MPI).
    let syncing = dist.filter(|d| d.comm.size() > 1);
    let marks = syncing.map(|_| RowMarks::new(model));
    let mut syncer = syncing.map(|d| Syncer::new(d.comm, d.opts, model));
    let hog = Hogwild::new(model).with_marks(marks.as_ref());
    let mats = hog.shared_matrices();
    let mut failed_anywhere = false;
    // Exactly 1.0 without syncs, so single-process runs are unchanged bit for bit.
    let lr_factor = syncing.map_or(1.0, |d| d.opts.lr_factor(ranks));
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
            // Thread `t` of rank `rank`: slot `rank · cfg.threads + t` of the run's
            // threads (its seed), its parts' checkpoint cursors at `slot · per ..`.
            let slot = rank * cfg.threads + t;
            let start_cursors = resume
                .as_ref()
                .and_then(|c| c.cursors.get(slot * per..(slot + 1) * per))
                .map(<[Cursor]>::to_vec);
            let (log, clock) = (&log, &clock);
            s.spawn(move || {
                let seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(slot as u64);
                let whole = Batcher::new(
                    &corpus.ids,
                    range,
                    cfg.epochs,
                    sub,
                    cfg.sample > 0.0,
                    seed ^ 0xb47c,
                    4096,
                );
                // One part: the plain batcher's batches, bit for bit.
                let mut batcher = Streams::new(whole, per);
                let mut worker = Worker::new(seed, alias, sig, params);
                worker.shared_negatives = cfg.shared_negatives;
                worker.tree = tree;
                worker.subwords = subwords;
                if let Some(c) = start_cursors {
                    batcher.restore(&c);
                    worker.rng = crate::sampling::Rng::from_state(c[0].builder_rng);
                }
                // The parts' cursors; the first also carries the worker's random state.
                let cursors = |b: &Streams, w: &Worker| {
                    let mut c = b.cursors();
                    c[0].builder_rng = w.rng.state();
                    c
                };
                let mine = t * per..(t + 1) * per;
                let batch_rate = BatchRate {
                    cfg,
                    clock,
                    total,
                    lr_factor,
                    threads,
                    parts: per,
                };
                let mut batch = Batch::default();
                while !quit.load(Ordering::Relaxed) && batcher.next_batch(&mut batch) {
                    let d = done.load(Ordering::Relaxed);
                    let st = worker.train_batch(hog, &batch, batch_rate.at(d, batch.words));
                    let d = done.fetch_add(batch.words, Ordering::Relaxed) + batch.words;
                    if batch_diverged(st.loss, st.terms) {
                        let mut first = diverged_at.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert(st.loss / st.terms.max(1) as f64);
                        quit.store(true, Ordering::Relaxed);
                    }
                    log.lock().unwrap_or_else(|p| p.into_inner()).add(
                        StepLoss {
                            sum: st.loss,
                            terms: st.terms,
                        },
                        clock.global(d),
                        total,
                    );
                    pairs.fetch_add(st.pairs, Ordering::Relaxed);
                    if pause.load(Ordering::Acquire) {
                        let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
                        g.1[mine.clone()].copy_from_slice(&cursors(&batcher, &worker));
                        g.0 += 1;
                        wake.notify_all();
                        while pause.load(Ordering::Acquire) {
                            g = wake.wait(g).unwrap_or_else(|p| p.into_inner());
                        }
                        g.0 -= 1;
                    }
                }
                let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
                g.1[mine].copy_from_slice(&cursors(&batcher, &worker));
                finished.fetch_add(1, Ordering::Release);
                wake.notify_all();
            });
        }
        // Parks every thread at a batch boundary; returns their cursors.
        let park = || {
            pause.store(true, Ordering::Release);
            let mut g = parked.lock().unwrap_or_else(|p| p.into_inner());
            while g.0 + finished.load(Ordering::Acquire) < threads {
                g = wake.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            g
        };
        let unpark = || {
            pause.store(false, Ordering::Release);
            wake.notify_all();
        };
        let poll = if syncing.is_some() {
            Duration::from_millis(2)
        } else {
            Duration::from_millis(100)
        };
        let period = cfg.dist.schedule.period_words.max(1);
        let mut next_sync = start_done + period;
        let mut epoch_seen = start_global / epoch_words.max(1);
        let mut shown = Instant::now() - Duration::from_secs(1);
        loop {
            let local_finished = finished.load(Ordering::Acquire) >= threads;
            if local_finished && syncing.is_none() {
                break;
            }
            // Sleeps `poll`, or less once the last thread finishes (it counts itself under
            // `parked` and notifies `wake`), so a short run does not wait out a poll. (All
            // finished here means a distributed run waiting on its syncs: a plain sleep.)
            let g = parked.lock().unwrap_or_else(|p| p.into_inner());
            if finished.load(Ordering::Acquire) < threads {
                drop(
                    wake.wait_timeout(g, poll)
                        .unwrap_or_else(|p| p.into_inner()),
                );
            } else {
                drop(g);
                std::thread::sleep(poll);
            }
            let d = done.load(Ordering::Relaxed);
            if shown.elapsed() >= Duration::from_millis(100) {
                shown = Instant::now();
                let now = log.lock().unwrap_or_else(|p| p.into_inner()).total;
                let recent = StepLoss {
                    sum: now.sum - last.sum,
                    terms: now.terms - last.terms,
                }
                .mean();
                last = now;
                let g = clock.global(d);
                progress_message(&bar, g, start, recent, cfg.lr_at(g, total));
            }
            let stop = stop_requested();
            let (Some(sy), Some(dr), Some(marks)) = (syncer.as_mut(), syncing, marks.as_ref())
            else {
                if ck.due(d) || stop {
                    // Park every thread at a batch boundary, snapshot, release.
                    let g = park();
                    if ck.enabled() && ck_result.is_ok() {
                        // SAFETY: every worker is parked or finished, so nothing writes
                        // the matrices while they are copied.
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
                    drop(g);
                    unpark();
                }
                continue;
            };
            // Distributed: at each period (or when something must happen), all ranks
            // exchange their status, then run the same sync.
            let want_ck = rank == 0 && ck.due(clock.global(d));
            let failed = diverged_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
                || ck_result.is_err();
            if !(d >= next_sync || local_finished || stop || want_ck || failed) {
                continue;
            }
            let mut status = [
                d - start_done,
                u64::from(local_finished),
                u64::from(stop),
                u64::from(want_ck),
                u64::from(failed),
            ];
            dr.comm.sum_u64(&mut status);
            let global = start_global + status[0];
            clock.set(global, d);
            next_sync = d + period;
            if status[4] > 0 {
                // Some rank diverged or could not checkpoint: all stop, the error is
                // shared after the threads are joined.
                quit.store(true, Ordering::Relaxed);
                failed_anywhere = true;
                break;
            }
            if status[1] == ranks as u64 {
                // SAFETY: every worker of every rank has finished.
                unsafe { sy.full(&mats, marks, true) };
                break;
            }
            if status[2] > 0 || status[3] > 0 {
                let g = park();
                // SAFETY: this rank's workers are parked or finished.
                unsafe { sy.full(&mats, marks, true) };
                // A checkpoint when one is due, and on a stop (as without MPI).
                if status[3] > 0 || ck.enabled() {
                    // The words done where the threads parked (they trained on after the
                    // status exchange): what the cursors correspond to.
                    let mut w = [done.load(Ordering::Relaxed) - start_done];
                    dr.comm.sum_u64(&mut w);
                    let global = start_global + w[0];
                    let mut mine = g.1.clone();
                    mine.resize(cfg.threads * per, crate::batch::Cursor::default());
                    let cursors = crate::dist::gather_cursors(dr.comm, &mine);
                    if rank == 0 && ck.enabled() && ck_result.is_ok() {
                        // SAFETY: the workers are parked.
                        let snapshot = unsafe { hog.snapshot() };
                        ck_result = check_model_finite(&snapshot, cfg)
                            .and_then(|()| ck.save(global, 0, cursors, snapshot, None));
                    }
                }
                if status[2] > 0 {
                    quit.store(true, Ordering::Relaxed);
                    interrupted = true;
                }
                drop(g);
                unpark();
                if status[2] > 0 {
                    break;
                }
            } else if global / epoch_words.max(1) > epoch_seen {
                // An epoch ended: every changed row, while the workers go on.
                epoch_seen = global / epoch_words.max(1);
                // SAFETY: see `SharedMatrix`: the matrices outlive the scope.
                unsafe { sy.full(&mats, marks, false) };
            } else {
                // SAFETY: as above.
                unsafe { sy.tier(&mats, marks) };
            }
        }
    });
    bar.finish_and_clear();
    let local_words = done.load(Ordering::Relaxed) - start_done;
    let words = match syncing {
        Some(dr) => {
            let mut w = [local_words];
            dr.comm.sum_u64(&mut w);
            w[0]
        }
        None => local_words,
    };
    // Every rank must end with the same model (an exact full sync ended the run): each
    // rank's checksum of its matrices, compared on every rank.
    let mut checksums = Vec::new();
    if let (Some(dr), false, false) = (syncing, failed_anywhere, interrupted) {
        checksums = crate::dist::identical_models(dr.comm, model)?;
    }
    let first_bad = *diverged_at.lock().unwrap_or_else(|p| p.into_inner());
    let outcome = first_bad
        .map_or(Ok(()), |l| check_divergence(l, start_global + words, cfg))
        .and(ck_result);
    match syncing {
        // Every rank learns which one failed, and why.
        Some(dr) if failed_anywhere => crate::dist::agree(dr.comm, outcome)?,
        _ => outcome?,
    }
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
        // The parts read, where --streams gave the threads more than one each.
        streams: (per > 1).then_some(threads * per),
        loss_curve: log.curve,
        interrupted,
        ranks,
        sync: syncer.map(|s| s.stats),
        model_checksums: checksums,
        ..TrainReport::default()
    })
}

/// The learning rate across one Hogwild batch, from the schedule at the run's global word
/// count.
struct BatchRate<'a> {
    cfg: &'a TrainConfig,
    clock: &'a Clock,
    total: u64,
    lr_factor: f32,
    threads: usize,
    parts: usize,
}

impl BatchRate<'_> {
    /// The rate of a batch of `words` words that starts when this rank has done `done`.
    /// One part per thread: one rate per batch of at most 4,096 words (word2vec.c recomputes
    /// it every 10,000), bit for bit as before. Parts side by side: a batch holds a sentence
    /// chunk of every part (256 parts of 1,000-word chunks: 256,000 words), so the rate falls
    /// sentence by sentence across it, to where the run will be when the batch ends (the
    /// other threads assumed to train as many words meanwhile), instead of holding its first
    /// value.
    fn at(&self, done: u64, words: u64) -> Rate {
        let lr = |d: u64| self.clock.lr(self.cfg, d, self.total, self.lr_factor);
        let start = lr(done);
        if self.parts > 1 {
            Rate {
                start,
                end: lr(done + words * self.threads as u64),
            }
        } else {
            Rate::constant(start)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_rate_falls_across_a_batch_of_many_parts_only() {
        let cfg = TrainConfig {
            alpha: Some(0.05),
            ..TrainConfig::default()
        };
        let clock = Clock::new(1, 0, 0);
        let rate = |parts, threads| {
            BatchRate {
                cfg: &cfg,
                clock: &clock,
                total: 1_000_000,
                lr_factor: 1.0,
                threads,
                parts,
            }
            .at(100_000, 50_000)
        };
        let at = |d| cfg.lr_at(d, 1_000_000);
        let one = rate(1, 2);
        assert_eq!((one.start, one.end), (at(100_000), at(100_000)));
        let many = rate(128, 2);
        assert_eq!((many.start, many.end), (at(100_000), at(200_000)));
        assert!(many.end < many.start);
        assert_eq!(rate(256, 1).end, at(150_000));
    }
}
