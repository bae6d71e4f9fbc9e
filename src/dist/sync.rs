//! Keeping the ranks' models together while they train: deltas against the last synced
//! snapshot, summed over the ranks and combined per row by [`Average`](super::Average).
//!
//! The trainer's threads mark each row they update ([`RowMarks`]). A sync runs on the main
//! thread while the workers go on training (the overlap): for each row it covers it reads
//! the row, takes the row's mark and computes `delta = row − snapshot` (zero for an unmarked
//! row), the deltas are summed over the ranks, and with `avg = sum / divisor` the snapshot
//! becomes `snapshot + avg` and the row gets `row += avg − delta` — the other ranks' part,
//! so updates the workers made since the row was read are kept. An *exact* sync (workers
//! parked or finished: before a checkpoint, at the end) writes `row = snapshot + avg` for
//! every row it covers, so afterwards every rank holds bit-identical matrices (every rank
//! computes the same sums on the same snapshot).
//!
//! Tier syncs ([`Scope::Prefix`]) send the first `n` rows of the input and output matrices
//! densely with one extra float per row, the rank's mark (so the sum of that column is the
//! number of ranks that changed the row): no index. Full syncs send, for every matrix, the
//! set of rows this rank changed ([`rowset`]: a list or a bitmap, whichever is smaller),
//! then the deltas of the union of the ranks' sets only.

use super::rowset;
use super::tiers::Scope;
#[cfg(test)]
use super::Average;
use super::{Comm, DistOptions};
use crate::model::Model;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// "Changed since its last sync" marks, one per row of one matrix.
pub struct Marks(Vec<AtomicU8>);

impl Marks {
    pub fn new(rows: usize) -> Marks {
        Marks((0..rows).map(|_| AtomicU8::new(0)).collect())
    }

    /// Marks row `r` (a load first: a hot row's cache line is only written once per sync).
    #[inline(always)]
    pub fn mark(&self, r: usize) {
        let m = &self.0[r];
        if m.load(Ordering::Relaxed) == 0 {
            m.store(1, Ordering::Relaxed);
        }
    }

    /// Whether row `r` was marked since the last take; clears the mark.
    #[inline]
    pub fn take(&self, r: usize) -> bool {
        self.0[r].swap(0, Ordering::Relaxed) != 0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The marks of a model's matrices, in [`Model::matrices`] order (input, output,
/// hierarchical-softmax nodes, subword buckets).
pub struct RowMarks(pub [Marks; 4]);

impl RowMarks {
    pub fn new(model: &Model) -> RowMarks {
        let d = model.dim.max(1);
        RowMarks(model.matrices().map(|m| Marks::new(m.len() / d)))
    }
}

/// A matrix the trainer's threads write while a sync reads and adds to it (the same
/// Hogwild contract as the trainer's own accesses: plain `f32` loads and stores).
#[derive(Clone, Copy)]
pub struct SharedMatrix {
    pub ptr: *mut f32,
    pub rows: usize,
    pub dim: usize,
}

impl SharedMatrix {
    /// # Safety
    /// `ptr` points at `rows × dim` floats that stay allocated during the sync; concurrent
    /// writers only make plain `f32` stores (see `backend::cpu::Hogwild`).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn row(&self, r: usize) -> &mut [f32] {
        debug_assert!(r < self.rows);
        std::slice::from_raw_parts_mut(self.ptr.add(r * self.dim), self.dim)
    }
}

/// What the syncs of a run did (this rank's view).
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncStats {
    pub syncs: u64,
    pub full_syncs: u64,
    /// Bytes this rank contributed to the collectives (payload, excluding MPI's own
    /// headers; a ring allreduce moves about twice this over each rank's link).
    pub bytes: u64,
    /// Rows whose deltas this rank contributed to sums.
    pub rows: u64,
    /// Seconds in syncs (the workers kept training during all but the exact ones).
    pub seconds: f64,
    /// Seconds in exact syncs, with the workers parked or finished.
    pub blocking_seconds: f64,
    /// Row sets sent as index lists / as bitmaps.
    pub lists: u64,
    pub bitmaps: u64,
    /// Whether tier syncs sent the changed word vectors beyond their prefix.
    pub input_tail: bool,
}

/// Rows per block of a sum: bounds the staging memory of a sync (about 64 MiB of floats).
const BLOCK_FLOATS: usize = 16 << 20;

/// The snapshot every rank agrees on and the sync steps over it.
pub struct Syncer<'c> {
    comm: &'c dyn Comm,
    pub opts: DistOptions,
    snap: [Vec<f32>; 4],
    dim: usize,
    /// Tier syncs so far (the `p` of the schedule).
    tier_syncs: u64,
    pub stats: SyncStats,
}

impl<'c> Syncer<'c> {
    /// Starts from `model`, identical on every rank.
    pub fn new(comm: &'c dyn Comm, opts: DistOptions, model: &Model) -> Syncer<'c> {
        Syncer {
            comm,
            opts,
            snap: model.matrices().map(|m| m.to_vec()),
            dim: model.dim,
            tier_syncs: 0,
            stats: SyncStats {
                input_tail: opts.input_tail_for(comm.size()),
                ..SyncStats::default()
            },
        }
    }

    /// The next tier sync of the schedule; returns its scope.
    ///
    /// # Safety
    /// Every matrix in `mats` points at `rows × dim` floats that stay allocated during the sync; concurrent writers make only plain `f32` stores (see [`SharedMatrix`]).
    pub unsafe fn tier(&mut self, mats: &[SharedMatrix; 4], marks: &RowMarks) -> Scope {
        let scope = self.next_tier(mats[0].rows);
        self.run(mats, marks, scope, false);
        scope
    }

    /// The scope of the next tier sync over a vocabulary of `rows` words (counts it).
    pub fn next_tier(&mut self, rows: usize) -> Scope {
        self.tier_syncs += 1;
        self.opts.schedule.scope(self.tier_syncs, rows)
    }

    /// A sync of `scope` (see [`Syncer::tier`], [`Syncer::full`]).
    ///
    /// # Safety
    /// As [`Syncer::full`].
    pub unsafe fn sync(
        &mut self,
        mats: &[SharedMatrix; 4],
        marks: &RowMarks,
        scope: Scope,
        exact: bool,
    ) {
        self.run(mats, marks, scope, exact);
    }

    /// Marks the rows `lo..hi` of matrix `k` of `host` that differ from the snapshot (for
    /// an engine that cannot mark the rows it updates: the GPU's, read back at a sync).
    pub fn mark_changed(&self, k: usize, host: &[f32], lo: usize, hi: usize, marks: &RowMarks) {
        let d = self.dim;
        for r in lo..hi {
            if host[r * d..(r + 1) * d] != self.snap[k][r * d..(r + 1) * d] {
                marks.0[k].mark(r);
            }
        }
    }

    /// A full sync; `exact` when no worker is writing (the matrices end identical).
    ///
    /// # Safety
    /// As [`Syncer::tier`]; with `exact`, no thread writes the matrices meanwhile.
    pub unsafe fn full(&mut self, mats: &[SharedMatrix; 4], marks: &RowMarks, exact: bool) {
        self.run(mats, marks, Scope::Full, exact);
    }

    unsafe fn run(
        &mut self,
        mats: &[SharedMatrix; 4],
        marks: &RowMarks,
        scope: Scope,
        exact: bool,
    ) {
        let t = Instant::now();
        for (k, m) in mats.iter().enumerate() {
            if m.rows == 0 {
                continue;
            }
            match scope {
                // The tiers are word rows (input and output), sorted by frequency.
                Scope::Prefix(n) if k < 2 => {
                    let n = n.min(m.rows);
                    self.dense(k, m, &marks.0[k], n, exact);
                    // The word vectors beyond the prefix that some rank changed.
                    if k == 0 && self.stats.input_tail {
                        self.sparse(k, m, &marks.0[k], n, exact);
                    }
                }
                Scope::Prefix(_) => {}
                Scope::Full => self.sparse(k, m, &marks.0[k], 0, exact),
            }
        }
        let s = t.elapsed().as_secs_f64();
        self.stats.syncs += 1;
        self.stats.full_syncs += u64::from(scope == Scope::Full);
        self.stats.seconds += s;
        if exact {
            self.stats.blocking_seconds += s;
        }
    }

    /// Applies the summed deltas `sum` (with each row's rank count from `count`) to row `r`
    /// of matrix `k`, whose own delta was `own`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn apply(snap: &mut [f32], row: &mut [f32], sum: &[f32], own: &[f32], div: f32, exact: bool) {
        for i in 0..row.len() {
            let a = sum[i] / div;
            snap[i] += a;
            if exact {
                row[i] = snap[i];
            } else {
                row[i] += a - own[i];
            }
        }
    }

    /// The first `n` rows, densely, each with its mark as an extra float.
    unsafe fn dense(&mut self, k: usize, m: &SharedMatrix, marks: &Marks, n: usize, exact: bool) {
        let d = self.dim;
        let ranks = self.comm.size();
        let block = (BLOCK_FLOATS / (d + 1)).max(1);
        let mut buf = vec![0f32; block.min(n) * (d + 1)];
        let mut own = vec![0f32; block.min(n) * d];
        let mut lo = 0;
        while lo < n {
            let hi = (lo + block).min(n);
            let rows = hi - lo;
            for (i, r) in (lo..hi).enumerate() {
                let b = &mut buf[i * (d + 1)..(i + 1) * (d + 1)];
                let o = &mut own[i * d..(i + 1) * d];
                if marks.take(r) {
                    let row = m.row(r);
                    let s = &self.snap[k][r * d..(r + 1) * d];
                    for j in 0..d {
                        o[j] = row[j] - s[j];
                    }
                    b[..d].copy_from_slice(o);
                    b[d] = 1.0;
                } else {
                    o.fill(0.0);
                    b.fill(0.0);
                }
            }
            let payload = &mut buf[..rows * (d + 1)];
            self.comm.sum_f32(payload);
            self.stats.bytes += (payload.len() * 4) as u64;
            self.stats.rows += rows as u64;
            for (i, r) in (lo..hi).enumerate() {
                let b = &buf[i * (d + 1)..(i + 1) * (d + 1)];
                let row = m.row(r);
                let s = &mut self.snap[k][r * d..(r + 1) * d];
                if b[d] == 0.0 {
                    if exact {
                        row.copy_from_slice(s);
                    }
                    continue;
                }
                let div = self.opts.average.divisor(b[d], ranks);
                Self::apply(s, row, &b[..d], &own[i * d..(i + 1) * d], div, exact);
            }
            lo = hi;
        }
    }

    /// Every row `lo..` of the matrix some rank changed: the row sets, then the union's
    /// deltas.
    unsafe fn sparse(&mut self, k: usize, m: &SharedMatrix, marks: &Marks, lo: usize, exact: bool) {
        let d = self.dim;
        let ranks = self.comm.size();
        let rows = m.rows;
        let span = rows.saturating_sub(lo);
        let mine: Vec<u32> = (lo..rows)
            .filter(|&r| marks.take(r))
            .map(|r| r as u32)
            .collect();
        // Sets are sent relative to `lo`.
        let rel: Vec<u32> = mine.iter().map(|&r| r - lo as u32).collect();
        let enc = rowset::encode(&rel, span);
        match rowset::choose(rel.len(), span) {
            rowset::Encoding::List => self.stats.lists += 1,
            rowset::Encoding::Bitmap => self.stats.bitmaps += 1,
        }
        self.stats.bytes += enc.len() as u64 + 8;
        let all = self.comm.gather_bytes(&enc);
        let mut count = vec![0u32; rows];
        for (r, b) in all.iter().enumerate() {
            if rowset::decode(b, span, |i| count[lo + i] += 1).is_none() {
                // Only this program's own encoder writes these bytes.
                eprintln!("error: rank {r} sent a damaged row set; stopping the job");
                self.comm.abort(1);
            }
        }
        let union: Vec<usize> = (lo..rows).filter(|&r| count[r] > 0).collect();
        // Each union row's deltas with this rank's changed flag as an extra float (as the
        // dense exchange), so the sum carries the number of ranks that changed it.
        let block = (BLOCK_FLOATS / (d + 1)).max(1);
        let mut buf = vec![0f32; block.min(union.len()) * (d + 1)];
        let mut own = vec![0f32; block.min(union.len()) * d];
        let mut next_mine = 0;
        for chunk in union.chunks(block) {
            for (i, &r) in chunk.iter().enumerate() {
                let o = &mut own[i * d..(i + 1) * d];
                let b = &mut buf[i * (d + 1)..(i + 1) * (d + 1)];
                while next_mine < mine.len() && (mine[next_mine] as usize) < r {
                    next_mine += 1;
                }
                if mine.get(next_mine) == Some(&(r as u32)) {
                    let row = m.row(r);
                    let s = &self.snap[k][r * d..(r + 1) * d];
                    for j in 0..d {
                        o[j] = row[j] - s[j];
                    }
                    b[..d].copy_from_slice(o);
                    b[d] = 1.0;
                } else {
                    o.fill(0.0);
                    b.fill(0.0);
                }
            }
            let payload = &mut buf[..chunk.len() * (d + 1)];
            self.comm.sum_f32(payload);
            self.stats.bytes += (payload.len() * 4) as u64;
            self.stats.rows += chunk.len() as u64;
            for (i, &r) in chunk.iter().enumerate() {
                let b = &buf[i * (d + 1)..(i + 1) * (d + 1)];
                let div = self.opts.average.divisor(b[d], ranks);
                let row = m.row(r);
                let s = &mut self.snap[k][r * d..(r + 1) * d];
                Self::apply(s, row, &b[..d], &own[i * d..(i + 1) * d], div, exact);
            }
        }
        if exact {
            // Rows nobody changed: back to the snapshot (undoing the rounding of earlier
            // overlapped syncs, so every rank ends bit-identical).
            for r in (lo..rows).filter(|&r| count[r] == 0) {
                m.row(r).copy_from_slice(&self.snap[k][r * d..(r + 1) * d]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::local;
    use super::super::tiers::Schedule;
    use super::*;

    fn shared(model: &mut Model) -> [SharedMatrix; 4] {
        let d = model.dim;
        model.matrices_mut().map(|m| SharedMatrix {
            ptr: m.as_mut_ptr(),
            rows: m.len() / d,
            dim: d,
        })
    }

    fn opts(average: Average) -> DistOptions {
        DistOptions {
            schedule: Schedule {
                period_words: 1,
                base_rows: 2,
                full_every: 0,
            },
            average,
            // The tests of the input tail switch it on themselves.
            input_tail: Some(false),
            ..DistOptions::default()
        }
    }

    /// Rank `r` adds `r + 1` to row `r` of both matrices and 10 to row 0 of each.
    fn train_step(model: &mut Model, marks: &RowMarks, rank: usize) {
        let d = model.dim;
        for (k, m) in model.matrices_mut().into_iter().take(2).enumerate() {
            for j in 0..d {
                m[rank * d + j] += (rank + 1) as f32;
                m[j] += 10.0;
            }
            marks.0[k].mark(rank);
            marks.0[k].mark(0);
        }
    }

    #[test]
    fn deltas_are_combined_per_row_by_the_ranks_that_changed_it() {
        // 3 ranks, 6 rows, dim 2, a full exact sync: row 0 (all ranks +10, rank 0 +1 more),
        // rows 1 and 2 (one rank each).
        for (average, row0, row1) in [
            (Average::Touched, (30.0 + 1.0) / 3.0, 2.0),
            (Average::Sum, 31.0, 2.0),
            (Average::Mean, 31.0 / 3.0, 2.0 / 3.0),
        ] {
            let got = local::run(3, |c| {
                let mut model = Model::new(6, 2, 7);
                let start = model.clone();
                let marks = RowMarks::new(&model);
                let mut s = Syncer::new(c, opts(average), &model);
                train_step(&mut model, &marks, c.rank());
                let mats = shared(&mut model);
                unsafe { s.full(&mats, &marks, true) };
                (start, model, s.stats)
            });
            let (start, m0, st) = &got[0];
            for (_, m, _) in &got[1..] {
                assert_eq!(m.input, m0.input, "{average:?}: ranks differ");
                assert_eq!(m.output, m0.output);
            }
            let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
            for j in 0..2 {
                assert!(close(m0.input[j] - start.input[j], row0), "{average:?}");
                assert!(
                    close(m0.input[2 + j] - start.input[2 + j], row1),
                    "{average:?}"
                );
                assert!(close(m0.output[4 + j] - start.output[4 + j], row1 * 1.5));
                // Rows nobody touched are unchanged.
                assert_eq!(m0.input[8 + j], start.input[8 + j]);
            }
            // Each rank sent lists of 1–2 rows for 6-row matrices? A bitmap of 6 rows is
            // 1 byte, a list of 2 rows 8: bitmaps.
            assert_eq!(st.bitmaps, 2);
            assert_eq!(st.rows, 2 * 3);
        }
    }

    #[test]
    fn an_overlapped_sync_keeps_updates_made_after_the_rows_were_read() {
        // The row changes between the delta and the apply: row += avg − own keeps the
        // later change, row = snapshot + avg would lose it. Simulated by a rank that adds
        // after a sync and checking a second (exact) sync sees the addition once.
        let got = local::run(2, |c| {
            let mut model = Model::new(4, 1, 3);
            let start = model.clone();
            let marks = RowMarks::new(&model);
            let mut s = Syncer::new(c, opts(Average::Sum), &model);
            model.input[0] += 1.0;
            marks.0[0].mark(0);
            let mats = shared(&mut model);
            unsafe { s.tier(&mats, &marks) };
            // After the overlapped sync each rank holds start + 2 (both ranks' +1).
            let after_first = model.input[0] - start.input[0];
            model.input[0] += 0.5;
            marks.0[0].mark(0);
            let mats = shared(&mut model);
            unsafe { s.full(&mats, &marks, true) };
            (after_first, model.input[0] - start.input[0])
        });
        for (first, end) in got {
            assert!((first - 2.0).abs() < 1e-6, "{first}");
            assert!((end - 3.0).abs() < 1e-6, "{end}");
        }
    }

    #[test]
    fn tier_syncs_cover_the_prefix_only_and_full_syncs_the_rest() {
        let got = local::run(2, |c| {
            let mut model = Model::new(8, 1, 3);
            let start = model.clone();
            let marks = RowMarks::new(&model);
            let mut s = Syncer::new(c, opts(Average::Sum), &model);
            // Each rank changes rows 1 and 5.
            for r in [1, 5] {
                model.input[r] += 1.0;
                marks.0[0].mark(r);
            }
            let mats = shared(&mut model);
            // Sync 1 covers rows 0..2: row 1 gets both ranks' change, row 5 only its own.
            let scope = unsafe { s.tier(&mats, &marks) };
            let d = |m: &Model, r: usize| m.input[r] - start.input[r];
            let tier = (scope, d(&model, 1), d(&model, 5));
            unsafe { s.full(&mats, &marks, true) };
            (tier, d(&model, 1), d(&model, 5), s.stats)
        });
        for ((scope, r1, r5), e1, e5, st) in got {
            assert_eq!(scope, Scope::Prefix(2));
            assert!((r1 - 2.0).abs() < 1e-6 && (r5 - 1.0).abs() < 1e-6);
            assert!((e1 - 2.0).abs() < 1e-6 && (e5 - 2.0).abs() < 1e-6);
            // Dense prefix of 2 rows of (1 + 1) floats, both matrices: 32 bytes; then
            // sets of ≤ 1 byte bitmaps + 8-byte lengths and one row of the input matrix.
            assert_eq!(st.syncs, 2);
            assert_eq!(st.full_syncs, 1);
        }
    }

    #[test]
    fn input_tail_syncs_changed_word_vectors_beyond_the_prefix() {
        let got = local::run(2, |c| {
            let mut model = Model::new(40, 1, 3);
            let start = model.clone();
            let marks = RowMarks::new(&model);
            let mut o = opts(Average::Sum);
            o.input_tail = Some(true);
            let mut s = Syncer::new(c, o, &model);
            // Both ranks change row 30 of both matrices, rank 1 also input row 35.
            for k in 0..2 {
                model.matrices_mut()[k][30] += 1.0;
                marks.0[k].mark(30);
            }
            if c.rank() == 1 {
                model.input[35] += 4.0;
                marks.0[0].mark(35);
            }
            let mats = shared(&mut model);
            let scope = unsafe { s.tier(&mats, &marks) };
            let d = |m: &[f32], s: &[f32], r: usize| m[r] - s[r];
            (
                scope,
                d(&model.input, &start.input, 30),
                d(&model.input, &start.input, 35),
                d(&model.output, &start.output, 30),
                s.stats.lists,
            )
        });
        for (rank, (scope, in30, in35, out30, lists)) in got.into_iter().enumerate() {
            assert_eq!(scope, Scope::Prefix(2));
            // Input rows beyond the prefix are summed over the ranks; output rows are not.
            assert!((in30 - 2.0).abs() < 1e-6, "{in30}");
            assert!((in35 - 4.0).abs() < 1e-6, "{in35}");
            assert!((out30 - 1.0).abs() < 1e-6, "{out30}");
            // Rows 2..40 (38): rank 0's one row is a 4-byte list, under the 5-byte bitmap;
            // rank 1's two rows (8 bytes) go as the bitmap.
            assert_eq!(lists, u64::from(rank == 0));
        }
    }
}
