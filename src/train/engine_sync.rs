//! The distributed sync of an engine that holds its model on a device (the GPU SGD engine):
//! between steps, the rows a sync covers are read back (the step ring drained first), the
//! rows that differ from the snapshot are marked, the same [`Syncer`] as the CPU trainer's
//! combines them with the other ranks', and the result is written back before the next
//! step. The device is idle meanwhile, so every sync is exact; the whole model moves
//! between device and host only at full syncs (the subword buckets too), a tier sync moves
//! its prefix.

use super::hogwild::DistRun;
use crate::backend::Backend;
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
            hs: Vec::new(),
            subwords: model.subwords.clone(),
        };
        let period = dist.opts.schedule.period_words.max(1);
        EngineSync {
            dist,
            clock,
            syncer: Syncer::new(dist.comm, dist.opts, &mirror),
            marks: RowMarks::new(&mirror),
            vocab: model.vocab_size(),
            mirror,
            period,
            next_sync: start + period,
            start_local: start,
            start_global: start,
            epoch_seen: start / dist.global_words.max(1),
            global: start,
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
        be: &mut dyn Backend,
        local: u64,
        finished: bool,
        stop: bool,
        want_checkpoint: bool,
    ) -> Result<Flow> {
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
        self.sync(be, scope)?;
        Ok(flow)
    }

    fn sync(&mut self, be: &mut dyn Backend, scope: Scope) -> Result<()> {
        let d = self.mirror.dim;
        let n = match scope {
            Scope::Prefix(n) => n.min(self.vocab),
            Scope::Full => self.vocab,
        };
        for k in 0..2 {
            let rows = be.read_rows(k == 1, 0, n)?;
            let m = if k == 0 {
                &mut self.mirror.input
            } else {
                &mut self.mirror.output
            };
            m[..n * d].copy_from_slice(&rows);
            self.syncer.mark_changed(k, m, 0, n, &self.marks);
        }
        // The subword buckets (input rows past the vocabulary) move at full syncs only.
        let buckets = self.mirror.subwords.len() / d.max(1);
        let full = scope == Scope::Full && buckets > 0;
        if full {
            let rows = be.read_rows(false, self.vocab, self.vocab + buckets)?;
            self.mirror.subwords.copy_from_slice(&rows);
            self.syncer
                .mark_changed(3, &self.mirror.subwords, 0, buckets, &self.marks);
        }
        let mats = self.mirror.matrices_mut().map(|m| SharedMatrix {
            ptr: m.as_mut_ptr(),
            rows: m.len() / d.max(1),
            dim: d,
        });
        // SAFETY: the mirror is this thread's own memory; nothing else writes it.
        unsafe { self.syncer.sync(&mats, &self.marks, scope, true) };
        be.write_rows(false, 0, &self.mirror.input[..n * d])?;
        be.write_rows(true, 0, &self.mirror.output[..n * d])?;
        if full {
            be.write_rows(false, self.vocab, &self.mirror.subwords)?;
        }
        Ok(())
    }

    /// After [`EngineSync::exchange`]: saves the checkpoint the ranks agreed on (one rank 0
    /// found due, or a stop with `--checkpoint-dir`; the sync was full and exact) — every
    /// rank's cursor gathered, whose batch counter is its step count, rank 0 writing the
    /// synced model — and returns the flow to go on with (a checkpoint continues).
    pub fn save_agreed(
        &self,
        flow: Flow,
        ck: &mut super::Checkpointer,
        cursor: crate::batch::Cursor,
        steps: u64,
        cfg: &crate::config::TrainConfig,
    ) -> Result<Flow> {
        if flow == Flow::Checkpoint || (flow == Flow::Stop && ck.enabled()) {
            let cursors = crate::dist::gather_cursors(self.dist.comm, &[cursor]);
            if self.rank() == 0 {
                super::check_model_finite(&self.mirror, cfg)?;
                ck.save(self.global, steps, cursors, self.mirror.clone(), None)?;
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
