//! The distributed sync of an engine that holds its model where the sync reaches it only
//! through [`SyncRows`]: the GPU SGD engine (device memory) and the CPU minibatch engine of
//! the adaptive optimizers and `--deterministic` (its own matrices, between steps).
//! At a sync point the ranks exchange their status; then the rows the sync covers are
//! copied back as they stand after the steps submitted so far, and the device trains the
//! next step while the copy completes and the ranks combine their changes (the rows that
//! differ from the snapshot, through the same [`Syncer`] as the CPU trainer's, in its
//! overlapped mode). Each rank then adds `average − own change` to those rows with a
//! row-range add queued after that step, so the step's updates are kept — as the CPU
//! trainer's workers keep theirs. The syncs that must leave every rank with the same model
//! (the end, a stop, a checkpoint) drain the device and write the agreed rows instead
//! (exact). The whole model moves between device and host only at full syncs (the subword
//! buckets too), a tier sync moves its prefix. `--sync-gpu-blocking` makes every sync
//! exact, the device idle meanwhile.

use super::hogwild::DistRun;
use crate::backend::{Matrix, SyncRows};
use crate::dist::sync::{RowMarks, SharedMatrix, Syncer};
use crate::dist::tiers::Scope;
use crate::dist::Clock;
use crate::error::Result;
use crate::model::Model;

/// What the ranks decided at a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Some rank was asked to stop: every rank stops (synced).
    Stop,
    /// Every rank has trained its part (synced for the last time).
    AllDone,
    /// A checkpoint is due (synced exactly; the caller saves it).
    Checkpoint,
}

pub struct EngineSync<'c> {
    dist: &'c DistRun<'c>,
    pub clock: &'c Clock,
    syncer: Syncer<'c>,
    marks: RowMarks,
    /// The host copy of the matrices the syncs read into and write from.
    mirror: Model,
    vocab: usize,
    period: u64,
    next_sync: u64,
    start_local: u64,
    /// Global words done when this process started (a resumed checkpoint's).
    start_global: u64,
    epoch_seen: u64,
    /// The global word count at the last sync.
    pub global: u64,
    /// A sync whose rows are being read while the device trains on.
    pending: Option<Scope>,
}

impl<'c> EngineSync<'c> {
    /// Starts from `model`, the engine's initial model (identical on every rank), with
    /// `start` words done (a resumed checkpoint's global count; this rank counts its own
    /// words on from there).
    pub fn new(
        dist: &'c DistRun<'c>,
        clock: &'c Clock,
        model: &Model,
        start: u64,
    ) -> EngineSync<'c> {
        clock.set(start, start);
        let mirror = Model {
            dim: model.dim,
            input: model.input.clone(),
            output: model.output.clone(),
            hs: model.hs.clone(),
            subwords: model.subwords.clone(),
        };
        let period = dist.opts.schedule.period_words.max(1);
        // The engines cannot name the rows they changed beyond a sync's prefix (the GPU's
        // are on the device; `--sync-input-tail` is refused for them in the configuration).
        let opts = crate::dist::DistOptions {
            input_tail: Some(false),
            ..dist.opts
        };
        EngineSync {
            dist,
            clock,
            syncer: Syncer::new(dist.comm, opts, &mirror),
            marks: RowMarks::new(&mirror),
            vocab: model.vocab_size(),
            mirror,
            period,
            next_sync: start + period,
            start_local: start,
            start_global: start,
            epoch_seen: start / dist.global_words.max(1),
            global: start,
            pending: None,
        }
    }

    pub fn rank(&self) -> usize {
        self.dist.comm.rank()
    }

    /// Whether this rank has reached its next sync after `local` words.
    pub fn due(&self, local: u64) -> bool {
        local >= self.next_sync
    }

    /// The status exchange and the sync it calls for: every rank calls this at each of its
    /// sync points (when [`EngineSync::due`], when it stops, and repeatedly once its part is
    /// done, until [`Flow::AllDone`]).
    pub fn exchange(
        &mut self,
        be: &mut dyn SyncRows,
        local: u64,
        finished: bool,
        stop: bool,
        want_checkpoint: bool,
    ) -> Result<Flow> {
        self.complete(be)?;
        let ranks = self.dist.comm.size() as u64;
        let mut status = [
            local - self.start_local,
            u64::from(finished),
            u64::from(stop),
            u64::from(want_checkpoint),
        ];
        self.dist.comm.sum_u64(&mut status);
        let global = self.start_global + status[0];
        self.global = global;
        self.clock.set(global, local);
        self.next_sync = local + self.period;
        let epoch = global / self.dist.global_words.max(1);
        let (scope, flow) = if status[1] == ranks {
            (Scope::Full, Flow::AllDone)
        } else if status[2] > 0 {
            (Scope::Full, Flow::Stop)
        } else if status[3] > 0 {
            (Scope::Full, Flow::Checkpoint)
        } else if epoch > self.epoch_seen {
            self.epoch_seen = epoch;
            (Scope::Full, Flow::Continue)
        } else {
            (self.syncer.next_tier(self.vocab), Flow::Continue)
        };
        self.begin(be, scope)?;
        if flow != Flow::Continue || self.dist.opts.gpu_blocking {
            // Nothing is submitted between the read and the write: exact.
            self.end_sync(be, true)?;
        }
        Ok(flow)
    }

    /// Finishes a sync begun at the last sync point (after the step that followed it, which
    /// the device ran meanwhile); nothing when none is pending.
    pub fn complete(&mut self, be: &mut dyn SyncRows) -> Result<()> {
        if self.pending.is_some() {
            self.end_sync(be, false)?;
        }
        Ok(())
    }

    /// The ranges a sync of `scope` covers: (matrix, first device row, rows, first row in
    /// the mirror's matrix), the matrix as in [`Model::matrices`] (0 input, 1 output, 2 the
    /// hierarchical-softmax tree's, 3 subword buckets, which are the device's input rows
    /// past the vocabulary; the tree's and the buckets' rows move at full syncs only, as
    /// the CPU trainer's).
    fn ranges(&self, scope: Scope) -> Vec<(usize, usize, usize, usize)> {
        let n = match scope {
            Scope::Prefix(n) => n.min(self.vocab),
            Scope::Full => self.vocab,
        };
        let buckets = self.mirror.subwords.len() / self.mirror.dim.max(1);
        let tree = self.mirror.hs.len() / self.mirror.dim.max(1);
        let mut r = vec![(0, 0, n, 0), (1, 0, n, 0)];
        if scope == Scope::Full && tree > 0 {
            r.push((2, 0, tree, 0));
        }
        if scope == Scope::Full && buckets > 0 {
            r.push((3, self.vocab, buckets, 0));
        }
        r
    }

    fn begin(&mut self, be: &mut dyn SyncRows, scope: Scope) -> Result<()> {
        for (k, lo, rows, _) in self.ranges(scope) {
            be.begin_read(Matrix::of(k), lo, lo + rows)?;
        }
        self.pending = Some(scope);
        Ok(())
    }

    /// Reads the rows begun, combines them with the other ranks' and gives the device the
    /// result: `exact` (the device idle since the read) writes the agreed rows; otherwise
    /// `average − own change` is added, keeping the updates made since the read.
    fn end_sync(&mut self, be: &mut dyn SyncRows, exact: bool) -> Result<()> {
        let Some(scope) = self.pending.take() else {
            return Ok(());
        };
        let d = self.mirror.dim;
        let ranges = self.ranges(scope);
        let reads = be.finish_reads()?;
        let mut before = Vec::with_capacity(ranges.len());
        for (&(k, _, n, first), rows) in ranges.iter().zip(reads) {
            let m = self
                .mirror
                .matrices_mut()
                .into_iter()
                .nth(k)
                .expect("4 matrices");
            m[first * d..(first + n) * d].copy_from_slice(&rows);
            self.syncer
                .mark_changed(k, m, first, first + n, &self.marks);
            before.push(rows);
        }
        let mats = self.mirror.matrices_mut().map(|m| SharedMatrix {
            ptr: m.as_mut_ptr(),
            rows: m.len() / d.max(1),
            dim: d,
        });
        // SAFETY: the mirror is this thread's own memory; nothing else writes it.
        unsafe { self.syncer.sync(&mats, &self.marks, scope, exact) };
        for (&(k, lo, n, first), old) in ranges.iter().zip(before) {
            let now = &self.mirror.matrices()[k][first * d..(first + n) * d];
            if exact {
                be.write_rows(Matrix::of(k), lo, now)?;
            } else {
                let correction: Vec<f32> = now.iter().zip(&old).map(|(a, b)| a - b).collect();
                be.add_rows(Matrix::of(k), lo, &correction)?;
            }
        }
        Ok(())
    }

    /// After [`EngineSync::exchange`]: saves the checkpoint the ranks agreed on (one rank 0
    /// found due, or a stop with `--checkpoint-dir`; the sync was full and exact) — every
    /// rank's cursors gathered, whose batch counter is its step count, rank 0 writing the
    /// synced model and, for a minibatch engine, its own optimizer state (`state`; the
    /// ranks' states are not synced, and a resumed run starts every rank from rank 0's) —
    /// and returns the flow to go on with (a checkpoint continues).
    pub fn save_agreed(
        &self,
        flow: Flow,
        ck: &mut super::Checkpointer,
        cursors: &[crate::batch::Cursor],
        steps: u64,
        cfg: &crate::config::TrainConfig,
        state: impl FnOnce() -> Result<Option<crate::optim::OptimState>>,
    ) -> Result<Flow> {
        if flow == Flow::Checkpoint || (flow == Flow::Stop && ck.enabled()) {
            let cursors = crate::dist::gather_cursors(self.dist.comm, cursors);
            if self.rank() == 0 {
                super::check_model_finite(&self.mirror, cfg)?;
                let state = state()?;
                ck.save(self.global, steps, cursors, self.mirror.clone(), state)?;
            }
        }
        Ok(match flow {
            Flow::Checkpoint => Flow::Continue,
            f => f,
        })
    }

    /// The sync statistics and every rank's checksum of the final model (after
    /// [`Flow::AllDone`] or [`Flow::Stop`], when the mirror holds the whole model); an
    /// error if the ranks' models differ.
    pub fn finish(self) -> Result<(crate::dist::sync::SyncStats, Vec<u64>)> {
        let sums = crate::dist::identical_models(self.dist.comm, &self.mirror)?;
        Ok((self.syncer.stats, sums))
    }
}
